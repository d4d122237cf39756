"""Task detail (?version=&task=): the task's inputs, every answer and who gave it, golden and aggregates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.metrics import aggregation
from analytics.metrics.scales import MEDIAN_RULE
from analytics.people import task_inputs
from dashboard import data, nav, widgets

version = nav.require_version("task.py")
run = data.current_run(version.id)
heading = st.empty()  # the title, above the picker, once the picker has chosen
task = nav.pick("task", "task", run.codes.task_names)
answers = widgets.available(data.metric(version.id, "task_answers", task_id=task))
if answers is None:
    st.stop()

heading.title(f"Task {widgets.md_escape(task)}")
kinds = sorted(answers["kind"].unique())
pools = ", ".join(widgets.md_escape(p) for p in sorted(answers["pool_id"].dropna().unique()))
st.caption(f"{len(answers):,} answers · kind: {', '.join(widgets.md_escape(k) for k in kinds)} · pool {pools}")
if "exam" in kinds:
    nav.link("exam.py", "This item on the Exam page", icon=":material/quiz:", version=version.id, item=task)

left, right = st.columns([1, 1])
with left:
    st.subheader("Inputs")
    inputs = task_inputs(run, task)
    if inputs:
        for field, value in inputs.items():
            widgets.task_input(str(field), value)
    else:
        st.caption(
            "The export has no input fields for this task: its id is its input "
            "(an export with a single input field names tasks by its value)."
        )
        widgets.task_input("task id", task)

with right:
    st.subheader("Known and aggregated label")
    golden = sorted(answers["golden"].dropna().astype(str).unique())
    truth = run.truth.get(task) if run.truth is not None else None
    g = st.columns(2)
    g[0].metric(
        "Golden label",
        ", ".join(widgets.text(g) for g in golden) if golden else "none",
        help="the known answer of a control, exam or training task",
    )
    g[1].metric(
        "Ground truth",
        "none" if truth is None or pd.isna(truth) else widgets.text(truth),
        help="from a truth file given at import",
    )
    votes = widgets.available(data.metric(version.id, "task_votes", task_id=task), quiet=True)
    if votes is None:
        st.caption("No aggregated label: exam and training items are graded against their golden label instead.")
    else:
        st.dataframe(
            votes.reset_index(),
            hide_index=True,
            width="stretch",
            column_config={
                "method": "aggregator",
                "confidence": st.column_config.NumberColumn(
                    "confidence", format="percent", help="the method's probability of its label"
                ),
                "tied": st.column_config.CheckboxColumn(
                    "tie", help="the tie rule decided it (the label listed first in the label set wins)"
                ),
            },
        )
        waiting = [aggregation.METHODS[m] for m in aggregation.FAST_METHODS if data.waits_on_large_run(version.id, m)]
        if waiting:
            st.caption(
                f"{', '.join(waiting)}: listed here once run on the Agreement page (on runs over "
                f"{widgets.LARGE_RUN_ANSWERS:,} labeling-pool answers only majority vote runs when a page opens)."
            )
    # the votes the aggregators count (labeling pool, rejected suites left out), from the run's cached count
    votes_here = widgets.available(data.metric(version.id, "task_vote_counts", task_id=task), quiet=True)
    if votes_here is not None and votes_here.sum() > 0:
        st.caption(
            "Votes in the labeling pool (rejected suites left out): "
            + " · ".join(
                f"{widgets.md_escape(lab)} {int(n):,}"
                for lab, n in zip(run.labels, votes_here, strict=True)
                if n or run.meta.scale == "nominal"  # a scale of 150 values lists the values answered
            )
            + f" (of {int(votes_here.sum()):,})"
        )

if run.meta.scale != "nominal":
    st.subheader(f"Spread of the answers ({run.meta.scale} scale)")
    spread = widgets.available(data.metric(version.id, "item_spread"))
    if spread is not None and task not in spread.index:
        st.info("No answer of the labeling pool on this task (exam and training answers are not on the scale).")
    elif spread is not None:
        one = spread.loc[task]
        s = st.columns(5)
        s[0].metric("Answers", f"{int(one['answers']):,}", help="labeling pool (rejected suites left out)")
        s[1].metric("Mean", widgets.num(float(one["mean"]), 2))
        s[2].metric("Median", widgets.num(float(one["median"]), 2), help=MEDIAN_RULE)
        s[3].metric("Std", widgets.num(float(one["std"]), 2), help="sample standard deviation (n/a with one answer)")
        s[4].metric("Range", f"{one['min']:,.4g} to {one['max']:,.4g}", help=f"max − min = {one['range']:,.4g}")

st.subheader("Every answer")
nav.row_links(
    answers[
        ["worker_id", "label", "golden", "check", "kind", "status", "seconds_per_task", "submitted_at", "assignment_id"]
    ],
    "task_answers",
    "annotator.py",
    param_name="annotator",
    id_column="worker_id",
    what="annotator",
    params={"version": version.id},
    column_config={
        "worker_id": st.column_config.TextColumn("annotator", help="Click the row to open the annotator"),
        "check": st.column_config.TextColumn("vs golden"),
        "seconds_per_task": st.column_config.NumberColumn(
            "s/task", format="%.1f s", help="their suite's seconds / tasks in the suite"
        ),
        "submitted_at": st.column_config.DatetimeColumn("submitted (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "assignment_id": st.column_config.TextColumn("task suite"),
    },
)
