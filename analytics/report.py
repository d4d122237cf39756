"""The report of a run: every registered figure in one JSON-able dict (``crowdlens report``), and its text form.

The report is a loop over sections; each section asks the metric registry for its figures
(:func:`analytics.metrics.registry.outcome`, cached per run and shared with the dashboard) and
writes them under its key. A figure that cannot be computed is None (JSON null), with the reason
under ``unavailable`` keyed by the figure's dotted name (or a parent's, for a whole section) —
never a made-up number. Reasons name a missing field as the run's source calls it (their TSV
column, their ``--columns`` key, the API field). The headline counts (``answers``, ``tasks``,
``workers``) are of the answers given; ``suites_without_answer`` counts the rest by status.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from analytics.metrics import MetricUnavailable, aggregation, registry
from analytics.metrics._base import source_fields
from analytics.metrics.delivery import quality_section
from analytics.metrics.scales import scale_section
from analytics.model import Run
from analytics.model._deferred import replace_run
from analytics.sources.memory import release_memory


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


@dataclasses.dataclass
class _Report:
    """What the sections share: the run, the chosen method, and what they found unavailable."""

    run: Run
    method: str
    n_iter: int
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    lists: dict[str, list] = dataclasses.field(default_factory=dict)

    def nulls(self, prefix: str, figures: dict, reason: str) -> None:
        """Note every None figure of ``figures`` (the section at ``prefix``) not noted yet."""
        for k, v in figures.items():
            key = f"{prefix}.{k}"
            if v is None and key not in self.unavailable and prefix not in self.unavailable:
                self.unavailable[key] = reason

    def figure(self, key: str, name: str, **params: Any) -> Any:
        """The registry's ``name`` of the run, or None with the reason noted under ``key``."""
        start = time.perf_counter()
        try:
            value = registry.outcome(self.run, name, **params)
        finally:
            self.seconds[key] = round(time.perf_counter() - start, 4)
        if isinstance(value, MetricUnavailable):
            self.unavailable[key] = str(value)
            return None
        return value

    @property
    def agg_params(self) -> dict[str, Any]:
        return {"method": self.method, "n_iter": self.n_iter}


def _records(df: pd.DataFrame, columns: list[str], index_name: str) -> list[dict]:
    out = df[columns].reset_index().rename(columns={df.index.name or "index": index_name})
    # object columns hold Python scalars; NaN becomes None here, not value by value in _clean
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict(orient="records")


def _run_section(r: _Report, rep: dict) -> None:
    run, s = r.run, r.run.summary()
    rep["run"] = {
        "project": run.meta.project,
        "source_files": list(run.meta.source_files),
        "simulated": run.meta.simulated,
        "labels": list(run.labels),
        "label_field": run.meta.label_field,
    }
    rep.update(answers=s["answers"], tasks=s["tasks"], workers=s["workers"], kinds=s["kinds"])
    rep["suites_without_answer"] = dict(s["without_answer"])
    if run.meta.label_field is None:
        r.unavailable["run.label_field"] = "the source names no output field (only a Toloka export has OUTPUT:<field>)"


