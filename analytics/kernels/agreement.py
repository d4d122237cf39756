"""Agreement on integer-coded answers: Krippendorff alpha, Fleiss kappa, per task, per worker, worker pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analytics.kernels._arrays import count_votes, order_by, safe_divide, task_runs, tasks_with_repeats, unique_rows
from analytics.kernels.checks import check_codes, check_counts, check_int, key_dtype, param_error

__all__ = [
    "ItemAgreement",
    "WorkerCounts",
    "PairwiseAgreement",
    "krippendorff_alpha_nominal",
    "fleiss_kappa",
    "alpha_from_counts",
    "fleiss_from_counts",
    "item_agreement",
    "item_agreement_from_counts",
    "worker_accuracy",
    "pairwise_agreement",
]

# pairwise_agreement counts pairs in a dense array up to this many keys (32 M: 256 MB of int64,
# i.e. up to ~5,800 workers); beyond it, it sorts each chunk's keys and merges the counts.
_DENSE_PAIR_KEYS = 1 << 25
# within-task pairs listed at a time: tasks are taken in chunks of about this many pairs, so
# memory stays bounded (~400 MB of pair listing) whatever the size of the run; a run within one
# chunk (10^7 answers at overlap 3) lists its pairs once and keeps them for the second pass
_CHUNK_PAIRS = 1 << 24


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
        return safe_divide(self.n_correct, self.n)


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
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))
    return count_votes(task, label, n_tasks, n_labels)


def alpha_from_counts(counts) -> float:
    """krippendorff_alpha_nominal on a vote_counts matrix (one count shared by several figures)."""
    return _alpha(check_counts(counts, "counts", "alpha_from_counts"))


def _alpha(counts: np.ndarray) -> float:
    m = counts.sum(axis=1)
    pairable = m >= 2
    mp = m[pairable]
    n_c = np.zeros(counts.shape[1])
    same = np.zeros(len(mp))
    every = bool(pairable.all())  # the usual case: no copy of each column
    for j in range(counts.shape[1]):  # column by column (see vote_counts)
        c = counts[:, j] if every else counts[:, j][pairable]
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
    return _fleiss(check_counts(counts, "counts", "fleiss_from_counts"))


def _fleiss(counts: np.ndarray) -> float:
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return float("nan")
    mk = m[keep]
    same = np.zeros(len(mk))
    pi = np.zeros(counts.shape[1])
    every = bool(keep.all())  # the usual case: no copy of each column
    for j in range(counts.shape[1]):  # column by column (see vote_counts)
        c = counts[:, j] if every else counts[:, j][keep]
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
    return _item_agreement(func, check_counts(counts, "counts", func), aggregate)


def _item_agreement(func: str, counts: np.ndarray, aggregate) -> ItemAgreement:
    n_tasks, n_labels = counts.shape
    m = counts.sum(axis=1)
    if aggregate is None:
        # The top count is the same whichever tied label wins, so no tie rule is needed here.
        top = counts.max(axis=1, initial=0.0) if n_labels else np.zeros(n_tasks)
        share = safe_divide(top, m)
    else:
        agg = np.asarray(aggregate)
        if agg.shape != (n_tasks,) or not np.issubdtype(agg.dtype, np.integer):
            raise param_error(
                func,
                "aggregate",
                f"be an integer array of shape ({n_tasks},)",
                f"shape {agg.shape} and dtype {agg.dtype}",
            )
        if agg.size and (agg.min() < -1 or agg.max() >= n_labels):
            raise param_error(
                func,
                "aggregate",
                f"hold label codes in [0, n_labels={n_labels}) or -1",
                f"values in [{agg.min()}, {agg.max()}]",
            )
        has = agg >= 0
        hit = np.zeros(n_tasks)
        hit[has] = counts[np.flatnonzero(has), agg[has]]
        share = safe_divide(hit, m)
        share[~has] = np.nan
    # label by label, down contiguous columns: no (n_tasks, n_labels) temporaries
    entropy = np.zeros(n_tasks)
    same_pairs = np.zeros(n_tasks)
    for j in range(n_labels):
        c = counts[:, j]
        p = safe_divide(c, m)
        on = p > 0
        entropy[on] -= p[on] * np.log2(p[on])
        same_pairs += c * (c - 1.0)
    entropy[m == 0] = np.nan
    entropy[entropy == 0] = 0.0  # no negative zero for unanimous tasks
    pairwise = safe_divide(same_pairs, m * (m - 1.0))
    return ItemAgreement(
        n_answers=m.astype(np.int64), majority_share=share, entropy_bits=entropy, pairwise_agreement=pairwise
    )


def worker_accuracy(worker, correct, n_workers: int) -> WorkerCounts:
    """Answers and correct answers per worker (two bincounts). ``correct`` holds one bool per
    answer (answer == golden label, or == the aggregate label); pass only the answers that
    have a reference."""
    func = "worker_accuracy"
    n_workers = check_int(n_workers, "n_workers", func, low=0)
    worker = check_codes(worker, "worker", func, n_workers, "n_workers")
    ok = np.asarray(correct)
    if ok.shape != worker.shape or ok.dtype != np.bool_:
        raise param_error(
            func,
            "correct",
            f"be a bool array with one element per answer ({len(worker)})",
            f"shape {ok.shape} and dtype {ok.dtype}",
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
    (t, w, lab), cnt = unique_rows([task, worker, label], [n_tasks, n_workers, n_labels])
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
    counting the keys gives each pair's shared tasks, and bincounts over the qualifying pairs give
    agreement and the label counts. Kappa = 1 - (1 - p_o) / (1 - p_e), p_e = sum_c (n_a,c / n)
    (n_b,c / n) over the pair's shared tasks, which is sklearn.metrics.cohen_kappa_score on those
    tasks.

    Cost: time O(sum_t m_t^2), m_t = distinct workers on task t, which grows with overlap, not
    with how skewed worker activity is (a worker with 10^5 answers at overlap 3 adds at most 2
    pairs per task). Memory stays bounded: tasks are taken in chunks of about 16 M pairs, twice
    (once to count each pair's shared tasks, once to sum the qualifying pairs' agreements and
    label counts chunk by chunk), so only the pairs sharing >= ``min_shared`` tasks are held. One
    task's pairs cannot be split: ``max_task_pairs`` bounds m_t (m_t - 1) / 2 of the largest task
    (a control task answered by thousands of workers) and raises a ValueError beyond it rather
    than exhausting memory.

    A worker who answered a task more than once counts with their most frequent label on it
    (lowest code on a tie), so the result does not depend on row order.
    """
    listing = pair_listing("pairwise_agreement", task, worker, label, n_workers, n_labels, min_shared, max_task_pairs)
    if listing is None:
        return PairwiseAgreement(*(np.zeros(0, dtype=np.int64),) * 3, np.zeros(0), np.zeros(0))
    n_workers, n_labels, pair_keys, n_shared, chunks = listing
    a, b = pair_keys // n_workers, pair_keys % n_workers
    n_p = len(pair_keys)
    agree, counts_a, counts_b = np.zeros(n_p), 0, 0
    for idx, la, lb in chunks:  # summed chunk by chunk: the listed pairs are never all held at once
        agree += np.bincount(idx, weights=(la == lb), minlength=n_p)
        counts_a = counts_a + _label_counts(idx, la, n_p, n_labels)
        counts_b = counts_b + _label_counts(idx, lb, n_p, n_labels)
    chance = _count_products(counts_a, counts_b)
    n = n_shared.astype(np.float64)
    # sklearn: kappa = 1 - sum(w * confusion) / sum(w * expected), with
    # sum(w * confusion) = n - agree and sum(w * expected) = (n^2 - chance) / n.
    kappa = 1.0 - safe_divide((n - agree) * n, n * n - chance)
    return PairwiseAgreement(worker_a=a, worker_b=b, n_shared=n_shared, agreement=agree / n, kappa=kappa)


