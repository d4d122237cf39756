"""The one registry of metrics: every figure of a run declared once, computed and cached per run by compute().

A :class:`Metric` declares its name, function, parameters (the function's signature: the cache
key), what it needs from the run, its kind of result, the metrics it depends on and, for slow
ones, a cost model (the seconds the dashboard shows before it starts one). The dashboard's cache,
the report and the invariant tests loop over :data:`REGISTRY`; nothing else dispatches on a name.
``compute(run, name, **params)`` gives the result or raises :class:`MetricUnavailable`, whose
reason names the missing field in the run's source's words (TSV column, ``--columns`` key, API
field). Results are cached per run (runs are immutable) and shared: never modify one in place.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from typing import Any, Iterator, Mapping

import pandas as pd

from analytics.metrics import (
    aggregation,
    agreement,
    control,
    cost,
    curve,
    delivery,
    exam,
    labels,
    modelcrowd,
    progress,
    replan,
    rules,
    speed,
    whatif,
)
from analytics.metrics._base import MetricUnavailable
from analytics.metrics.declaration import LABELS, TABLE, VALUE, Dependency, Metric
from analytics.model import Run

# figures measured against an aggregate: which one is chosen by the method and its EM iterations
_ON_AGGREGATE = Dependency("aggregate", {"method": "method", "n_iter": "n_iter"})
_AGG = {"aggregation": _ON_AGGREGATE}
_MV = {"method": "mv", "n_iter": aggregation.DEFAULT_ITERATIONS}

METRICS: tuple[Metric, ...] = (
    # aggregation first: figures measured against an aggregate depend on it
    Metric(
        "aggregate",
        aggregation.aggregate,
        LABELS,
        "aggregated labels with a confidence per task (see aggregation.METHODS)",
        estimate=lambda run, params: aggregation.estimate_seconds(run, params["method"], params["n_iter"]),
    ),
    # exam
    Metric("exam_threshold", exam.exam_threshold, VALUE, "the exam's pass mark, as a share of items right", "exam"),
    Metric(
        "exam_item_pass_rate",
        exam.exam_item_pass_rate,
        TABLE,
        "pass rate per exam item with a Wilson interval and discrimination",
        "exam",
    ),
    Metric("exam_scores", exam.exam_scores, TABLE, "exam score per annotator and pass/fail", "exam"),
    Metric("exam_summary", exam.exam_summary, VALUE, "candidates, passed, pass rate", "exam"),
    # control tasks and truth
    Metric(
        "control_accuracy",
        control.control_accuracy,
        TABLE,
        "accuracy on control tasks per annotator with a Wilson interval",
        "control",
    ),
    Metric(
        "control_task_difficulty",
        control.control_task_difficulty,
        TABLE,
        "share right per control task; suspect golden labels",
        "control",
    ),
    Metric(
        "workers_vs_truth",
        control.accuracy_vs_truth,
        TABLE,
        "each annotator's accuracy against ground truth",
        "truth",
    ),
    # agreement
    Metric("run_agreement", agreement.run_agreement, VALUE, "Krippendorff's alpha and Fleiss' kappa"),
    Metric(
        "item_agreement",
        agreement.item_agreement,
        TABLE,
        "agreement with the aggregate and entropy per item",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "pairwise_kappa",
        agreement.pairwise_kappa,
        TABLE,
        "Cohen's kappa per pair of annotators",
        estimate=agreement.pairs_seconds,
    ),
    Metric(
        "worker_agreement",
        agreement.worker_agreement,
        TABLE,
        "each annotator's agreement with the aggregate",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "least_agreed",
        agreement.least_agreed_tasks,
        TABLE,
        "tasks with two or more answers, least agreement with the aggregate first",
        depends={"items": Dependency("item_agreement", {"method": "method", "n_iter": "n_iter"})},
        forwarded=_MV,
    ),
    Metric(
        "pairs_by_kappa",
        agreement.pairs_by_kappa,
        TABLE,
        "annotator pairs, lowest Cohen's kappa first",
        depends={"pairs": Dependency("pairwise_kappa", {"min_shared": "min_shared"})},
        forwarded={"min_shared": 10},
    ),
    # aggregation
    Metric(
        "accuracy_vs_golden",
        aggregation.accuracy_vs_golden,
        VALUE,
        "aggregated labels against the control tasks' known answers",
        "control",
        depends={"agg": _ON_AGGREGATE},
        forwarded=_MV,
    ),
    Metric(
        "accuracy_vs_truth",
        aggregation.accuracy_vs_truth,
        VALUE,
        "aggregated labels against ground truth",
        "truth",
        depends={"agg": _ON_AGGREGATE},
        forwarded=_MV,
    ),
    Metric("aggregator_disagreements", aggregation.disagreements, TABLE, "tasks where the aggregators differ"),
    Metric("task_votes", aggregation.task_votes, TABLE, "one task's votes and each aggregator's label", kept=False),
    Metric("task_vote_counts", aggregation.task_vote_counts, VALUE, "one task's votes per label"),
    # cost
    Metric("spend", cost.spend, VALUE, "rewards, fees, bonuses, total", "any"),
    Metric("cost_breakdown", cost.cost_breakdown, VALUE, "cost per answer, accepted assignment, final label", "any"),
    Metric("cost_by_pool", cost.cost_by_pool, TABLE, "spend per pool", "any"),
    Metric("spend_on_banned", cost.spend_on_banned, VALUE, "spend on annotators later banned or rejected", "any"),
    Metric(
        "cost_quality_curve",
        curve.cost_quality_curve,
        VALUE,
        "what overlap 1..k bought: accuracy against cost per label, with a projection",
        "control",
        estimate=curve.curve_seconds,
    ),
    # labels
    Metric("label_distribution", labels.label_distribution, TABLE, "raw label counts and shares"),
    Metric(
        "aggregated_label_distribution",
        labels.aggregated_label_distribution,
        TABLE,
        "aggregated label counts and shares",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric("annotator_label_use", labels.annotator_label_use, VALUE, "per-annotator label use against the others'"),
    # speed and progress
    Metric("assignment_speed", speed.assignment_speed, TABLE, "seconds per task per assignment", "times"),
    Metric("worker_speed", speed.worker_speed, TABLE, "median seconds per task per annotator", "times"),
    Metric(
        "fast_responders", speed.fast_responders, TABLE, "fast responders by the pool's fast-response rule", "times"
    ),
    Metric("throughput", progress.throughput, TABLE, "answers and active annotators per hour", "times"),
    Metric("status_mix", progress.status_mix, TABLE, "assignments by status", "any"),
    Metric(
        "pool_completion", progress.pool_completion, TABLE, "answers submitted per pool against tasks x overlap", "any"
    ),
    # rules
    Metric("replay_rules", rules.replay_rules, TABLE, "the pools' ban rules replayed against recorded bans", "rules"),
    Metric("ban_evidence", rules.ban_evidence, VALUE, "the answers a ban rests on, for one annotator", "rules"),
    # the data engine (issue 14): delivered labels, how many are wrong, the re-annotation plan, model predictions
    Metric(
        "delivered_labels",
        delivery.delivered_labels,
        TABLE,
        "the label file: one row per task",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "expected_wrong",
        delivery.expected_wrong,
        VALUE,
        "expected wrong labels with a Poisson-binomial interval, checked on golden/truth",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "calibration",
        delivery.calibration,
        VALUE,
        "confidence against correctness on truth or control tasks, with the ECE",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric("likely_wrong", delivery.likely_wrong, TABLE, "labels most likely wrong first", depends=_AGG, forwarded=_MV),
    Metric("annotator_accuracy", replan.annotator_accuracy, TABLE, "estimated accuracy and answer share per annotator"),
    Metric("answer_cost", replan.answer_cost, VALUE, "what one more answer costs (reward and fee)", "any"),
    Metric(
        "fix_chances",
        replan.fix_chances,
        TABLE,
        "per task: the chance k more answers fix or break its label",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "reannotation_plan",
        replan.reannotation_plan,
        VALUE,
        "the tasks to re-annotate within a budget, their cost and expected fixes",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric(
        "model_agreement",
        modelcrowd.model_agreement,
        VALUE,
        "a model's predictions against the crowd's aggregate",
        depends=_AGG,
        forwarded=_MV,
    ),
    Metric("crowdlab", modelcrowd.crowdlab, VALUE, "CROWDLAB (cleanlab): consensus, quality per task and annotator"),
    Metric(
        "active_learning_scores",
        modelcrowd.active_learning_scores,
        TABLE,
        "cleanlab's active-learning score per task, lowest (most worth relabeling) first",
    ),
    # --- QA what-if (issue 17): rules_whatif, ban_audit, exam_review, declared in analytics/metrics/whatif.py
    *(Metric(*declared) for declared in whatif.FIGURES),
)

REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (the QA tables of analytics.people register themselves so)."""
    if metric.name in REGISTRY and REGISTRY[metric.name] != metric:
        raise ValueError(f"A metric named {metric.name!r} is registered already.")
    for dep in metric.depends.values():
        if dep.metric not in REGISTRY:
            raise ValueError(f"The metric {metric.name!r} depends on {dep.metric!r}, which is not registered.")
    REGISTRY[metric.name] = metric
    return metric


