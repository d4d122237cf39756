"""Overview of one version's run: tiles, progress over time, status mix, links into every page."""

from __future__ import annotations

import streamlit as st

from analytics.metrics.progress import FREQS
from dashboard import charts, data, documents, nav, widgets

version = nav.require_version("overview.py")
run = data.current_run(version.id)
s = run.summary()
st.title(widgets.md_escape(version.label))
description = version.metadata.get("description")
st.caption(
    f"id {widgets.md_code(version.id)} · created {widgets.md_escape(version.created)} · "
    f"project {widgets.md_escape(run.meta.project or 'n/a')}"
    + (f" · {widgets.md_escape(description)}" if description else "")
)

# ---- quality first: agreement, accuracy against known answers, answers from banned annotators
st.subheader("Quality")
agreement = widgets.available(data.metric(version.id, "run_agreement"), quiet=True)
golden = widgets.available(data.metric(version.id, "accuracy_vs_golden"), quiet=True)
truth = widgets.available(data.metric(version.id, "accuracy_vs_truth"), quiet=True)
people = widgets.available(data.metric(version.id, "annotator_table"), quiet=True)
q = st.columns(4)
if agreement is None:
    q[0].metric("Krippendorff's α", "n/a", help="needs tasks with two or more answers")
else:
    q[0].metric("Krippendorff's α", widgets.num(agreement.krippendorff_alpha), help="nominal, labeling pool")
    q[0].caption(
        f"over {nav.plural(agreement.items, 'task')} with two or more answers (measured) · "
        + (
            f"overlap {agreement.overlap_max}"
            if agreement.overlap_min == agreement.overlap_max
            else f"overlap {agreement.overlap_min}–{agreement.overlap_max}, mean {agreement.overlap_mean:.1f}"
        )
    )


def accuracy_tile(col, result, title: str, reference: str, none: str) -> None:
    """Majority vote's accuracy against known answers, with its 95 % interval and what it counts."""
    if result is None:
        col.metric(title, "n/a")
        col.caption(none)
        return
    col.metric(title, widgets.pct(result.accuracy), help="majority vote's label against the known answer")
    col.caption(
        f"95 % CI {widgets.pct(result.ci_low)}–{widgets.pct(result.ci_high)} · "
        f"{nav.plural(result.tasks, 'task')} with {reference}"
    )


accuracy_tile(q[1], golden, "Accuracy vs golden", "a known (control) answer", "no control tasks in this run")
accuracy_tile(q[2], truth, "Accuracy vs truth", "ground truth", "no ground truth given at import")
if people is None or not int(people["labeling_answers"].sum()) or not len(run.restrictions):
    q[3].metric("Answers from banned annotators", "n/a")
    q[3].caption("no bans recorded in this run")
else:
    banned = people[people["banned"]]
    q[3].metric(
        "Answers from banned annotators",
        widgets.pct(banned["labeling_answers"].sum() / people["labeling_answers"].sum()),
        help="labeling-pool answers (regular and control) from annotators with a recorded ban",
    )
    q[3].caption(
        f"{int(banned['labeling_answers'].sum()):,} of {int(people['labeling_answers'].sum()):,} answers · "
        f"{nav.plural(len(banned), 'banned annotator')}"
    )

# ---- how many delivered labels are probably wrong (from the aggregator's confidence)
wrong = widgets.available(data.metric(version.id, "expected_wrong"), quiet=True)
if wrong is not None:
    w = st.columns([1, 3])
    w[0].metric(
        "Expected wrong labels",
        f"{wrong.expected:,.0f}",
        help="the sum over tasks of 1 − the majority vote's confidence; the interval is Poisson-binomial",
    )
    checks = "; ".join(
        f"realised against {ref}: {c.realised:,} of {c.tasks:,} tasks"
        + ("" if c.inside else " — outside the interval: the confidence is too high")
        for ref, c in wrong.checks.items()
    )
    w[1].caption(
        f"95 % interval {wrong.low:,}–{wrong.high:,} of {wrong.tasks:,} labels "
        f"({widgets.pct(wrong.expected / max(1, wrong.tasks))})" + (f" · {checks}" if checks else "")
    )
    with w[1]:
        nav.link("delivery.py", "Labels to deliver, and a re-annotation plan", version=version.id)

# ---- the run's size
st.subheader("The run")
money = widgets.available(data.metric(version.id, "spend"), quiet=True)
c = st.columns(5)
c[0].metric("Answers", f"{s['answers']:,}")
c[1].metric("Tasks", f"{s['tasks']:,}", help="every task of the run: exam, training, regular and control")
c[2].metric("Annotators", f"{s['workers']:,}", help="everyone with an answer, exam candidates included")
c[3].metric("Task suites", "n/a" if s["assignments"] is None else f"{s['assignments']:,}")
c[4].metric(
    "Spend",
    "n/a" if money is None else widgets.money(money.total, money.currency),
    help=(money.missing if money is not None else None) or "rewards + platform fee + bonuses, paid suites only",
)
if s.get("without_answer"):
    st.caption(
        "Task suites without an answer (not counted above): "
        + ", ".join(f"{widgets.md_escape(k.lower())} {v:,}" for k, v in s["without_answer"].items())
    )
if run.pricing.fee_assumed:
    st.caption(f":material/info: {widgets.md_escape(run.pricing.fee_note())}")
st.caption(
    "Answers by kind: "
    + ", ".join(f"{widgets.md_escape(k)} {v:,}" for k, v in s["kinds"].items())
    + f" · labels: {', '.join(widgets.md_escape(x) for x in run.labels)}"
)
for n in run.notes:
    st.caption(f":material/info: {widgets.md_escape(n.message)}")

# ---- over time (only where the run records times)
freq = FREQS[nav.choice("period", FREQS, FREQS[1])]
throughput = widgets.available(data.metric(version.id, "throughput", freq=freq), quiet=True)
status = widgets.available(data.metric(version.id, "status_mix"), quiet=True)
recorded = status is not None and int(status.drop(index="not recorded", errors="ignore")["answers"].sum()) > 0
if throughput is not None:
    st.subheader("Progress")
    freq = st.radio("Period", FREQS, index=FREQS.index(freq), horizontal=True, key="freq")
    nav.keep("period", freq)
    st.plotly_chart(charts.throughput_chart(throughput), width="stretch")
if recorded:
    st.subheader("Assignment status")
    st.plotly_chart(charts.status_chart(status), width="stretch")
missing = [what for what, ok in (("answer times", throughput is not None), ("assignment statuses", recorded)) if not ok]
if missing:
    st.info(
        f"This run records no {' and no '.join(missing)} (a long table of task, annotator and label): "
        "progress over time, speeds and the status mix need an export that has them.",
        icon=":material/info:",
    )

st.subheader("Report")
documents.report_downloads(version, key="overview_report")

st.subheader("Look closer")
cols = st.columns(3)
for i, f in enumerate(["exam.py", "annotators.py", "agreement.py", "labels.py", "cost.py", "live.py"]):
    if (nav.PAGES_DIR / f).exists():
        with cols[i % 3]:
            nav.link(f, version=version.id)
