"""Delivery: the labels a data-operations lead ships, how many are likely wrong, and what to re-annotate next."""

from __future__ import annotations

import math
import re

import pandas as pd
import streamlit as st

from analytics.cli.engine import DEFAULT_METHOD
from analytics.metrics import aggregation
from analytics.sources.predictions import model_names
from dashboard import charts, data, nav, widgets
from dashboard.plan_files import plan_downloads

version = nav.require_version("delivery.py")
run = data.current_run(version.id)
st.title("Delivery")
st.caption(
    f"{widgets.text(version.label)} · id {widgets.md_code(version.id)} · "
    "the labels you ship, how many of them are likely wrong, and which tasks to send back for more answers"
)
slug = re.sub(r"[^\w.-]+", "_", f"{version.label}-{version.id[:8]}")
EAGER_ROWS = 200_000  # above this many tasks a label file is built when its button is clicked, not on each rerun
FORMATS = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/vnd.apache.parquet")}
FORMATS["jsonl"] = ("JSON lines", "application/jsonl")
REFERENCE = {"golden": "control tasks", "truth": "truth"}  # "the realised count on control tasks / truth"
ON = {"golden": "control tasks", "truth": "tasks with ground truth"}  # "on the 98 control tasks"
# a click on a row opens the task's detail in the same tab
OPEN_TASK = (nav.BY_FILE["task.py"].path, "task", "task", {"version": version.id})


def task_links(frame: pd.DataFrame) -> pd.DataFrame:
    """task_id index -> a "task" text column first (a click on the row opens its Task detail)."""
    out = frame.rename(columns={c: f"input_{c}" for c in ("task", "open") if c in frame.columns})  # inputs named so
    ids = [str(t) for t in out.index]
    out = out.reset_index(drop=True)
    out.insert(0, "task", ids)
    return out


def fixes(x: float) -> str:
    """An expected count of fixes: whole above 10, one decimal below ("~2.4", "~40")."""
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.1f}"


# ---- the aggregator
methods = list(aggregation.METHODS)
method = st.columns([2, 3])[0].selectbox(
    "Labels by",
    methods,
    index=nav.choice("method", methods, DEFAULT_METHOD),
    format_func=aggregation.METHODS.get,
    key="delivery_method",
    help="Dawid-Skene (the default) gives posteriors, which the expected wrong count and the plan rest on; "
    "majority vote's confidence is a vote share. GLAD and MACE run when you start them.",
)
nav.keep("method", method)
NAME = aggregation.METHODS[method]
P = {"method": method}


def the_aggregation(m: str):
    """The aggregation by ``m``: at once where it is cheap here, else after its button (GLAD, MACE)."""
    wait = data.on_request(version.id, m)
    est = (data.estimate_seconds(version.id, "aggregate", method=m) or 0.0) if wait else 0.0
    answers = f"{aggregation.pool_answers(run):,} labeling-pool answers"
    result = widgets.computed_on_request(
        f"aggregate_{version.id}_{m}",
        f"Run {aggregation.METHODS[m]}",
        f"{aggregation.METHODS[m]} on this run's {answers} {widgets.takes(m, est)}.",
        needed=wait,
        button_key=f"delivery_start_{m}",
        spinner=f"Running {aggregation.METHODS[m]} on {answers}…",
        seconds=est,
        bound=aggregation.estimate_is_bound(m),
        compute=lambda: data.metric(version.id, "aggregate", method=m),
    )
    return None if result is None else widgets.available(result)


if the_aggregation(method) is None:
    st.stop()


# ---- the delivered labels
def label_downloads(frame: pd.DataFrame) -> None:
    """CSV, Parquet and JSON-lines downloads of every delivered label."""
    c = st.columns([1, 1, 1, 3])
    for i, (fmt, (name, mime)) in enumerate(FORMATS.items()):
        build = lambda fmt=fmt: data.label_file(version.id, method, fmt)  # noqa: E731
        c[i].download_button(
            name,
            data=build() if len(frame) <= EAGER_ROWS else build,  # a long file is built on click
            file_name=f"labels-{slug}-{method}.{fmt}",
            mime=mime,
            key=f"labels_{fmt}",
            icon=":material/download:",
            help=f"{len(frame):,} labels, one row per task, as {name}",
        )
    c[3].caption(
        "One row per task: its inputs, the label, its confidence and per-label probabilities (p_…), the method "
        "and tie rule, the votes, the agreement, and the golden label and truth where known."
    )


