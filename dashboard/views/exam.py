"""Exam: how each exam item performs (trap or broken?), the score distribution, who answered what."""

from __future__ import annotations

import streamlit as st

from analytics.metrics.exam import DISCRIMINATING, MIN_ANSWERS_TO_READ
from dashboard import charts, data, nav, widgets

version = nav.require_version("exam.py")
st.title("Exam")
st.caption(
    "The qualification pool: an item only half of the candidates get right is either a trap working as meant "
    "or a broken item; discrimination tells which."
)

items = widgets.available(data.metric(version.id, "exam_item_pass_rate"))
if items is None:
    st.stop()
summary = widgets.available(data.metric(version.id, "exam_summary"))
verdicts = widgets.available(data.metric(version.id, "exam_item_verdicts"))
if summary is None or verdicts is None:
    st.stop()
run = data.current_run(version.id)

c = st.columns(5)
c[0].metric("Candidates", f"{summary.candidates:,}")
c[1].metric(
    "Passed",
    "n/a" if summary.passed is None else f"{summary.passed:,} of {summary.candidates:,}",
    help="score ≥ threshold",
)
c[2].metric("Pass rate", widgets.pct(summary.pass_rate), help="passed / candidates with a score")
c[3].metric(
    "Threshold",
    "not recorded" if summary.threshold is None else widgets.pct(summary.threshold, 0),
    help="share of items right needed to pass (the exam pool's setting)",
)
c[4].metric("Items", f"{summary.items:,}", help=f"mean score {widgets.pct(summary.mean_score)}")

st.subheader("Pass rate per item")
st.plotly_chart(charts.exam_item_chart(items, verdicts), width="stretch")
st.caption(
    "Bars are 95 % Wilson intervals. Low = at least 20 points below the median item. "
    f"Items with fewer than {MIN_ANSWERS_TO_READ} graded answers are not judged."
)
for task_id, row in items.join(verdicts)[lambda t: t["low_pass_rate"] | (t["verdict"] == "check item")].iterrows():
    got_it = widgets.rate_with_counts(row["correct"], row["answers"], row["ci_low"], row["ci_high"], "candidates")
    text = (
        f"Item {widgets.md_code(task_id)} (golden **{widgets.text(row['golden'])}**): {got_it} get it right; "
        f"most common wrong answer {widgets.text(row['most_common_wrong'])} "
        f"({row['most_common_wrong_count']:,}). "
        f"Discrimination {row['discrimination']:.2f} over {row['candidates']:,} candidates — "
        f"{widgets.text(row['reading'])}."
    )
    (st.warning if row["verdict"] == "trap" else st.error)(text, icon=":material/flag:")

st.subheader("Items")
table = items.join(verdicts).reset_index()
table.insert(1, "input", run.tasks.reindex(table["task_id"]).iloc[:, 0].to_numpy() if len(run.tasks.columns) else None)
st.dataframe(
    table[
        [
            "task_id",
            "input",
            "golden",
            "answers",
            "correct",
            "pass_rate",
            "ci_low",
            "ci_high",
            "low_pass_rate",
            "most_common_wrong",
            "most_common_wrong_count",
            "candidates",
            "discrimination",
            "verdict",
            "reading",
        ]
    ].assign(
        right=[f"{int(k):,} of {int(n):,}" for k, n in zip(table["correct"], table["answers"], strict=True)],
        interval=[
            "" if lo != lo else f"{100 * lo:.0f}–{100 * hi:.0f} %"
            for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
        ],
        wrong=[
            "" if not isinstance(w, str) else f"{w} ({int(n):,}×)"
            for w, n in zip(table["most_common_wrong"], table["most_common_wrong_count"].fillna(0), strict=True)
        ],
    ),
    hide_index=True,
    width="stretch",
    placeholder=widgets.EMPTY_CELL,
    # the frame keeps every figure; the screen shows them compactly ("51 of 105", "39–58 %")
    column_order=[
        "task_id",
        "input",
        "golden",
        "pass_rate",
        "right",
        "interval",
        "low_pass_rate",
        "wrong",
        "discrimination",
        "verdict",
        "reading",
    ],
    column_config={
        "right": st.column_config.TextColumn("right", help="candidates right of those graded"),
        "interval": st.column_config.TextColumn("95 % CI", help="Wilson interval of the pass rate"),
        "wrong": st.column_config.TextColumn("most common wrong", help="the wrong answer chosen most, × times"),
        "task_id": st.column_config.TextColumn("item", pinned=True),
        "input": st.column_config.TextColumn("input", help="the item's first input field (— where none)"),
        "golden": "known answer",
        "answers": st.column_config.NumberColumn("graded answers", format="%d"),
        "correct": st.column_config.NumberColumn("right", format="%d"),
        "pass_rate": st.column_config.NumberColumn("pass rate", format="percent"),
        "ci_low": st.column_config.NumberColumn("95 % CI low", format="percent"),
        "ci_high": st.column_config.NumberColumn("95 % CI high", format="percent"),
        "low_pass_rate": st.column_config.CheckboxColumn("low"),
        "most_common_wrong": "most common wrong",
        "most_common_wrong_count": st.column_config.NumberColumn("× chosen", format="%d"),
        "candidates": st.column_config.NumberColumn("candidates", format="%d"),
        "discrimination": st.column_config.NumberColumn("discrimination", format="%.2f", help="item–rest correlation"),
        "verdict": "verdict",
        "reading": st.column_config.TextColumn("reading", width="large"),
    },
)

