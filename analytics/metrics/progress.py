"""Progress of a run over time: answers, suites and active annotators per period; the status mix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable, category_in, rate
from analytics.model import STATUSES, Run

FREQS = ("15min", "1h", "6h", "1D")


def throughput(run: Run, freq: str = "1h", pool_id: str | None = None) -> pd.DataFrame:
    """Per period (by submit time, UTC): answers, assignments, active annotators, cumulative answers.

    Index: ``period`` (start of each period, every period between the first and last submission,
    empty ones included as 0). ``active_annotators`` counts distinct annotators who submitted in
    the period. Raises MetricUnavailable without submit times.
    """
    if freq not in FREQS:
        raise ValueError(f"The 'freq' parameter of throughput must be one of {FREQS}. Got {freq!r} instead.")
    a = run.answers
    if pool_id is not None:
        a = a[a["pool_id"] == str(pool_id)]
    t = a["submitted_at"]
    if t.isna().all():
        raise MetricUnavailable(
            "progress over time needs submit times, and this run has none",
            missing_field="submitted_at",
        )
    a = a[t.notna()]
    period = a["submitted_at"].dt.floor(freq)
    g = a.groupby(period)
    out = pd.DataFrame(
        {
            "answers": g.size(),
            "assignments": g["assignment_id"].nunique() if a["assignment_id"].notna().any() else g.size() * 0,
            "active_annotators": g["worker_id"].nunique(),
        }
    )
    full = pd.date_range(out.index.min(), out.index.max(), freq=freq, tz="UTC")
    out = out.reindex(full, fill_value=0)
    out.index.name = "period"
    out["cumulative_answers"] = out["answers"].cumsum()
    return out


def status_mix(run: Run) -> pd.DataFrame:
    """Answers and assignments per assignment status (every status listed, zeros included).

    Rows whose status was not recorded (long tables) are counted under ``not recorded``.
    """
    a = run.answers
    counts = a["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    if a["assignment_id"].notna().any():
        per_assignment = (
            a.drop_duplicates("assignment_id")["status"].value_counts().reindex(list(STATUSES), fill_value=0)
        )
    else:
        per_assignment = pd.Series(0, index=list(STATUSES))
    out = pd.DataFrame({"answers": counts.astype(int), "assignments": per_assignment.astype(int)})
    missing = int(a["status"].isna().sum())
    if missing:
        out.loc["not recorded"] = [missing, 0]
    out.index.name = "status"
    out["share_of_answers"] = out["answers"] / max(1, len(a))
    return out


NO_POOL = "(no pool)"


def pool_completion(run: Run) -> pd.DataFrame:
    """Per pool: answers submitted against those its overlap asks for.

    Index ``pool_id`` (sorted; answers without a pool under "(no pool)"); columns ``name``,
    ``kind``, ``overlap`` (the pool's, else the run's for a main pool), ``tasks`` (distinct tasks
    answered in the pool), ``expected_answers`` = tasks x overlap (missing without an overlap,
    e.g. an exam pool), ``submitted_answers`` (labeled answers in SUBMITTED, ACCEPTED or REJECTED
    suites, or without a recorded status), ``accepted_answers``, ``done`` = submitted / expected.
    Counted on integer codes (a 10^7-answer run takes well under a second).
    """
    a = run.answers
    c = run.codes
    names = list(a["pool_id"].cat.categories.astype(str))
    pool = a["pool_id"].cat.codes.to_numpy().astype(np.int64)
    if (pool < 0).any():
        pool[pool < 0] = len(names)
        names.append(NO_POOL)
    n = len(names)
    status_missing = a["status"].isna().to_numpy()
    submitted = (c.label >= 0) & (status_missing | category_in(a["status"], ["SUBMITTED", "ACCEPTED", "REJECTED"]))
    accepted = category_in(a["status"], ["ACCEPTED"])
    has_task = c.task >= 0
    # distinct tasks per pool: a bincount over the tasks of each pool (few pools), not a sort of 10^7 keys
    tasks = [np.count_nonzero(np.bincount(c.task[has_task & (pool == p)], minlength=c.n_tasks)) for p in range(n)]
    out = pd.DataFrame(
        {
            "tasks": np.asarray(tasks, dtype=np.int64),
            "submitted_answers": np.bincount(pool, weights=submitted, minlength=n).astype(np.int64),
            "accepted_answers": np.bincount(pool, weights=accepted, minlength=n).astype(np.int64),
        },
        index=pd.Index(names, name="pool_id", dtype="str"),
    )
    out = out[np.bincount(pool, minlength=n) > 0].sort_index()
    info = {p.pool_id: p for p in run.meta.pools}
    overlap = []
    for p in out.index:
        pool_info = info.get(p)
        o = pool_info.overlap if pool_info is not None else None
        if o is None and (pool_info is None or pool_info.kind == "main"):
            o = run.meta.overlap
        overlap.append(o)
    out.insert(0, "name", [info[p].name if p in info else "" for p in out.index])
    out.insert(1, "kind", [info[p].kind if p in info else "" for p in out.index])
    out.insert(2, "overlap", pd.array(overlap, dtype="Int64"))
    out.insert(4, "expected_answers", (out["tasks"].astype("Int64") * out["overlap"]).astype("Int64"))
    expected = out["expected_answers"].to_numpy(dtype="float64", na_value=np.nan)
    out["done"] = rate(out["submitted_answers"].to_numpy(), np.nan_to_num(expected, nan=0.0))
    return out