def show_labels(frame: pd.DataFrame) -> None:
    n = len(frame)
    tied = int(frame["tied"].sum())
    golden, truth = int(frame["golden"].notna().sum()), int(frame["truth"].notna().sum())
    c = st.columns(4)
    c[0].metric("Labels delivered", f"{n:,} tasks", help=f"One label per task with answers, by {NAME}")
    c[1].metric("Mean confidence", widgets.pct(float(frame["confidence"].mean())), help="the method's probability")
    c[2].metric("Decided by the tie rule", f"{tied:,} tasks", help=aggregation.TIE_RULE)
    c[3].metric("Median agreement", widgets.pct(float(frame["agreement"].median())), help="answers equal to the label")
    st.caption(
        f"**Tie rule:** {widgets.text(frame['tie_rule'].iloc[0]) if n else '—'} (ties go to the first listed). "
        + ("Known answers: " if golden or truth else "")
        + " · ".join(x for x in (golden and f"{golden:,} control tasks", truth and f"truth for {truth:,} tasks") if x)
    )
    label_downloads(frame)
    empty = [c for c in ("golden", "truth") if not frame[c].notna().any()]
    shown = frame.drop(columns=["method", "tie_rule", *empty, *[c for c in frame.columns if str(c).startswith("p_")]])
    widgets.table(
        shown,
        key="delivered",
        rows=20,
        noun="tasks",
        prepare=task_links,
        open_page=OPEN_TASK,
        column_config={
            "confidence": st.column_config.NumberColumn("confidence", format="percent"),
            "agreement": st.column_config.NumberColumn("agreement", format="percent"),
            "answers": st.column_config.NumberColumn("answers", format="%d"),
            "golden": st.column_config.TextColumn("golden", help="the control task's known answer"),
        },
    )


st.subheader("The delivered labels")
delivered = widgets.available(data.metric(version.id, "delivered_labels", **P))
if delivered is not None:
    show_labels(delivered)


# ---- how many are wrong
def show_check(check) -> None:
    """The expected wrong count on the tasks with a reference label, against the wrong labels found there."""
    where = REFERENCE[check.reference]
    line = (
        f"On the {check.tasks:,} {ON[check.reference]}, "
        f"{NAME} expects {check.expected:,.1f} wrong labels (95 % interval {check.low:,}–{check.high:,}); "
        f"the realised count on {where} is {check.realised:,}"
    )
    if check.inside:
        st.success(line + " — inside the interval.", icon=":material/check_circle:")
        return
    over = check.realised > check.high
    st.warning(
        f"{line} — {'above' if over else 'below'} the interval: the aggregator is "
        + (
            "overconfident. Its confidence overstates how often it is right, so the expected count above is too "
            "low: read it as a floor, and trust the realised rate."
            if over
            else "underconfident here (more labels are right than its confidence says): the count above is too high."
        ),
        icon=":material/warning:",
    )


def show_expected_wrong(ew) -> None:
    c = st.columns(3)
    c[0].metric(
        "Expected wrong labels",
        f"{ew.expected:,.1f} of {ew.tasks:,}",
        help="Σ (1 − confidence) over the delivered labels: the aggregator's own estimate of its mistakes",
    )
    c[1].metric(
        "95 % interval",
        f"{ew.low:,}–{ew.high:,} labels",
        help=f"Poisson-binomial ({ew.interval_method}): each label wrong with chance 1 − confidence, independently",
    )
    c[2].metric("Share likely wrong", widgets.pct(ew.share), help=f"of the {ew.tasks:,} delivered labels")
    for check in ew.checks.values():
        show_check(check)
    if not ew.checks:
        st.caption(
            "No control task or ground truth among the delivered tasks: the count rests on the aggregator's "
            "posteriors alone and cannot be checked here."
        )


