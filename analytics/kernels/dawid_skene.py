"""Dawid-Skene and one-coin Dawid-Skene EM on integer-coded answers, step for step as crowd-kit."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from analytics.kernels.checks import check_codes, check_int, param_error

try:  # scipy's sparse x dense kernel, which writes into a given buffer (private; present since 0.x)
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - a scipy without it uses the public product
    _csr_matvecs = None

__all__ = ["DawidSkeneResult", "dawid_skene", "one_coin_dawid_skene"]

# crowd-kit's smoothing constant (crowdkit/aggregation/classification/dawid_skene.py, _EPS):
# error-matrix entries, priors and (in the loss) posteriors are clipped below at 1e-10.
_EPS = 1e-10


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
# posterior row into the small pair x label matrix instead of gathering from the large task x
# label one (5x faster). The E-step runs in fixed blocks of tasks on a thread pool (sparse
# products and numpy ufuncs release the GIL); the blocks are views of A (no copies) whose
# boundaries depend only on the number of tasks, so the sums, and the result, do not depend on
# the thread count. A is built in canonical CSR form (sorted, duplicates summed), so every sum runs in an
# order fixed by the codes, never by the row order of the input.

_BLOCK_TASKS = 1 << 14
# From this many answers the E-step's exp and log run in float32 (four times faster on AVX2,
# where float64's are scalar): posteriors stay within 1e-6 of the float64 ones and the labels
# the same (tests/test_kernels.py checks both); smaller runs stay float64 throughout, step for
# step as crowd-kit to 1e-9.
FLOAT32_ANSWERS = 2_000_000


class _EMData(NamedTuple):
    A: sp.csr_matrix  # (answered tasks x pairs) answer counts, canonical CSR
    blocks: list  # [(start, stop, A[start:stop])], fixed task blocks for the E-step (views of A)
    pair_worker: np.ndarray  # (pairs,) compressed worker index of each pair
    pair_obs: np.ndarray  # (pairs,) compressed observed label of each pair
    worker_starts: np.ndarray  # pairs are sorted by worker: first pair of each worker
    worker_n: np.ndarray  # (workers present,) answers per worker
    n_answers: int


def _compress(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(present codes, codes renumbered 0..k-1 in the same order) - a gather, not a search;
    the codes themselves when every code is present."""
    used = np.bincount(codes, minlength=size) > 0
    if used.all():
        return np.arange(size), codes
    index_type = np.int32 if size < 2**31 else np.int64
    return np.flatnonzero(used), (np.cumsum(used, dtype=index_type) - 1)[codes]


def _rows(A: sp.csr_matrix, start: int, stop: int) -> sp.csr_matrix:
    """Rows start..stop of a canonical CSR matrix as a view (no copy of its data or indices)."""
    a, b = A.indptr[start], A.indptr[stop]
    view = sp.csr_matrix(
        (A.data[a:b], A.indices[a:b], A.indptr[start : stop + 1] - a), shape=(stop - start, A.shape[1]), copy=False
    )
    view.has_canonical_format = True
    return view


def _prepare_em(task, worker, label, n_tasks, n_workers, n_labels):
    task_present, t = _compress(task, n_tasks)
    worker_present, w = _compress(worker, n_workers)
    label_present, lab = _compress(label, n_labels)
    T, W, K = len(task_present), len(worker_present), len(label_present)

    pair_ids, pair = _compress(w.astype(np.int64) * K + lab, W * K)
    A = sp.coo_matrix((np.ones(len(t)), (t, pair)), shape=(T, len(pair_ids))).tocsr()
    A.sum_duplicates()
    A.sort_indices()
    blocks = [(s, min(s + _BLOCK_TASKS, T), _rows(A, s, min(s + _BLOCK_TASKS, T))) for s in range(0, T, _BLOCK_TASKS)]

    pair_worker = pair_ids // K
    worker_starts = np.flatnonzero(np.r_[True, pair_worker[1:] != pair_worker[:-1]])
    # votes per task and label, counted in A's row order (tasks in turn: the writes go forward,
    # not all over a T x K array as in answer order)
    rows = np.repeat(np.arange(T, dtype=np.int64), np.diff(A.indptr))
    rows *= K
    rows += (pair_ids % K)[A.indices]
    counts = np.bincount(rows, weights=A.data, minlength=T * K).reshape(T, K)
    del rows
    counts /= counts.sum(axis=1, keepdims=True)
    data = _EMData(
        A=A,
        blocks=blocks,
        pair_worker=pair_worker,
        pair_obs=pair_ids % K,
        worker_starts=worker_starts,
        worker_n=np.bincount(w, minlength=W).astype(np.float64),
        n_answers=len(t),
    )
    return data, counts, task_present, worker_present, label_present


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


_SCRATCH = threading.local()  # each E-step thread's block buffers, reused across blocks and iterations


