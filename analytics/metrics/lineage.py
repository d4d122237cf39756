"""A version against its parent: what the child's answers and money bought (labels changed, accuracy, cost, fixes).

:func:`lineage_diff` is a function of TWO runs, the parent and the child, so it is not a
registry figure (the registry holds figures of one run; its guard looks for functions whose first
parameter is ``run``): it is computed from the registry's own figures of each run (``aggregate``,
``spend``, ``cost_breakdown``, ``accuracy_vs_golden`` and ``accuracy_vs_truth``), which stay
cached per run. Tasks are matched by task id.

* Money: each run's spend (rewards, fees, bonuses, total) and the difference; answers, tasks and
  annotators before and after.
* Labels that changed: the tasks aggregated in both runs whose label differs, with the label,
  confidence and answers before and after and the reference label where known.
* Accuracy against golden and against truth, before and after, on the same tasks (aggregated in
  both, with the reference) and overall (each run's own figure), with 95 % Wilson intervals.
* Cost per final label before and after (cost_breakdown's).
* Where the child answers a re-annotation plan (``plan``: the document ``crowdlens plan
  --format json`` wrote, stored in the child's metadata): the plan's predicted fixes against the
  realised ones on the plan's tasks. The reference of a task is its truth where known, else its
  golden label; a realised fix is a label wrong before and right after, a break the reverse, and
  the realised net fixes (fixes - breaks) is what the plan's ``expected_fixes`` (p_fix - p_break
  summed) predicts. Without a reference, ``expected_net_fixes`` judges the changes by the child's
  posterior: the sum over the plan's tasks of P_child(label after) - P_child(label before).
  Money per realised fix is the money added over the realised net fixes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics.kernels import wilson_interval
from analytics.metrics import registry
from analytics.metrics._base import MetricUnavailable
from analytics.model import Run

REFERENCES = ("golden", "truth")
MONEY = ("rewards", "fees", "bonuses", "total")


@dataclass(frozen=True)
class Share:
    """``correct`` of ``tasks`` right: ``accuracy`` with its 95 % Wilson interval [``ci_low``, ``ci_high``]."""

    tasks: int
    correct: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None

    @classmethod
    def of(cls, correct: int, tasks: int) -> "Share":
        if tasks == 0:
            return cls(0, 0, None, None, None)
        low, high = wilson_interval(np.array([correct]), np.array([tasks]))
        return cls(int(tasks), int(correct), correct / tasks, float(low[0]), float(high[0]))


@dataclass(frozen=True)
class AccuracyChange:
    """Accuracy against one ``reference`` before and after: on the same tasks (``before``, ``after``:
    the tasks aggregated in both runs that have the reference) and ``overall`` (each run's own
    figure, None where the run has no such reference)."""

    reference: str
    before: Share
    after: Share
    overall_before: Share | None
    overall_after: Share | None

    @property
    def change(self) -> float | None:
        if self.before.accuracy is None or self.after.accuracy is None:
            return None
        return self.after.accuracy - self.before.accuracy


@dataclass(frozen=True)
class Realised:
    """A plan's predicted fixes against what the child realised on the plan's tasks (see the module).

    ``plan_tasks`` the plan's tasks, ``compared`` of them aggregated in both runs, ``changed`` of
    those whose label changed; ``reference`` what the realised counts were checked against
    (``truth``, ``golden``, ``truth + golden`` or None), on ``known`` tasks: ``fixed`` (wrong -> right),
    ``broken`` (right -> wrong), ``net_fixes``; ``expected_net_fixes`` by the child's posterior;
    ``predicted_fixes`` [``predicted_low``, ``predicted_high``] and ``predicted_cost`` from the plan;
    ``money_added`` (the child's spend minus the parent's), ``money_per_fix`` (over the net fixes,
    None unless positive) and ``predicted_money_per_fix``."""

    plan_tasks: int
    compared: int
    changed: int
    reference: str | None
    known: int
    fixed: int
    broken: int
    net_fixes: int | None
    expected_net_fixes: float
    predicted_fixes: float | None
    predicted_low: float | None
    predicted_high: float | None
    predicted_cost: float | None
    money_added: float | None
    money_per_fix: float | None
    predicted_money_per_fix: float | None

    @property
    def share_of_predicted(self) -> float | None:
        """Realised net fixes over predicted fixes (None without either)."""
        if self.net_fixes is None or not self.predicted_fixes:
            return None
        return self.net_fixes / self.predicted_fixes


@dataclass(frozen=True)
class LineageDiff:
    """A child version against its parent (see the module). ``changed``: index ``task_id``, columns
    ``label_before``, ``confidence_before``, ``answers_before``, ``label_after``,
    ``confidence_after``, ``answers_after``, ``reference`` (truth, else golden; empty where
    unknown), ``right_before``, ``right_after`` (booleans, NA without a reference), ``in_plan``.
    ``spend_before`` / ``spend_after`` / ``spend_added``: {rewards, fees, bonuses, total} (None where
    unknown). ``parent_id`` and ``child_id`` are set by :func:`analytics.versions.compare`."""

    method: str
    currency: str
    answers_before: int
    answers_after: int
    tasks_before: int
    tasks_after: int
    annotators_before: int
    annotators_after: int
    spend_before: dict[str, float | None]
    spend_after: dict[str, float | None]
    spend_added: dict[str, float | None]
    tasks_compared: int
    tasks_labeled_only_after: int
    tasks_labeled_only_before: int
    changed: pd.DataFrame
    accuracy: dict[str, AccuracyChange]
    cost_per_label_before: float | None
    cost_per_label_after: float | None
    realised: Realised | None = None
    parent_id: str | None = None
    child_id: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def answers_added(self) -> int:
        return self.answers_after - self.answers_before

    @property
    def money_added(self) -> float | None:
        return self.spend_added["total"]

    @property
    def labels_changed(self) -> int:
        return len(self.changed)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: every field, the changed tasks as records, and the derived figures."""
        d = {k: v for k, v in asdict(self).items() if k not in ("changed", "accuracy", "realised")}
        d["answers_added"], d["money_added"], d["labels_changed"] = (
            self.answers_added,
            self.money_added,
            self.labels_changed,
        )
        d["accuracy"] = {k: {**asdict(a), "change": a.change} for k, a in self.accuracy.items()}
        d["realised"] = (
            None
            if self.realised is None
            else {**asdict(self.realised), "share_of_predicted": self.realised.share_of_predicted}
        )
        rows = self.changed.reset_index().astype(object)
        d["changed"] = rows.where(rows.notna(), None).to_dict(orient="records")
        d["notes"] = list(self.notes)
        return d


