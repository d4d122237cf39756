"""Metrics of a canonical run, one module per concern (see DESIGN.md), and the registry of them all.

The registry names every metric that is a function of a run alone (defaults for the rest of
its parameters), with the shape of its result. It lets one test check invariants across all
of them (row order does not matter; an empty or single-annotator run gives a clear message)
and lets the dashboard cache any of them by (version id, name) without knowing its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from analytics.metrics import aggregation, agreement, control, cost, exam, labels, progress, rules, speed
from analytics.metrics._base import MetricUnavailable
from analytics.model import Run


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``compute(run)`` gives ``shape`` ("value": a dataclass of figures,
    "table": a DataFrame, "labels": an aggregation) and may raise MetricUnavailable."""

    name: str
    compute: Callable[[Run], Any]
    shape: str
    about: str
    # which answers it needs: a run without them gives MetricUnavailable, not a crash
    needs: str = "pool"


def _agg(method: str) -> Callable[[Run], Any]:
    def compute(run: Run):
        return aggregation.aggregate(run, method)

    compute.__name__ = f"aggregate_{method}"
    return compute


REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric(
            "exam_item_pass_rate",
            exam.exam_item_pass_rate,
            "table",
            "pass rate per exam item with a Wilson interval and discrimination",
            "exam",
        ),
        Metric("exam_scores", exam.exam_scores, "table", "exam score per annotator and pass/fail", "exam"),
        Metric("exam_summary", exam.exam_summary, "value", "candidates, passed, pass rate", "exam"),
        Metric(
            "control_accuracy",
            control.control_accuracy,
            "table",
            "accuracy on control tasks per annotator with a Wilson interval",
            "control",
        ),
        Metric(
            "control_task_difficulty",
            control.control_task_difficulty,
            "table",
            "share right per control task; suspect golden labels",
            "control",
        ),
        Metric("run_agreement", agreement.run_agreement, "value", "Krippendorff's alpha and Fleiss' kappa"),
        Metric("item_agreement", agreement.item_agreement, "table", "agreement with the majority and entropy per item"),
        Metric(
            "pairwise_kappa", agreement.pairwise_kappa, "table", "Cohen's kappa per annotator pair sharing >= 10 items"
        ),
        Metric(
            "worker_agreement", agreement.worker_agreement, "table", "each annotator's agreement with the majority vote"
        ),
        Metric("aggregate_mv", _agg("mv"), "labels", "majority vote"),
        Metric("aggregate_wawa", _agg("wawa"), "labels", "Wawa"),
        Metric("aggregate_ds", _agg("ds"), "labels", "Dawid-Skene (EM to convergence, at most 100 iterations)"),
        Metric("aggregate_onecoin", _agg("onecoin"), "labels", "one-coin Dawid-Skene (at most 100 iterations)"),
        Metric("aggregator_disagreements", aggregation.disagreements, "table", "tasks where MV, Wawa and DS differ"),
        Metric("spend", cost.spend, "value", "rewards, fees, bonuses, total", "any"),
        Metric(
            "cost_breakdown", cost.cost_breakdown, "value", "cost per answer, accepted assignment, final label", "any"
        ),
        Metric("cost_by_pool", cost.cost_by_pool, "table", "spend per pool", "any"),
        Metric("spend_on_banned", cost.spend_on_banned, "value", "spend on annotators later banned or rejected", "any"),
        Metric("label_distribution", labels.label_distribution, "table", "raw label counts and shares"),
        Metric(
            "annotator_label_use", labels.annotator_label_use, "value", "per-annotator label use against the others'"
        ),
        Metric("assignment_speed", speed.assignment_speed, "table", "seconds per task per assignment", "times"),
        Metric("worker_speed", speed.worker_speed, "table", "median seconds per task per annotator", "times"),
        Metric(
            "fast_responders",
            speed.fast_responders,
            "table",
            "fast responders by the pool's fast-response rule",
            "times",
        ),
        Metric(
            "replay_rules", rules.replay_rules, "table", "the pools' ban rules replayed against recorded bans", "rules"
        ),
        Metric("throughput", progress.throughput, "table", "answers and active annotators per hour", "times"),
        Metric("status_mix", progress.status_mix, "table", "assignments by status", "any"),
        Metric(
            "pool_completion",
            progress.pool_completion,
            "table",
            "answers submitted per pool against tasks x overlap",
            "any",
        ),
    ]
}


def compute(run: Run, name: str) -> Any:
    """The named metric of ``run`` (see REGISTRY); raises MetricUnavailable when it cannot be had."""
    if name not in REGISTRY:
        raise ValueError(f"Unknown metric {name!r}; known metrics: {', '.join(REGISTRY)}")
    return REGISTRY[name].compute(run)


__all__ = ["Metric", "REGISTRY", "compute", "MetricUnavailable"]
