"""Versions against each other: a child against its parent (compare) and one figure per version (lineage_figures).

``compare(store, child_id)`` opens the child and its first parent (or the ``parent_id`` given; ids
may be unique prefixes) and returns :func:`analytics.metrics.lineage.lineage_diff`, with the plan
the child answers (its metadata's ``plan``, stored by ``crowdlens import --plan``) when that plan
was made on the parent compared. ``lineage_figures(store, figure)`` gives the Versions page's
lineage graph its node figure: read from each version's manifest (:func:`manifest_figures`)
where it is there, else computed from the opened run (or, with ``compute=False``, left out with
the reason).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.lineage import LineageDiff, lineage_diff
from analytics.model import Run
from analytics.sources.store import VersionInfo, lineage_order
from analytics.versions.figures import ACCURACY_METHOD, aggregate_accuracy

# figure -> what the graph calls it
LINEAGE_FIGURES = {
    "alpha": "Krippendorff's alpha",
    "accuracy_golden": "accuracy against golden (majority vote)",
    "accuracy_truth": "accuracy against truth (majority vote)",
    "cost_per_label": "cost per final label",
    "spend": "spend",
}
FIGURE_COLUMNS = ("name", "version", "parents", "value", "ci_low", "ci_high", "text", "source", "reason")


def plan_of(child: VersionInfo, parent_id: str) -> Mapping[str, Any] | None:
    """The re-annotation plan ``child`` stores, when it was made on ``parent_id`` (or names no version)."""
    plan = child.metadata.get("plan")
    if not isinstance(plan, Mapping) or not isinstance(plan.get("tasks"), list):
        return None
    made_on = str(plan.get("version") or "").strip().lower()
    return plan if not made_on or parent_id.startswith(made_on) else None


def compare(
    store, child_id: str, parent_id: str | None = None, *, method: str = "mv", n_iter: int | None = None
) -> LineageDiff:
    """The child version ``child_id`` against ``parent_id`` (default: its first parent).

    Ids may be unique prefixes (resolved by the store: VersionLookupError naming the candidates).
    A ValueError when the child has no parent and none is given.
    """
    child = store.get(child_id)
    if parent_id is None:
        if not child.parents:
            raise ValueError(
                f"version {child.label} ({child.id[:8]}) has no parent: "
                "give the version to compare it with (--parent ID)"
            )
        parent_id = child.parents[0]
    parent = store.get(parent_id)
    plan = plan_of(child, parent.id)
    notes: tuple[str, ...] = ()
    if plan is None and isinstance(child.metadata.get("plan"), Mapping):
        notes = (f"the child's plan was made on another version than {parent.label}: its prediction is not compared",)
    diff = lineage_diff(store.open_run(parent.id), store.open_run(child.id), method=method, n_iter=n_iter, plan=plan)
    return dataclasses.replace(diff, parent_id=parent.id, child_id=child.id, notes=diff.notes + notes)


# ---- one figure per version


def _share_text(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{100 * value:.1f} %"
    return f"{100 * value:.1f} % ({100 * low:.1f}-{100 * high:.1f} %)"


def _money_text(value: float | None, currency: str) -> str:
    return "n/a" if value is None else f"{value:.4g} {currency}".strip()


def _from_manifest(md: Mapping[str, Any], figure: str) -> tuple[bool, dict[str, Any]]:
    """(found, figures) of ``figure`` in a manifest's metadata; a value of the wrong type is not found."""
    headline = md.get("headline") if isinstance(md.get("headline"), Mapping) else {}
    if figure in ("accuracy_golden", "accuracy_truth"):
        key = "accuracy_vs_" + figure.split("_")[1]
        if key not in md or md.get("accuracy_method", ACCURACY_METHOD) != ACCURACY_METHOD:
            return False, {}
        acc = md[key]
        if acc is None:
            return True, {"value": None}
        if not isinstance(acc, Mapping) or not _is_number(acc.get("accuracy")):
            return False, {}
        return True, {"value": acc["accuracy"], "ci_low": acc.get("ci_low"), "ci_high": acc.get("ci_high")}
    key, where = {
        "alpha": ("krippendorff_alpha", headline),
        "cost_per_label": ("cost_per_label", headline),
        "spend": ("annotation_cost", md),
    }[figure]
    if key not in where or not (where[key] is None or _is_number(where[key])):
        return False, {}
    return True, {"value": where[key]}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _computed(run: Run, figure: str) -> dict[str, Any]:
    from analytics.metrics import registry

    if figure in ("accuracy_golden", "accuracy_truth"):
        acc = aggregate_accuracy(run, figure.split("_")[1])
        return (
            {"value": None} if acc is None else {k: acc[k] for k in ("ci_low", "ci_high")} | {"value": acc["accuracy"]}
        )
    if figure == "alpha":
        out = registry.outcome(run, "run_agreement")
        return {"value": None if isinstance(out, MetricUnavailable) else out.krippendorff_alpha}
    if figure == "cost_per_label":
        out = registry.outcome(run, "cost_breakdown")
        return {"value": None if isinstance(out, MetricUnavailable) else out.cost_per_final_label}
    return {"value": registry.compute(run, "spend").total}


