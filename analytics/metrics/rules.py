"""Replay a pool's quality-control rules over its answers: who would be banned, when, why, at what cost.

Rules are ``PoolInfo.rules`` dicts in Toloka's terms. Two types are replayed:

* ``fast_responses`` (history_size, count, fast_submit_threshold_seconds): after each submitted
  task suite, if at least ``count`` of the annotator's last ``history_size`` suites in the pool
  took less than the threshold (submitted − started), the annotator is banned;
* ``golden_set`` (history_size, min_answers, and min_correct_percent and/or
  max_incorrect_percent): after each submitted suite, over the annotator's last
  ``history_size`` control answers in the pool, if there are at least ``min_answers`` of them
  and the percentage correct is below ``min_correct_percent`` (or the percentage incorrect is
  above ``max_incorrect_percent``), the annotator is banned.

A ``history_size`` of None is Toloka's unset history: the annotator's whole history in the
pool. Both are evaluated after every submitted suite (SKIPPED/EXPIRED suites were never submitted),
suites in submission order (ties by assignment id), control answers inside one suite in task-id
order. The first suite after which a rule fires is the ban; when two rules fire on the same
suite, the one listed first in the pool's rules names it. This is the semantics of the demo
pool's ``_check_rules`` and of Toloka's rules (which act on each submitted suite).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable, kind_mask
from analytics.metrics.cost import assignment_cost
from analytics.metrics.speed import UNSUBMITTED, _require_times, replay_order, rolling_fast, suites
from analytics.model import Run

REPLAYED = ("fast_responses", "golden_set")
# A recorded restriction agrees in time when it was created no earlier than this before the
# replayed moment (exports round times to milliseconds; the platform stamps its own clock) …
TIME_TOLERANCE = pd.Timedelta(seconds=1)
# … and no later than the annotator's next submitted suite (after which the platform's rule
# would have had to act already).

_COLUMNS = [
    "worker_id",
    "pool_id",
    "rule",
    "at",
    "evidence",
    "suites_before",
    "suites_after",
    "spend_after",
    "recorded_rule",
    "recorded_at",
    "recorded_reason",
    "delay_seconds",
    "agrees",
]


def _golden_params(rule: dict) -> tuple[int, int, float | None, float | None] | str:
    """(history_size, min_answers, min_correct_percent, max_incorrect_percent), or why not."""
    known = {
        "type",
        "history_size",
        "min_answers",
        "min_correct_percent",
        "max_incorrect_percent",
        "ban_days",
        "scope",
        "reason",
    }
    unknown = sorted(set(rule) - known)
    if unknown:
        return f"golden_set rule keys {unknown} are not understood (replayed keys: {sorted(known - {'type'})})"
    lo, hi = rule.get("min_correct_percent"), rule.get("max_incorrect_percent")
    if lo is None and hi is None:
        return "golden_set rule has neither min_correct_percent nor max_incorrect_percent"
    h = _history(rule)
    if isinstance(h, str):
        return h
    return h, int(rule.get("min_answers") or 1), lo, hi


def _fast_params(rule: dict) -> tuple[int, int, float] | str:
    if "fast_submit_threshold_seconds" not in rule:
        return "fast_responses rule has no fast_submit_threshold_seconds"
    h = _history(rule)
    if isinstance(h, str):
        return h
    return h, int(rule.get("count") or 1), float(rule["fast_submit_threshold_seconds"])


# Toloka's unset history_size means the whole history in the pool
WHOLE_HISTORY = 1 << 40


def _history(rule: dict) -> int | str:
    """The rule's window in suites (control answers for golden_set), or why it cannot be replayed.

    None (Toloka's unset history_size) is the whole history: WHOLE_HISTORY, longer than any pool.
    """
    h = rule.get("history_size")
    if h is None:
        return WHOLE_HISTORY
    try:
        x = float(h) if not isinstance(h, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if not (x >= 1 and x.is_integer()):
        return (
            f"{rule.get('type')} rule's history_size must be a whole number >= 1, "
            f"or None for the whole history; got {h!r}"
        )
    return int(x)


def _last(h: int) -> str:
    return "all" if h >= WHOLE_HISTORY else f"the last {h}"


def _pools_to_replay(run: Run, pool_id: str | None):
    if pool_id is not None:
        info = run.meta.pool(str(pool_id))
        if info is None:
            known = ", ".join(p.pool_id for p in run.meta.pools) or "none"
            raise ValueError(
                f"The 'pool_id' parameter of replay_rules must be one of the run's pools ({known}). "
                f"Got {pool_id!r} instead."
            )
        return [info]
    return [p for p in run.meta.pools if p.rules]


def _control_window(run: Run, ordered: pd.DataFrame, h: int, min_answers: int, lo, hi) -> pd.DataFrame:
    """Per suite of ``ordered`` (replay_order) with control answers: the golden-set window after it."""
    a = run.answers
    c = run.codes
    a_codes = a["assignment_id"].cat.codes.to_numpy()
    rows = np.flatnonzero(kind_mask(run, "control") & (c.label >= 0) & (c.golden >= 0) & (a_codes >= 0))
    # suite row of each control answer, by an array lookup on assignment codes (no string join)
    row_of = np.full(len(a["assignment_id"].cat.categories), -1, dtype=np.int64)
    row_of[ordered["assignment_code"].to_numpy()] = np.arange(len(ordered))
    suite_row = row_of[a_codes[rows]]
    keep = suite_row >= 0
    rows, suite_row = rows[keep], suite_row[keep]
    # inside a suite, control answers in task-id order: rank the (few) control task names
    task = c.task[rows]
    uniq, inv = np.unique(task, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(np.asarray(c.task_names[uniq], dtype=object), kind="stable")] = np.arange(len(uniq))
    order = np.lexsort((rank[inv], suite_row))
    rows, suite_row = rows[order], suite_row[order]
    ctl = pd.DataFrame({"suite_row": suite_row, "correct": c.label[rows] == c.golden[rows]})
    ctl["worker_id"] = ordered["worker_id"].to_numpy()[suite_row]
    group_start = ordered["group_start"].to_numpy()[suite_row]
    n = len(ctl)
    i = np.arange(n)
    new = np.r_[True, group_start[1:] != group_start[:-1]] if n else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(new, i, 0)) if n else np.zeros(0, dtype=np.int64)
    cs = np.cumsum(ctl["correct"].to_numpy())
    first = np.maximum(start, i - h + 1)
    before = np.where(first > 0, cs[np.maximum(first - 1, 0)], 0)
    ctl["window_answers"] = (i - first + 1).astype(np.int64)
    ctl["window_correct"] = (cs - before).astype(np.int64)
    # the state after a suite is the window ending at its last control answer
    last = ctl.drop_duplicates("suite_row", keep="last").copy()
    pct = 100.0 * last["window_correct"] / last["window_answers"]
    fires = last["window_answers"] >= min_answers
    cond = np.zeros(len(last), dtype=bool)
    if lo is not None:
        cond |= pct < float(lo)
    if hi is not None:
        cond |= (100.0 - pct) > float(hi)
    last["percent"] = pct
    last["fires"] = fires & cond
    return last


def _fast_hits(ordered: pd.DataFrame, rule: dict) -> tuple[np.ndarray, np.ndarray, list[str]] | str:
    """The first firing per annotator of a fast_responses rule (worker ids, positions, evidence), or why not."""
    p = _fast_params(rule)
    if isinstance(p, str):
        return p
    h, cnt, thr = p
    w = rolling_fast(ordered, h, cnt, thr, ordered=True)
    f = w[w["fires"]].drop_duplicates("worker_id")
    ev = [
        f"Fast responses: {a} of the last {b} task suites submitted in under {thr:g} s "
        f"(fastest {x:.1f} s; rule: at least {cnt} of {_last(h)})"
        for a, b, x in zip(f["fast_in_window"], f["in_window"], f["window_fastest"], strict=True)
    ]
    return f["worker_id"].to_numpy(), f["position"].to_numpy(), ev


def _golden_hits(run: Run, ordered: pd.DataFrame, rule: dict) -> tuple[np.ndarray, np.ndarray, list[str]] | str:
    """The first firing per annotator of a golden_set rule (worker ids, positions, evidence), or why not."""
    p = _golden_params(rule)
    if isinstance(p, str):
        return p
    h, min_answers, lo, hi = p
    last = _control_window(run, ordered, h, min_answers, lo, hi)
    f = last[last["fires"]].drop_duplicates("worker_id")
    limit = f"< {lo:g} %" if lo is not None else f"incorrect > {hi:g} %"
    ev = [
        f"Control tasks: {c} of the last {n} correct "
        f"({pct:.0f} % correct; rule: {limit} on at least {min_answers} of {_last(h)})"
        for c, n, pct in zip(f["window_correct"], f["window_answers"], f["percent"], strict=True)
    ]
    pos = ordered["position"].to_numpy()[f["suite_row"].to_numpy()]
    return f["worker_id"].to_numpy(), pos, ev


_NO_HITS = {
    "worker_id": "str",
    "position": "int64",
    "rule": "str",
    "rule_order": "int64",
    "evidence": "str",
    "pool_id": "str",
}


def _replay_pool(run: Run, info, s_all: pd.DataFrame, not_replayed: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First firing per annotator in one pool (worker_id, position, rule, rule_order, evidence,
    pool_id), and the pool's submitted suites in replay order with their ``position``."""
    s = s_all[s_all["pool_id"] == info.pool_id]
    # the suite order every rule shares
    ordered = replay_order(s)
    hits = []
    for k, rule in enumerate(info.rules):
        kind = rule.get("type")
        if kind == "fast_responses":
            found = _fast_hits(ordered, rule)
        elif kind == "golden_set":
            found = _golden_hits(run, ordered, rule)
        else:
            found = rule.get("why") or f"rule type {kind!r} is not replayed (replayed: {', '.join(REPLAYED)})"
        if isinstance(found, str):
            not_replayed.append({"pool_id": info.pool_id, "rule": dict(rule), "why": found})
            continue
        workers, positions, evidence = found
        hits.append(
            pd.DataFrame(
                {"worker_id": workers, "position": positions, "rule": kind, "rule_order": k, "evidence": evidence}
            )
        )
    if not hits:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in _NO_HITS.items()}), ordered
    h = pd.concat(hits, ignore_index=True).sort_values(["worker_id", "position", "rule_order"], kind="stable")
    h = h.drop_duplicates("worker_id").assign(pool_id=info.pool_id)
    return h, ordered