def listed_pairs(func: str, task, worker, label, n_workers, n_labels, min_shared, max_task_pairs):
    """pair_listing with every chunk's listed pairs put together: (n_workers, n_labels, pair keys,
    shared tasks per pair, pair index, worker a's label, worker b's label), or None."""
    listing = pair_listing(func, task, worker, label, n_workers, n_labels, min_shared, max_task_pairs)
    if listing is None:
        return None
    *head, chunks = listing
    idx, la, lb = zip(*chunks, strict=True)
    return *head, np.concatenate(idx), np.concatenate(la), np.concatenate(lb)


def pair_listing(func: str, task, worker, label, n_workers, n_labels, min_shared, max_task_pairs):
    """The pair machinery pairwise agreement and weighted kappa share: the checked inputs reduced to
    one label per (task, worker), the pairs of workers sharing >= ``min_shared`` tasks, and every
    within-task pair of answers of those pairs. Returns (n_workers, n_labels, pair keys
    a * n_workers + b in key order, shared tasks per pair, then an iterator over chunks of tasks
    giving per listed answer pair: the pair's index, worker a's label, worker b's label), or None
    when no pair qualifies. Raises a ValueError naming ``func`` when one task has more than
    ``max_task_pairs`` pairs."""
    n_workers = check_int(n_workers, "n_workers", func, low=0)
    n_labels = check_int(n_labels, "n_labels", func, low=0)
    check_int(min_shared, "min_shared", func, low=1)
    max_task_pairs = check_int(max_task_pairs, "max_task_pairs", func, low=0)
    # No n_tasks in the signatures: the task code range only needs to be non-negative.
    task = np.asarray(task)
    n_tasks = int(task.max()) + 1 if task.size and np.issubdtype(task.dtype, np.integer) else 1
    task = check_codes(task, "task", func, n_tasks, "max(task) + 1")
    worker = check_codes(worker, "worker", func, n_workers, "n_workers", len(task))
    label = check_codes(label, "label", func, n_labels, "n_labels", len(task))
    if len(task) == 0:
        return None
    # Rows sorted by task: one counting sort, O(n). Only the tasks a worker answered more than once
    # are reduced to one answer per (task, worker) before the pairs are counted, once.
    order = order_by(task, n_tasks)
    t, w, lab = task[order], worker[order], label[order]
    del order
    chunks, largest = _task_chunks(t)
    if largest > max_task_pairs:
        raise ValueError(
            f"The 'max_task_pairs' parameter of {func} allows {max_task_pairs} worker pairs in one task; "
            f"the largest task here has {largest}. Raise the limit or leave out heavily shared tasks "
            f"(e.g. control tasks) before calling."
        )
    again = tasks_with_repeats(t, w)
    if len(again):  # tasks a worker answered more than once: one answer per worker there
        marked = np.zeros(n_tasks, dtype=bool)
        marked[again] = True
        affected = marked[t]
        kept = _one_answer_per_task_worker(t[affected], w[affected], lab[affected], n_workers, n_labels)
        # the reduced tasks go last: each task's rows stay together, which is all the chunks need
        t, w, lab = (
            np.concatenate([col[~affected], k.astype(col.dtype, copy=False)])  # the codes stay narrow
            for col, k in zip((t, w, lab), kept, strict=True)
        )
        del affected, marked
        chunks = _task_chunks(t)[0]
    pair_keys, n_shared, listing = _qualifying_pairs(t, w, chunks, n_workers, min_shared)
    if len(pair_keys) == 0:
        return None
    lookup = pd.Index(pair_keys)  # a hash table: 3x faster than a binary search per listed pair

    def listed_chunks():
        for start, stop in chunks:
            one = listing if listing is not None else _within_task_pairs(t[start:stop], w[start:stop], n_workers)
            i, j, key = one  # row i is worker a's (the lower code), row j worker b's
            pos = lookup.get_indexer(key.astype(np.int64, copy=False))  # an int64 table: int32 keys widened
            hit = pos >= 0
            lab_slice = lab[start:stop]
            yield pos[hit], lab_slice[i[hit]], lab_slice[j[hit]]

    return n_workers, n_labels, pair_keys, n_shared, listed_chunks()


