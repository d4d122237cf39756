"""Labels: how often each label was given and chosen, who over-uses one, and two versions side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.metrics import aggregation
from analytics.metrics.labels import MIN_OVER_USE_PP, compare_distributions
from analytics.metrics.scales import MEDIAN_RULE, METHODS
from analytics.model.scales import NUMERIC_SCALES
from dashboard import charts, data, nav, widgets

version = nav.require_version("labels.py")
root = str(data.workspace_root())
run = data.current_run(version.id)
st.title("Labels")
scale = run.meta.scale
numeric = scale in NUMERIC_SCALES
if numeric:
    st.caption(
        f"{widgets.md_escape(version.label)} · id {widgets.md_code(version.id)} · {scale} scale: "
        f"{len(run.labels):,} distinct answers from {widgets.text(run.labels[0])} to {widgets.text(run.labels[-1])}"
    )
else:
    order = "scale order" if scale == "ordinal" else "tie order"
    st.caption(
        f"{widgets.md_escape(version.label)} · id {widgets.md_code(version.id)} · {scale} scale · "
        f"label set in {order}: {', '.join(widgets.md_escape(x) for x in run.labels)}"
    )
if "delivery.py" in nav.BY_FILE and (nav.PAGES_DIR / "delivery.py").exists():
    nav.link("delivery.py", "Download the delivered labels", icon=":material/download:", version=version.id)


def numeric_distribution() -> None:
    """A numeric run's answers as a histogram on the number line (never one bar per distinct value)."""
    bins = int(st.slider("Bins", min_value=5, max_value=60, value=20, step=5, key="hist_bins", help="equal-width bins"))
    hist = widgets.available(data.metric(version.id, "scale_histogram", bins=bins))
    if hist is None:
        return
    spread = widgets.available(data.metric(version.id, "item_spread"), quiet=True)
    c = st.columns(4)
    c[0].metric("Answers counted", f"{int(hist['answers'].sum()):,}", help="labeling pool: regular and control tasks")
    c[1].metric("Distinct values", f"{len(run.labels):,}")
    c[2].metric("Range", f"{hist['low'].iloc[0]:,.4g} to {hist['high'].iloc[-1]:,.4g}")
    if spread is not None and spread["std"].notna().any():
        c[3].metric("Mean std per task", f"{float(spread['std'].mean()):,.3g}", help="sample std of a task's answers")
    st.plotly_chart(charts.scale_histogram_chart(hist, x_title=f"answer ({scale} scale)"), width="stretch")
    with st.expander(f"The {len(hist):,} bins"):
        st.dataframe(
            hist,
            hide_index=True,
            width="stretch",
            column_config={
                "low": st.column_config.NumberColumn("from", format="%.4g"),
                "high": st.column_config.NumberColumn("to (below; the last bin includes it)", format="%.4g"),
                "answers": st.column_config.NumberColumn("answers", format="%d"),
                "share": st.column_config.NumberColumn("share", format="percent"),
            },
        )


def annotator_shift() -> None:
    """Per annotator: their signed bias against the per-task aggregate (and golden, truth), sorted."""
    st.subheader("Shift per annotator")
    method = st.radio(
        "Against the per-task",
        list(METHODS),
        format_func=lambda m: m,
        horizontal=True,
        key="shift_method",
        help=f"Median tie rule: {MEDIAN_RULE}.",
    )
    errors = widgets.available(data.metric(version.id, "annotator_scale_error", method=method))
    if errors is None or errors.empty:
        return
    bias = errors["aggregate_bias"]
    spread = float(bias.std()) if bias.notna().sum() > 1 else float("nan")
    c = st.columns(3)
    c[0].metric("Annotators", f"{len(errors):,}")
    c[1].metric("Median |bias|", widgets.num(float(bias.abs().median()), 2), help="against the aggregate")
    c[2].metric("Spread of bias (std)", widgets.num(spread, 2))
    st.caption(
        f"Each annotator's mean (answer − the task's {method} of everyone's answers, theirs included): "
        "> 0 answers high, < 0 low; sorted from lowest to highest. In the scale's numbers"
        + (" (grade positions where the grades are words)." if scale == "ordinal" else ".")
    )
    st.plotly_chart(charts.bias_chart(errors, "aggregate_bias"), width="stretch", key="shift_chart")
    cols = [
        c for c in errors.columns if errors[c].notna().any() and not (c.endswith("_answers") and errors[c].eq(0).all())
    ]
    table = errors[cols].sort_values("aggregate_bias", key=lambda x: -x.abs(), kind="stable").reset_index()
    nav.row_links(
        table.head(1_000),
        "shift_table",
        "annotator.py",
        param_name="annotator",
        id_column="worker_id",
        what="annotator",
        params={"version": version.id},
        height=min(420, 38 + 35 * len(table)),
        column_config={"worker_id": st.column_config.TextColumn("annotator", help="Click the row to open them")}
        | {c: st.column_config.NumberColumn(widgets.human(c), format="%+.2f") for c in cols if c.endswith("_bias")}
        | {c: st.column_config.NumberColumn(widgets.human(c), format="%.2f") for c in cols if c.endswith("_mae")}
        | {c: st.column_config.NumberColumn(widgets.human(c), format="%d") for c in cols if c.endswith("_answers")},
    )


