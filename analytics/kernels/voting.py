"""Majority vote and Wawa on integer-coded answers, with the lowest-code tie rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.kernels._arrays import count_votes, safe_divide, unique_rows
from analytics.kernels.checks import check_codes, check_counts, check_int, check_weights

__all__ = [
    "TIE_RTOL",
    "MajorityVoteResult",
    "WawaResult",
    "vote_counts",
    "majority_from_counts",
    "majority_choice",
    "majority_vote",
    "tied_tasks",
    "wawa",
]

# Weighted vote totals are float sums: labels that tie exactly on paper can differ in the last
# bit (skills 0.4 + 0.2 vs 0.6 give 0.6000000000000001 vs 0.6), and which one comes out ahead
# can depend on the order the rows are summed in. Scores within TIE_RTOL x (the task's total
# absolute weight) of the top score therefore count as tied. For unweighted counts (integers)
# this is exact equality: the tolerance stays below one vote up to 10^9 answers per task.
TIE_RTOL = 1e-9


@dataclass(frozen=True)
class MajorityVoteResult:
    """Majority vote per task.

    labels: (n_tasks,) int64, winning label code; -1 where the task has no answers (or its
        answers' total weight is 0).
    probas: (n_tasks, n_labels) float64, vote share of each label (weighted share with
        weights); rows sum to 1; NaN rows where ``labels == -1``.
    tied: (n_tasks,) bool, True where two or more labels share the top score (the lowest
        code among them won).
    """

    labels: np.ndarray
    probas: np.ndarray
    tied: np.ndarray

    @property
    def n_tied(self) -> int:
        """Number of tasks whose label was decided by the tie rule."""
        return int(self.tied.sum())


@dataclass(frozen=True)
class WawaResult:
    """Wawa (worker agreement with aggregate) per task and worker.

    labels, probas, tied: as in MajorityVoteResult, for the skill-weighted vote.
    skills: (n_workers,) float64, share of the worker's distinct (task, label) answers that
        equal the plain majority label; NaN for workers without answers.
    majority: the first-step (unweighted) MajorityVoteResult the skills were measured against.
    """

    labels: np.ndarray
    probas: np.ndarray
    tied: np.ndarray
    skills: np.ndarray
    majority: MajorityVoteResult

    @property
    def n_tied(self) -> int:
        """Number of tasks whose weighted vote was decided by the tie rule."""
        return int(self.tied.sum())


def vote_counts(task, label, n_tasks: int, n_labels: int, weights=None) -> np.ndarray:
    """Votes per task and label: (n_tasks, n_labels) float64, ``[t, l]`` = answers (or summed
    weights) of label l on task t. One bincount over ``label * n_tasks + task``: the matrix is
    column-major (each label's column contiguous), so the per-task reductions over a few labels
    that every agreement figure makes run down whole columns instead of along short rows
    (3-10x faster on 10^6 tasks). The ``*_from_counts`` functions take this matrix, so several
    figures of one run can share one count."""
    func = "vote_counts"
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))
    w = None if weights is None else check_weights(weights, "weights", func, len(task))
    return count_votes(task, label, n_tasks, n_labels, w)


def _argmax_lowest(scores: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise argmax with the lowest column winning ties (within TIE_RTOL * scale).

    Column by column, from the last label to the first, so that the lowest tied code is written
    last: K passes down contiguous columns of a column-major matrix."""
    n, k = scores.shape
    if k == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    threshold = scores.max(axis=1) - TIE_RTOL * scale
    best = np.zeros(n, dtype=np.int64)
    n_top = np.zeros(n, dtype=np.int8 if k < 128 else np.int64)
    for j in range(k - 1, -1, -1):
        hit = scores[:, j] >= threshold
        best[hit] = j
        n_top += hit
    return best, n_top > 1


def _winners(counts: np.ndarray, abs_total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, tied, has): the majority's label per task (-1 where none), its ties, which tasks have one."""
    has = abs_total > 0
    labels, tied = _argmax_lowest(counts, abs_total)
    labels = np.where(has, labels, -1).astype(np.int64)
    tied &= has
    return labels, tied, has


def _majority(counts: np.ndarray, abs_total: np.ndarray) -> MajorityVoteResult:
    labels, tied, has = _winners(counts, abs_total)
    probas = safe_divide(counts, counts.sum(axis=1)[:, None])
    probas[~has] = np.nan
    return MajorityVoteResult(labels=labels, probas=probas, tied=tied)


def majority_choice(counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, tied, share) of majority_from_counts on a vote_counts matrix (unweighted): its labels
    and ties, and per task the chosen label's vote share (its probas at the label; NaN where none)
    without the (tasks x labels) matrix of every share (120 MB at 3 M tasks x 5 labels)."""
    c = check_counts(counts, "counts", "majority_choice")
    total = c.sum(axis=1)
    labels, tied, has = _winners(c, total)
    share = np.full(len(labels), np.nan)
    rows = np.flatnonzero(has)
    share[rows] = c[rows, labels[rows]] / total[rows]
    return labels, tied, share


def tied_tasks(probas: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per task: does another label's probability equal the chosen label's (to TIE_RTOL x max(p, 1))?
    False where no label was chosen (-1). A column at a time: no (tasks x labels) temporaries."""
    tied = np.zeros(len(labels), dtype=bool)
    ok = labels >= 0
    if ok.any():
        rows = slice(None) if ok.all() else np.flatnonzero(ok)  # every task labeled: no copy of the probas
        p = probas[rows]
        top = p[np.arange(len(p)), labels[rows]]
        tol = TIE_RTOL * np.maximum(np.abs(top), 1.0)
        close = np.zeros(len(p), dtype=np.int16)
        for j in range(p.shape[1]):
            close += np.abs(p[:, j] - top) <= tol
        tied[rows] = close > 1
    return tied


def majority_from_counts(counts) -> MajorityVoteResult:
    """Majority vote on a vote_counts matrix (unweighted): the same result as majority_vote on
    the answers it counts."""
    c = check_counts(counts, "counts", "majority_from_counts")
    return _majority(c, c.sum(axis=1))


def majority_vote(task, label, n_tasks: int, n_labels: int, weights=None) -> MajorityVoteResult:
    """Majority vote (crowd-kit MajorityVote): the label with the most votes, or the largest
    summed weight when ``weights`` (one non-negative number per answer) is given.

    probas are the vote shares, ``counts / counts.sum(axis=1)``, exactly what
    ``MajorityVote().fit_predict_proba`` returns (plus zero columns for unused labels).

    Tie rule: when several labels share the top score, the lowest label code among them wins.
    The result depends only on the multiset of answers, never on row order. (crowd-kit instead
    picks the tied label that first appears in the data, so shuffling rows changes its labels;
    it agrees with this rule when the rows are sorted by label code.) Weighted scores within
    TIE_RTOL of the top, relative to the task's total weight, count as tied, so that float
    summation order cannot decide either.
    """
    func = "majority_vote"
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))
    if weights is None:
        counts = count_votes(task, label, n_tasks, n_labels)
        return _majority(counts, counts.sum(axis=1))
    w = check_weights(weights, "weights", func, len(task))
    counts = count_votes(task, label, n_tasks, n_labels, w)
    abs_total = np.bincount(task, weights=np.abs(w), minlength=n_tasks)
    return _majority(counts, abs_total)


