"""Vectorized numpy/scipy kernels for aggregation and agreement on integer-coded answers.

Every kernel takes parallel 1-D integer arrays with one element per answer (``task``,
``worker``, ``label`` codes in ``0..n-1``) plus the sizes ``n_tasks``, ``n_workers``,
``n_labels``. A code may have no answers: such a task gets label ``-1`` and NaN
probabilities/agreement, such a worker NaN skills/errors. Each row is one vote, repeated
answers by the same worker on the same task included, as in crowd-kit (the two exceptions,
Wawa's skills and pairwise agreement, are documented there). Label code order is the tie
order: wherever scores tie, the lowest label code wins, so no result depends on the order of
the rows.

The aggregators reproduce crowd-kit 1.4.2 (MajorityVote, Wawa, DawidSkene,
OneCoinDawidSkene) to floating-point precision; the only intended difference is the
majority-vote tie rule (crowd-kit lets the order in which labels first appear in the data
decide, see ``majority_vote``). There is no pandas in the hot paths and no crowd-kit import;
tests/test_kernels.py checks every kernel against its reference implementation.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtri

__all__ = [
    "TIE_RTOL",
    "MajorityVoteResult",
    "WawaResult",
    "DawidSkeneResult",
    "ItemAgreement",
    "WorkerCounts",
    "PairwiseAgreement",
    "WilsonInterval",
    "vote_counts",
    "majority_from_counts",
    "majority_vote",
    "wawa",
    "dawid_skene",
    "one_coin_dawid_skene",
    "krippendorff_alpha_nominal",
    "fleiss_kappa",
    "alpha_from_counts",
    "fleiss_from_counts",
    "item_agreement",
    "item_agreement_from_counts",
    "worker_accuracy",
    "pairwise_agreement",
    "wilson_interval",
]

# crowd-kit's smoothing constant (crowdkit/aggregation/classification/dawid_skene.py, _EPS):
# error-matrix entries, priors and (in the loss) posteriors are clipped below at 1e-10.
_EPS = 1e-10

# Weighted vote totals are float sums: labels that tie exactly on paper can differ in the last
# bit (skills 0.4 + 0.2 vs 0.6 give 0.6000000000000001 vs 0.6), and which one comes out ahead
# can depend on the order the rows are summed in. Scores within TIE_RTOL x (the task's total
# absolute weight) of the top score therefore count as tied. For unweighted counts (integers)
# this is exact equality: the tolerance stays below one vote up to 10^9 answers per task.
TIE_RTOL = 1e-9


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class DawidSkeneResult:
    """Result of the Dawid-Skene EM (full confusion matrices or one-coin).

    labels: (n_tasks,) int64, most probable true label (lowest code on exact ties); -1 for
        tasks without answers.
    probas: (n_tasks, n_labels) float64, posterior P(true label of task = label); NaN rows for
        tasks without answers; 0 in columns of labels no answer uses.
    priors: (n_labels,) float64, P(true label = label), the mean of ``probas`` over answered
        tasks; 0 for labels no answer uses.
    errors: (n_workers, n_labels, n_labels) float64, ``errors[w, true, observed]`` =
        P(worker w answers ``observed`` | the true label is ``true``); each ``errors[w, true]``
        sums to 1 over observed labels. Full DS normalizes over the labels the worker actually
        used (crowd-kit's M-step), so unused observed labels get 0. NaN for workers without
        answers and for true labels no answer uses (those are outside the model, as in
        crowd-kit, whose label set is the labels present in the data).
    skills: (n_workers,) float64 for the one-coin model (the worker's expected accuracy),
        None for full Dawid-Skene.
    n_iter_run: EM iterations run (= len(loss_history)).
    loss_history: (n_iter_run,) crowd-kit's per-answer evidence lower bound after each
        iteration.
    converged: True if the loss gain fell below ``tol`` before ``n_iter`` ran out.
    """

    labels: np.ndarray
    probas: np.ndarray
    priors: np.ndarray
    errors: np.ndarray
    skills: np.ndarray | None
    n_iter_run: int
    loss_history: np.ndarray
    converged: bool


@dataclass(frozen=True)
class ItemAgreement:
    """Agreement inside each task.

    n_answers: (n_tasks,) int64, answers on the task.
    majority_share: (n_tasks,) float64, share of the task's answers equal to its majority label
        (or to the given aggregate label); NaN without answers or without an aggregate label.
    entropy_bits: (n_tasks,) float64, Shannon entropy of the task's label distribution in bits
        (0 = unanimous, 1 = an even split between two labels, log2(k) = even over k labels);
        NaN without answers.
    pairwise_agreement: (n_tasks,) float64, P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)), the
        share of ordered pairs of distinct answers that agree (Fleiss 1971); NaN for n_i < 2.
    """

    n_answers: np.ndarray
    majority_share: np.ndarray
    entropy_bits: np.ndarray
    pairwise_agreement: np.ndarray


class WorkerCounts(NamedTuple):
    """Per worker: answers counted and answers correct, both (n_workers,) int64."""

    n: np.ndarray
    n_correct: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        """n_correct / n, NaN where n == 0."""
        return _safe_divide(self.n_correct, self.n)


@dataclass(frozen=True)
class PairwiseAgreement:
    """One row per pair of workers sharing at least ``min_shared`` tasks, sorted by (a, b).

    worker_a, worker_b: (n_pairs,) int64 worker codes, worker_a < worker_b.
    n_shared: (n_pairs,) int64, distinct tasks both answered.
    agreement: (n_pairs,) float64, share of shared tasks where their answers are equal.
    kappa: (n_pairs,) float64, Cohen's kappa on the shared tasks (as
        sklearn.metrics.cohen_kappa_score); NaN where chance agreement is 1 (both gave one
        and the same label on every shared task).
    """

    worker_a: np.ndarray
    worker_b: np.ndarray
    n_shared: np.ndarray
    agreement: np.ndarray
    kappa: np.ndarray


class WilsonInterval(NamedTuple):
    """Wilson score interval bounds, arrays shaped like the inputs; NaN where n == 0."""

    low: np.ndarray
    high: np.ndarray


# --------------------------------------------------------------------------------------------
# Input checks: cheap O(n) ones only (the canonical run is validated at the border; these
# catch a mis-sized code space, which bincount would otherwise turn into silent garbage).
# --------------------------------------------------------------------------------------------


def _check_size(func: str, name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"The {name!r} parameter of {func} must be an int >= 0. Got {value!r} instead.")
    return int(value)


def _check_codes(func: str, name: str, codes, size: int, size_name: str, length: int | None = None) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.ndim != 1:
        raise ValueError(f"The {name!r} parameter of {func} must be a 1-D array. Got {arr.ndim} dimensions instead.")
    if length is not None and arr.shape[0] != length:
        raise ValueError(
            f"The {name!r} parameter of {func} must have one element per answer ({length}). Got {arr.shape[0]} instead."
        )
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"The {name!r} parameter of {func} must hold integer codes. Got dtype {arr.dtype} instead.")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"The {name!r} parameter of {func} must hold codes in [0, {size_name}={size}). Got {bad} instead."
        )
    return arr.astype(np.int64, copy=False)


def _check_weights(func: str, weights, length: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (length,):
        raise ValueError(
            f"The 'weights' parameter of {func} must be a 1-D array with one element per answer ({length}). "
            f"Got shape {w.shape} instead."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"The 'weights' parameter of {func} must hold finite numbers >= 0. "
            f"Got values in [{np.nanmin(w) if w.size else 0}, {np.nanmax(w) if w.size else 0}] instead."
        )
    return w


def _safe_divide(num, den) -> np.ndarray:
    """num / den as float64, NaN where den == 0 (no warning)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    # keep a column-major count matrix column-major (see vote_counts)
    order = "F" if num.ndim == 2 and num.flags.f_contiguous and not num.flags.c_contiguous else "C"
    out = np.full(np.broadcast(num, den).shape, np.nan, order=order)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _unique_rows(cols: list[np.ndarray], sizes: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of integer columns, sorted lexicographically, with their counts.

    One combined int64 key and np.unique when the code space fits in 63 bits (the usual
    case); np.unique(axis=0) otherwise.
    """
    space = 1
    for s in sizes:
        space *= max(int(s), 1)
    if space < 2**62:
        key = np.zeros(cols[0].shape[0], dtype=np.int64)
        for c, s in zip(cols, sizes):
            key *= max(int(s), 1)
            key += c
        uniq, counts = np.unique(key, return_counts=True)
        out = []
        for s in reversed(sizes):
            s = max(int(s), 1)
            out.append(uniq % s)
            uniq = uniq // s
        return out[::-1], counts
    rows, counts = np.unique(np.stack(cols, axis=1), axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], counts


# --------------------------------------------------------------------------------------------
# Majority vote and Wawa
# --------------------------------------------------------------------------------------------


def vote_counts(task, label, n_tasks: int, n_labels: int, weights=None) -> np.ndarray:
    """Votes per task and label: (n_tasks, n_labels) float64, ``[t, l]`` = answers (or summed
    weights) of label l on task t. One bincount over ``label * n_tasks + task``: the matrix is
    column-major (each label's column contiguous), so the per-task reductions over a few labels
    that every agreement figure makes run down whole columns instead of along short rows
    (3-10x faster on 10^6 tasks). The ``*_from_counts`` functions take this matrix, so several
    figures of one run can share one count."""
    func = "vote_counts"
    n_tasks = _check_size(func, "n_tasks", n_tasks)
    n_labels = _check_size(func, "n_labels", n_labels)
    task = _check_codes(func, "task", task, n_tasks, "n_tasks")
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))
    w = None if weights is None else _check_weights(func, weights, len(task))
    return _vote_counts(task, label, n_tasks, n_labels, w)


def _vote_counts(task, label, n_tasks, n_labels, weights=None) -> np.ndarray:
    counts = np.bincount(label * n_tasks + task, weights=weights, minlength=n_tasks * n_labels)
    return counts.astype(np.float64, copy=False).reshape(n_labels, n_tasks).T


def _check_counts(func: str, counts) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(
            f"The 'counts' parameter of {func} must be a (n_tasks, n_labels) array (see vote_counts). Got {c.ndim} dimensions instead."
        )
    if c.size and (not np.isfinite(c).all() or c.min() < 0):
        raise ValueError(f"The 'counts' parameter of {func} must hold finite vote counts >= 0 (see vote_counts).")
    return c


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


def _majority(counts: np.ndarray, abs_total: np.ndarray) -> MajorityVoteResult:
    total = counts.sum(axis=1)
    has = abs_total > 0
    labels, tied = _argmax_lowest(counts, abs_total)
    labels = np.where(has, labels, -1).astype(np.int64)
    tied &= has
    probas = _safe_divide(counts, total[:, None])
    probas[~has] = np.nan
    return MajorityVoteResult(labels=labels, probas=probas, tied=tied)


def majority_from_counts(counts) -> MajorityVoteResult:
    """Majority vote on a vote_counts matrix (unweighted): the same result as majority_vote on
    the answers it counts."""
    c = _check_counts("majority_from_counts", counts)
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
    n_tasks = _check_size(func, "n_tasks", n_tasks)
    n_labels = _check_size(func, "n_labels", n_labels)
    task = _check_codes(func, "task", task, n_tasks, "n_tasks")
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))
    if weights is None:
        counts = _vote_counts(task, label, n_tasks, n_labels)
        return _majority(counts, counts.sum(axis=1))
    w = _check_weights(func, weights, len(task))
    counts = _vote_counts(task, label, n_tasks, n_labels, w)
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
    n_tasks = _check_size(func, "n_tasks", n_tasks)
    n_workers = _check_size(func, "n_workers", n_workers)
    n_labels = _check_size(func, "n_labels", n_labels)
    task = _check_codes(func, "task", task, n_tasks, "n_tasks")
    worker = _check_codes(func, "worker", worker, n_workers, "n_workers", len(task))
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))

    if counts is None:
        counts = _vote_counts(task, label, n_tasks, n_labels)
    else:
        counts = _check_counts(func, counts)
        if counts.shape != (n_tasks, n_labels):
            raise ValueError(
                f"The 'counts' parameter of {func} must have shape ({n_tasks}, {n_labels}). Got {counts.shape} instead."
            )
    mv = _majority(counts, counts.sum(axis=1))

    (t_u, w_u, l_u), _ = _unique_rows([task, worker, label], [n_tasks, n_workers, n_labels])
    hit = (l_u == mv.labels[t_u]).astype(np.float64)
    skills = _safe_divide(np.bincount(w_u, weights=hit, minlength=n_workers), np.bincount(w_u, minlength=n_workers))

    w = skills[worker] if len(task) else np.zeros(0)
    weighted = _vote_counts(task, label, n_tasks, n_labels, w)
    res = _majority(weighted, np.bincount(task, weights=w, minlength=n_tasks))
    return WawaResult(labels=res.labels, probas=res.probas, tied=res.tied, skills=skills, majority=mv)


# --------------------------------------------------------------------------------------------
# Dawid-Skene EM
# --------------------------------------------------------------------------------------------
#
# The EM works on compressed codes: answered tasks only (crowd-kit's priors are means over the
# tasks present in the data), labels that some answer uses (crowd-kit's label set), and
# "pairs" = the (worker, observed label) combinations that occur (crowd-kit's error matrix has
# one row per such combination; its M-step normalizes over them, so unused combinations are
# implicitly 0 and never looked up). Memory is O(answers + tasks * labels + pairs * labels).
#
# With A the sparse (task x pair) matrix of answer counts (repeated answers count twice, as
# each row is one vote in crowd-kit), one iteration is two sparse-dense products:
#   E-step  log-lik[t, c] = log prior[c] + sum_answers log e[pair, c]   ->  A @ log E
#   M-step  C[pair, c]    = sum over the pair's answers of P[t, c]      ->  A.T @ P
# and crowd-kit's loss, sum_answers sum_c P[t,c] (log e[pair,c] + log prior[c]) + H(P), is
# sum(C * log E) + C.sum(0) @ log prior + H(P), with no further pass over the answers.
# crowd-kit uses log2/exp2 in the E-step; natural logs give the same posteriors up to rounding.
#
# Speed: A.T is used as the CSC view of A (no transposed copy): scipy then scatters each task's
# posterior row into the small pair x label matrix, which stays in cache, instead of gathering
# from the large task x label one (5x faster). The E-step runs in fixed blocks of tasks on a
# thread pool (sparse products and numpy ufuncs release the GIL); block boundaries depend only
# on the number of tasks, so the sums, and the result, do not depend on the thread count.
# A is built in canonical CSR form (sorted, duplicates summed), so every sum runs in an order
# fixed by the codes, never by the row order of the input.

_BLOCK_TASKS = 1 << 14

# pairwise_agreement counts pairs in a dense array (one bincount) up to this many keys (32 M:
# 256 MB of int64 for a moment, i.e. up to ~5,800 workers); beyond it, it sorts the keys.
_DENSE_PAIR_KEYS = 1 << 25


class _EMData(NamedTuple):
    A: sp.csr_matrix  # (answered tasks x pairs) answer counts, canonical CSR
    blocks: list  # [(start, stop, A[start:stop])], fixed task blocks for the E-step
    pair_worker: np.ndarray  # (pairs,) compressed worker index of each pair
    pair_obs: np.ndarray  # (pairs,) compressed observed label of each pair
    worker_starts: np.ndarray  # pairs are sorted by worker: first pair of each worker
    worker_n: np.ndarray  # (workers present,) answers per worker
    P0: np.ndarray  # (answered tasks x labels present) majority-vote shares
    n_answers: int


def _compress(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(present codes, codes renumbered 0..k-1 in the same order) - a gather, not a search."""
    used = np.bincount(codes, minlength=size) > 0
    return np.flatnonzero(used), (np.cumsum(used) - 1)[codes]


def _prepare_em(task, worker, label, n_tasks, n_workers, n_labels):
    task_present, t = _compress(task, n_tasks)
    worker_present, w = _compress(worker, n_workers)
    label_present, lab = _compress(label, n_labels)
    T, W, K = len(task_present), len(worker_present), len(label_present)

    pair_ids, pair = _compress(w * K + lab, W * K)
    A = sp.csr_matrix((np.ones(len(t)), (t, pair)), shape=(T, len(pair_ids)))
    A.sum_duplicates()
    A.sort_indices()
    blocks = [(s, min(s + _BLOCK_TASKS, T), A[s : min(s + _BLOCK_TASKS, T)]) for s in range(0, T, _BLOCK_TASKS)]

    pair_worker = pair_ids // K
    worker_starts = np.flatnonzero(np.r_[True, pair_worker[1:] != pair_worker[:-1]])
    counts = _vote_counts(t, lab, T, K)
    data = _EMData(
        A=A,
        blocks=blocks,
        pair_worker=pair_worker,
        pair_obs=pair_ids % K,
        worker_starts=worker_starts,
        worker_n=np.bincount(w, minlength=W).astype(np.float64),
        P0=np.ascontiguousarray(counts / counts.sum(axis=1, keepdims=True)),
        n_answers=len(t),
    )
    return data, task_present, worker_present, label_present


def _ds_m_step(C: np.ndarray, d: _EMData):
    """crowd-kit DawidSkene._m_step: clip at EPS, then normalize each worker's column over the
    observed labels the worker used."""
    E = np.maximum(C, _EPS)
    E /= np.add.reduceat(E, d.worker_starts, axis=0)[d.pair_worker]
    return E, None


def _one_coin_m_step(C: np.ndarray, d: _EMData):
    """crowd-kit OneCoinDawidSkene: skill = mean over the worker's answers of P(task's true
    label = the answer); e[w, obs, true] = skill if obs == true else (1 - skill) / (K - 1),
    clipped to [EPS, 1 - EPS] (no renormalization, as in crowd-kit)."""
    n_pairs, K = C.shape
    correct = C[np.arange(n_pairs), d.pair_obs]
    skills = np.add.reduceat(correct, d.worker_starts) / d.worker_n
    s = skills[d.pair_worker]
    E = np.repeat(((1.0 - s) / max(K - 1, 1))[:, None], K, axis=1)
    E[np.arange(n_pairs), d.pair_obs] = s
    np.clip(E, _EPS, 1.0 - _EPS, out=E)
    return E, skills


def _e_step_block(A_blk, logE, log_prior, out) -> tuple[float, np.ndarray]:
    """Posteriors of one block of tasks, written into ``out``; returns the block's part of
    crowd-kit's entropy term and the column sums of the posteriors."""
    L = A_blk @ logE
    L += log_prior
    # Shift each row so its maximum is 0 before exponentiating (as crowd-kit does): products
    # of many small probabilities would otherwise underflow. numpy reduces a short last axis
    # slowly; a transposed copy turns the row max into an elementwise max of K long columns
    # (3x faster), and einsum replaces .sum(axis=1) (a BLAS product would be fast too, but
    # OpenBLAS's own threads then fight the block threads).
    L -= np.ascontiguousarray(L.T).max(axis=0)[:, None]
    np.exp(L, out=out)
    out /= np.einsum("ij->i", out)[:, None]
    # crowd-kit's entropy term: -sum p' log p' with p' = max(p, EPS) (L is reused as scratch).
    np.maximum(out, _EPS, out=L)
    P_clipped = L.ravel()
    entropy = -float(np.einsum("i,i->", P_clipped, np.log(P_clipped)))
    return entropy, np.einsum("ij->j", out)


def _run_em(d: _EMData, m_step, n_iter: int, tol: float, pool):
    P = d.P0.copy()
    T = P.shape[0]
    priors = P.mean(axis=0)
    E, skills = m_step(d.A.T @ P, d)
    logE = np.log(E)
    loss = -np.inf
    history: list[float] = []
    converged = False
    for _ in range(n_iter):
        log_prior = np.log(np.maximum(priors, _EPS))

        def block(b, logE=logE, log_prior=log_prior):
            start, stop, A_blk = b
            return _e_step_block(A_blk, logE, log_prior, P[start:stop])

        parts = list(pool.map(block, d.blocks)) if pool is not None else [block(b) for b in d.blocks]
        entropy = float(sum(p[0] for p in parts))
        priors = np.sum([p[1] for p in parts], axis=0) / T
        C = d.A.T @ P
        E, skills = m_step(C, d)
        logE = np.log(E)
        joint = float(np.sum(C * logE)) + float(C.sum(axis=0) @ np.log(np.maximum(priors, _EPS)))
        new_loss = (joint + entropy) / d.n_answers
        history.append(new_loss)
        # crowd-kit's stopping rule: stop once an iteration gains less than tol (or loses).
        if new_loss - loss < tol:
            converged = True
            break
        loss = new_loss
    return P, priors, E, skills, history, converged


def _n_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _dawid_skene(func, task, worker, label, n_tasks, n_workers, n_labels, n_iter, tol, one_coin):
    n_tasks = _check_size(func, "n_tasks", n_tasks)
    n_workers = _check_size(func, "n_workers", n_workers)
    n_labels = _check_size(func, "n_labels", n_labels)
    n_iter = _check_size(func, "n_iter", n_iter)
    if not isinstance(tol, (int, float)) or np.isnan(tol):
        # -inf is allowed: it disables the stopping rule (exactly n_iter iterations).
        raise ValueError(f"The 'tol' parameter of {func} must be a float (not NaN). Got {tol!r} instead.")
    task = _check_codes(func, "task", task, n_tasks, "n_tasks")
    worker = _check_codes(func, "worker", worker, n_workers, "n_workers", len(task))
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))

    labels = np.full(n_tasks, -1, dtype=np.int64)
    probas = np.full((n_tasks, n_labels), np.nan)
    priors = np.zeros(n_labels)
    errors = np.full((n_workers, n_labels, n_labels), np.nan)
    skills = np.full(n_workers, np.nan) if one_coin else None
    if len(task) == 0:
        priors[:] = np.nan
        return DawidSkeneResult(labels, probas, priors, errors, skills, 0, np.zeros(0), False)

    d, tp, wp, lp = _prepare_em(task, worker, label, n_tasks, n_workers, n_labels)
    m_step = _one_coin_m_step if one_coin else _ds_m_step
    n_threads = min(_n_threads(), len(d.blocks))
    if n_threads > 1 and n_iter > 0:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            P, pri, E, sk, history, converged = _run_em(d, m_step, n_iter, tol, pool)
    else:
        P, pri, E, sk, history, converged = _run_em(d, m_step, n_iter, tol, None)

    probas[tp] = 0.0
    probas[np.ix_(tp, lp)] = P
    labels[tp] = lp[np.argmax(P, axis=1)]  # np.argmax: first maximum, i.e. the lowest code
    priors[lp] = pri
    # errors[w, true, observed]: true labels outside the data stay NaN; observed labels the
    # worker never used are 0 for full DS (its normalization excludes them) and follow the
    # one-coin formula for the one-coin model, whose matrix is defined for every label present.
    K = len(lp)
    if one_coin:
        off = np.clip((1.0 - sk) / max(K - 1, 1), _EPS, 1.0 - _EPS)
        dense = np.broadcast_to(off[:, None, None], (len(wp), K, K)).copy()
        dense[:, np.arange(K), np.arange(K)] = np.clip(sk, _EPS, 1.0 - _EPS)[:, None]
        skills[wp] = sk
    else:
        dense = np.zeros((len(wp), K, K))
        dense[d.pair_worker, :, d.pair_obs] = E
    per_worker = np.zeros((len(wp), n_labels, n_labels))
    per_worker[:, lp[:, None], lp[None, :]] = dense
    per_worker[:, np.setdiff1d(np.arange(n_labels), lp), :] = np.nan
    errors[wp] = per_worker
    return DawidSkeneResult(
        labels=labels,
        probas=probas,
        priors=priors,
        errors=errors,
        skills=skills,
        n_iter_run=len(history),
        loss_history=np.asarray(history, dtype=np.float64),
        converged=converged,
    )