for _m in METRICS:
    register(_m)

# --- label scales (issue #13; analytics/metrics/scales.py): figures on the run's declared scale (meta.scale).
# Nominal runs refuse all but scale_agreement (MetricUnavailable naming --scale). Kept in one block.
from analytics.metrics import scales  # noqa: E402  (this block's own import)

_ON_SCALE_AGGREGATE = {"aggregate": Dependency("scale_aggregate", {"method": "method"})}
for _m in (
    Metric("scale_agreement", scales.scale_agreement, VALUE, "Krippendorff's alpha at the run's scale and nominal"),
    Metric("weighted_kappa", scales.weighted_kappa, TABLE, "linear and quadratic weighted kappa per annotator pair"),
    Metric("item_spread", scales.item_spread, TABLE, "per task: mean, median, standard deviation, range of answers"),
    Metric("scale_aggregate", scales.scale_aggregate, TABLE, "per-task median or mean of the answers' numbers"),
    Metric(
        "scale_error",
        scales.scale_error,
        VALUE,
        "MAE, RMSE and bias of the per-task median or mean against golden or truth",
        depends=_ON_SCALE_AGGREGATE,
        forwarded={"method": "median"},
    ),
    Metric(
        "annotator_scale_error",
        scales.annotator_scale_error,
        TABLE,
        "per annotator: MAE and bias against golden, truth and the per-task aggregate",
        depends=_ON_SCALE_AGGREGATE,
        forwarded={"method": "median"},
    ),
    Metric("scale_histogram", scales.scale_histogram, TABLE, "numeric answers in equal-width bins"),
):
    register(_m)