def wawa(task, worker, label, n_tasks: int, n_workers: int, n_labels: int, counts=None) -> WawaResult:
    """Wawa, as crowd-kit's Wawa: (1) majority vote with our tie rule; (2) skill of each worker
    = share of their answers equal to the majority label; (3) majority vote weighted by skill.

    In step 2 crowd-kit's get_accuracy drops duplicate (task, worker, label) rows before
    averaging, so a worker who submitted the same answer twice is counted once there (but
    twice in both votes); this kernel does the same. Every answered task keeps a positive
    total weight: its majority label is some worker's answer, so that worker's skill is > 0.
    ``counts``, when given, is ``vote_counts(task, label, n_tasks, n_labels)`` already computed.
    """
    func = "wawa"
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    n_workers = check_int(n_workers, "n_workers", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    worker = check_codes(worker, "worker", func, n_workers, "n_workers", len(task))
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))

    if counts is None:
        counts = count_votes(task, label, n_tasks, n_labels)
    else:
        counts = check_counts(counts, "counts", func, shape=(n_tasks, n_labels))
    mv = _majority(counts, counts.sum(axis=1))

    (t_u, w_u, l_u), _ = unique_rows([task, worker, label], [n_tasks, n_workers, n_labels])
    hit = (l_u == mv.labels[t_u]).astype(np.float64)
    skills = safe_divide(np.bincount(w_u, weights=hit, minlength=n_workers), np.bincount(w_u, minlength=n_workers))

    w = skills[worker] if len(task) else np.zeros(0)
    weighted = count_votes(task, label, n_tasks, n_labels, w)
    res = _majority(weighted, np.bincount(task, weights=w, minlength=n_tasks))
    return WawaResult(labels=res.labels, probas=res.probas, tied=res.tied, skills=skills, majority=mv)


# --------------------------------------------------------------------------------------------
# Dawid-Skene EM