def _agreement_section(r: _Report, rep: dict) -> None:
    # the pairs first: their working set (about 0.5 GB at 10^7 answers) then comes on top of the run
    # alone, not of the aggregations and per-task tables computed next
    pairs = r.figure("agreement.pairwise", "pairwise_kappa")
    summary = r.figure("agreement", "run_agreement")
    agg = r.figure("aggregation", "aggregate", **r.agg_params)
    rep["overlap"] = {
        k: getattr(summary, f"overlap_{k}") if summary else None for k in ("mean", "min", "max", "varies")
    }
    rep["agreement"] = {
        k: getattr(summary, k) if summary else None for k in ("krippendorff_alpha", "fleiss_kappa", "items", "answers")
    }
    g = rep["agreement"]
    if summary is None:
        r.unavailable["overlap"] = r.unavailable["agreement"]
    if agg is not None:
        items = r.figure("agreement.items", "item_agreement", method=r.method, n_iter=r.n_iter)
        if items is not None:
            g["items_unanimous"] = int((items["agreement"] == 1).sum())
            g["mean_item_agreement"] = float(items["agreement"].mean())
            g["mean_entropy_bits"] = float(items["entropy_bits"].mean())
        wa = r.figure("agreement.workers", "worker_agreement", method=r.method, n_iter=r.n_iter)
        if wa is not None:
            g["median_worker_agreement_with_aggregate"] = float(wa["agreement"].median())
    if pairs is not None:
        min_shared = registry.metric("pairwise_kappa").params["min_shared"]
        g["pairwise"] = {
            "pairs": int(len(pairs)),
            "min_shared": min_shared,
            "median_kappa": float(pairs["kappa"].median()) if len(pairs) else None,
        }
        r.nulls("agreement.pairwise", g["pairwise"], f"no two annotators share {min_shared} or more tasks")


def _aggregation_section(r: _Report, rep: dict) -> None:
    agg = registry.outcome(r.run, "aggregate", **r.agg_params)  # computed (and timed) with agreement
    agg = None if isinstance(agg, MetricUnavailable) else agg
    a = rep["aggregation"] = {
        "method": r.method,
        "method_name": aggregation.METHODS[r.method],
        "tie_rule": aggregation.TIE_RULE,
        "tasks": int(len(agg.labels)) if agg else None,
        "tied": agg.n_tied if agg else None,
        "mean_confidence": float(agg.labels["confidence"].mean()) if agg else None,
        "iterations": agg.n_iter if agg else None,
        "start": aggregation.START.get(r.method),
        "start_tied": agg.start_tied if agg else None,
        "accuracy_vs_golden": None,
        "accuracy_vs_truth": None,
    }
    if agg is None:
        return
    _aggregation_nulls(r, a)
    g = r.figure("aggregation.accuracy_vs_golden", "accuracy_vs_golden", method=r.method, n_iter=r.n_iter)
    if g is not None:
        a["accuracy_vs_golden"], a["golden"] = g.accuracy, g.as_dict()
    if r.run.truth is not None:
        t = r.figure("aggregation.accuracy_vs_truth", "accuracy_vs_truth", method=r.method, n_iter=r.n_iter)
        if t is not None:
            a["accuracy_vs_truth"], a["truth"] = t.accuracy, t.as_dict()
    else:
        r.unavailable["aggregation.accuracy_vs_truth"] = _no_truth(r.run)
    if r.method != "mv":
        mv = registry.compute(r.run, "aggregate").codes  # cached per run, shared with the pages
        both = (mv >= 0) & (agg.codes >= 0)
        a["tasks_differing_from_majority_vote"] = int((mv[both] != agg.codes[both]).sum())


def _no_truth(run: Run) -> str:
    """Why there is no figure against truth, naming truth as the run's source would carry it."""
    where = source_fields(run)[0].get("truth") or "a truth file (task, label)"
    return f"no ground truth was given (missing: {where}; give it with --truth FILE to crowdlens report or import)"


# why an aggregation figure is None by the method's nature (not a metric's refusal)
_NO_START = {
    "mv": "majority vote starts from no other aggregate: the tasks its tie rule decided are 'tied'",
    "glad": "GLAD does not start from the majority vote (crowd-kit's start: every annotator alike)",
    "mace": "MACE does not start from the majority vote (crowd-kit's random start, seed 0)",
}
_NO_ITERATIONS = {
    "mv": "majority vote does not iterate",
    "wawa": "Wawa does not iterate (one majority vote, then one weighted vote)",
    "glad": "crowd-kit's GLAD does not report how many of its iterations ran",
    "mace": "crowd-kit's MACE runs a fixed 10 restarts x 50 iterations and does not report more",
}


