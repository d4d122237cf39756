"""Versions: the workspace's dataset versions, their lineage and headline figures."""

from __future__ import annotations

from contextlib import nullcontext

import pandas as pd
import streamlit as st

from analytics.versions.compare import LINEAGE_FIGURES
from dashboard import charts, data, nav, sources, widgets

st.title("Dataset versions")
origin = sources.source_picker(st.container())
root = origin.where
ls = data.current_listing()
for p in ls.problems:
    st.warning(widgets.md_escape(f"{p.message} {p.fix}"))
if not ls.versions and origin.kind != sources.LOCAL:
    st.info(f"No crowdlens versions in the ClearML project {widgets.md_code(root)}.")
    st.caption("Publish one with `crowdlens clearml-publish VERSION --project NAME`.")
    st.stop()
if not ls.versions:
    st.info(f"No dataset versions in {widgets.md_code(root)} yet.")
    nav.link("import_run.py", "Import a Toloka export")
    st.caption(
        "Or from a terminal: `crowdlens import results.tsv --name NAME --version 1.0.0`, "
        "or `crowdlens demo` for simulated data."
    )
    st.stop()
if any(v.simulated for v in ls.versions):
    st.caption(":material/science: Versions marked *simulated* hold generated demo data, not real annotators.")


def headline(v) -> tuple[dict, str]:
    """A version's headline figures and where they come from: stored in its manifest at import,
    else computed now from its run (older or small workspaces), else none."""
    stored = v.metadata.get("headline")
    if isinstance(stored, dict) and stored:
        return dict(stored), "stored at import"
    try:
        figures = widgets.available(data.headline(v.id), quiet=True)
    except Exception as err:  # a version whose files cannot be read still gets its row
        return {}, f"n/a: the run could not be opened ({type(err).__name__})"
    return ({}, "n/a") if figures is None else (dict(figures), "computed now")


missing = [v for v in ls.versions if not v.metadata.get("headline")]
with (
    st.spinner(f"Computing headline figures of {len(missing)} version(s) that do not store them…")
    if missing
    else nullcontext()
):
    heads = {v.id: headline(v) for v in ls.versions}

groups = data.datasets(ls.versions)
root_of = {v.id: r for r, vs in groups.items() for v in vs}


def row(v) -> dict:
    md = v.metadata
    h, source = heads[v.id]
    return {
        "id": v.id,
        "name": v.label,
        "created (UTC)": v.created.replace("T", " ").replace("Z", ""),
        "parents": ", ".join(ls.by_id()[p].label if p in ls.by_id() else p[:8] for p in v.parents),
        "answers": h.get("answers", md.get("answers")),
        "tasks": md.get("tasks"),
        "annotators": h.get("annotators", md.get("workers")),
        "alpha": h.get("krippendorff_alpha"),
        "control accuracy": h.get("control_accuracy"),
        "control answers": h.get("control_answers"),
        "cost": md.get("annotation_cost"),
        "cost per label": h.get("cost_per_label"),
        "currency": h.get("currency") or md.get("currency"),
        "figures": source,
        "ClearML": sources.clearml_link(v),
    }


COLUMNS = {
    "id": st.column_config.TextColumn("version id", width="small", help="Click the row to open the version's Overview"),
    "answers": st.column_config.NumberColumn(format="localized"),
    "tasks": st.column_config.NumberColumn(format="localized"),
    "annotators": st.column_config.NumberColumn(format="localized"),
    "alpha": st.column_config.NumberColumn(
        "Krippendorff's α", format="%.3f", help="nominal, labeling pool (regular and control tasks)"
    ),
    "control accuracy": st.column_config.NumberColumn(
        format="percent", help="pooled: right control answers / control answers"
    ),
    "control answers": st.column_config.NumberColumn(
        format="localized", help="the control answers behind the accuracy"
    ),
    "cost": st.column_config.NumberColumn(
        "total cost", format="%.2f", help="rewards + platform fee + bonuses, in the version's currency"
    ),
    "cost per label": st.column_config.NumberColumn(
        format="%.4f",
        help="total cost / final labels (regular tasks with an accepted answer; control tasks are not delivered "
        "labels), in the version's currency, as on the Cost page",
    ),
    "ClearML": st.column_config.LinkColumn(
        "ClearML", display_text="open in ClearML ›", help="the version's page in the ClearML web app"
    ),
    "figures": st.column_config.TextColumn(
        help="headline figures stored in the version's manifest at import, or computed now for versions without them"
    ),
}