def dawid_skene(
    task, worker, label, n_tasks: int, n_workers: int, n_labels: int, n_iter: int = 100, tol: float = 1e-5
) -> DawidSkeneResult:
    """Dawid-Skene EM with a full confusion matrix per worker, step for step as crowd-kit's
    DawidSkene(n_iter, tol) (Dawid & Skene 1979, doi:10.2307/2346806).

    Initialization: posteriors P = majority-vote shares (not labels, so the tie rule does not
    enter), priors = mean of P over answered tasks, errors = M-step(P). Each iteration: E-step
    P[t] ~ prior * prod_answers e[w, observed, .] (priors clipped at 1e-10); priors = mean(P);
    M-step e[w, obs, c] = sum of P[t, c] over w's answers obs, clipped at 1e-10, normalized over
    the observed labels w used; loss = crowd-kit's ELBO per answer. Stops after ``n_iter``
    iterations or as soon as the loss gains less than ``tol``. Cost per iteration: two sparse
    products over the answers, O(answers * labels).
    """
    return _dawid_skene("dawid_skene", task, worker, label, n_tasks, n_workers, n_labels, n_iter, tol, False)


def one_coin_dawid_skene(
    task, worker, label, n_tasks: int, n_workers: int, n_labels: int, n_iter: int = 100, tol: float = 1e-5
) -> DawidSkeneResult:
    """One-coin Dawid-Skene, step for step as crowd-kit's OneCoinDawidSkene(n_iter, tol)
    (Zhang, Chen, Zhou & Jordan 2016, arXiv:1406.3824).

    As ``dawid_skene`` except the M-step: skill[w] = mean over w's answers of P(true label =
    the answer); e[w, obs, true] = skill if obs == true else (1 - skill) / (K - 1), K = labels
    present in the data, clipped to [1e-10, 1 - 1e-10]. ``skills`` holds skill[w].
    """
    return _dawid_skene("one_coin_dawid_skene", task, worker, label, n_tasks, n_workers, n_labels, n_iter, tol, True)