# ---- the parts


def _spend(run: Run) -> tuple[str, dict[str, float | None]]:
    s = registry.compute(run, "spend")
    return s.currency, {k: getattr(s, k) for k in MONEY}


def _added(before: Mapping[str, float | None], after: Mapping[str, float | None]) -> dict[str, float | None]:
    return {k: None if before[k] is None or after[k] is None else after[k] - before[k] for k in MONEY}


def _cost_per_label(run: Run) -> float | None:
    cb = registry.outcome(run, "cost_breakdown")
    return None if isinstance(cb, MetricUnavailable) else cb.cost_per_final_label


def _task_labels(run: Run, codes: np.ndarray) -> pd.Series:
    """A per-task-code reference array as labels by task id (known ones only)."""
    known = codes >= 0
    names = np.asarray(run.codes.task_names, dtype=object)[known]
    return pd.Series(np.asarray(run.labels, dtype=object)[codes[known]], index=names, dtype=object)


def references(parent: Run, child: Run) -> dict[str, pd.Series]:
    """The golden and truth labels by task id, the child's where it has one, else the parent's."""
    from analytics.metrics.aggregation import golden_codes, truth_codes

    out = {}
    for name in REFERENCES:
        parts = []
        for run in (child, parent):
            try:
                codes = golden_codes(run) if name == "golden" else truth_codes(run)
            except MetricUnavailable:
                continue
            parts.append(_task_labels(run, codes))
        ref = pd.concat(parts) if parts else pd.Series(dtype=object)
        out[name] = ref[~ref.index.duplicated()]
    return out


def _overall(run: Run, reference: str, params: Mapping[str, Any]) -> Share | None:
    acc = registry.outcome(run, f"accuracy_vs_{reference}", **params)
    if isinstance(acc, MetricUnavailable):
        return None
    return Share(acc.tasks, acc.correct, acc.accuracy, acc.ci_low, acc.ci_high)


def _accuracy(both: pd.DataFrame, refs, parent: Run, child: Run, params) -> dict[str, AccuracyChange]:
    out = {}
    for name, ref in refs.items():
        known = ref.reindex(both.index)
        mask = known.notna().to_numpy()
        overall = _overall(parent, name, params), _overall(child, name, params)
        if not mask.any() and overall == (None, None):
            continue
        r = known[mask].astype(str).to_numpy()
        before = Share.of(int((both["label_before"].to_numpy()[mask] == r).sum()), int(mask.sum()))
        after = Share.of(int((both["label_after"].to_numpy()[mask] == r).sum()), int(mask.sum()))
        out[name] = AccuracyChange(name, before, after, *overall)
    return out


def _side_by_side(before, after, refs: dict[str, pd.Series], plan_ids: set[str]) -> pd.DataFrame:
    """The tasks aggregated in both runs: label, confidence, answers before and after, reference."""
    common = before.labels.index.intersection(after.labels.index, sort=False)
    b, a = before.labels.loc[common], after.labels.loc[common]
    both = pd.DataFrame(
        {
            "label_before": b["label"].astype(str).to_numpy(),
            "confidence_before": b["confidence"].to_numpy(),
            "answers_before": b["answers"].to_numpy(),
            "label_after": a["label"].astype(str).to_numpy(),
            "confidence_after": a["confidence"].to_numpy(),
            "answers_after": a["answers"].to_numpy(),
        },
        index=pd.Index(common.astype(str), name="task_id", dtype="str"),
    )
    ref = refs["truth"].reindex(both.index).combine_first(refs["golden"].reindex(both.index))
    both["reference"] = ref.astype(object).where(ref.notna(), None)
    known = ref.notna()
    both["right_before"] = pd.array(np.where(known, both["label_before"] == ref, None), dtype="boolean")
    both["right_after"] = pd.array(np.where(known, both["label_after"] == ref, None), dtype="boolean")
    both["in_plan"] = both.index.isin(list(plan_ids))
    return both