def replay_rules(run: Run, pool_id: str | None = None) -> pd.DataFrame:
    """Who the pool's rules would ban, when and why, what that saves, against what was recorded.

    ``pool_id`` defaults to every pool with rules. One row per (annotator, pool) that the replay
    bans or that has a recorded restriction (run.restrictions whose pool_id is the pool or
    empty), sorted by worker_id, pool_id. Columns:

    * ``rule``, ``at`` (submit time of the suite after which the rule fires), ``evidence``
      (the numbers behind it); missing where only a recorded restriction exists;
    * ``suites_before``: the annotator's submitted suites in the pool up to and including that
      one; ``suites_after``: those submitted after it, ``spend_after``: what these cost (reward
      + fee where paid, as spend()) — what the ban saved had it acted, or cost if it did not;
    * ``recorded_rule``, ``recorded_at``, ``recorded_reason``: the annotator's first recorded
      restriction (missing where none); ``delay_seconds`` = recorded_at − at;
    * ``agrees``: a replayed and a recorded ban with the same rule, the recorded one created no
      earlier than TIME_TOLERANCE (1 s) before ``at`` and no later than the annotator's next
      submitted suite in the pool; False where only one side exists.

    Rule types other than fast_responses and golden_set, or rules with keys not understood, are
    not replayed; they are listed in ``result.attrs["not_replayed"]`` (pool_id, rule, why).
    Raises MetricUnavailable where no pool has a rule that can be replayed, or where the run
    has no suite times (the fast-response rule needs them).
    """
    pools = _pools_to_replay(run, pool_id)
    if not pools or not any(r.get("type") in REPLAYED for p in pools for r in p.rules):
        raise MetricUnavailable(
            "no pool of this run records a quality-control rule that can be replayed "
            f"({', '.join(REPLAYED)}); read the pools from the Toloka API to get their rules",
            missing_field="rules",
        )
    _require_times(run, "replaying the quality-control rules")
    s_all = suites(run)
    s_all = s_all[~s_all["status"].isin(UNSUBMITTED) & s_all["submitted_at"].notna()]
    cost = assignment_cost(run).set_index("assignment_id")["cost"]
    not_replayed: list[dict] = []
    parts = [_pool_bans(run, info, s_all, cost, not_replayed) for info in pools]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_COLUMNS)
    out = _compared(run, out)
    out.attrs["not_replayed"] = not_replayed
    return out