# --------------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------------


def krippendorff_alpha_nominal(task, label, n_tasks: int, n_labels: int) -> float:
    """Krippendorff's alpha for nominal data with missing values, from per-task label counts.

    With n_uc = answers of label c on unit u and m_u = answers on u, only units with m_u >= 2
    are pairable. Coincidences o_cc = sum_u n_uc (n_uc - 1) / (m_u - 1), n_c = sum_u n_uc,
    n = sum_c n_c, and

        alpha = 1 - (n - 1) * (n - sum_c o_cc) / (n^2 - sum_c n_c^2)

    (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", nominal case). Who the
    coder is does not enter the nominal coefficient, so no coder x unit matrix is built and
    each answer counts, repeated ones included. Equals ``krippendorff.alpha(...,
    level_of_measurement='nominal')``. NaN when undefined: no pairable unit, or a single label
    among the pairable answers (expected disagreement 0; the package raises or returns NaN).
    """
    return _alpha(_checked_counts("krippendorff_alpha_nominal", task, label, n_tasks, n_labels))


def _checked_counts(func: str, task, label, n_tasks, n_labels) -> np.ndarray:
    n_tasks = _check_size(func, "n_tasks", n_tasks)
    n_labels = _check_size(func, "n_labels", n_labels)
    task = _check_codes(func, "task", task, n_tasks, "n_tasks")
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))
    return _vote_counts(task, label, n_tasks, n_labels)