def show_calibration(cal) -> None:
    ref = REFERENCE[cal.reference]
    right = int(round(cal.accuracy * cal.tasks))
    c = st.columns(3)
    c[0].metric(
        "Expected calibration error",
        f"{100 * cal.ece:.1f} pp",
        help="ECE = Σ over confidence bins of (tasks in the bin / all) × |accuracy − mean confidence|; 0 = calibrated",
    )
    c[1].metric(f"Accuracy on {ref}", widgets.pct(cal.accuracy), help=f"{right:,} of {cal.tasks:,} labels right")
    c[2].metric("Mean confidence on them", widgets.pct(cal.mean_confidence))
    gap = 100 * (cal.mean_confidence - cal.accuracy)
    how = f"more sure than right by {gap:.1f} percentage points (overconfident)" if gap > 0 else ""
    st.caption(
        f"On the {cal.tasks:,} {ON[cal.reference]} ({right:,} labels right), {NAME} is "
        f"{how or f'right more often than sure by {-gap:.1f} percentage points'}."
        " Points below the diagonal are bins where the confidence overstates the accuracy."
    )
    st.plotly_chart(charts.reliability_diagram(cal.table, cal.ece, ref, NAME), width="stretch")
    with st.expander(f"The {len(cal.table):,} confidence bins"):
        widgets.table(
            cal.table,
            key="calibration_bins",
            search=False,
            column_config={
                "tasks": st.column_config.NumberColumn("tasks", format="%d"),
                **{
                    c: st.column_config.NumberColumn(widgets.human(c), format="percent")
                    for c in ("bin_low", "bin_high", "confidence", "accuracy", "ci_low", "ci_high", "gap")
                },
            },
        )


def show_likely_wrong(lw: pd.DataFrame) -> None:
    refs = [c for c in ("golden", "truth") if c in lw and lw[c].notna().any()]
    confirmed = {r: int((lw[r].notna() & (lw[r].astype(object) != lw["label"].astype(object))).sum()) for r in refs}
    st.caption(
        f"The {len(lw):,} labels {NAME} is least sure of, most likely wrong first"
        + "".join(
            f"; {confirmed[r]:,} of the {int(lw[r].notna().sum()):,} with {REFERENCE[r]} are confirmed wrong"
            for r in refs
        )
        + "."
    )
    widgets.table(
        lw.drop(columns=[c for c in ("golden", "truth") if c in lw and c not in refs]),
        key="likely_wrong",
        rows=15,
        noun="labels",
        prepare=task_links,
        open_page=OPEN_TASK,
        column_config={
            "confidence": st.column_config.NumberColumn("confidence", format="percent"),
            "wrong_chance": st.column_config.NumberColumn("chance wrong", format="percent"),
            "runner_up": st.column_config.TextColumn("next most likely label"),
            "runner_up_p": st.column_config.NumberColumn("its probability", format="percent"),
            "answers": st.column_config.NumberColumn("answers", format="%d"),
        },
    )
    st.caption("Open the least sure in this tab:")
    for task, chance in lw["wrong_chance"].head(3).items():
        label = f"Task {widgets.text(task)} · {widgets.pct(chance)} chance wrong"
        nav.link("task.py", label, icon=":material/open_in_browser:", version=version.id, task=str(task))


st.subheader("How many are wrong")
if method == "mv":
    st.caption(
        "Majority vote's confidence is the share of votes, not a probability of being right: the figures below "
        "are rough for it. Pick Dawid-Skene or one-coin Dawid-Skene for posteriors."
    )
expected = widgets.available(data.metric(version.id, "expected_wrong", **P))
if expected is not None:
    show_expected_wrong(expected)
st.markdown("**Calibration: is the confidence right?**")
calibration = widgets.available(data.metric(version.id, "calibration", **P))
if calibration is not None:
    show_calibration(calibration)
st.markdown("**The labels most likely wrong**")
likely = widgets.available(data.metric(version.id, "likely_wrong", **P))
if likely is not None:
    show_likely_wrong(likely)


