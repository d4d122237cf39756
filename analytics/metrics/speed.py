"""Speed: seconds per task suite and per task, per annotator, and Toloka's fast-response rule.

A task suite (assignment) takes ``submitted_at − started_at``; its tasks share those times, so
seconds per task is the suite's seconds over its answers. Suites that were never submitted
(SKIPPED, EXPIRED) have no duration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable, category_in, check_float, check_int, per_run_cache, rate
from analytics.model import STATUSES, STATUSES_WITHOUT_ANSWER, Run

# Toloka's fast-response rule where a pool records none (its usual defaults in the demo project)
DEFAULT_FAST_RULE = {"type": "fast_responses", "history_size": 5, "count": 1, "fast_submit_threshold_seconds": 15}
UNSUBMITTED = STATUSES_WITHOUT_ANSWER  # skipped or expired: no answer, no duration


def _require_times(run: Run, what: str) -> None:
    a = run.answers
    if a["submitted_at"].isna().all():
        raise MetricUnavailable(
            f"{what} needs submit times, and this run has none (a column of one placeholder value counts as none)",
            missing_field="submitted_at",
        )
    if a["started_at"].isna().all():
        raise MetricUnavailable(f"{what} needs start times, and this run has none", missing_field="started_at")
    if a["assignment_id"].isna().all():
        raise MetricUnavailable(
            f"{what} needs task suites, and this run has no assignment ids", missing_field="assignment_id"
        )


@per_run_cache
def suites(run: Run) -> pd.DataFrame:
    """One row per known assignment (positional, in code order): the columns assignment_speed
    documents, plus ``assignment_code`` (the assignment's integer code in run.answers, for
    lookups without string joins) and ``first_row`` (the position in run.answers of its first
    answer, which carries the suite's reward, times and status); built on integer codes (no
    groupby over strings)."""
    a = run.answers
    codes = a["assignment_id"].cat.codes.to_numpy()
    n_assign = len(a["assignment_id"].cat.categories)
    # the first row of each assignment (its times, worker, pool and status are the suite's)
    row_type = np.int32 if len(codes) < 2**31 else np.int64
    first = np.full(n_assign, len(codes), dtype=row_type)
    if (codes >= 0).all():  # every answer in a suite: no copies of the codes (120 MB at 10^7 answers)
        k, known = codes, np.arange(len(codes), dtype=row_type)
    else:
        known = np.flatnonzero(codes >= 0).astype(row_type)
        k = codes[known]
    np.minimum.at(first, k, known)
    del known
    used = first < len(codes)
    rows = first[used].astype(np.int64)
    tasks = np.bincount(k, minlength=n_assign)[used]
    sub = a["submitted_at"].iloc[rows].reset_index(drop=True)
    start = a["started_at"].iloc[rows].reset_index(drop=True)
    seconds = (sub - start).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    # a suite submitted before its start (a clock or time-zone error) gets no duration
    seconds = np.where(seconds >= 0, seconds, np.nan)
    status = a["status"].iloc[rows].reset_index(drop=True)
    unsubmitted = category_in(status, UNSUBMITTED)
    seconds = np.where(unsubmitted, np.nan, seconds)
    out = pd.DataFrame(
        {
            "assignment_id": pd.Index(a["assignment_id"].cat.categories[used], dtype="str"),
            "assignment_code": np.flatnonzero(used),
            "first_row": rows,
            "worker_id": _names_at(a["worker_id"], rows),
            "pool_id": _names_at(a["pool_id"], rows),
            "status": status.array,  # the categorical: no Python string per suite
            "tasks": tasks.astype(np.int64),
            "started_at": start,
            "submitted_at": sub,
            "seconds": seconds.astype(np.float64),
        }
    )
    out["status"] = out["status"].astype(pd.CategoricalDtype(list(STATUSES)))
    out["seconds_per_task"] = rate(out["seconds"].to_numpy(), out["tasks"].to_numpy())
    for col in ("started_at", "submitted_at"):
        out[col] = out[col].astype(a[col].dtype)
    return out


def _names_at(column: pd.Series, rows: np.ndarray):
    """The categorical ``column``'s names at ``rows`` as text (one take from its categories: no
    Python string per row)."""
    return column.cat.categories.astype("str").take(column.cat.codes.to_numpy()[rows]).array


def assignment_speed(run: Run) -> pd.DataFrame:
    """Per task suite: who did it, how many tasks, how long it took.

    Index ``assignment_id`` (sorted). Columns ``worker_id``, ``pool_id``, ``status``, ``tasks``
    (answers in the suite), ``started_at``, ``submitted_at``, ``seconds`` = submitted_at −
    started_at (NaN where either is missing, where the suite was never submitted — SKIPPED,
    EXPIRED — or where it is negative), ``seconds_per_task`` = seconds / tasks.

    Raises MetricUnavailable naming submitted_at or started_at where the run has
    no such times (toloka-kit's default export has no submit time; placeholder times are
    dropped at import), and assignment_id where answers have no suite.
    """
    _require_times(run, "speed")
    return suites(run).drop(columns=["assignment_code", "first_row"]).set_index("assignment_id").sort_index()


def worker_speed(run: Run) -> pd.DataFrame:
    """Per annotator: how fast they work.

    Index ``worker_id`` (sorted). Columns ``assignments`` (suites with a duration), ``tasks``
    (answers in them), ``median_seconds_per_task`` (median over their suites of seconds per
    task), ``median_suite_seconds`` (median suite duration), ``total_seconds``.
    """
    _require_times(run, "speed")
    s = suites(run)
    s = s[s["seconds"].notna()]
    g = s.groupby("worker_id", sort=True)
    out = pd.DataFrame(
        {
            "assignments": g.size().astype(np.int64),
            "tasks": g["tasks"].sum().astype(np.int64),
            "median_seconds_per_task": g["seconds_per_task"].median(),
            "median_suite_seconds": g["seconds"].median(),
            "total_seconds": g["seconds"].sum(),
        }
    )
    out.index.name = "worker_id"
    return out


def _rule_of(run: Run, pool_id: str | None, rule_type: str) -> tuple[dict | None, list[str]]:
    """The rule of ``rule_type`` and the pools it applies to (see fast_responders)."""
    pools = run.meta.pools
    if pool_id is not None:
        info = run.meta.pool(str(pool_id))
        rule = next((r for r in (info.rules if info else ()) if r.get("type") == rule_type), None)
        return rule, [str(pool_id)]
    with_rule = [p for p in pools if any(r.get("type") == rule_type for r in p.rules)]
    if with_rule:
        rule = next(r for r in with_rule[0].rules if r.get("type") == rule_type)
        return rule, [p.pool_id for p in with_rule]
    main = [p.pool_id for p in pools if p.kind == "main"]
    return None, main or sorted(set(run.answers["pool_id"].cat.categories.astype(str)))


# what replay_order and rolling_fast read of a suites table
REPLAY_COLUMNS = ("assignment_id", "worker_id", "pool_id", "status", "submitted_at", "seconds")


def replay_order(s: pd.DataFrame) -> pd.DataFrame:
    """Submitted suites sorted per (worker, pool) by submit time, then assignment id (so that the
    order never depends on input row order), with ``position`` (0-based, within the annotator's
    suites in the pool) and ``group_start`` (the row where their suites begin)."""
    submitted = (~s["status"].isin(UNSUBMITTED) & s["submitted_at"].notna()).to_numpy()
    if not submitted.all():
        s = s[submitted]
    order, worker, pool = _replay_sort(s)
    s = s.take(order).reset_index(drop=True)
    n = len(s)
    w, p = worker[order], pool[order]  # the sort's own codes: the names are not factorized again
    new = np.r_[True, (w[1:] != w[:-1]) | (p[1:] != p[:-1])] if n else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    s["group_start"] = start.astype(np.int64)
    s["position"] = (np.arange(n) - start).astype(np.int64)
    return s


def _replay_sort(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row order by (worker_id, pool_id, submitted_at, assignment_id) as the strings sort, by one
    lexsort of ranks: only the annotator and pool names are sorted (a few thousand), and the
    assignment ids only where an annotator submitted two suites in one pool at the same instant.
    Returns the order and each row's annotator and pool rank (in the rows' given order)."""
    if len(s) == 0:
        return (np.zeros(0, dtype=np.int64),) * 3
    worker = pd.factorize(s["worker_id"], sort=True)[0]
    pool = pd.factorize(s["pool_id"], sort=True)[0]
    when = s["submitted_at"].array.asi8 if hasattr(s["submitted_at"].array, "asi8") else s["submitted_at"].to_numpy()
    order = np.lexsort((when, pool, worker))
    w, p, t = worker[order], pool[order], when[order]
    tie = np.r_[False, (w[1:] == w[:-1]) & (p[1:] == p[:-1]) & (t[1:] == t[:-1])]
    if tie.any():  # the same instant: the assignment ids decide, as the strings sort
        tied = tie | np.r_[tie[1:], False]
        group = np.cumsum(~tie)
        ids = pd.factorize(s["assignment_id"].to_numpy()[order[tied]], sort=True)[0]
        order[tied] = order[tied][np.lexsort((ids, group[tied]))]
    return order, worker, pool