def alpha_from_counts(counts) -> float:
    """krippendorff_alpha_nominal on a vote_counts matrix (one count shared by several figures)."""
    return _alpha(_check_counts("alpha_from_counts", counts))


def _alpha(counts: np.ndarray) -> float:
    m = counts.sum(axis=1)
    pairable = m >= 2
    mp = m[pairable]
    n_c = np.zeros(counts.shape[1])
    same = np.zeros(len(mp))
    for j in range(counts.shape[1]):  # column by column (see vote_counts)
        c = counts[:, j][pairable]
        n_c[j] = c.sum()
        same += c * (c - 1.0)
    n = float(n_c.sum())
    expected = n * n - float(np.sum(n_c * n_c))
    if n < 2 or expected <= 0:
        return float("nan")
    o_diag = float(np.sum(same / (mp - 1.0)))
    return float(1.0 - (n - 1.0) * (n - o_diag) / expected)


def fleiss_kappa(task, label, n_tasks: int, n_labels: int) -> float:
    """Fleiss' kappa, generalized to a varying number of answers per item.

    Over the N items with n_i >= 2 answers (others drop out), n_ij = answers of label j:

        P_i   = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))     observed agreement on item i
        P_bar = (1/N) sum_i P_i
        pi_j  = (1/N) sum_i n_ij / n_i                       mean per-item share of label j
        P_e   = sum_j pi_j^2
        kappa = (P_bar - P_e) / (1 - P_e)

    This is Gwet's generalized Fleiss kappa for missing ratings (Gwet 2014, Handbook of
    Inter-Rater Reliability, 4th ed.; R package irrCAC, ``fleiss.kappa.raw``), except that items
    with a single answer also drop out of pi_j (they carry no agreement information). Each
    item weighs the same in P_bar and in P_e, so items that got extra answers (dynamic overlap,
    typically the ambiguous ones) do not dominate chance agreement. With the same number of
    answers n on every item it is Fleiss (1971) exactly, i.e. statsmodels'
    ``fleiss_kappa(table, method='fleiss')``. NaN without items of >= 2 answers or when
    P_e == 1 (a single label).
    """
    return _fleiss(_checked_counts("fleiss_kappa", task, label, n_tasks, n_labels))