# ---- the re-annotation plan
def plan_inputs(price) -> tuple[int, float, float | None, str]:
    """Answers per task, control share, the cost per answer asked for (None: the run's) and the currency."""
    cur = price.currency if price is not None else run.pricing.currency
    has_golden = delivered is not None and bool(delivered["golden"].notna().any())
    c = st.columns(3)
    k = int(
        c[0].number_input(
            "New answers per task",
            min_value=1,
            max_value=10,
            value=int(data.default("reannotation_plan", "answers_per_task")),
            key="plan_answers",
            help="Each chosen task is shown to this many more annotators of this pool",
        )
    )
    share = c[1].slider(
        "Control tasks (% of the upload)",
        min_value=0,
        max_value=50,
        value=int(100 * data.default("reannotation_plan", "control_share")),
        step=5,
        format="%d %%",
        key="plan_control",
        disabled=not has_golden,  # the plan's notes say so where a share finds too few
        help="Tasks with a known golden label mixed in, to check the new answers (none where the run has none)",
    )
    cpa = None
    if price is None or price.per_answer is None:
        cpa = c[2].number_input(
            f"Cost per answer ({widgets.text(cur)})",
            min_value=0.0001,
            value=0.01,
            step=0.001,
            format="%.4f",
            key="plan_cost_per_answer",
            help="Reward plus platform fee for one answer",
        )
        st.info(
            "This run carries no prices (no rewards in its files), so the plan uses the cost per answer given "
            "here: set it to what one answer costs you, reward and platform fee included.",
            icon=":material/payments:",
        )
    else:
        how = {"suites": "median paid task suite", "breakdown": "the run's spend over its answers"}
        c[2].metric(
            "One answer costs",
            widgets.money(price.per_answer, cur, 4),
            help=f"reward and fee, from the {how.get(price.source, price.source)}",
        )
    return k, share / 100, cpa, cur


def budget_slider(top: float, cur: str) -> float:
    """The budget, from 0 to what every task that could gain would cost (the whole plan)."""
    step = max(0.01, 10 ** math.floor(math.log10(max(top, 1e-9) / 200)))
    top = max(step, math.ceil(top / step - 1e-9) * step)
    key = "plan_budget"
    # a new range makes a new slider: carry the budget over (held within the range), start at a quarter
    prev = st.session_state.get(key)
    start = round(min(top, max(step, round(top / 4 / step) * step)), 6)
    st.session_state[key] = start if prev is None else min(float(prev), top)
    return st.slider(
        f"Budget ({widgets.text(cur)})",
        min_value=0.0,
        max_value=float(top),
        step=float(step),
        format="%.2f",
        key=key,
        help="Money to spend on the new answers; the tasks with the most expected fixes per unit are bought first",
    )


def show_plan(plan, full) -> None:
    cur = plan.cost.currency
    st.markdown(
        f"#### {widgets.money(plan.budget, cur)} → ~{fixes(plan.expected_fixes)} expected fixes",
        help=f"{100 * plan.level:.0f} % interval: from {plan.fixes_low:,.1f} to {plan.fixes_high:,.1f} fixes",
    )
    c = st.columns(4)
    c[0].metric(f"Tasks to re-annotate (× {plan.answers_per_task} answers)", nav.plural(len(plan.tasks), "task"))
    c[1].metric("Control tasks mixed in", nav.plural(len(plan.control), "task"))
    c[2].metric(
        "Cost",
        widgets.money(plan.total_cost, cur),
        help=f"tasks {widgets.money(plan.task_cost, cur)} + control {widgets.money(plan.control_cost, cur)}",
    )
    c[3].metric(
        "Expected fixes",
        f"~{fixes(plan.expected_fixes)} labels",
        help="Σ over the chosen tasks of P(the new answers make the label right) − P(they make a right label wrong)",
    )
    per = plan.fixes_per_money
    st.caption(
        f"{100 * plan.level:.0f} % interval: from {plan.fixes_low:,.1f} to {plan.fixes_high:,.1f} fixes"
        + f" · {widgets.money(plan.total_cost / max(1, len(plan.tasks) + len(plan.control)), cur, 4)} per task"
        + (f" · {per:,.1f} expected fixes per {widgets.text(cur)}" if per else "")
        + f" · pool accuracy {widgets.pct(plan.pool_accuracy)} (the annotators' estimated accuracies, by answers)"
        + f" · every task that could gain: {len(full.tasks):,} tasks for {widgets.money(full.total_cost, cur)} "
        + f"→ ~{fixes(full.expected_fixes)} fixes."
    )
    for note in plan.notes:
        st.caption(f":material/info: {widgets.text(note)}")
    if not len(plan.tasks):
        st.info("The budget buys no task yet: move it up.")
        return
    plan_downloads(run, version.id, slug, plan)
    widgets.table(
        plan.tasks.drop(columns=["cost"], errors="ignore"),
        key="plan_tasks",
        rows=15,
        noun="tasks",
        prepare=task_links,
        open_page=OPEN_TASK,
        column_config={
            "confidence": st.column_config.NumberColumn("confidence", format="percent"),
            "answers": st.column_config.NumberColumn("answers so far", format="%d"),
            "p_fix": st.column_config.NumberColumn("chance fixed", format="percent"),
            "p_break": st.column_config.NumberColumn("chance broken", format="percent"),
            "expected_fix": st.column_config.NumberColumn("expected fix", format="%.3f"),
            "p_right_after": st.column_config.NumberColumn("chance right after", format="percent"),
            "cumulative_cost": st.column_config.NumberColumn(f"cumulative ({cur})", format="%.3f"),
        },
    )