def window_min(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """min(values[first[i] .. i]) for every i, by a sparse table: O(n log w) for windows of up to
    w rows, so a rule whose history is "everything" (history_size = all rows) stays cheap."""
    n = len(values)
    out = values.astype(np.float64, copy=True)
    if n == 0:
        return out
    i = np.arange(n)
    length = i - first + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    level = values.astype(np.float64, copy=True)  # level[j] = min(values[j - 2^k + 1 .. j])
    for kk in range(1, int(k.max()) + 1):
        shift = 1 << (kk - 1)
        level = np.minimum(level, np.r_[np.full(shift, np.inf), level[:-shift]])
        at = np.flatnonzero(k == kk)
        out[at] = np.minimum(level[at], level[first[at] + (1 << kk) - 1])
    return out


def rolling_fast(
    s: pd.DataFrame, history_size: int, count: int, threshold_seconds: float, *, ordered: bool = False
) -> pd.DataFrame:
    """Submitted suites in replay_order (``ordered=True``: ``s`` already is), with the fast-rule
    window after each: ``fast`` (seconds < threshold), ``fast_in_window`` (fast suites among the
    last history_size), ``in_window`` (suites in the window), ``fires`` (fast_in_window >= count),
    ``window_fastest``."""
    s = s.copy() if ordered else replay_order(s)
    start = s["group_start"].to_numpy()
    i = np.arange(len(s))
    fast = s["seconds"].to_numpy() < threshold_seconds  # NaN (no duration) is not fast
    secs = np.where(np.isnan(s["seconds"].to_numpy()), np.inf, s["seconds"].to_numpy())
    cs = np.cumsum(fast)
    first = np.maximum(start, i - history_size + 1)  # the window's first row, inside the group
    before = np.where(first > 0, cs[np.maximum(first - 1, 0)], 0)
    s["fast"] = fast
    s["fast_in_window"] = (cs - before).astype(np.int64)
    s["in_window"] = (i - first + 1).astype(np.int64)
    s["fires"] = s["fast_in_window"] >= count
    fastest = window_min(secs, first)
    s["window_fastest"] = np.where(np.isinf(fastest), np.nan, fastest)
    return s


def fast_responders(
    run: Run,
    history_size: int | None = None,
    count: int | None = None,
    threshold_seconds: float | None = None,
    pool_id: str | None = None,
) -> pd.DataFrame:
    """Annotators Toloka's fast-response rule flags, and when.

    Toloka's rule ("fast responses"): a task suite submitted in under ``threshold_seconds`` is a
    fast response; after each submitted suite, if at least ``count`` of the annotator's last
    ``history_size`` suites in the pool were fast, the annotator is restricted. An annotator is
    flagged at the first submission where this holds. Suites are ordered by submit time (then
    assignment id); SKIPPED/EXPIRED suites were never submitted and do not count; a suite
    without a duration is not fast.

    Parameters left None come from the pool's ``{"type": "fast_responses", ...}`` rule
    (history_size, count, fast_submit_threshold_seconds), else 5 / 1 / 15 s. The rule is applied
    to ``pool_id``; by default to the pools that carry a fast-response rule, else the pools of
    kind "main", else every pool (an exam suite is not held to a labeling pool's pace).

    Returns one row per flagged (annotator, pool), sorted by worker_id then pool_id, with
    columns ``worker_id``, ``pool_id``, ``flagged_at`` (the submit time of the suite that
    tripped the rule), ``fast_suites`` (fast suites in the window), ``suites_considered`` (suites
    in the window: fewer than history_size early on), ``fastest_seconds``, ``evidence`` (text).
    Reference: Toloka docs, "Fast responses" quality control rule.
    """
    rule, pools = _rule_of(run, pool_id, "fast_responses")
    rule = rule or DEFAULT_FAST_RULE
    if history_size is None:
        history_size = rule.get("history_size", 5)
        if history_size is None:
            # Toloka allows a rule without history_size: every suite the annotator submitted counts
            history_size = max(1, int(run.answers["assignment_id"].nunique()))
    h = check_int(history_size, "history_size", "fast_responders", low=1)
    k = check_int(rule.get("count", 1) if count is None else count, "count", "fast_responders", low=1)
    thr = check_float(
        rule.get("fast_submit_threshold_seconds", 15) if threshold_seconds is None else threshold_seconds,
        "threshold_seconds",
        "fast_responders",
        low=0.0,
        low_open=True,
    )
    if k > h:
        raise ValueError(
            f"The 'count' parameter of fast_responders must be an int in [1, history_size={h}]. Got {k!r} instead."
        )
    _require_times(run, "the fast-response rule")
    s = suites(run)[list(REPLAY_COLUMNS)]  # the columns the rule reads: the rest is not copied
    in_pools = s["pool_id"].isin(pools).to_numpy()
    w = rolling_fast(s if in_pools.all() else s[in_pools], h, k, thr)
    first = w[w["fires"]].drop_duplicates(["worker_id", "pool_id"], keep="first")
    cols = ["worker_id", "pool_id", "flagged_at", "fast_suites", "suites_considered", "fastest_seconds", "evidence"]
    if first.empty:
        out = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
        out["flagged_at"] = pd.Series(dtype=run.answers["submitted_at"].dtype)
        for c in ("fast_suites", "suites_considered"):
            out[c] = pd.Series(dtype="int64")
        out["fastest_seconds"] = pd.Series(dtype="float64")
        return out
    out = pd.DataFrame(
        {
            "worker_id": first["worker_id"].to_numpy(),
            "pool_id": first["pool_id"].to_numpy(),
            "flagged_at": first["submitted_at"].to_numpy(),
            "fast_suites": first["fast_in_window"].to_numpy(),
            "suites_considered": first["in_window"].to_numpy(),
            "fastest_seconds": first["window_fastest"].to_numpy(),
        }
    )
    out["evidence"] = [
        f"{f} of the last {n} task suites submitted in under {thr:g} s (fastest {x:.1f} s); rule: at least {k} of {h}"
        for f, n, x in zip(out["fast_suites"], out["suites_considered"], out["fastest_seconds"], strict=True)
    ]
    out["flagged_at"] = out["flagged_at"].astype(run.answers["submitted_at"].dtype)
    return out.sort_values(["worker_id", "pool_id"], kind="stable").reset_index(drop=True)