def fleiss_from_counts(counts) -> float:
    """fleiss_kappa on a vote_counts matrix (one count shared by several figures)."""
    return _fleiss(_check_counts("fleiss_from_counts", counts))


def _fleiss(counts: np.ndarray) -> float:
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return float("nan")
    mk = m[keep]
    same = np.zeros(len(mk))
    pi = np.zeros(counts.shape[1])
    for j in range(counts.shape[1]):  # column by column (see vote_counts)
        c = counts[:, j][keep]
        same += c * (c - 1.0)
        pi[j] = (c / mk).mean()
    p_i = same / (mk * (mk - 1.0))
    p_e = float(np.sum(pi * pi))
    if p_e >= 1.0:
        return float("nan")
    return float((p_i.mean() - p_e) / (1.0 - p_e))


def item_agreement(task, label, n_tasks: int, n_labels: int, aggregate=None) -> ItemAgreement:
    """Per-task agreement: answers, share agreeing with the majority (or with ``aggregate``, an
    (n_tasks,) label-code array with -1 for none), entropy in bits, pairwise agreement P_i.
    See ItemAgreement for the formulas."""
    counts = _checked_counts("item_agreement", task, label, n_tasks, n_labels)
    return _item_agreement("item_agreement", counts, aggregate)


def item_agreement_from_counts(counts, aggregate=None) -> ItemAgreement:
    """item_agreement on a vote_counts matrix (one count shared by several figures)."""
    func = "item_agreement_from_counts"
    return _item_agreement(func, _check_counts(func, counts), aggregate)