def _pool_bans(run: Run, info, s_all: pd.DataFrame, cost: pd.Series, not_replayed: list) -> pd.DataFrame:
    """One pool's replayed bans with what came after them, joined (outer) with its recorded restrictions."""
    bans, ordered = _replay_pool(run, info, s_all, not_replayed)
    ordered = ordered.assign(cost=ordered["assignment_id"].map(cost).astype("float64").fillna(0.0).to_numpy())
    per_worker = ordered.groupby("worker_id")
    n_suites = per_worker.size()
    bans = bans.merge(ordered[["worker_id", "position", "submitted_at"]], on=["worker_id", "position"], how="left")
    bans = bans.rename(columns={"submitted_at": "at"})
    bans["suites_before"] = (bans["position"] + 1).astype(np.int64)
    bans["suites_after"] = (bans["worker_id"].map(n_suites).to_numpy() - bans["suites_before"]).astype(np.int64)
    # spend after = the worker's total suite cost minus the cumulative cost up to the ban
    ordered["cum_cost"] = per_worker["cost"].cumsum()
    total_cost = per_worker["cost"].sum()
    at_ban = bans.merge(ordered[["worker_id", "position", "cum_cost"]], on=["worker_id", "position"], how="left")[
        "cum_cost"
    ]
    bans["spend_after"] = bans["worker_id"].map(total_cost).to_numpy() - at_ban.to_numpy()
    nxt = (
        ordered[["worker_id", "position", "submitted_at"]]
        .assign(position=ordered["position"] - 1)
        .rename(columns={"submitted_at": "next_at"})
    )
    bans = bans.merge(nxt, on=["worker_id", "position"], how="left")

    r = run.restrictions
    r = r[(r["pool_id"].isna() | (r["pool_id"].astype(str) == info.pool_id)) & r["worker_id"].notna()]
    r = r.sort_values(["worker_id", "created_at"], kind="stable").drop_duplicates("worker_id")
    r = r.rename(columns={"rule": "recorded_rule", "created_at": "recorded_at", "reason": "recorded_reason"})
    m = bans.merge(r[["worker_id", "recorded_rule", "recorded_at", "recorded_reason"]], on="worker_id", how="outer")
    m["pool_id"] = info.pool_id
    return m


