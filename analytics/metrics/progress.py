"""Progress of a run over time: answers, suites and active annotators per period; the status mix."""

from __future__ import annotations

import pandas as pd

from analytics.metrics._base import MetricUnavailable
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
            missing_field="ASSIGNMENT:submitted",
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
        per_assignment = a.drop_duplicates("assignment_id")["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    else:
        per_assignment = pd.Series(0, index=list(STATUSES))
    out = pd.DataFrame({"answers": counts.astype(int), "assignments": per_assignment.astype(int)})
    missing = int(a["status"].isna().sum())
    if missing:
        out.loc["not recorded"] = [missing, 0]
    out.index.name = "status"
    out["share_of_answers"] = out["answers"] / max(1, len(a))
    return out
