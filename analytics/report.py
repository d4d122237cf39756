"""The report of a run: every metric in one JSON-able dict (``crowdlens report``) and its text form.

A figure that cannot be computed is None (JSON null), with the reason under ``unavailable``
keyed by the figure's dotted name — never a made-up number.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from analytics.metrics import MetricUnavailable, aggregation, agreement, control, cost, exam, labels, rules, speed
from analytics.model import Run

REPORT_METHODS = ("mv", "wawa", "ds", "onecoin", "glad", "mace")


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x


class _Collector:
    """Runs each section, turning MetricUnavailable into None plus a reason."""

    def __init__(self) -> None:
        self.unavailable: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def get(self, key: str, fn: Callable[[], Any], default: Any = None) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        except MetricUnavailable as err:
            self.unavailable[key] = str(err)
            return default
        finally:
            self.seconds[key] = round(time.perf_counter() - start, 4)


def _records(df: pd.DataFrame, columns: list[str], index_name: str) -> list[dict]:
    out = df[columns].reset_index().rename(columns={df.index.name or "index": index_name})
    # object columns hold Python scalars; NaN becomes None here, not value by value in _clean
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict(orient="records")


def build_report(
    run: Run, *, method: str = "mv", truth: pd.Series | None = None, n_iter: int = 20, timings: bool = False
) -> dict:
    """Every figure of ``run`` as a JSON-able dict.

    ``method`` picks the aggregator for the aggregated labels and the figures built on them
    (see aggregation.METHODS; GLAD and MACE run through crowd-kit and are slow). ``truth``
    (labels indexed by task_id) adds accuracy against ground truth; default ``run.truth``.
    ``n_iter`` bounds Dawid-Skene's EM (the benchmark's 20). Agreement with the aggregate and
    the label distributions use the chosen method; Krippendorff's alpha and Fleiss' kappa do not
    depend on it.
    """
    if method not in REPORT_METHODS:
        raise ValueError(
            f"The 'method' parameter of build_report must be one of {', '.join(REPORT_METHODS)}. Got {method!r} instead."
        )
    if truth is None:
        truth = run.truth
    col = _Collector()
    lists: dict[str, list] = {}
    s = run.summary()
    rep: dict[str, Any] = {
        "run": {
            "project": run.meta.project,
            "source_files": list(run.meta.source_files),
            "simulated": run.meta.simulated,
            "labels": list(run.labels),
            "label_field": run.meta.label_field,
        },
        "answers": s["answers"],
        "tasks": s["tasks"],
        "workers": s["workers"],
        "kinds": s["kinds"],
    }

    summary = col.get("agreement", lambda: agreement.run_agreement(run))
    agg = col.get("aggregation", lambda: aggregation.aggregate(run, method, n_iter=n_iter))
    rep["overlap"] = {
        "mean": summary.overlap_mean if summary else None,
        "min": summary.overlap_min if summary else None,
        "max": summary.overlap_max if summary else None,
        "varies": summary.overlap_varies if summary else None,
    }
    rep["agreement"] = {
        "krippendorff_alpha": summary.krippendorff_alpha if summary else None,
        "fleiss_kappa": summary.fleiss_kappa if summary else None,
        "items": summary.items if summary else None,
        "answers": summary.answers if summary else None,
    }
    if agg is not None:
        items = col.get("agreement.items", lambda: agreement.item_agreement(run, agg))
        if items is not None:
            rep["agreement"]["items_unanimous"] = int((items["agreement"] == 1).sum())
            rep["agreement"]["mean_item_agreement"] = float(items["agreement"].mean())
            rep["agreement"]["mean_entropy_bits"] = float(items["entropy_bits"].mean())
        wa = col.get("agreement.workers", lambda: agreement.worker_agreement(run, agg))
        if wa is not None:
            rep["agreement"]["median_worker_agreement_with_aggregate"] = float(wa["agreement"].median())
    pairs = col.get("agreement.pairwise", lambda: agreement.pairwise_kappa(run))
    if pairs is not None:
        rep["agreement"]["pairwise"] = {
            "pairs": int(len(pairs)),
            "min_shared": 10,
            "median_kappa": float(pairs["kappa"].median()) if len(pairs) else None,
        }

    rep["aggregation"] = {
        "method": method,
        "method_name": aggregation.METHODS[method],
        "tie_rule": aggregation.TIE_RULE,
        "tasks": int(len(agg.labels)) if agg else None,
        "tied": agg.n_tied if agg else None,
        "mean_confidence": float(agg.labels["confidence"].mean()) if agg else None,
        "iterations": agg.n_iter if agg else None,
        "accuracy_vs_golden": None,
        "accuracy_vs_truth": None,
    }
    if agg is not None:
        g = col.get("aggregation.accuracy_vs_golden", lambda: aggregation.accuracy_vs_golden(run, agg))
        if g is not None:
            rep["aggregation"]["accuracy_vs_golden"] = g.accuracy
            rep["aggregation"]["golden"] = g.as_dict()
        if truth is not None:
            t = col.get("aggregation.accuracy_vs_truth", lambda: aggregation.accuracy_vs_truth(run, agg, truth))
            if t is not None:
                rep["aggregation"]["accuracy_vs_truth"] = t.accuracy
                rep["aggregation"]["truth"] = t.as_dict()
        else:
            col.unavailable["aggregation.accuracy_vs_truth"] = "no truth file given (--truth CSV)"
        if method != "mv":
            mv = aggregation.aggregate(run, "mv").codes  # cached per run, shared with the pages
            both = (mv >= 0) & (agg.codes >= 0)
            rep["aggregation"]["tasks_differing_from_majority_vote"] = int((mv[both] != agg.codes[both]).sum())

    ca = col.get("control", lambda: control.control_accuracy(run))
    rep["control"] = {"answers": None, "correct": None, "accuracy": None, "workers": []}
    if ca is not None:
        n, k = int(ca["answers"].sum()), int(ca["correct"].sum())
        rep["control"].update(
            answers=n,
            correct=k,
            accuracy=k / n if n else None,
            workers_too_few_answers=int((~ca["enough"]).sum()),
            workers=[],
        )
        lists["control.workers"] = _records(
            ca[ca["answers"] > 0], ["answers", "correct", "accuracy", "ci_low", "ci_high"], "worker_id"
        )
        diff = col.get("control.tasks", lambda: control.control_task_difficulty(run))
        if diff is not None and "suspect" in diff.columns:
            rep["control"]["suspect_control_tasks"] = [
                str(t) for t in diff.index[diff["suspect"].fillna(False).astype(bool)]
            ]
    if truth is not None:
        wt = col.get("workers_vs_truth", lambda: control.accuracy_vs_truth(run, truth))
        rep["workers_vs_truth"] = None
        if wt is not None:
            lists["workers_vs_truth"] = _records(wt, ["answers", "accuracy"], "worker_id")
    else:
        rep["workers_vs_truth"] = None

    ex = col.get("exam", lambda: exam.exam_summary(run))
    rep["exam"] = ex.as_dict() if ex is not None else None
    if ex is not None:
        items = col.get("exam.items", lambda: exam.exam_item_pass_rate(run))
        if items is not None:
            rep["exam"]["items"] = _records(
                items,
                [
                    c
                    for c in ("answers", "correct", "pass_rate", "ci_low", "ci_high", "discrimination", "reading")
                    if c in items.columns
                ],
                "task_id",
            )

    cb = col.get("cost", lambda: cost.cost_breakdown(run))
    rep["cost"] = {"total": None, "per_label": None}
    if cb is not None:
        d = cb.as_dict()
        rep["cost"].update(
            currency=d["currency"],
            rewards=d["rewards"],
            fees=d["fees"],
            bonuses=d["bonuses"],
            total=d["total"],
            per_answer=d["cost_per_answer"],
            per_accepted_assignment=d["cost_per_accepted_assignment"],
            per_label=d["cost_per_final_label"],
            final_labels=d["final_labels"],
        )
        for k, why in (d.get("reasons") or {}).items():
            col.unavailable[f"cost.{k}"] = why
    banned = col.get("cost.banned", lambda: cost.spend_on_banned(run))
    if banned is not None:
        rep["cost"]["spend_on_banned"] = _clean(banned.as_dict()) if hasattr(banned, "as_dict") else None

    raw = col.get("labels.raw", lambda: labels.label_distribution(run))
    rep["labels"] = {
        "raw": {str(k): int(v) for k, v in raw["count"].items()} if raw is not None else None,
        "aggregated": {str(l): int(n) for l, n in zip(run.labels, aggregation.label_counts(agg, run.labels))}
        if agg is not None
        else None,
    }

    ws = col.get("speed", lambda: speed.worker_speed(run))
    asp = col.get("speed.assignments", lambda: speed.assignment_speed(run))
    rep["speed"] = {"median_seconds_per_task": None}
    if asp is not None and "seconds_per_task" in asp.columns:
        rep["speed"]["median_seconds_per_task"] = float(asp["seconds_per_task"].median())
    if ws is not None:
        rep["speed"]["workers_with_times"] = int(len(ws))
    fr = col.get("speed.fast_responders", lambda: speed.fast_responders(run))
    if fr is not None:
        rep["speed"]["fast_responders"] = int(len(fr))

    rr = col.get("rules", lambda: rules.replay_rules(run))
    if rr is not None:
        rep["rules"] = {"rows": int(len(rr)), "recorded_restrictions": int(len(run.restrictions))}

    rep["unavailable"] = col.unavailable
    if timings:
        rep["seconds"] = col.seconds
    out = _clean(rep)
    # the long per-annotator lists are JSON-safe already (see _records): put them in after the walk
    for dotted, records in lists.items():
        *parents, last = dotted.split(".")
        d = out
        for part in parents:
            d = d[part]
        d[last] = records
    return out


def _fmt(x: Any, pct: bool = False, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if pct:
        return f"{100 * x:.1f} %"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def report_text(rep: dict) -> str:
    """The report as a short text for a terminal."""
    a, g, c, co = rep["aggregation"], rep["agreement"], rep["control"], rep["cost"]
    cur = co.get("currency", "")
    lines = [
        f"run: {rep['answers']:,} answers, {rep['tasks']:,} tasks, {rep['workers']:,} annotators; labels {', '.join(rep['run']['labels'])}",
        f"overlap: mean {_fmt(rep['overlap']['mean'], digits=2)} (min {_fmt(rep['overlap']['min'])}, max {_fmt(rep['overlap']['max'])})",
        f"agreement: Krippendorff's alpha {_fmt(g['krippendorff_alpha'])}, Fleiss' kappa {_fmt(g['fleiss_kappa'])} on {_fmt(g['items'])} items",
        f"aggregation: {a['method_name']}; {_fmt(a['tasks'])} labels, {_fmt(a['tied'])} decided by the tie rule ({a['tie_rule']})",
        f"  accuracy vs golden: {_fmt(a['accuracy_vs_golden'], pct=True)}"
        + (
            f" ({a['golden']['correct']:,} of {a['golden']['tasks']:,} control tasks, 95 % CI {_fmt(a['golden']['ci_low'], pct=True)}-{_fmt(a['golden']['ci_high'], pct=True)})"
            if a.get("golden")
            else ""
        ),
        f"  accuracy vs truth: {_fmt(a['accuracy_vs_truth'], pct=True)}"
        + (
            f" ({a['truth']['correct']:,} of {a['truth']['tasks']:,} tasks; strict, ties wrong: {_fmt(a['truth']['strict'], pct=True)})"
            if a.get("truth")
            else ""
        ),
        f"control: {_fmt(c['answers'])} answers, accuracy {_fmt(c['accuracy'], pct=True)}, {len(c['workers']):,} annotators judged",
        f"cost: total {_fmt(co['total'], digits=2)} {cur}; per answer {_fmt(co.get('per_answer'), digits=4)}; per final label {_fmt(co['per_label'], digits=4)} {cur}",
        f"labels raw: {rep['labels']['raw']}",
        f"labels aggregated: {rep['labels']['aggregated']}",
        f"speed: median {_fmt(rep['speed']['median_seconds_per_task'], digits=1)} s per task",
    ]
    if rep.get("exam"):
        e = rep["exam"]
        lines.append("exam: " + ", ".join(f"{k} {_fmt(v)}" for k, v in e.items() if k != "items"))
    if rep["unavailable"]:
        lines.append("not available:")
        lines += [f"  {k}: {v}" for k, v in rep["unavailable"].items()]
    return "\n".join(lines)


def headline_figures(run: Run) -> dict:
    """The few figures a version listing shows without opening the run: answers, annotators,
    Krippendorff's alpha, pooled control accuracy, cost per final label (per regular task with an
    accepted label, as cost.cost_breakdown and the Cost page count it). Stored
    in a version's manifest at import; None where a figure cannot be had."""
    s = run.summary()
    out: dict[str, Any] = {"answers": s["answers"], "annotators": s["workers"], "currency": run.pricing.currency}
    try:
        out["krippendorff_alpha"] = agreement.run_agreement(run).krippendorff_alpha
    except MetricUnavailable:
        out["krippendorff_alpha"] = None
    try:
        ca = control.control_accuracy(run)
        n = int(ca["answers"].sum())
        out["control_accuracy"] = int(ca["correct"].sum()) / n if n else None
        out["control_answers"] = n
    except MetricUnavailable:
        out["control_accuracy"], out["control_answers"] = None, 0
    try:
        out["cost_per_label"] = cost.cost_breakdown(run).cost_per_final_label
    except MetricUnavailable:
        out["cost_per_label"] = None
    return _clean(out)
