"""Annotator detail (?version=&annotator=): their figures, every answer they gave, speed and label use."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from analytics import reviews
from analytics.metrics.scales import METHODS
from analytics.model.scales import NUMERIC_SCALES
from analytics.people import attach_decisions
from dashboard import charts, data, nav, widgets

SHOWN_ROWS = 1_000  # a scrolling table; the filters narrow what is listed

version = nav.require_version("annotator.py")
run_scale = data.current_run(version.id).meta.scale
base = widgets.available(data.metric(version.id, "annotator_table"))
if base is None:
    st.stop()
heading = st.empty()  # the title, above the picker, once the picker has chosen
worker = nav.pick("annotator", "annotator", base.index)
try:
    decided = reviews.decisions(data.workspace(), version.id, worker)
except (reviews.ReviewsError, ValueError) as err:  # the figures are still worth showing
    st.error(widgets.md_escape(str(err)), icon=":material/error:")
    decided = pd.DataFrame(columns=list(reviews.COLUMNS))
row = attach_decisions(base.loc[[worker]], decided).iloc[0]

heading.title(f"Annotator {widgets.md_escape(worker)}")
nav.link(
    "annotators.py",
    "Back to all annotators (ban review)",
    icon=":material/arrow_back:",
    version=version.id,
    annotator=worker,
)

speed = widgets.available(data.metric(version.id, "speed_vs_pool", worker_id=worker), quiet=True)
t = st.columns(6)
t[0].metric(
    "Answers",
    f"{row['answers']:,}",
    help=f"{row['labeling_answers']:,} labeled in the labeling pool (regular + control); "
    "the rest exam, training, skipped or expired",
)
acc = "n/a" if row["control_answers"] == 0 else widgets.pct(row["control_accuracy"])
t[1].metric("Control accuracy", acc, help="95 % Wilson interval and count below")
t[1].caption(
    widgets.rate_with_counts(
        row["control_correct"], row["control_answers"], row["control_ci_low"], row["control_ci_high"], "control answers"
    )
    + ("" if row["control_enough"] else " · too few to judge")
)
if data.current_run(version.id).truth is not None and row.get("truth_answers", 0):
    # a truth file is first-class: their accuracy against it beside control accuracy
    t[1].metric(
        "Accuracy vs truth", widgets.pct(row["truth_accuracy"]), help="their labeled answers against the truth file"
    )
    t[1].caption(
        widgets.rate_with_counts(
            row["truth_correct"], row["truth_answers"], row["truth_ci_low"], row["truth_ci_high"], "answers with truth"
        )
    )
t[2].metric("Agreement with MV", "n/a" if row["agreement_answers"] == 0 else widgets.pct(row["agreement"]))
t[2].caption(
    widgets.rate_with_counts(
        row["agreement_agree"], row["agreement_answers"], row["agreement_ci_low"], row["agreement_ci_high"], "answers"
    )
)
if speed is None:
    t[3].metric("Median s/task", "n/a", help="see Speed against the pool below")
else:
    ratio = speed.median_seconds_per_task / speed.pool_median_seconds_per_task
    t[3].metric(
        "Median s/task",
        f"{speed.median_seconds_per_task:.1f} s",
        delta=f"{speed.median_seconds_per_task - speed.pool_median_seconds_per_task:+.1f} s vs pool",
        delta_color="off",
        help="median over their suites of suite seconds / tasks in the suite",
    )
    t[3].caption(
        f"pool median {speed.pool_median_seconds_per_task:.1f} s ({ratio:.2f}×) · "
        f"their {speed.suites:,} suites, the pools' {speed.pool_suites:,}"
    )
exam_text = "n/a" if row["exam_items"] == 0 or math.isnan(row["exam_score"]) else widgets.pct(row["exam_score"], 0)
t[4].metric("Exam score", exam_text)
if row["exam_items"]:
    passed = row["exam_passed"]
    verdict = "no threshold recorded" if pd.isna(passed) else ("passed" if passed else "failed")
    t[4].caption(f"{row['exam_correct']:,} of {row['exam_items']:,} items right · {verdict}")
t[5].metric("Ban", "banned" if row["banned"] else ("flagged" if row["flagged"] else "not banned"))
t[5].caption(widgets.md_escape(row["ban_status"]))
if row["decisions"]:
    st.caption(
        f":material/gavel: Last QA decision: **{widgets.md_escape(row['last_decision'])}** "
        f"by {widgets.md_escape(row['decided_by'])} at {widgets.md_escape(row['decided_at'])} "
        f"({row['decisions']:,} recorded)"
    )
if isinstance(row["replayed_evidence"], str):
    st.caption(f"Replayed ban evidence: {widgets.md_escape(row['replayed_evidence'])}")
if isinstance(row["over_used_label"], str):
    st.warning(
        f"Over-uses the label {widgets.md_escape(row['over_used_label'])} compared with everyone else "
        "(see label use below).",
        icon=":material/balance:",
    )


def on_the_scale(scale: str) -> None:
    """Their mean absolute error and signed bias against golden, truth and the per-task aggregate."""
    st.subheader(f"On the {scale} scale")
    method = st.radio(
        "Aggregate", list(METHODS), horizontal=True, key="scale_method", help="the per-task median or mean"
    )
    errors = widgets.available(data.metric(version.id, "annotator_scale_error", method=method))
    if errors is None:
        return
    if worker not in errors.index:
        st.info("No answer of this annotator in the labeling pool: nothing to measure on the scale.")
        return
    mine = errors.loc[worker]
    names = {"golden": "control (golden)", "truth": "truth", "aggregate": f"task {method}"}
    c = st.columns(3)
    for col, (ref, name) in zip(c, names.items(), strict=True):
        n = int(mine[f"{ref}_answers"])
        col.metric(
            f"MAE vs {name}",
            "n/a" if n == 0 else widgets.num(float(mine[f"{ref}_mae"]), 2),
            delta=None if n == 0 else f"bias {float(mine[f'{ref}_bias']):+.2f}",
            delta_color="off",
            help="mean |answer − reference|; bias: mean (answer − reference), > 0 answers high",
        )
        col.caption(f"{n:,} answers compared")
    pool = errors["aggregate_bias"].dropna()
    if len(pool) > 1 and pd.notna(mine["aggregate_bias"]):
        rank = int((pool < mine["aggregate_bias"]).sum())
        st.caption(
            f"Their bias against the task {method} is above {rank:,} of the other {len(pool) - 1:,} annotators' "
            f"(pool median {float(pool.median()):+.2f}). In the scale's numbers."
        )


if run_scale != "nominal":
    on_the_scale(run_scale)

methods = data.ready_methods(version.id)
answers = widgets.available(data.metric(version.id, "annotator_answers", worker_id=worker, methods=methods))
if answers is None:
    st.stop()
wrong_control = answers[(answers["kind"] == "control") & (answers["check"] == "wrong")]
if len(wrong_control):
    st.markdown(f"**Wrong control answers** ({len(wrong_control):,} of {int(row['control_answers']):,})")
    links = st.columns(min(4, len(wrong_control)))
    # the shown rows' values only (iterrows turns every category of the run's 10^6 task ids into text)
    first = widgets.plain_categories(wrong_control.head(12)[["task_id", "label", "golden"]])
    for i, a in enumerate(first.to_dict("records")):
        with links[i % len(links)]:
            nav.link(
                "task.py",
                f"{widgets.md_escape(a['task_id'])}: {widgets.md_escape(a['label'])} "
                f"(golden {widgets.md_escape(a['golden'])})",
                icon=":material/close:",
                version=version.id,
                task=a["task_id"],
            )

st.subheader("Every answer")
f = st.columns([3, 1])
kinds = f[0].multiselect(
    "Kinds", sorted(answers["kind"].unique()), default=sorted(answers["kind"].unique()), key="kinds"
)
wrong_only = f[1].toggle("Wrong graded answers only", key="wrong_only")
shown = answers[answers["kind"].isin(kinds)]
if wrong_only:
    shown = shown[shown["check"] == "wrong"]
n_wrong = len(wrong_control)
names = {"mv": "majority vote (MV)", "ds": "Dawid-Skene (DS), converged"}
st.caption(
    f"{len(shown):,} of {len(answers):,} answers · {n_wrong:,} wrong control answers (marked “wrong”) · "
    f"aggregated labels: {' and '.join(names[m] for m in methods)}"
)
inputs = [col for col in shown.columns if col.startswith("input_")]
cols = [
    "task_id",
    *inputs,
    "kind",
    "label",
    "golden",
    "check",
    *[c for c in ("mv_label", "mv_confidence", "ds_label", "ds_confidence") if c in shown.columns],
    "seconds_per_task",
    "status",
    "submitted_at",
]
config = {
    "task_id": st.column_config.TextColumn(
        "task", help="Click the row to open the task: every answer and the aggregate"
    ),
    "check": st.column_config.TextColumn("vs golden"),
    "mv_label": "MV label",
    "ds_label": "DS label",
    "mv_confidence": st.column_config.NumberColumn("MV conf.", format="percent"),
    "ds_confidence": st.column_config.NumberColumn("DS conf.", format="percent"),
    "seconds_per_task": st.column_config.NumberColumn("s/task", format="%.1f s"),
    "submitted_at": st.column_config.DatetimeColumn("submitted (UTC)", format="YYYY-MM-DD HH:mm:ss"),
}
config.update({c: st.column_config.TextColumn(c.removeprefix("input_")) for c in inputs})
if len(shown) > SHOWN_ROWS:
    st.caption(f"The first {SHOWN_ROWS:,} of {len(shown):,} answers are listed: narrow them with the filters above.")
nav.row_links(
    shown[cols].head(SHOWN_ROWS),
    "answers_table",
    "task.py",
    param_name="task",
    id_column="task_id",
    what="task",
    params={"version": version.id},
    column_config=config,
    height=min(420, 38 + 35 * min(len(shown), SHOWN_ROWS)),
)

left, right = st.columns(2)
with left:
    st.subheader("Speed against the pool")
    speed = widgets.available(data.metric(version.id, "speed_vs_pool", worker_id=worker))
    if speed is not None:
        st.plotly_chart(charts.speed_histogram(speed), width="stretch")
        st.dataframe(
            speed.by_pool,
            width="stretch",
            column_config={
                "suites": st.column_config.NumberColumn("their suites", format="%d"),
                "median_seconds_per_task": st.column_config.NumberColumn("their median", format="%.1f s"),
                "pool_suites": st.column_config.NumberColumn("pool suites", format="%d"),
                "pool_annotators": st.column_config.NumberColumn("pool annotators", format="%d"),
                "pool_median_seconds_per_task": st.column_config.NumberColumn("pool median", format="%.1f s"),
                "ratio": st.column_config.NumberColumn("theirs / pool", format="%.2f×"),
            },
        )
with right:
    st.subheader("Label use against everyone else")
    use = None
    if run_scale in NUMERIC_SCALES:
        st.caption("A numeric run: their shift against everyone else is measured on the scale, above.")
    else:
        use = widgets.available(data.metric(version.id, "annotator_label_use"))
    if use is not None and worker not in use.annotators.index:
        st.info("No regular answers from this annotator: label use is compared on regular tasks only.")
    elif use is not None:
        shares = use.shares.loc[worker]
        st.plotly_chart(charts.label_use_chart(shares), width="stretch")
        a = use.annotators.loc[worker]
        p = (
            "not tested (too few answers)"
            if math.isnan(a["p_value"])
            else f"χ² = {a['chi2']:.1f}, dof {a['dof']}, p = {a['p_value']:.2g}"
        )
        st.caption(
            f"{a['answers']:,} regular answers · most over-used: {widgets.md_escape(a['over_used_label'])} "
            f"({a['over_use_pp']:+.1f} points) · {p} · "
            + ("**flagged** (Bonferroni-corrected and ≥ 10 points)" if a["flagged"] else "not flagged")
        )
