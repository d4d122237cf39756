"""The figures a version's manifest carries about its run, so a listing shows them without opening it."""

from __future__ import annotations

from typing import Any

from analytics.model import Run


def manifest_figures(run: Run) -> dict[str, Any]:
    """Project, pools, labels, counts, annotation cost and the headline figures of ``run``.

    What :func:`analytics.versions.import_run` stores in a new version's manifest (``metadata``);
    every value is plain JSON. ``annotation_cost`` is None with the reason in
    ``annotation_cost_missing`` when rewards are unknown.
    """
    from analytics.metrics.cost import spend
    from analytics.report import headline_figures

    s = run.summary()
    cost = spend(run)
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
        "annotation_cost": None if cost.total is None else round(cost.total, 6),
        "annotation_cost_missing": cost.missing,
        "headline": headline_figures(run),
    }