def plan_section() -> None:
    price = widgets.available(data.metric(version.id, "answer_cost"), quiet=True)
    k, share, cpa, cur = plan_inputs(price)
    params = {**P, "answers_per_task": k, "control_share": share, "cost_per_answer": cpa}
    full = widgets.available(data.metric(version.id, "reannotation_plan", **params))
    if full is None:
        return
    if not len(full.tasks) or not full.total_cost:
        st.info(f"No task is expected to gain from {k} more answers: nothing to re-annotate.")
        return
    budget = budget_slider(full.total_cost, cur)
    plan = widgets.available(data.metric(version.id, "reannotation_plan", **params, budget=budget))
    if plan is not None:
        show_plan(plan, full)


st.subheader("The re-annotation plan")
st.caption(
    "Tasks ranked by expected label fixes per unit of money: the chance that k more answers from this pool's "
    "annotators (their estimated accuracies) turn the label into the right one, from the current posterior."
)
plan_section()


# ---- model predictions
def show_model(model: str) -> None:
    ma = widgets.available(data.metric(version.id, "model_agreement", **P, model=model))
    if ma is not None:
        c = st.columns(3)
        agree = widgets.rate_with_counts(ma.agree, ma.tasks, ma.ci_low, ma.ci_high, "tasks")
        c[0].metric(
            f"Agrees with {NAME}", widgets.pct(ma.agreement), help=f"{agree}: same label, of the tasks both label"
        )
        st.caption(f"The model {widgets.text(model)} gives {NAME}'s label on {agree}.")
        c[1].metric("Cohen's κ with the crowd", widgets.num(ma.kappa))
        for ref, acc in ma.accuracy.items():
            st.caption(
                f"On the {acc['tasks']:,} {ON[ref]}, the model is right on {widgets.pct(acc['model'])}, "
                f"the crowd's {NAME} labels on {widgets.pct(acc['crowd'])}."
            )
    cl = widgets.available(data.metric(version.id, "crowdlab", model=model))
    if cl is not None:
        st.markdown("**CROWDLAB** (cleanlab): a consensus of the annotators and the model, lowest quality first")
        c = st.columns(3)
        c[0].metric("Tasks scored", f"{len(cl.tasks):,}")
        c[1].metric("Mean consensus quality", widgets.num(float(cl.tasks["consensus_quality_score"].mean())))
        c[2].metric("Model weight", widgets.num(cl.model_weight), help="cleanlab's weight of the model's opinion")
        worst = cl.tasks.sort_values("consensus_quality_score", kind="stable")
        widgets.table(worst, key="crowdlab_tasks", rows=15, noun="tasks", prepare=task_links, open_page=OPEN_TASK)
        with st.expander(f"Annotator quality ({len(cl.annotators):,} annotators)"):
            widgets.table(cl.annotators.reset_index(), key="crowdlab_annotators", rows=15, noun="annotators")
    al = widgets.available(data.metric(version.id, "active_learning_scores", model=model))
    if al is not None:
        st.markdown("**Active learning** (cleanlab): the tasks another label is worth most on, first")
        widgets.table(al, key="active_learning", rows=15, noun="tasks", prepare=task_links, open_page=OPEN_TASK)


st.subheader("Model predictions")
models = model_names(run)
if not models:
    st.info(
        "This version carries no model predictions. Add a model's at import: `crowdlens import FILES "
        "--predictions PREDICTIONS.csv [--model-name NAME]`, one row per task with the task id, the predicted "
        "label and, for CROWDLAB and active learning, a `p_<label>` probability column per label. "
        "The model is kept apart from the crowd's figures.",
        icon=":material/smart_toy:",
    )
else:
    picked = st.selectbox("Model", models, key="delivery_model") if len(models) > 1 else models[0]
    show_model(picked)