def table_of(versions) -> pd.DataFrame:
    table = pd.DataFrame([row(v) for v in reversed(versions)])  # newest first
    for col in ("answers", "tasks", "annotators", "control answers"):
        table[col] = pd.array(table[col], dtype="Int64")
    for col in ("alpha", "control accuracy", "cost", "cost per label"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    return table


st.caption(
    f"{nav.plural(len(ls.versions), 'version')} of {nav.plural(len(groups), 'data set')}: a data set is a first "
    "import and every version made from it. Click a row to open the version."
)
for i, versions in enumerate(groups.values()):
    first = versions[0]
    st.subheader(f"{widgets.md_escape(first.name)} · {nav.plural(len(versions), 'version')}")
    nav.row_links(
        table_of(versions),
        f"versions_{i}",
        "overview.py",
        param_name="version",
        id_column="id",
        what="version",
        column_config=COLUMNS,
        height=38 + 35 * len(versions),  # every row, no scrolling
    )
st.caption("Empty cells: the figure cannot be had for that version (no overlap, no control tasks, no prices).")

if ls.damaged:
    st.subheader(f"Damaged versions · {len(ls.damaged):,}")
    st.dataframe(
        pd.DataFrame(
            [{"version": d.label, "file": d.file, "what is wrong": d.reason, "fix": d.fix} for d in ls.damaged]
        ),
        hide_index=True,
        width="stretch",
        column_config={"what is wrong": st.column_config.TextColumn(width="large")},
    )
    st.caption("A damaged version cannot be opened; the others can. Fix its file, or remove its folder.")

st.subheader("Lineage")
wanted = data.find_version(nav.param("version"))
roots = list(groups)
default_root = root_of.get(wanted.id) if wanted is not None else roots[-1]
# the URL decides (a pasted link, a version picked elsewhere); a change of the picker goes into it first
st.session_state["lineage_dataset"] = roots[nav.choice("dataset", roots, default_root)]
picked_root = st.selectbox(
    "Data set",
    roots,
    on_change=lambda: st.query_params.__setitem__("dataset", st.session_state["lineage_dataset"]),
    format_func=lambda r: f"{groups[r][0].name} ({nav.plural(len(groups[r]), 'version')})",
    key="lineage_dataset",
    help="The graph draws one data set's versions and how each was made from its parents.",
)
nav.keep("dataset", picked_root if picked_root != default_root else None)  # the version's own: implied
shown = groups[picked_root]
ids = {v.id for v in shown}
nodes = [
    {
        "id": v.id,
        "label": v.label,
        "simulated": v.simulated,
        "hover": f"{v.label} ({v.id[:8]}) · {v.metadata.get('answers', 0):,} answers · "
        f"{v.metadata.get('workers', 0):,} annotators"
        + (f" · {v.metadata.get('description')}" if v.metadata.get("description") else ""),
    }
    for v in shown
]
figure = st.segmented_control(
    "Colour the versions by",
    list(LINEAGE_FIGURES),
    default=nav.param("figure") if nav.param("figure") in LINEAGE_FIGURES else None,
    format_func=LINEAGE_FIGURES.get,
    key="lineage_figure",
    help="what each version bought: its figure on the node; grey where the version cannot give it",
)
nav.keep("figure", figure)
if figure:
    table = sources.lineage_figures(figure)
    graph = charts.lineage_by_figure(table.loc[[v.id for v in shown if v.id in table.index]], table.attrs["title"])
else:
    graph = charts.lineage_graph(nodes, [(a, b) for a, b in ls.lineage() if b in ids])
event = st.plotly_chart(
    graph,
    on_select="rerun",
    selection_mode="points",
    key="lineage",
    width="stretch",
)
picked = (
    (event or {}).get("selection", {}).get("points", [])
    if isinstance(event, dict)
    else getattr(getattr(event, "selection", None), "points", [])
)
if picked:
    st.switch_page(nav.BY_FILE["overview.py"].path, query_params={"version": picked[0]["customdata"]})
st.caption("Click a version in the graph to open it.")

st.subheader("Open a version")
cols = st.columns(min(4, len(shown)))
for i, v in enumerate(reversed(shown)):
    with cols[i % len(cols)]:
        nav.link("overview.py", f"{widgets.md_escape(v.label)} · {v.id[:8]}", version=v.id)
        if v.metadata.get("description"):
            st.caption(widgets.md_escape(v.metadata["description"]))
