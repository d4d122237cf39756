"""Ban audit: suspect golden labels, the bans that rest on them, and the run with them corrected or dropped.

A control task most annotators miss is more likely wrong than they are
(:func:`analytics.metrics.control.control_task_difficulty` flags it ``suspect``). :func:`ban_audit`
lists those tasks with their answers, finds for every ban the wrong control answers inside the
window the golden_set rule counted that fell on an audited task (the suspect ones and those given
in ``golden_overrides``), and recomputes — on a copy of the run, never the version — the bans,
control accuracy, the report's headline figures and the aggregate's accuracy with the golden
labels of ``golden_overrides`` corrected (a label) or dropped (None). By default every suspect
golden label is dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable
from analytics.metrics._qa import golden_overrides as checked_overrides
from analytics.metrics._qa import quality, records, with_golden
from analytics.metrics.control import control_accuracy
from analytics.metrics.rules import ban_evidence, replay_rules
from analytics.model import Run

MISSED_BY_MOST = 0.5  # control tasks fewer than half get right are listed (suspect or not)
_BAN_KEYS = ["worker_id", "pool_id"]


@dataclass(frozen=True)
class BanAudit:
    """What :func:`ban_audit` found.

    ``overrides``: the golden labels changed in the what-if ({task_id: label, or None: dropped}).
    ``control_tasks``: control_task_difficulty's rows of the tasks that are suspect, missed by
    most (share_correct < 0.5) or overridden, hardest first, with ``override`` ("" where none).
    ``suspect_answers``: every answer on those tasks (task_id, worker_id, assignment_id, label,
    golden, correct, submitted_at). ``bans``: every replayed ban (worker_id, pool_id, rule, at,
    evidence, recorded) with ``suspect_answers`` (wrong answers on audited tasks inside the
    window the golden_set rule counted), ``suspect_tasks`` (those tasks, comma-separated),
    ``rests_on_suspect`` and ``lifted`` (no longer banned with the overrides). ``lifted`` and
    ``new_bans``: the bans the overrides take away and add. ``control_accuracy``: the annotators
    whose control accuracy changes (answers, correct, accuracy before and after). ``headline``
    and ``quality``: analytics.report.headline_figures and the aggregate's quality ({"before",
    "after"}).
    """

    overrides: dict[str, str | None]
    control_tasks: pd.DataFrame
    suspect_answers: pd.DataFrame
    bans: pd.DataFrame
    lifted: pd.DataFrame
    new_bans: pd.DataFrame
    control_accuracy: pd.DataFrame
    headline: dict[str, dict[str, Any]]
    quality: dict[str, dict[str, Any]]
    rules_replayed: bool = True

    def as_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = records(v) if isinstance(v, pd.DataFrame) else v
        return out


def _replayed(run: Run, shared: bool = False) -> pd.DataFrame | None:
    """The replayed bans of ``run`` (None where its rules cannot be replayed); ``shared``: the
    registry's replay (a version's run), not one of a what-if copy."""
    try:
        r = _figure_of(run, "replay_rules") if shared else replay_rules(run)
    except MetricUnavailable:
        return None
    b = r[r["rule"].notna()].copy()
    b["recorded"] = b["recorded_rule"].notna().to_numpy()
    return b[["worker_id", "pool_id", "rule", "at", "evidence", "suites_before", "recorded"]].reset_index(drop=True)


def _tasks(d: pd.DataFrame, overrides: dict) -> pd.DataFrame:
    """control_task_difficulty's rows (``d``) of the audited tasks, hardest first, with their override."""
    keep = d["suspect"] | (d["share_correct"] < MISSED_BY_MOST) | d.index.isin(list(overrides))
    out = d[keep].copy()
    out["override"] = [
        ("(dropped)" if overrides[t] is None else overrides[t]) if t in overrides else "" for t in out.index
    ]
    return out.sort_values(["share_correct", "answers"], ascending=[True, False], kind="stable")


def _answers_on(run: Run, tasks: list[str]) -> pd.DataFrame:
    a = run.answers
    # the tasks' codes, then their rows: never each of the run's answers turned into a string
    wanted = np.flatnonzero(run.codes.task_names.isin(tasks))
    rows = a.iloc[np.flatnonzero(np.isin(run.codes.task, wanted) & (run.codes.label >= 0))]
    out = pd.DataFrame(
        {
            "task_id": rows["task_id"].astype(str).to_numpy(),
            "worker_id": rows["worker_id"].astype(str).to_numpy(),
            "assignment_id": rows["assignment_id"].astype(str).to_numpy(),
            "label": rows["label"].astype(str).to_numpy(),
            "golden": rows["golden"].astype(object).to_numpy(),
            "correct": (rows["label"].astype(object) == rows["golden"].astype(object)).to_numpy(),
            "submitted_at": rows["submitted_at"].to_numpy(),
        }
    )
    return out.sort_values(["task_id", "submitted_at", "worker_id"], kind="stable").reset_index(drop=True)