def _aggregation_nulls(r: _Report, a: dict) -> None:
    """The reasons for the aggregation figures that are None by the method's nature."""
    if a["iterations"] is None:
        r.unavailable["aggregation.iterations"] = _NO_ITERATIONS.get(r.method, "not reported")
    if a["start_tied"] is None:
        r.unavailable["aggregation.start_tied"] = _NO_START.get(r.method, "not reported")
        r.unavailable["aggregation.start"] = r.unavailable["aggregation.start_tied"]


def _control_section(r: _Report, rep: dict) -> None:
    ca = r.figure("control", "control_accuracy")
    c = rep["control"] = {"answers": None, "correct": None, "accuracy": None, "workers": []}
    if ca is not None:
        n, k = int(ca["answers"].sum()), int(ca["correct"].sum())
        c.update(
            answers=n, correct=k, accuracy=k / n if n else None, workers_too_few_answers=int((~ca["enough"]).sum())
        )
        c["workers"] = []
        r.lists["control.workers"] = _records(
            ca[ca["answers"] > 0], ["answers", "correct", "accuracy", "ci_low", "ci_high"], "worker_id"
        )
        diff = r.figure("control.tasks", "control_task_difficulty")
        if diff is not None and "suspect" in diff.columns:
            c["suspect_control_tasks"] = [str(t) for t in diff.index[diff["suspect"].fillna(False).astype(bool)]]
    rep["workers_vs_truth"] = None
    if r.run.truth is not None:
        wt = r.figure("workers_vs_truth", "workers_vs_truth")
        if wt is not None:
            r.lists["workers_vs_truth"] = _records(
                wt, ["answers", "correct", "accuracy", "ci_low", "ci_high"], "worker_id"
            )
    else:
        r.unavailable["workers_vs_truth"] = _no_truth(r.run)


def _exam_section(r: _Report, rep: dict) -> None:
    ex = r.figure("exam", "exam_summary")
    rep["exam"] = ex.as_dict() if ex is not None else None
    if ex is None:
        return
    if ex.threshold is None:
        r.nulls(
            "exam", rep["exam"], "the exam pool's pass mark is not in the data, so nobody is judged passed or failed"
        )
    r.nulls("exam", rep["exam"], "no candidate has a score")
    items = r.figure("exam.items", "exam_item_pass_rate")
    if items is not None:
        wanted = ("answers", "correct", "pass_rate", "ci_low", "ci_high", "discrimination", "reading")
        rep["exam"]["items"] = _records(items, [c for c in wanted if c in items.columns], "task_id")


