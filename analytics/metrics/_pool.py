"""The labeling pool's answers as integer codes and vote counts, once per run for every aggregator and figure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import kernels
from analytics.metrics._base import MetricUnavailable, category_in, kind_mask, per_run_cache, position
from analytics.model import Run


def pool_rows(run: Run) -> np.ndarray:
    """Row positions of the labeled answers of the labeling pool (regular and control tasks, suites
    not REJECTED). Computed once per run (every agreement figure and aggregator starts here)."""
    return pool_codes(run)[0]


def pool_answers(run: Run) -> int:
    """The labeled answers of the labeling pool (0 when it has none): the one count every
    large-run rule and cost model (aggregators, pairs, the cost curve) goes by."""
    try:
        return len(pool_rows(run))
    except MetricUnavailable:
        return 0


@per_run_cache
def pool_codes(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, task, worker, label) codes of the labeling pool's answers (see pool_rows), once per
    run; the arrays are read-only. Raises MetricUnavailable when the pool has no labeled answer."""
    c = run.codes
    rejected = category_in(run.answers["status"], ["REJECTED"])
    rows = np.flatnonzero(kind_mask(run, "regular", "control") & (c.label >= 0) & ~rejected)
    if len(rows) == 0:
        raise MetricUnavailable(
            "the run has no labeled answers in its labeling pool "
            "(only exam, training, rejected, skipped or expired ones)"
        )
    every = len(rows) == len(c.task)  # every answer counts: views of the run's codes, no copies
    codes = (c.task, c.worker, c.label) if every else (c.task[rows], c.worker[rows], c.label[rows])
    out = (rows.astype(np.int32 if len(c.task) < 2**31 else np.int64), *(x.view() for x in codes))
    for arr in out:
        arr.flags.writeable = False  # shared by every caller
    return out


@per_run_cache
def pool_vote_counts(run: Run) -> np.ndarray:
    """Answers per task and label of the labeling pool, (n_tasks, n_labels) float64 as
    kernels.vote_counts, counted once per run: majority vote, Wawa, alpha, Fleiss' kappa and the
    per-task agreement all start from it. Read-only."""
    _, t, _, lab = pool_codes(run)
    return kernels.vote_counts(t, lab, run.codes.n_tasks, run.codes.n_labels)


def share_pool_tables(run: Run, other: Run) -> None:
    """Hand ``other`` (a copy of ``run`` with the same answers' statuses, kinds, tasks, workers and
    labels) the labeling pool's codes and counts ``run`` has computed, so they are not counted again."""
    for table in (pool_codes, pool_vote_counts, pool_task_answers):
        if run in table.cache and other not in table.cache:
            table.cache[other] = table.cache[run]


def task_vote_counts(run: Run, task_id: str) -> np.ndarray | None:
    """One task's votes per label (in run.labels order) as the aggregators count them (labeling
    pool, rejected suites left out), or None where it has none."""
    counts = pool_vote_counts(run)
    code = position(run.codes.task_names, task_id)
    return None if code < 0 else counts[code]


@per_run_cache
def pool_task_answers(run: Run) -> np.ndarray:
    """Answers per task code in the labeling pool (int64, 0 for tasks outside it), once per run. Read-only."""
    return np.bincount(pool_codes(run)[1], minlength=run.codes.n_tasks)


@per_run_cache
def _answered_tasks(run: Run) -> tuple[np.ndarray, pd.Index]:
    """(codes, names) of the tasks with a pool answer: the tasks every method labels."""
    keep = np.flatnonzero(pool_task_answers(run) > 0)
    names = run.codes.task_names
    # every task answered (the common case): the names themselves, not a copy of 10^7 ids
    return keep, (names if len(keep) == len(names) else names.take(keep)).rename("task_id")


@dataclass(frozen=True)
class VoteShares:
    """The majority vote's probas, built when asked: each kept task's vote counts over their total."""

    counts: np.ndarray
    keep: np.ndarray
    index: pd.Index
    columns: pd.Index

    def __call__(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows(slice(None)), index=self.index, columns=self.columns)

    def rows(self, at) -> np.ndarray:
        kept = self.counts[self.keep[at]]
        return kept / kept.sum(axis=1, keepdims=True)