def _rested_on(run: Run, bans: pd.DataFrame, audited: set[str]) -> tuple[list[int], list[str]]:
    """Per golden_set ban: the wrong answers on audited tasks in the window the rule counted, and those tasks."""
    counts, names = [], []
    for w, pool, rule in zip(bans["worker_id"], bans["pool_id"], bans["rule"], strict=True):
        if rule != "golden_set" or not audited:
            counts.append(0)
            names.append("")
            continue
        ctl = ban_evidence(run, w, pool).control
        hit = ctl[ctl["in_control_window"] & ~ctl["correct"].astype(bool) & ctl["task_id"].isin(audited)]
        counts.append(int(len(hit)))
        names.append(", ".join(sorted(set(hit["task_id"]))))
    return counts, names


def _accuracy_change(before: Run, after: Run) -> pd.DataFrame:
    cols = ["answers", "correct", "accuracy"]
    b = _figure_of(before, "control_accuracy")[cols]
    try:
        a = b if after is before else control_accuracy(after)[cols]
    except MetricUnavailable:
        a = pd.DataFrame(columns=cols, index=pd.Index([], name="worker_id", dtype="str"))
    m = b.add_suffix("_before").join(a.add_suffix("_after"), how="outer")
    changed = (m["answers_before"] != m["answers_after"]) | (m["correct_before"] != m["correct_after"])
    return m[changed.to_numpy()].sort_index()


def _figure_of(run: Run, name: str) -> Any:
    """The registry's figure of ``run`` (computed once per run and shared with the pages and the report)."""
    from analytics.metrics import registry  # the registry imports this module

    return registry.compute(run, name)


def _headline(run: Run) -> dict[str, Any]:
    from analytics.report import headline_figures  # the report builds on the registry, which imports this module

    return headline_figures(run)


def _difference(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    m = left.merge(right[_BAN_KEYS], on=_BAN_KEYS, how="left", indicator=True)
    out = m[m["_merge"] == "left_only"].drop(columns="_merge")
    return out.sort_values(_BAN_KEYS, kind="stable").reset_index(drop=True)


def ban_audit(run: Run, golden_overrides: Any = None, method: str = "mv") -> BanAudit:
    """Suspect golden labels and the bans resting on them, with a what-if (see BanAudit).

    ``golden_overrides``: {task_id: label (corrected) or None (dropped)} — by default every task
    control_task_difficulty calls suspect, dropped; ``{}`` changes nothing. ``method`` aggregates
    for the accuracy figures. Raises MetricUnavailable without answered control tasks, ValueError
    for a task that is not a control task or a label outside the label set.
    """
    difficulty = _figure_of(run, "control_task_difficulty")
    if golden_overrides is None:
        overrides: dict[str, str | None] = {t: None for t in difficulty.index[difficulty["suspect"]]}
    else:
        overrides = checked_overrides(run, golden_overrides)
    tasks = _tasks(difficulty, overrides)
    audited = set(difficulty.index[difficulty["suspect"]]) | set(overrides)
    changed = with_golden(run, overrides)  # the run itself when nothing is overridden
    same = changed is run
    before = _replayed(run, shared=True)
    after = before if same else _replayed(changed)
    if before is None or after is None:
        empty = pd.DataFrame(columns=["worker_id", "pool_id", "rule", "at", "evidence", "recorded"])
        bans, lifted, new = empty, empty, empty
    else:
        bans = before.drop(columns="suites_before")
        bans["suspect_answers"], bans["suspect_tasks"] = _rested_on(run, before, audited)
        bans["rests_on_suspect"] = bans["suspect_answers"] > 0
        gone = _difference(before, after)
        bans["lifted"] = pd.MultiIndex.from_frame(bans[_BAN_KEYS]).isin(pd.MultiIndex.from_frame(gone[_BAN_KEYS]))
        bans = bans.sort_values(_BAN_KEYS, kind="stable").reset_index(drop=True)
        lifted, new = gone.drop(columns="suites_before"), _difference(after, before).drop(columns="suites_before")
    headline, q = _headline(run), quality(run, method)
    return BanAudit(
        overrides=overrides,
        control_tasks=tasks,
        suspect_answers=_answers_on(run, sorted(set(tasks.index))),
        bans=bans,
        lifted=lifted,
        new_bans=new,
        control_accuracy=_accuracy_change(run, changed),
        headline={"before": headline, "after": dict(headline) if same else _headline(changed)},
        quality={"before": q, "after": dict(q) if same else quality(changed, method)},
        rules_replayed=before is not None,
    )


def lifted_workers(result: BanAudit) -> list[str]:
    """The annotators whose ban the audit's overrides lift (sorted)."""
    return sorted(set(np.asarray(result.lifted["worker_id"], dtype=str))) if len(result.lifted) else []