def _task_chunks(t: np.ndarray) -> tuple[list[tuple[int, int]], int]:
    """Row ranges of whole tasks (rows sorted by task) holding about _CHUNK_PAIRS within-task
    pairs each, and the pairs of the largest task."""
    starts, sizes = task_runs(t)
    pairs = sizes * (sizes - 1) // 2
    cum = np.cumsum(pairs)
    cuts = np.searchsorted(cum, np.arange(_CHUNK_PAIRS, int(cum[-1]) + _CHUNK_PAIRS, _CHUNK_PAIRS), side="right")
    bounds = np.unique(np.r_[0, np.minimum(cuts, len(starts))])
    rows = np.r_[starts, len(t)][bounds]
    chunks = [(int(a), int(b)) for a, b in zip(rows[:-1], rows[1:], strict=True) if b > a]
    return chunks, int(pairs.max())


def _within_task_pairs(t: np.ndarray, w: np.ndarray, n_workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of answers inside each task, listed once: row indices i and j (rows sorted by
    task; row i is worker a's, the lower worker code of the two, row j worker b's) and the pair's
    key a * n_workers + b. Tasks are taken by their number of answers: the tasks answered m times
    share one pattern of m(m-1)/2 pairs, laid over their first rows at once (no per-row repeats).
    No task may repeat a worker."""
    starts, sizes = task_runs(t)
    row = key_dtype(len(t) + 1)  # row indices in int32 where they fit: half the memory of the pair lists
    starts = starts.astype(row)
    i_parts, j_parts = [], []
    for m in np.unique(sizes[sizes >= 2]):
        first = starts[sizes == m]
        a, b = (x.astype(row) for x in np.triu_indices(int(m), 1))
        i_parts.append((first[:, None] + a).ravel())
        j_parts.append((first[:, None] + b).ravel())
    i = np.concatenate(i_parts) if i_parts else np.zeros(0, dtype=row)
    j = np.concatenate(j_parts) if j_parts else np.zeros(0, dtype=row)
    del i_parts, j_parts
    wi, wj = w[i], w[j]
    swap = wi > wj
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    # int32 keys under 46,341 workers (sorting 10^7 of them takes two thirds of int64's time)
    key = np.minimum(wi, wj).astype(key_dtype(n_workers * n_workers))
    key *= n_workers
    key += np.maximum(wi, wj)
    return i, j, key


def _qualifying_pairs(t, w, chunks, n_workers: int, min_shared: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """(keys of the pairs sharing >= min_shared tasks in key order, their shared tasks, and the one
    chunk's (i, j, key) listing when there is only one, else None): each chunk's keys counted (a
    dense array for few workers, else sorted) and the counts merged. No task may repeat a worker."""
    dense = n_workers * n_workers <= _DENSE_PAIR_KEYS
    shared_all = np.zeros(n_workers * n_workers if dense else 0, dtype=np.int64)
    keys, counts = [], []
    for start, stop in chunks:
        i, j, key = _within_task_pairs(t[start:stop], w[start:stop], n_workers)
        uniq, cnt = np.unique(key, return_counts=True)
        if dense:
            shared_all[uniq] += cnt
        else:
            keys.append(uniq)
            counts.append(cnt)
    listing = (i, j, key) if len(chunks) == 1 else None
    if dense:
        pair_keys = np.flatnonzero(shared_all >= min_shared)
        return pair_keys, shared_all[pair_keys], listing
    if not keys:  # no task with two answers
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), None
    if len(keys) > 1:
        uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        cnt = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    else:
        uniq, cnt = keys[0], counts[0]
    q = cnt >= min_shared
    return uniq[q].astype(np.int64), cnt[q], listing


def _label_count_products(idx, la, lb, n_p: int, n_labels: int) -> np.ndarray:
    """sum_c n_a,c * n_b,c per pair: each worker's label counts on the pair's shared tasks."""
    return _count_products(_label_counts(idx, la, n_p, n_labels), _label_counts(idx, lb, n_p, n_labels))


def _label_counts(idx, lab, n_p: int, n_labels: int):
    """(n_p, n_labels) counts of each pair's worker's labels: dense for few pairs, else sparse."""
    if n_p * n_labels <= _DENSE_PAIR_KEYS:
        return np.bincount(idx * n_labels + lab, minlength=n_p * n_labels).reshape(n_p, n_labels)
    return sp.csr_matrix((np.ones(len(idx)), (idx, lab)), shape=(n_p, n_labels))


def _count_products(ca, cb) -> np.ndarray:
    """sum_c ca[p, c] * cb[p, c] per pair, for dense or sparse counts."""
    if isinstance(ca, np.ndarray):
        return (ca * cb).sum(axis=1).astype(np.float64)
    return np.asarray(ca.multiply(cb).sum(axis=1)).ravel()