def _compared(run: Run, out: pd.DataFrame) -> pd.DataFrame:
    """The replayed and recorded bans side by side: delay, agreement, typed columns, sorted (replay_rules)."""
    tz = run.answers["submitted_at"].dtype
    out["at"] = pd.to_datetime(out["at"], utc=True).astype(tz)
    out["recorded_at"] = pd.to_datetime(out["recorded_at"], utc=True).astype(tz)
    out["next_at"] = pd.to_datetime(out.get("next_at"), utc=True).astype(tz)
    out["delay_seconds"] = (out["recorded_at"] - out["at"]).dt.total_seconds()
    both = out["rule"].notna() & out["recorded_rule"].notna()
    in_time = (out["recorded_at"] >= out["at"] - TIME_TOLERANCE) & (
        out["next_at"].isna() | (out["recorded_at"] <= out["next_at"])
    )
    out["agrees"] = (both & (out["rule"] == out["recorded_rule"]) & in_time).astype(bool)
    for col in ("suites_before", "suites_after"):
        out[col] = out[col].astype("Int64")
    out["spend_after"] = out["spend_after"].astype("float64")
    for col in ("worker_id", "pool_id", "rule", "evidence", "recorded_rule", "recorded_reason"):
        out[col] = out[col].astype("str").where(out[col].notna())
    return out.sort_values(["worker_id", "pool_id"], kind="stable").reset_index(drop=True)[_COLUMNS]