def _cost_section(r: _Report, rep: dict) -> None:
    cb = r.figure("cost", "cost_breakdown")
    co = rep["cost"] = {"total": None, "per_label": None}
    if cb is not None:
        d = cb.as_dict()
        co.update(
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
            r.unavailable[f"cost.{_COST_KEYS.get(k, k)}"] = why
    unknown = f"the total spend is unknown: {_spend_missing(r)}" if co["total"] is None else None
    if unknown and cb is not None:
        r.nulls("cost", co, unknown)
    co["spend_on_banned"] = None
    banned = r.figure("cost.spend_on_banned", "spend_on_banned")
    if banned is not None:
        co["spend_on_banned"] = banned.as_dict()
        r.nulls("cost.spend_on_banned", co["spend_on_banned"], unknown or "the total spend is 0: no share of it")


# the report's names of CostBreakdown's unit costs
_COST_KEYS = {
    "cost_per_answer": "per_answer",
    "cost_per_accepted_assignment": "per_accepted_assignment",
    "cost_per_final_label": "per_label",
}


def _spend_missing(r: _Report) -> str | None:
    """Why the run's total spend is unknown (cost.spend's ``missing``; cached, shared with the breakdown)."""
    spent = registry.outcome(r.run, "spend")
    return str(spent) if isinstance(spent, MetricUnavailable) else spent.missing


def _labels_section(r: _Report, rep: dict) -> None:
    raw = r.figure("labels.raw", "label_distribution")
    agg = registry.outcome(r.run, "aggregate", **r.agg_params)
    rep["labels"] = {
        "raw": {str(k): int(v) for k, v in raw["count"].items()} if raw is not None else None,
        "aggregated": None
        if isinstance(agg, MetricUnavailable)
        else {
            str(lab): int(n) for lab, n in zip(r.run.labels, aggregation.label_counts(agg, r.run.labels), strict=True)
        },
    }
    if isinstance(agg, MetricUnavailable):
        r.unavailable["labels.aggregated"] = str(agg)


def _speed_section(r: _Report, rep: dict) -> None:
    ws = r.figure("speed", "worker_speed")
    asp = r.figure("speed.median_seconds_per_task", "assignment_speed")
    sp = rep["speed"] = {"median_seconds_per_task": None}
    if asp is not None and "seconds_per_task" in asp.columns:
        median = float(asp["seconds_per_task"].median())
        sp["median_seconds_per_task"] = median if math.isfinite(median) else None
    r.nulls("speed", sp, "no task suite has both a start and a submit time")
    if ws is not None:
        sp["workers_with_times"] = int(len(ws))
    fr = r.figure("speed.fast_responders", "fast_responders")
    if fr is not None:
        sp["fast_responders"] = int(len(fr))


def _rules_section(r: _Report, rep: dict) -> None:
    rr = r.figure("rules", "replay_rules")
    if rr is not None:
        rep["rules"] = {"rows": int(len(rr)), "recorded_restrictions": int(len(r.run.restrictions))}


SECTIONS: tuple[Callable[[_Report, dict], None], ...] = (
    _run_section,
    _agreement_section,
    scale_section,
    _aggregation_section,
    _control_section,
    _exam_section,
    _cost_section,
    _labels_section,
    _speed_section,
    _rules_section,
    quality_section,
)


# a per-task or per-suite table a section computed for itself and over this many bytes is not kept
# once the section is done (item agreement is 100 MB at 10^7 answers); aggregations are kept
LARGE_TABLE_BYTES = 32 << 20


def build_report(
    run: Run,
    *,
    method: str = "mv",
    truth: pd.Series | None = None,
    n_iter: int = aggregation.DEFAULT_ITERATIONS,
    timings: bool = False,
) -> dict:
    """Every figure of ``run`` as a JSON-able dict.

    ``method`` picks the aggregator for the aggregated labels and the figures built on them
    (see aggregation.METHODS; GLAD and MACE run through crowd-kit and are slow). ``truth``
    (labels indexed by task_id) adds accuracy against ground truth; default ``run.truth``.
    ``n_iter`` bounds Dawid-Skene's EM (to convergence by default, as on the pages; the benchmark
    uses 20). Agreement with the aggregate and the label distributions use the chosen method;
    Krippendorff's alpha and Fleiss' kappa do not depend on it.
    """
    if method not in aggregation.METHODS:
        raise ValueError(
            f"The 'method' parameter of build_report must be one of {', '.join(aggregation.METHODS)}. "
            f"Got {method!r} instead."
        )
    if truth is not None and truth is not run.truth:
        run = replace_run(run, truth=truth)
    r = _Report(run, method, n_iter)
    rep: dict[str, Any] = {}
    for section in SECTIONS:
        with registry.keeping_tables_up_to(run, LARGE_TABLE_BYTES):
            section(r, rep)
        release_memory()  # what a section freed goes back to the system before the next one's working set
    rep["unavailable"] = r.unavailable
    if timings:
        rep["seconds"] = r.seconds
    out = _clean(rep)
    # the long per-annotator lists are JSON-safe already (see _records): put them in after the walk
    for dotted, records in r.lists.items():
        *parents, last = dotted.split(".")
        d = out
        for part in parents:
            d = d[part]
        d[last] = records
    return out


_TO_COUNT = object()  # headline_figures' cost per label when the caller has not counted it


def headline_figures(
    run: Run, *, cost_per_label: float | None | object = _TO_COUNT, summary: dict | None = None
) -> dict:
    """The few figures a version listing shows without opening the run: answers, annotators,
    Krippendorff's alpha, pooled control accuracy, cost per final label (per regular task with an
    accepted label, as cost.cost_breakdown and the Cost page count it; ``cost_per_label`` when
    the caller counted it already, see :func:`final_label_cost`; ``summary``: the run's
    :meth:`Run.summary` when the caller has it). Stored in a version's manifest at import; None where
    a figure cannot be had."""
    s = run.summary() if summary is None else summary
    out: dict[str, Any] = {"answers": s["answers"], "annotators": s["workers"], "currency": run.pricing.currency}
    agreement = registry.outcome(run, "run_agreement")
    out["krippendorff_alpha"] = None if isinstance(agreement, MetricUnavailable) else agreement.krippendorff_alpha
    ca = registry.outcome(run, "control_accuracy")
    if isinstance(ca, MetricUnavailable):
        out["control_accuracy"], out["control_answers"] = None, 0
    else:
        n = int(ca["answers"].sum())
        out["control_accuracy"] = int(ca["correct"].sum()) / n if n else None
        out["control_answers"] = n
    out["cost_per_label"] = final_label_cost(run) if cost_per_label is _TO_COUNT else cost_per_label
    return _clean(out)


def final_label_cost(run: Run) -> float | None:
    """The headline's cost per final label (cost.cost_breakdown's), None where it cannot be had."""
    cb = registry.outcome(run, "cost_breakdown")
    return None if isinstance(cb, MetricUnavailable) else cb.cost_per_final_label


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
        f"run: {rep['answers']:,} answers, {rep['tasks']:,} tasks, {rep['workers']:,} annotators; "
        f"labels {', '.join(rep['run']['labels'])}"
        + "".join(
            f"; {n:,} {status} suite{'s' if n != 1 else ''} without an answer"
            for status, n in (rep.get("suites_without_answer") or {}).items()
        ),
        f"overlap: mean {_fmt(rep['overlap']['mean'], digits=2)} "
        f"(min {_fmt(rep['overlap']['min'])}, max {_fmt(rep['overlap']['max'])})",
        f"agreement: Krippendorff's alpha {_fmt(g['krippendorff_alpha'])}, "
        f"Fleiss' kappa {_fmt(g['fleiss_kappa'])} on {_fmt(g['items'])} items",
        f"aggregation: {a['method_name']}; {_fmt(a['tasks'])} labels, "
        f"{_fmt(a['tied'])} decided by the tie rule ({a['tie_rule']})"
        + (
            f"; it starts from a majority vote with {a['start_tied']:,} tied tasks ({a['start']})"
            if a.get("start_tied") is not None
            else ""
        ),
        f"  accuracy vs golden: {_fmt(a['accuracy_vs_golden'], pct=True)}"
        + (
            f" ({a['golden']['correct']:,} of {a['golden']['tasks']:,} control tasks, "
            f"95 % CI {_fmt(a['golden']['ci_low'], pct=True)}-{_fmt(a['golden']['ci_high'], pct=True)})"
            if a.get("golden")
            else ""
        ),
        f"  accuracy vs truth: {_fmt(a['accuracy_vs_truth'], pct=True)}"
        + (
            f" ({a['truth']['correct']:,} of {a['truth']['tasks']:,} tasks; "
            f"strict, ties wrong: {_fmt(a['truth']['strict'], pct=True)})"
            if a.get("truth")
            else ""
        ),
        f"control: {_fmt(c['answers'])} answers, accuracy {_fmt(c['accuracy'], pct=True)}, "
        f"{len(c['workers']):,} annotators judged",
        f"cost: total {_fmt(co['total'], digits=2)} {cur}; per answer {_fmt(co.get('per_answer'), digits=4)}; "
        f"per final label {_fmt(co['per_label'], digits=4)} {cur}",
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
