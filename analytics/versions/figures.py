"""The figures a version's manifest carries about its run, so a listing shows them without opening it."""

from __future__ import annotations

from typing import Any, Callable

from analytics.model import Run

SPEND_PARTS = ("rewards", "fees", "bonuses", "total")
ACCURACY_METHOD = "mv"  # the aggregator of the manifest's accuracy figures


def manifest_figures(run: Run, fresh: Callable[[], Run] | None = None) -> dict[str, Any]:
    """Project, pools, labels, counts, annotation cost and the headline figures of ``run``.

    What :func:`analytics.versions.import_run` stores in a new version's manifest (``metadata``);
    every value is plain JSON. The counts are :meth:`Run.summary`'s: ``answers``, ``tasks``,
    ``workers`` and ``assignments`` of the answers given, ``without_answer`` the suites without
    one ({status: suites}). ``annotation_cost`` is None with the reason in
    ``annotation_cost_missing`` when rewards are unknown; ``spend`` splits it ({rewards, fees,
    bonuses, total}, None where unknown). ``accuracy_vs_golden`` and ``accuracy_vs_truth`` are the
    aggregate's (majority vote, ``accuracy_method``) against the control tasks' golden labels and
    the truth: {tasks, correct, accuracy, ci_low, ci_high} (95 % Wilson), None where the run has
    no such reference. The lineage graph reads them (:func:`analytics.versions.lineage_figures`).

    ``fresh`` gives a new copy of ``run`` (whose per-run tables go with it): the money figures, the
    headline's agreement and control figures, and the majority vote's accuracy are then computed
    on a copy each, so what the one computes for itself (the suites; the control figures' tables)
    is freed before the next starts (0.3-0.4 GB each at 10^7 answers). The majority vote's copy
    takes the labeling pool's codes and counts from the agreement's: the same answers, counted once.
    """
    from analytics.metrics._pool import share_pool_tables
    from analytics.metrics.cost import spend
    from analytics.report import final_label_cost, headline_figures

    money = fresh() if fresh else run
    s = money.summary()
    cost, per_label = spend(money), final_label_cost(money)
    del money
    quality = fresh() if fresh else run
    headline = headline_figures(quality, cost_per_label=per_label, summary=s)  # counted once
    aggregate = fresh() if fresh else run  # the control figures' tables freed before the vote's are built
    if aggregate is not quality:  # the same answers: the majority vote does not count the pool again
        aggregate.__dict__["codes"] = quality.codes  # the cached_property's slot
        share_pool_tables(quality, aggregate)
    del quality
    return {
        "project": run.meta.project,
        "simulated": run.meta.simulated,
        "currency": run.pricing.currency,
        "language": run.meta.language,
        "instructions": run.meta.instructions,
        "labels": list(run.meta.labels),
        "pools": [p.to_dict() for p in run.meta.pools],
        "answers": s["answers"],
        "tasks": s["tasks"],
        "workers": s["workers"],
        "assignments": s["assignments"],
        "without_answer": s["without_answer"],
        "annotation_cost": None if cost.total is None else round(cost.total, 6),
        "annotation_cost_missing": cost.missing,
        "headline": headline,
        "spend": {k: None if getattr(cost, k) is None else round(getattr(cost, k), 6) for k in SPEND_PARTS},
        "accuracy_method": ACCURACY_METHOD,
        "accuracy_vs_golden": aggregate_accuracy(aggregate, "golden"),
        "accuracy_vs_truth": aggregate_accuracy(aggregate, "truth"),
    }


def aggregate_accuracy(run: Run, reference: str, method: str = ACCURACY_METHOD) -> dict[str, Any] | None:
    """The aggregate's accuracy against ``reference`` (golden or truth) as plain JSON, None where unavailable."""
    from analytics.metrics import registry
    from analytics.metrics._base import MetricUnavailable

    acc = registry.outcome(run, f"accuracy_vs_{reference}", method=method)
    if isinstance(acc, MetricUnavailable):
        return None
    return {
        "tasks": int(acc.tasks),
        "correct": int(acc.correct),
        "accuracy": float(acc.accuracy),
        "ci_low": float(acc.ci_low),
        "ci_high": float(acc.ci_high),
    }