@dataclass(frozen=True)
class BanEvidence:
    """What a QA reviewer needs to uphold or overturn one annotator's ban.

    ``bans``: the replay_rules rows of this annotator (replayed and recorded, per pool).
    ``recorded``: their rows of run.restrictions.
    ``suites``: their submitted suites in the replayed pools, in submission order: assignment_id,
    pool_id, status, tasks, started_at, submitted_at, seconds, fast (under the pool's
    fast-response threshold; missing where the pool has none), control_answers,
    control_correct, in_fast_window (one of the suites the fast rule counted when it fired),
    after_ban (submitted after the replayed ban).
    ``control``: their control answers in those suites: assignment_id, submitted_at, task_id,
    golden, label, correct, in_control_window (counted by the golden-set rule when it fired).
    """

    worker_id: str
    bans: pd.DataFrame
    recorded: pd.DataFrame
    suites: pd.DataFrame
    control: pd.DataFrame


def ban_evidence(run: Run, worker_id: str, pool_id: str | None = None) -> BanEvidence:
    """The suites and control answers behind one annotator's (replayed or recorded) ban.

    Works on the annotator's own answers only (the rules are per annotator), so it is cheap on a
    large run. Raises ValueError for an annotator who is not in the run.
    """
    worker_id = str(worker_id)
    a = run.answers
    if worker_id not in a["worker_id"].cat.categories:
        raise ValueError(
            f"The 'worker_id' parameter of ban_evidence must be an annotator of this run. Got {worker_id!r} instead."
        )
    mine = a[(a["worker_id"] == worker_id).to_numpy()].reset_index(drop=True)
    sub = dataclasses.replace(
        run, answers=mine, restrictions=run.restrictions[run.restrictions["worker_id"] == worker_id]
    )
    bans = replay_rules(sub, pool_id)
    pools = [p for p in _pools_to_replay(run, pool_id)]
    s = _submitted_suites(sub, pools)
    ctl = _control_answers(sub, mine, s)
    s["fast"] = pd.array([pd.NA] * len(s), dtype="boolean")
    s["in_fast_window"] = False
    s["after_ban"] = False
    ctl["in_control_window"] = False
    for info in pools:
        _mark_windows(s, ctl, bans, info)
    recorded = (
        run.restrictions[run.restrictions["worker_id"] == worker_id]
        .sort_values("created_at", kind="stable")
        .reset_index(drop=True)
    )
    return BanEvidence(worker_id, bans, recorded, s[_SUITE_COLUMNS], ctl[_CONTROL_COLUMNS])


_SUITE_COLUMNS = [
    "assignment_id",
    "pool_id",
    "status",
    "tasks",
    "started_at",
    "submitted_at",
    "seconds",
    "fast",
    "control_answers",
    "control_correct",
    "in_fast_window",
    "after_ban",
]
_CONTROL_COLUMNS = [
    "assignment_id",
    "pool_id",
    "submitted_at",
    "task_id",
    "golden",
    "label",
    "correct",
    "in_control_window",
]