# ---- raw and aggregated
st.subheader("Distribution")
if numeric:
    numeric_distribution()
else:
    ready_methods = [m for m in aggregation.FAST_METHODS if not data.on_request(version.id, m)]
    method = st.selectbox(
        "Aggregated by",
        ready_methods,
        index=nav.choice("method", ready_methods),
        format_func=aggregation.METHODS.get,
        key="agg_method",
        help="Methods that take long on this run appear here once run on the Agreement page.",
    )
    nav.keep("method", method)
    raw = widgets.available(data.metric(version.id, "label_distribution"))
    if raw is not None:
        dist = pd.DataFrame({"raw_count": raw["count"], "raw_share": raw["share"]})
        agg = widgets.available(data.metric(version.id, "aggregated_label_distribution", method=method))
        if agg is not None:
            dist["aggregated_count"] = agg["count"].reindex(dist.index).fillna(0).astype("int64")
            dist["aggregated_share"] = agg["share"].reindex(dist.index)
            dist["difference_pp"] = 100 * (dist["aggregated_share"] - dist["raw_share"])
        n_raw = int(dist["raw_count"].sum())
        n_agg = int(dist["aggregated_count"].sum()) if "aggregated_count" in dist else 0
        c = st.columns(3)
        c[0].metric(
            "Answers counted",
            f"{n_raw:,}",
            help="Labeled answers on regular and control tasks (exam and training left out)",
        )
        c[1].metric("Aggregated tasks", f"{n_agg:,}", help=f"One label per task by {aggregation.METHODS[method]}")
        c[2].metric("Labels used", f"{int((dist['raw_count'] > 0).sum())} of {len(dist)}")
        series = {"raw_share": f"answers ({n_raw:,})"}
        if "aggregated_share" in dist:
            series["aggregated_share"] = f"{aggregation.METHODS[method]} labels ({n_agg:,} tasks)"
        st.plotly_chart(charts.distribution_bars(dist, series, y_title="% of answers / of tasks"), width="stretch")
        shown = dist.reset_index().rename(
            columns={
                "raw_count": "answers",
                "raw_share": "share of answers",
                "aggregated_count": "tasks",
                "aggregated_share": "share of tasks",
                "difference_pp": "difference (pp)",
            }
        )
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "share of answers": st.column_config.NumberColumn(format="percent"),
                "share of tasks": st.column_config.NumberColumn(format="percent"),
                "difference (pp)": st.column_config.NumberColumn(
                    format="%+.1f", help="share of tasks − share of answers, in percentage points"
                ),
            },
        )
        st.caption(
            f"Aggregation moves shares towards the labels annotators agree on. Tie rule: {aggregation.TIE_RULE}."
        )

# ---- per annotator
if scale != "nominal":
    annotator_shift()
if not numeric:
    st.subheader("Label use per annotator")
    min_answers = int(
        st.number_input(
            "Test annotators with at least … regular answers",
            min_value=1,
            max_value=10_000,
            value=20,
            step=5,
            key="min_answers",
        )
    )
    use = widgets.available(data.metric(version.id, "annotator_label_use", min_answers=min_answers))
    if use is not None:
        a = use.annotators
        tested = a["p_value"].notna()
        flagged = a[a["flagged"]]
        c = st.columns(3)
        c[0].metric("Annotators", f"{len(a):,}", help="with at least one labeled regular answer")
        c[1].metric("Tested", f"{int(tested.sum()):,}", help=f"with ≥ {min_answers:,} regular answers")
        c[2].metric("Over-use a label", f"{len(flagged):,}", help="flagged: see the rule below")
        st.caption(
            "Each annotator's label shares against everyone else's (leaving them out), Pearson's χ² goodness of fit; "
            f"flagged when p < 0.05 / {int(tested.sum()):,} (Bonferroni over the annotators tested) and the over-used "
            f"label's share is at least {MIN_OVER_USE_PP:g} percentage points above the others'."
        )
        table = (
            a[tested]
            .sort_values(["flagged", "p_value", "over_use_pp"], ascending=[False, True, False], kind="stable")
            .reset_index()
        )
        if len(table) > 1_000:
            st.caption(f"The first 1,000 of {len(table):,} annotators tested are listed (flagged first).")
        nav.row_links(
            table[["worker_id", "answers", "over_used_label", "over_use_pp", "chi2", "dof", "p_value", "flagged"]].head(
                1_000
            ),
            "label_use",
            "annotator.py",
            param_name="annotator",
            id_column="worker_id",
            what="annotator",
            params={"version": version.id},
            height=min(420, 38 + 35 * len(table)),
            column_config={
                "worker_id": st.column_config.TextColumn("annotator", help="Click the row to open the annotator"),
                "answers": st.column_config.NumberColumn("regular answers", format="%d"),
                "over_used_label": st.column_config.TextColumn("most over-used label"),
                "over_use_pp": st.column_config.NumberColumn("over-use (pp)", format="%+.1f"),
                "chi2": st.column_config.NumberColumn("χ²", format="%.1f"),
                "dof": st.column_config.NumberColumn("degrees of freedom", format="%d"),
                "p_value": st.column_config.NumberColumn("p", format="%.2g"),
            },
        )
        if tested.any():
            flagged_set = set(flagged.index)
            top = list(flagged.index) + [
                w for w in a[tested].sort_values("over_use_pp", ascending=False).index if w not in flagged_set
            ]
            top = top[:30]
            diff = use.shares["difference_pp"].unstack("label").reindex(index=top, columns=list(run.labels))
            st.markdown(
                f"**Share of each label against everyone else's** — the {len(top)} annotators who deviate most "
                "(flagged first), percentage points"
            )
            st.plotly_chart(charts.label_bias_heatmap(diff), width="stretch")