def _reference_name(refs: dict[str, pd.Series], tasks: pd.Index) -> str | None:
    """What the tasks' references are: truth where known, golden on the others."""
    truth = tasks.isin(refs["truth"].index)
    have = ["truth"] if truth.any() else []
    have += ["golden"] if tasks[~truth].isin(refs["golden"].index).any() else []
    return " + ".join(have) or None


def _realised(both, after_agg, refs, plan: Mapping[str, Any], money: float | None) -> Realised:
    tasks = [str(t.get("task_id")) for t in plan.get("tasks", []) if isinstance(t, Mapping)]
    on = both[both.index.isin(tasks)]
    changed = on[on["label_before"] != on["label_after"]]
    known = on["right_before"].notna()
    fixed = int((known & ~on["right_before"].fillna(True) & on["right_after"].fillna(False)).sum())
    broken = int((known & on["right_before"].fillna(False) & ~on["right_after"].fillna(True)).sum())
    net = fixed - broken if known.any() else None
    probas = after_agg.probas.reindex(changed.index)
    rows = np.arange(len(changed))
    cols = list(after_agg.probas.columns)
    p_after = probas.to_numpy()[rows, [cols.index(x) for x in changed["label_after"]]] if len(changed) else []
    p_before = probas.to_numpy()[rows, [cols.index(x) for x in changed["label_before"]]] if len(changed) else []
    expected = float(np.sum(np.asarray(p_after) - np.asarray(p_before)))
    predicted = _number(plan.get("expected_fixes"))
    cost = _number(plan.get("total_cost"))
    return Realised(
        plan_tasks=len(tasks),
        compared=len(on),
        changed=len(changed),
        reference=_reference_name(refs, on.index[known.to_numpy()]) if known.any() else None,
        known=int(known.sum()),
        fixed=fixed,
        broken=broken,
        net_fixes=net,
        expected_net_fixes=expected,
        predicted_fixes=predicted,
        predicted_low=_number(plan.get("fixes_low")),
        predicted_high=_number(plan.get("fixes_high")),
        predicted_cost=cost,
        money_added=money,
        money_per_fix=money / net if money is not None and net is not None and net > 0 else None,
        predicted_money_per_fix=cost / predicted if cost is not None and predicted and predicted > 0 else None,
    )


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) else None


# ---- the diff


def lineage_diff(
    parent: Run, child: Run, *, method: str = "mv", n_iter: int | None = None, plan: Mapping[str, Any] | None = None
) -> LineageDiff:
    """``child`` against ``parent``: answers and money added, labels changed, accuracy and cost per
    label before and after, and, with the ``plan`` the child answers, realised against predicted
    fixes (see the module). ``method`` (and ``n_iter`` for the EM methods) is the aggregator of both.
    A function of two runs, not a registry figure."""
    params = {"method": method} if n_iter is None else {"method": method, "n_iter": n_iter}
    before_agg = registry.compute(parent, "aggregate", **params)
    after_agg = registry.compute(child, "aggregate", **params)
    currency, spend_before = _spend(parent)
    child_currency, spend_after = _spend(child)
    notes = []
    if child_currency != currency:
        notes.append(f"the parent is priced in {currency} and the child in {child_currency}: money is not compared")
        spend_added = dict.fromkeys(MONEY)
    else:
        spend_added = _added(spend_before, spend_after)
    refs = references(parent, child)
    plan_ids = {str(t.get("task_id")) for t in (plan or {}).get("tasks", []) if isinstance(t, Mapping)}
    both = _side_by_side(before_agg, after_agg, refs, plan_ids)
    s_before, s_after = parent.summary(), child.summary()
    realised = None if plan is None else _realised(both, after_agg, refs, plan, spend_added["total"])
    return LineageDiff(
        method=method,
        currency=currency,
        answers_before=s_before["answers"],
        answers_after=s_after["answers"],
        tasks_before=s_before["tasks"],
        tasks_after=s_after["tasks"],
        annotators_before=s_before["workers"],
        annotators_after=s_after["workers"],
        spend_before=spend_before,
        spend_after=spend_after,
        spend_added=spend_added,
        tasks_compared=len(both),
        tasks_labeled_only_after=int((~after_agg.labels.index.isin(before_agg.labels.index)).sum()),
        tasks_labeled_only_before=int((~before_agg.labels.index.isin(after_agg.labels.index)).sum()),
        changed=both[both["label_before"] != both["label_after"]].copy(),
        accuracy=_accuracy(both, refs, parent, child, params),
        cost_per_label_before=_cost_per_label(parent),
        cost_per_label_after=_cost_per_label(child),
        realised=realised,
        notes=tuple(notes),
    )


__all__ = ["AccuracyChange", "LineageDiff", "Realised", "Share", "lineage_diff", "references"]