def _submitted_suites(sub: Run, pools: list) -> pd.DataFrame:
    """The annotator's submitted suites in ``pools``, in submission order, with their ``position`` per pool."""
    s = suites(sub)
    s = s[~s["status"].isin(UNSUBMITTED) & s["submitted_at"].notna() & s["pool_id"].isin([p.pool_id for p in pools])]
    s = s.sort_values(["pool_id", "submitted_at", "assignment_id"], kind="stable").reset_index(drop=True)
    s["position"] = s.groupby("pool_id").cumcount()
    return s


def _control_answers(sub: Run, mine: pd.DataFrame, s: pd.DataFrame) -> pd.DataFrame:
    """The annotator's graded control answers in the suites ``s``, in suite then task order; adds each
    suite's ``control_answers`` and ``control_correct`` to ``s`` (in place)."""
    c = sub.codes
    ctl_rows = np.flatnonzero(kind_mask(sub, "control") & (c.label >= 0) & (c.golden >= 0))
    ctl = pd.DataFrame(
        {
            "assignment_id": mine["assignment_id"].iloc[ctl_rows].astype(str).to_numpy(),
            "task_id": mine["task_id"].iloc[ctl_rows].astype(str).to_numpy(),
            "golden": mine["golden"].iloc[ctl_rows].to_numpy(),
            "label": mine["label"].iloc[ctl_rows].to_numpy(),
            "correct": c.label[ctl_rows] == c.golden[ctl_rows],
        }
    )
    ctl = ctl.merge(s[["assignment_id", "pool_id", "submitted_at", "position"]], on="assignment_id", how="inner")
    ctl = ctl.sort_values(["pool_id", "position", "task_id"], kind="stable").reset_index(drop=True)
    per_suite = ctl.groupby("assignment_id").agg(
        control_answers=("correct", "size"), control_correct=("correct", "sum")
    )
    s["control_answers"] = s["assignment_id"].map(per_suite["control_answers"]).fillna(0).astype(np.int64)
    s["control_correct"] = s["assignment_id"].map(per_suite["control_correct"]).fillna(0).astype(np.int64)
    return ctl


def _mark_windows(s: pd.DataFrame, ctl: pd.DataFrame, bans: pd.DataFrame, info) -> None:
    """Mark (in place) one pool's fast suites, the suites and control answers its replayed ban counted,
    and the suites after the ban."""
    in_pool = (s["pool_id"] == info.pool_id).to_numpy()
    ban = bans[(bans["pool_id"] == info.pool_id) & bans["rule"].notna()]
    ban_pos = int(ban["suites_before"].iloc[0]) - 1 if len(ban) else None
    for rule in info.rules:
        kind = rule.get("type")
        if kind == "fast_responses" and not isinstance(_fast_params(rule), str):
            h, _, thr = _fast_params(rule)
            s.loc[in_pool, "fast"] = s.loc[in_pool, "seconds"] < thr
            if ban_pos is not None and ban["rule"].iloc[0] == kind:
                pos = s["position"]
                s.loc[in_pool & (pos > ban_pos - h).to_numpy() & (pos <= ban_pos).to_numpy(), "in_fast_window"] = True
        if (
            kind == "golden_set"
            and ban_pos is not None
            and ban["rule"].iloc[0] == kind
            and not isinstance(_golden_params(rule), str)
        ):
            h = _golden_params(rule)[0]
            sel = np.flatnonzero(((ctl["pool_id"] == info.pool_id) & (ctl["position"] <= ban_pos)).to_numpy())
            ctl.loc[sel[-h:], "in_control_window"] = True
    if ban_pos is not None:
        s.loc[in_pool & (s["position"] > ban_pos).to_numpy(), "after_ban"] = True