def _item_agreement(func: str, counts: np.ndarray, aggregate) -> ItemAgreement:
    n_tasks, n_labels = counts.shape
    m = counts.sum(axis=1)
    if aggregate is None:
        # The top count is the same whichever tied label wins, so no tie rule is needed here.
        top = counts.max(axis=1, initial=0.0) if n_labels else np.zeros(n_tasks)
        share = _safe_divide(top, m)
    else:
        agg = np.asarray(aggregate)
        if agg.shape != (n_tasks,) or not np.issubdtype(agg.dtype, np.integer):
            raise ValueError(
                f"The 'aggregate' parameter of {func} must be an integer array of shape ({n_tasks},). "
                f"Got shape {agg.shape} and dtype {agg.dtype} instead."
            )
        if agg.size and (agg.min() < -1 or agg.max() >= n_labels):
            raise ValueError(
                f"The 'aggregate' parameter of {func} must hold label codes in [0, n_labels={n_labels}) or -1. "
                f"Got values in [{agg.min()}, {agg.max()}] instead."
            )
        has = agg >= 0
        hit = np.zeros(n_tasks)
        hit[has] = counts[np.flatnonzero(has), agg[has]]
        share = _safe_divide(hit, m)
        share[~has] = np.nan
    # label by label, down contiguous columns: no (n_tasks, n_labels) temporaries
    entropy = np.zeros(n_tasks)
    same_pairs = np.zeros(n_tasks)
    for j in range(n_labels):
        c = counts[:, j]
        p = _safe_divide(c, m)
        on = p > 0
        entropy[on] -= p[on] * np.log2(p[on])
        same_pairs += c * (c - 1.0)
    entropy[m == 0] = np.nan
    entropy[entropy == 0] = 0.0  # no negative zero for unanimous tasks
    pairwise = _safe_divide(same_pairs, m * (m - 1.0))
    return ItemAgreement(
        n_answers=m.astype(np.int64), majority_share=share, entropy_bits=entropy, pairwise_agreement=pairwise
    )


