"""Versions: the workspace's dataset versions, their lineage and headline figures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, nav

st.title("Dataset versions")
root = str(data.workspace_root())
ls = data.listing(root)
for p in ls.problems:
    st.warning(f"{p.message} {p.fix}")
if not ls.versions:
    st.info(f"No dataset versions in `{root}` yet.")
    nav.link("import_run.py", "Import a Toloka export")
    st.caption("Or from a terminal: `crowdlens import results.tsv --name NAME --version 1.0.0`, or `crowdlens demo` for simulated data.")
    st.stop()
if any(v.simulated for v in ls.versions):
    st.caption(":material/science: Versions marked *simulated* hold generated demo data, not real annotators.")

rows = []
for v in ls.versions:
    md = v.metadata
    rows.append(
        {
            "version": nav.url("overview.py", version=v.id),
            "name": v.label,
            "created (UTC)": v.created.replace("T", " ").replace("Z", ""),
            "parents": ", ".join(ls.by_id()[p].label if p in ls.by_id() else p[:8] for p in v.parents),
            "answers": md.get("answers"),
            "tasks": md.get("tasks"),
            "annotators": md.get("workers"),
            "alpha": md.get("krippendorff_alpha"),
            "control accuracy": md.get("control_accuracy"),
            "cost": md.get("annotation_cost"),
            "cost per label": md.get("cost_per_label"),
            "currency": md.get("currency"),
            "simulated": v.simulated,
        }
    )
table = pd.DataFrame(rows)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "version": st.column_config.LinkColumn("open", display_text=r"version=([0-9a-f]{8})", help="Open the version's run"),
        "answers": st.column_config.NumberColumn(format="%d"),
        "alpha": st.column_config.NumberColumn("Krippendorff's α", format="%.3f"),
        "control accuracy": st.column_config.NumberColumn(format="percent"),
        "cost": st.column_config.NumberColumn(format="%.2f"),
        "cost per label": st.column_config.NumberColumn(format="%.4f"),
    },
)

st.subheader("Lineage")
nodes = [
    {
        "id": v.id,
        "label": v.label,
        "simulated": v.simulated,
        "hover": f"{v.label} ({v.id[:8]})<br>{v.metadata.get('answers', 0):,} answers · {v.metadata.get('workers', 0):,} annotators"
        + (f"<br>{v.metadata.get('description')}" if v.metadata.get("description") else ""),
    }
    for v in ls.versions
]
event = st.plotly_chart(charts.lineage_graph(nodes, ls.lineage()), on_select="rerun", selection_mode="points", key="lineage", width="stretch")
picked = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else getattr(getattr(event, "selection", None), "points", [])
if picked:
    st.switch_page(nav.BY_FILE["overview.py"].path, query_params={"version": picked[0]["customdata"]})
st.caption("Click a version in the graph, or its id in the table, to open it.")

st.subheader("Open a version")
cols = st.columns(min(4, len(ls.versions)))
for i, v in enumerate(reversed(ls.versions)):
    with cols[i % len(cols)]:
        nav.link("overview.py", f"{v.label} · {v.id[:8]}", version=v.id)
        if v.metadata.get("description"):
            st.caption(v.metadata["description"])