left, right = st.columns(2)
with left:
    st.subheader("Score distribution")
    scores = widgets.available(data.metric(version.id, "exam_scores"))
    if scores is not None:
        st.plotly_chart(charts.exam_score_histogram(scores, summary.threshold), width="stretch")
        failed = None if summary.passed is None else int(scores["score"].notna().sum()) - summary.passed
        st.caption(
            f"{summary.candidates:,} candidates · mean score {widgets.pct(summary.mean_score)} · "
            + (
                "no pass threshold recorded"
                if summary.passed is None
                else f"{summary.passed:,} passed, {failed:,} failed at ≥ {widgets.pct(summary.threshold, 0)}"
            )
        )
with right:
    st.subheader("Item discrimination")
    st.plotly_chart(charts.item_discrimination_chart(items, verdicts, DISCRIMINATING), width="stretch")
    st.caption(
        "A hard item with positive discrimination is a trap that works (those who miss it do worse on the rest); "
        "discrimination ≤ 0 means strong candidates miss it as often as weak ones: ambiguous or a wrong golden label."
    )

st.subheader("Does the exam predict quality?")


def exam_review_section() -> None:
    """exam_review: score against main-pool accuracy, and who another pass mark lets in or keeps out."""
    recorded = summary.threshold
    mark = st.slider(
        "Pass mark (% of items right)",
        0,
        100,
        int(round(100 * recorded)) if recorded is not None else 80,
        step=5,
        key="exam_pass_mark",
        help="the recorded mark is where the slider starts",
    )
    review = widgets.available(data.metric(version.id, "exam_review", pass_mark=mark / 100))
    if review is None:
        return
    corr = review.correlation
    if corr["pearson_r"] is None:
        st.caption(f"No correlation: {widgets.text(corr['why'])}.")
    else:
        st.caption(
            f"Pearson r = {corr['pearson_r']:.2f} (95 % CI {corr['ci_low']:.2f} to {corr['ci_high']:.2f}), "
            f"Spearman ρ = {corr['spearman_rho']:.2f}, over {corr['n']:,} candidates: {widgets.text(corr['measure'])}."
        )
    c = st.columns(3)
    groups = (review.let_in, review.kept_out, review.kept)
    for col, name, group in zip(c, ("Let in", "Kept out", "Pass"), groups, strict=True):
        acc = widgets.pct(group["control_accuracy"]) if group["control_accuracy"] is not None else "unknown"
        col.metric(
            name,
            f"{group['candidates']:,}",
            help=f"{group['worked']:,} worked in the main pool; their control accuracy {acc}",
        )
    st.dataframe(
        review.by_score,
        width="stretch",
        placeholder=widgets.EMPTY_CELL,
        column_config={"control_accuracy": st.column_config.NumberColumn("control accuracy", format="percent")},
    )
    moved = review.candidates[review.candidates["change"] != ""].reset_index()
    if len(moved):
        st.markdown(f"**Who a pass mark of {mark} % lets in or keeps out** ({len(moved):,})")
        st.dataframe(moved, hide_index=True, width="stretch", placeholder=widgets.EMPTY_CELL)
        st.caption("Someone the recorded mark kept out never worked in the main pool: their later accuracy is unknown.")


exam_review_section()

st.subheader("Answers to one item")
ids = list(items.sort_values("pass_rate", kind="stable").index)
wanted = nav.param("item")
if wanted is not None and wanted not in items.index:
    st.error(
        f"There is no exam item {widgets.md_code(wanted)} in this dataset version; "
        "showing the item with the lowest pass rate."
    )
index = ids.index(wanted) if wanted in items.index else 0


def _item_changed():
    st.query_params["item"] = st.session_state["exam_item"]


item = st.selectbox(
    "Exam item (lowest pass rate first)",
    ids,
    index=index,
    key="exam_item",
    on_change=_item_changed,
    format_func=lambda i: f"{i} · {widgets.pct(items.loc[i, 'pass_rate'])} pass · {verdicts.loc[i, 'verdict']}",
)
answers = widgets.available(data.metric(version.id, "exam_item_answers", task_id=item))
if answers is None:
    st.stop()
row = items.loc[item]
if len(run.tasks.columns) and str(item) in run.tasks.index:  # the item itself: its image and inputs
    with st.expander("The item", expanded=True):
        for field, value in run.tasks.loc[str(item)].items():
            widgets.task_input(str(field), value)
got_it = widgets.rate_with_counts(row["correct"], row["answers"], row["ci_low"], row["ci_high"], "answers right")
st.caption(f"Golden label **{widgets.text(row['golden'])}** · {got_it}")
counts = answers["label"].value_counts().reindex(list(run.labels), fill_value=0)
total = max(int(counts.sum()), 1)
st.caption(
    "Answers given: " + " · ".join(f"{widgets.text(lab)} {n:,} ({widgets.pct(n / total)})" for lab, n in counts.items())
)
widgets.table(
    answers.assign(open=answers["worker_id"])[
        ["open", "label", "golden", "check", "exam_score", "exam_passed", "submitted_at", "seconds_per_task"]
    ],
    key="exam_answers",
    noun="answers",
    search_columns=["open", "label", "check"],
    open_page=(nav.BY_FILE["annotator.py"].path, "annotator", "open", {"version": version.id}),
    column_config={
        "open": st.column_config.TextColumn("annotator", help="a click on the row opens the annotator's answers"),
        "label": "their answer",
        "golden": "known answer",
        "check": "right?",
        "exam_score": st.column_config.NumberColumn("exam score", format="percent"),
        "exam_passed": st.column_config.CheckboxColumn("passed"),
        "submitted_at": st.column_config.DatetimeColumn("submitted (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "seconds_per_task": st.column_config.NumberColumn("s/task", format="%.1f s"),
    },
)