def _text(figure: str, f: Mapping[str, Any], currency: str) -> str:
    value = f.get("value")
    if figure.startswith("accuracy"):
        return _share_text(value, f.get("ci_low"), f.get("ci_high"))
    if figure == "alpha":
        return "n/a" if value is None else f"{value:.3f}"
    return _money_text(value, currency)


def _row(store, v: VersionInfo, figure: str, compute: bool, opener: Callable[[str], Run] | None) -> dict[str, Any]:
    md = v.metadata
    found, f = _from_manifest(md, figure)
    source = "manifest"
    if not found and compute:
        f, source = _computed((opener or store.open_run)(v.id), figure), "computed"
    elif not found:
        f, source = {"value": None}, "not computed"
    currency = str(md.get("currency") or "")
    reason = None
    if f.get("value") is None:
        reason = "not in the manifest (compute=False)" if source == "not computed" else "the run cannot give it"
    return {
        "name": v.name,
        "version": v.version,
        "parents": list(v.parents),
        "value": f.get("value"),
        "ci_low": f.get("ci_low"),
        "ci_high": f.get("ci_high"),
        "text": _text(figure, f, currency),
        "source": source,
        "reason": reason,
    }


def lineage_figures(
    store, figure: str, *, compute: bool = True, open_run: Callable[[str], Run] | None = None
) -> pd.DataFrame:
    """One row per version of ``store`` (parents before children) with ``figure`` (a key of
    :data:`LINEAGE_FIGURES`), for the lineage graph's node colour and label.

    Index ``version_id``; columns :data:`FIGURE_COLUMNS`: ``value`` (float, NaN where unknown),
    ``ci_low``/``ci_high`` (the 95 % Wilson interval of an accuracy), ``text`` (the node label:
    ``91.3 % (88.0-93.9 %)``, ``0.712``, ``0.041 USD``), ``source`` (``manifest``, ``computed`` from
    the opened run, or ``not computed``) and ``reason`` where there is no value. ``compute=False``
    never opens a run (a ClearML project's versions are not downloaded); ``open_run`` replaces
    ``store.open_run`` (a cached opener). ``attrs``: ``figure``, ``title``.
    """
    if figure not in LINEAGE_FIGURES:
        raise ValueError(f"The 'figure' parameter must be one of {tuple(LINEAGE_FIGURES)}. Got {figure!r} instead.")
    versions = lineage_order(store.listing().versions)
    rows = [_row(store, v, figure, compute, open_run) for v in versions]
    out = pd.DataFrame(rows, columns=list(FIGURE_COLUMNS), index=pd.Index([v.id for v in versions], name="version_id"))
    for col in ("value", "ci_low", "ci_high"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(np.float64)
    out.attrs.update(figure=figure, title=LINEAGE_FIGURES[figure])
    return out


__all__ = ["FIGURE_COLUMNS", "LINEAGE_FIGURES", "compare", "lineage_figures", "plan_of"]