def _scratch(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """This thread's float64 and float32 buffers of at least ``shape`` (views of that shape): a
    fresh 650 KB array per block and iteration costs more in page faults than the product."""
    have = getattr(_SCRATCH, "buffers", None)
    if have is None or have[0].shape[0] < shape[0] or have[0].shape[1] != shape[1]:
        have = (np.empty(shape), np.empty(shape, dtype=np.float32))
        _SCRATCH.buffers = have
    return have[0][: shape[0]], have[1][: shape[0]]


def _product_into(A_blk: sp.csr_matrix, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = A_blk @ X without allocating: scipy's own kernel (csr_matvecs accumulates into a
    zeroed buffer); the public product where that private entry point is missing."""
    if _csr_matvecs is None:
        out[:] = A_blk @ X
        return out
    out.fill(0.0)
    n_rows, n_cols = A_blk.shape
    _csr_matvecs(n_rows, n_cols, X.shape[1], A_blk.indptr, A_blk.indices, A_blk.data, X.ravel(), out.ravel())
    return out


def _e_step_block(A_blk, logE, log_prior, out, single: bool = False) -> tuple[float, np.ndarray]:
    """Posteriors of one block of tasks, written into ``out``; returns the block's part of
    crowd-kit's entropy term and the column sums of the posteriors. ``single``: the exp and
    log run in float32 (see FLOAT32_ANSWERS), the sums in float64."""
    L, L32 = _scratch(out.shape)
    _product_into(A_blk, logE, L)
    L += log_prior
    # Shift each row so its maximum is 0 before exponentiating (as crowd-kit does): products
    # of many small probabilities would otherwise underflow. numpy reduces a short last axis
    # slowly; a transposed copy turns the row max into an elementwise max of K long columns
    # (3x faster), and einsum replaces .sum(axis=1) (a BLAS product would be fast too, but
    # OpenBLAS's own threads then fight the block threads).
    L -= np.ascontiguousarray(L.T).max(axis=0)[:, None]
    if single:
        # After the shift the largest entry of each row is 0, so float32's relative error
        # (6e-8) in exp(L) is an absolute error under 1e-7 in each posterior.
        L32[:] = L
        np.exp(L32, out=L32)
        out[:] = L32
    else:
        np.exp(L, out=out)
    row_sums = np.einsum("ij->i", out)
    out /= row_sums[:, None]
    if single:
        # crowd-kit's entropy term -sum p log p is, as p = exp(L) / row sum, sum(log row sum) -
        # sum(p L): one pass instead of a clip, a float32 log and its widening. It leaves out
        # crowd-kit's clip of p at EPS: under 2.3e-9 per clipped posterior, i.e. under 1e-8
        # per answer in the loss, inside the 1e-6 the float32 path keeps.
        entropy = float(np.log(row_sums).sum()) - float(np.einsum("ij,ij->", out, L))
    else:
        # crowd-kit's entropy term: -sum p' log p' with p' = max(p, EPS) (L is reused as scratch).
        np.maximum(out, _EPS, out=L)
        P_clipped = L.ravel()
        entropy = -float(np.einsum("i,i->", P_clipped, np.log(P_clipped)))
    return entropy, np.einsum("ij->j", out)


def _run_em(d: _EMData, P: np.ndarray, m_step, n_iter: int, tol: float, pool):
    """EM from the starting posteriors ``P`` (answered tasks x labels present; updated in place)."""
    single = d.n_answers >= FLOAT32_ANSWERS
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
            return _e_step_block(A_blk, logE, log_prior, P[start:stop], single)

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
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    n_workers = check_int(n_workers, "n_workers", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    n_iter = check_int(n_iter, "n_iter", func, low=0)
    if not isinstance(tol, (int, float)) or np.isnan(tol):
        # -inf is allowed: it disables the stopping rule (exactly n_iter iterations).
        raise param_error(func, "tol", "be a float (not NaN)", repr(tol))
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    worker = check_codes(worker, "worker", func, n_workers, "n_workers", len(task))
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))

    def outputs():  # allocated after EM, not held beside its own (tasks x labels) floats
        return (
            np.full(n_tasks, -1, dtype=np.int64),
            np.zeros(n_labels),
            np.full((n_workers, n_labels, n_labels), np.nan),
            np.full(n_workers, np.nan) if one_coin else None,
        )

    if len(task) == 0:
        labels, priors, errors, skills = outputs()
        priors[:] = np.nan
        probas = np.full((n_tasks, n_labels), np.nan)
        return DawidSkeneResult(labels, probas, priors, errors, skills, 0, np.zeros(0), False)

    d, start, tp, wp, lp = _prepare_em(task, worker, label, n_tasks, n_workers, n_labels)
    m_step = _one_coin_m_step if one_coin else _ds_m_step
    n_threads = min(_n_threads(), len(d.blocks))
    if n_threads > 1 and n_iter > 0:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            P, pri, E, sk, history, converged = _run_em(d, start, m_step, n_iter, tol, pool)
    else:
        P, pri, E, sk, history, converged = _run_em(d, start, m_step, n_iter, tol, None)
    del start  # P itself
    labels, priors, errors, skills = outputs()
    if len(tp) == n_tasks and len(lp) == n_labels:
        probas = P  # every task and label present: the posteriors are the probas, no copy
    else:
        probas = np.full((n_tasks, n_labels), np.nan)
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