# Public functions of a run in the metric modules that are shared building blocks, not figures
# (the guard test fails on any other public function of a run that the registry lacks).
BUILDING_BLOCKS = frozenset(
    {
        "aggregation.golden_codes",
        "aggregation.truth_codes",
        "aggregation.estimate_seconds",
        "agreement.pairs_seconds",
        "curve.curve_seconds",
        "aggregation.cached",
        "aggregation.on_request",
        "aggregation.waits_on_size",
        "aggregation.is_large",
        "cost.assignment_table",
        "cost.assignment_cost",
        "cost.final_label_count",
        "speed.suites",
    }
)

# one cache per run: (name, bound parameters) -> result or the MetricUnavailable it gave
_CACHE: "weakref.WeakKeyDictionary[Run, dict]" = weakref.WeakKeyDictionary()


def metric(name: str) -> Metric:
    """The registered metric ``name``; a ValueError listing the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown metric {name!r}; known metrics: {', '.join(REGISTRY)}") from None


def cache_key(name: str, **params: Any) -> tuple:
    """The key a result is cached under: the name and every parameter, defaults filled in."""
    return (name, tuple(sorted(metric(name).bind(params).items())))


def compute(run: Run, name: str, **params: Any) -> Any:
    """The metric ``name`` of ``run`` with ``params`` (see :data:`REGISTRY`), computed once per run.

    Raises MetricUnavailable (whose reason names the missing field in the run's source's words)
    where the run cannot give it; the refusal is cached like a result.
    """
    m = metric(name)
    bound = m.bind(params)
    if not m.kept:
        value = _evaluate(run, m, bound)
        if isinstance(value, MetricUnavailable):
            raise value
        return value
    key = (name, tuple(sorted(bound.items())))
    per_run = _CACHE.setdefault(run, {})
    if key not in per_run:
        per_run[key] = _evaluate(run, m, bound)
    value = per_run[key]
    if isinstance(value, MetricUnavailable):
        raise copy.copy(value)  # the cached one never carries a traceback (see _kept)
    return value


def _evaluate(run: Run, m: Metric, bound: Mapping[str, Any]) -> Any:
    kwargs = {k: v for k, v in bound.items() if k not in m.forwarded}
    try:
        for arg, dep in m.depends.items():
            kwargs[arg] = compute(run, dep.metric, **{d: bound[own] for d, own in dep.params.items()})
        return m.function(run, **kwargs)
    except MetricUnavailable as err:
        return _kept(err.in_source(run))


def _kept(err: MetricUnavailable) -> MetricUnavailable:
    """A refusal as the cache holds it: without the traceback (and the exceptions it arose from)
    whose frames hold the run. Held, they would keep the run alive through its own cache, for as
    long as the process lives (a weak key whose value refers back to it is never dropped)."""
    err.__traceback__ = err.__context__ = err.__cause__ = None
    return err


def outcome(run: Run, name: str, **params: Any) -> Any:
    """:func:`compute`, with a MetricUnavailable returned instead of raised (the dashboard shows it)."""
    try:
        return compute(run, name, **params)
    except MetricUnavailable as err:
        return _kept(err)  # a value now: its traceback would hold the run for whoever keeps it


def cached(run: Run) -> dict[tuple, Any]:
    """``run``'s results held now, by cache key (see :func:`cache_key`); a copy of the mapping."""
    return dict(_CACHE.get(run, {}))


@contextlib.contextmanager
def keeping_tables_up_to(run: Run, max_bytes: int) -> Iterator[None]:
    """Tables (DataFrames) over ``max_bytes`` first computed in the block are not kept past it; what
    was cached before, aggregations and anything not a table stay (the report's sections)."""
    held = set(cached(run))
    try:
        yield
    finally:
        per_run = _CACHE.get(run, {})
        for key in set(per_run) - held:
            value = per_run[key]
            if isinstance(value, pd.DataFrame) and value.memory_usage(index=False).sum() > max_bytes:
                del per_run[key]


def computed(run: Run, name: str, **params: Any) -> bool:
    """Whether the result is in the run's cache already (a page may then show it without asking)."""
    return cache_key(name, **params) in _CACHE.get(run, {})


def estimate_seconds(run: Run, name: str, **params: Any) -> float | None:
    """The declared cost model's estimate, or None for a metric fast enough not to ask."""
    m = metric(name)
    return None if m.estimate is None else float(m.estimate(run, m.bind(params)))