def worker_accuracy(worker, correct, n_workers: int) -> WorkerCounts:
    """Answers and correct answers per worker (two bincounts). ``correct`` holds one bool per
    answer (answer == golden label, or == the aggregate label); pass only the answers that
    have a reference."""
    func = "worker_accuracy"
    n_workers = _check_size(func, "n_workers", n_workers)
    worker = _check_codes(func, "worker", worker, n_workers, "n_workers")
    ok = np.asarray(correct)
    if ok.shape != worker.shape or ok.dtype != np.bool_:
        raise ValueError(
            f"The 'correct' parameter of {func} must be a bool array with one element per answer "
            f"({len(worker)}). Got shape {ok.shape} and dtype {ok.dtype} instead."
        )
    n = np.bincount(worker, minlength=n_workers).astype(np.int64)
    n_correct = np.bincount(worker, weights=ok, minlength=n_workers).astype(np.int64)
    return WorkerCounts(n=n, n_correct=n_correct)


def _one_answer_per_task_worker(task, worker, label, n_workers, n_labels):
    """One label per (task, worker), rows sorted by (task, worker).

    A worker who answered a task more than once is represented by their most frequent label on
    it, the lowest code on a tie (the majority-vote tie rule applied to their own answers).
    Unlike "the first row's answer", this does not depend on row order; a caller who wants the
    latest answer should drop the earlier ones before calling.
    """
    n_tasks = int(task.max()) + 1
    (t, w, lab), cnt = _unique_rows([task, worker, label], [n_tasks, n_workers, n_labels])
    if len(t) == 0:
        return t, w, lab
    tw = t * n_workers + w if n_tasks * n_workers < 2**62 else None
    if tw is None:
        same = np.r_[False, (t[1:] == t[:-1]) & (w[1:] == w[:-1])]
    else:
        same = np.r_[False, tw[1:] == tw[:-1]]
    if not same.any():
        return t, w, lab
    group = np.cumsum(~same) - 1
    # Sorted by (group, -count), stable: within a group the highest count comes first and,
    # among equal counts, the lowest label (rows were already in ascending label order).
    order = np.lexsort((-cnt, group))
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    keep = np.sort(order[first])
    return t[keep], w[keep], lab[keep]


