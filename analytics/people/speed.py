"""One annotator's speed against the pools they worked in: seconds per task per pool and a histogram."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.metrics import registry
from analytics.metrics._base import MetricUnavailable
from analytics.model import Run
from analytics.people._codes import worker_code

# bins of the speed histograms (speed_vs_pool): the last bin is open-ended at the pools' 99th percentile
SPEED_BINS = 30
SPEED_TOP_QUANTILE = 0.99


@dataclass(frozen=True)
class SpeedComparison:
    """One annotator's seconds per task against everyone's in the pools they worked in.

    ``by_pool``: index ``pool_id``; columns ``kind`` (the pool's kind), ``suites`` and
    ``median_seconds_per_task`` (theirs), ``pool_suites``, ``pool_annotators`` and
    ``pool_median_seconds_per_task`` (every annotator's suites in the pool, theirs included),
    ``ratio`` = theirs / the pool's.
    ``histogram``: ``bin_left``, ``bin_right`` (seconds per task; the last bin also holds
    everything above it), ``count`` / ``share`` (theirs) and ``pool_count`` / ``pool_share``.
    ``median_seconds_per_task`` (over all their timed suites, = speed.worker_speed) and
    ``pool_median_seconds_per_task`` (over all timed suites of those pools); ``suites`` and
    ``pool_suites`` count them.
    """

    worker_id: str
    by_pool: pd.DataFrame
    histogram: pd.DataFrame
    median_seconds_per_task: float
    pool_median_seconds_per_task: float
    suites: int
    pool_suites: int


def speed_vs_pool(run: Run, worker_id: str, suites: pd.DataFrame | None = None) -> SpeedComparison:
    """How fast one annotator works against the pools they worked in (see SpeedComparison).

    A suite counts when it has a duration (speed.assignment_speed; pass ``suites`` to reuse a
    computed one). Raises MetricUnavailable where the run has no times or the annotator no timed
    suite, ValueError for an unknown annotator.
    """
    worker_code(run, worker_id, "speed_vs_pool")
    s = registry.compute(run, "assignment_speed") if suites is None else suites
    s = s[s["seconds_per_task"].notna()]
    mine = (s["worker_id"] == str(worker_id)).to_numpy()
    if not mine.any():
        raise MetricUnavailable(f"annotator {worker_id} has no submitted task suite with a duration")
    pools = pd.unique(s.loc[mine, "pool_id"])
    s = s[s["pool_id"].isin(pools)]
    mine = (s["worker_id"] == str(worker_id)).to_numpy()
    kinds = {p.pool_id: p.kind for p in run.meta.pools}
    g_all = s.groupby("pool_id", sort=True)
    g_me = s[mine].groupby("pool_id", sort=True)
    by_pool = pd.DataFrame(
        {
            "kind": [kinds.get(str(p), "") for p in g_all.size().index],
            "suites": g_me.size().reindex(g_all.size().index).fillna(0).astype(np.int64).to_numpy(),
            "median_seconds_per_task": g_me["seconds_per_task"].median().reindex(g_all.size().index).to_numpy(),
            "pool_suites": g_all.size().astype(np.int64).to_numpy(),
            "pool_annotators": g_all["worker_id"].nunique().astype(np.int64).to_numpy(),
            "pool_median_seconds_per_task": g_all["seconds_per_task"].median().to_numpy(),
        },
        index=pd.Index(g_all.size().index.astype(str), name="pool_id"),
    )
    by_pool["ratio"] = by_pool["median_seconds_per_task"] / by_pool["pool_median_seconds_per_task"]

    x_all = s["seconds_per_task"].to_numpy(dtype=np.float64)
    x_me = x_all[mine]
    top = float(np.quantile(x_all, SPEED_TOP_QUANTILE))
    if top <= 0:
        top = float(np.max(x_all)) or 1.0
    edges = np.linspace(0.0, top, SPEED_BINS + 1)
    pool_n, _ = np.histogram(np.clip(x_all, 0, top), bins=edges)
    me_n, _ = np.histogram(np.clip(x_me, 0, top), bins=edges)
    histogram = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "count": me_n.astype(np.int64),
            "share": me_n / me_n.sum(),
            "pool_count": pool_n.astype(np.int64),
            "pool_share": pool_n / pool_n.sum(),
        }
    )
    return SpeedComparison(
        str(worker_id),
        by_pool,
        histogram,
        float(np.median(x_me)),
        float(np.median(x_all)),
        int(mine.sum()),
        int(len(x_all)),
    )