# ---- two versions
st.subheader("Compare with another version")
listing = data.listing(root)
lineage = {v.id for v in data.lineage_of(version.id)}
wanted = nav.param("compare")
found = data.find_version(wanted) if wanted else None
if wanted and (found is None or found.id == version.id):
    st.error(
        f"No other dataset version has the id {widgets.md_code(wanted)} given in the link (`compare=`). Pick one below."
    )
    found = None
everywhere = st.toggle(
    "Offer versions of other data sets",
    value=found is not None and found.id not in lineage,
    key="compare_everywhere",
    help="By default a version is compared with the versions of its own data set (its lineage): "
    "two different data sets mostly differ because they label different things.",
)
others = [v for v in listing.versions if v.id != version.id and (everywhere or v.id in lineage)]
if not others:
    st.info(
        "This data set has no other version to compare with yet"
        + ("." if len(listing.versions) == 1 else ": turn on “Offer versions of other data sets” to compare across.")
    )
    st.stop()
same = [v for v in others if v.id in lineage]
default = found or next((v for v in others if v.id in version.parents), (same or others)[-1])
ids = [v.id for v in others]
by_id = {v.id: v for v in others}
other_id = st.selectbox(
    "Second version",
    ids,
    index=ids.index(default.id) if default.id in ids else len(ids) - 1,
    format_func=lambda i: f"{by_id[i].label} · {i[:8]}" + ("" if i in lineage else "  (another data set)"),
    key="compare_pick",
)
nav.keep("compare", other_id)
other = by_id[other_id]
basis = st.radio(
    "Compare",
    ["raw", "aggregated"],
    format_func={"raw": "answers", "aggregated": "majority-vote labels"}.get,
    index=nav.choice("basis", ["raw", "aggregated"]),
    horizontal=True,
    key="compare_basis",
)
nav.keep("basis", basis)
other_labels = data.current_run(other.id).labels
figure = "label_distribution" if basis == "raw" else "aggregated_label_distribution"
a_dist = widgets.available(data.metric(version.id, figure))
b_dist = widgets.available(data.metric(other.id, figure))
if a_dist is None or b_dist is None:
    st.stop()
if set(run.labels) != set(other_labels):
    st.warning(
        f"The two versions use different label sets ({', '.join(widgets.md_escape(x) for x in run.labels)} against "
        f"{', '.join(widgets.md_escape(x) for x in other_labels)}): labels missing from one count as 0 there, "
        "so the distance mostly shows that they label different things."
    )
cmp = compare_distributions(a_dist, b_dist)
name_a, name_b = f"{version.label} ({version.id[:8]})", f"{other.label} ({other.id[:8]})"
c = st.columns(3)
c[0].metric(
    "Total variation distance",
    widgets.pct(cmp.total_variation),
    help="½ Σ |share a − share b|: the share of answers that would have to change label",
)
c[1].metric("χ² (homogeneity)", "n/a" if cmp.chi2 != cmp.chi2 else f"{cmp.chi2:.1f} (dof {cmp.dof})")
c[2].metric("p-value", "n/a" if cmp.p_value != cmp.p_value else f"{cmp.p_value:.3g}")
unit = "answers" if basis == "raw" else "tasks"
st.caption(
    f"A = this version: {int(cmp.table['count_a'].sum()):,} {unit}; "
    f"B = {widgets.md_escape(name_b)}: {int(cmp.table['count_b'].sum()):,} {unit}."
)
if numeric:  # one bar per distinct value would be unreadable: the histogram above shows the shape
    st.caption("A numeric run: the shares of each distinct value are listed below (no chart of hundreds of bars).")
else:
    st.plotly_chart(
        charts.distribution_bars(
            cmp.table, {"share_a": f"A: {name_a}", "share_b": f"B: {name_b}"}, y_title=f"% of {unit}"
        ),
        width="stretch",
        key="compare_chart",
    )
st.dataframe(
    cmp.table.reset_index().rename(
        columns={
            "count_a": f"A {unit}",
            "count_b": f"B {unit}",
            "share_a": "A share",
            "share_b": "B share",
            "difference_pp": "B − A (pp)",
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "A share": st.column_config.NumberColumn(format="percent"),
        "B share": st.column_config.NumberColumn(format="percent"),
        "B − A (pp)": st.column_config.NumberColumn(format="%+.1f"),
    },
)