def pairwise_agreement(
    task, worker, label, n_workers: int, n_labels: int, min_shared: int = 10, max_task_pairs: int = 20_000_000
) -> PairwiseAgreement:
    """Observed agreement and Cohen's kappa for every pair of workers sharing >= ``min_shared``
    tasks (each worker reduced to one label per task, see below).

    Every pair of answers inside each task is listed once and named by a key a * n_workers + b;
    counting the keys (one bincount while n_workers^2 is small, a sort beyond) gives each pair's
    shared tasks, and bincounts over the qualifying pairs give agreement and the label counts.
    Kappa = 1 - (1 - p_o) / (1 - p_e), p_e = sum_c (n_a,c / n)(n_b,c / n) over the pair's shared
    tasks, which is sklearn.metrics.cohen_kappa_score on those tasks.

    Cost: time and memory O(sum_t m_t^2), m_t = distinct workers on task t. It grows with
    overlap, not with how skewed worker activity is (a worker with 10^5 answers at overlap 3
    adds at most 2 pairs per task); a task answered by thousands of workers (a shared control
    task) is what makes it large. ``max_task_pairs`` bounds sum_t m_t (m_t - 1) / 2 and raises
    a ValueError beyond it rather than exhausting memory.

    A worker who answered a task more than once counts with their most frequent label on it
    (lowest code on a tie), so the result does not depend on row order.
    """
    func = "pairwise_agreement"
    n_workers = _check_size(func, "n_workers", n_workers)
    n_labels = _check_size(func, "n_labels", n_labels)
    if isinstance(min_shared, bool) or not isinstance(min_shared, (int, np.integer)) or min_shared < 1:
        raise ValueError(f"The 'min_shared' parameter of {func} must be an int >= 1. Got {min_shared!r} instead.")
    max_task_pairs = _check_size(func, "max_task_pairs", max_task_pairs)
    # No n_tasks in this signature: the task code range only needs to be non-negative.
    task = np.asarray(task)
    n_tasks = int(task.max()) + 1 if task.size and np.issubdtype(task.dtype, np.integer) else 1
    task = _check_codes(func, "task", task, n_tasks, "max(task) + 1")
    worker = _check_codes(func, "worker", worker, n_workers, "n_workers", len(task))
    label = _check_codes(func, "label", label, n_labels, "n_labels", len(task))

    empty = PairwiseAgreement(*(np.zeros(0, dtype=np.int64),) * 3, np.zeros(0), np.zeros(0))
    if len(task) == 0:
        return empty
    t, w, lab = _one_answer_per_task_worker(task, worker, label, n_workers, n_labels)
    m_t = np.bincount(t, minlength=n_tasks)
    total_pairs = int(np.sum(m_t * (m_t - 1) // 2))
    if total_pairs > max_task_pairs:
        raise ValueError(
            f"The 'max_task_pairs' parameter of {func} allows {max_task_pairs} within-task worker pairs; "
            f"these answers have {total_pairs} (largest task: {int(m_t.max())} workers). Raise the limit "
            f"or leave out heavily shared tasks (e.g. control tasks) before calling."
        )

    # Every pair of answers inside each task, listed once: rows are sorted by (task, worker),
    # so w[i] < w[j] and the key a * n_workers + b names the unordered pair.
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    sizes = np.diff(np.r_[starts, len(t)])
    pos = np.arange(len(t)) - np.repeat(starts, sizes)
    partners = np.repeat(sizes, sizes) - pos - 1  # later rows of the same task
    i = np.repeat(np.arange(len(t)), partners)
    j = i + 1 + (np.arange(len(i)) - np.repeat(np.cumsum(partners) - partners, partners))
    key = w[i] * n_workers + w[j]
    del pos, partners
    # pair id of each listed pair (-1 where the pair shares too few tasks); pairs in key order
    if n_workers * n_workers <= _DENSE_PAIR_KEYS:
        shared_all = np.bincount(key, minlength=n_workers * n_workers)
        pair_keys = np.flatnonzero(shared_all >= min_shared)
        n_shared = shared_all[pair_keys]
        del shared_all
        lookup = np.full(n_workers * n_workers, -1, dtype=np.int64)
        lookup[pair_keys] = np.arange(len(pair_keys))
        idx = lookup[key]
        del lookup
    else:
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        q = counts >= min_shared
        pair_keys, n_shared = uniq[q], counts[q]
        idx = np.where(q, np.cumsum(q) - 1, -1)[inverse]
        del uniq, inverse, counts
    if len(pair_keys) == 0:
        return empty
    a, b = pair_keys // n_workers, pair_keys % n_workers
    ok = idx >= 0
    idx, la, lb = idx[ok], lab[i[ok]], lab[j[ok]]

    n_p = len(pair_keys)
    agree = np.bincount(idx, weights=(la == lb), minlength=n_p)
    # sum_c n_a,c * n_b,c: each worker's label counts on the pair's shared tasks
    if n_p * n_labels <= _DENSE_PAIR_KEYS:
        ca = np.bincount(idx * n_labels + la, minlength=n_p * n_labels).reshape(n_p, n_labels)
        cb = np.bincount(idx * n_labels + lb, minlength=n_p * n_labels).reshape(n_p, n_labels)
        chance = (ca * cb).sum(axis=1).astype(np.float64)
    else:
        ones = np.ones(len(idx))
        ca = sp.csr_matrix((ones, (idx, la)), shape=(n_p, n_labels))
        cb = sp.csr_matrix((ones, (idx, lb)), shape=(n_p, n_labels))
        chance = np.asarray(ca.multiply(cb).sum(axis=1)).ravel()
    n = n_shared.astype(np.float64)
    # sklearn: kappa = 1 - sum(w * confusion) / sum(w * expected), with
    # sum(w * confusion) = n - agree and sum(w * expected) = (n^2 - chance) / n.
    kappa = 1.0 - _safe_divide((n - agree) * n, n * n - chance)
    return PairwiseAgreement(worker_a=a, worker_b=b, n_shared=n_shared, agreement=agree / n, kappa=kappa)


def wilson_interval(successes, n, confidence: float = 0.95) -> WilsonInterval:
    """Wilson score interval for a binomial proportion, elementwise; NaN where n == 0.

    With p = s / n and z the two-sided normal quantile, center = (p + z^2 / 2n) / (1 + z^2 / n)
    and half-width = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n), clipped to [0, 1]
    (Wilson 1927; the same as statsmodels' proportion_confint(method='wilson')).
    """
    if not (isinstance(confidence, (float, int)) and 0.0 < confidence < 1.0):
        raise ValueError(
            f"The 'confidence' parameter of wilson_interval must be a float in (0, 1). Got {confidence!r} instead."
        )
    s = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    if np.any(nn < 0) or np.any(s < 0) or np.any(s > nn):
        raise ValueError("The 'successes' and 'n' parameters of wilson_interval must satisfy 0 <= successes <= n.")
    z = float(-ndtri((1.0 - confidence) / 2.0))
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / nn
        denom = 1.0 + z2 / nn
        center = (p + z2 / (2.0 * nn)) / denom
        half = z * np.sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn**2)) / denom
        low = np.clip(center - half, 0.0, 1.0)
        high = np.clip(center + half, 0.0, 1.0)
    empty = nn == 0
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return WilsonInterval(low=low, high=high)
