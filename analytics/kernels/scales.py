"""Kernels on a label scale: Krippendorff's alpha at each level, weighted Cohen's kappa, per-task value statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from analytics.kernels._arrays import safe_divide, unique_rows
from analytics.kernels.agreement import _label_count_products, listed_pairs
from analytics.kernels.checks import check_codes, check_counts, check_int, param_error

__all__ = [
    "LEVELS",
    "TaskValues",
    "WeightedPairs",
    "krippendorff_alpha",
    "scale_alpha_from_counts",
    "weighted_pairwise_kappa",
    "task_values",
]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# the ratio level's expected disagreement is summed over blocks of this many value pairs
_RATIO_BLOCK = 1 << 22


def _check_values(values, func: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not np.isfinite(v).all():
        raise param_error(func, "values", "be a 1-D array of finite numbers (one per value code)")
    return v


def _check_level(level: str, func: str) -> str:
    if level not in LEVELS:
        raise param_error(func, "level", f"be one of {', '.join(LEVELS)}", repr(level))
    return level


def krippendorff_alpha(task, value, n_tasks: int, values, level: str = "interval") -> float:
    """Krippendorff's alpha at ``level`` (nominal, ordinal, interval, ratio) with missing values,
    from the answers' (task, value code) pairs; ``values[code]`` is the number a code stands for.

    Computed on per-task value counts n_uc (m_u = answers on unit u, only units with m_u >= 2
    pair): alpha = 1 - (n - 1) * sum_u sum_ck n_uc n_uk d_ck / (m_u - 1) / sum_ck n_c n_k d_ck,
    n_c = pairable answers of value c, n = sum_c n_c (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability"). Difference functions d_ck: nominal [c != k]; interval
    (x_c - x_k)^2; ordinal (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, which is the interval one on
    mid-ranks R_c = sum_{g<c} n_g + n_c / 2; ratio ((x_c - x_k) / (x_c + x_k))^2 (0 where
    x_c + x_k = 0, as the ``krippendorff`` package). Codes standing for the same number are one
    value. No coder x unit matrix: nominal, ordinal and interval take O(answers) after one sort
    of the (task, value) pairs, ratio O(sum_u d_u^2 + V^2) for d_u distinct values on unit u and V
    distinct pairable values. Equals ``krippendorff.alpha(reliability_data,
    level_of_measurement=level)`` (each answer is one coder's value; repeated answers by one
    coder count, as in its value_counts form). NaN when undefined: no pairable unit, or no
    expected disagreement (a single value among the pairable answers).
    """
    func = "krippendorff_alpha"
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    x = _check_values(values, func)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    value = check_codes(value, "value", func, len(x), "len(values)", len(task))
    _check_level(level, func)
    if len(task) == 0:
        return float("nan")
    (t, v), cnt = unique_rows([task, value], [n_tasks, len(x)])
    return _alpha(t, v, cnt.astype(np.float64), x, n_tasks, level)


def scale_alpha_from_counts(counts, values, level: str = "interval") -> float:
    """krippendorff_alpha on a (n_tasks, n_values) count matrix (as kernels.vote_counts; column c
    counts the answers of ``values[c]``), e.g. ``krippendorff.alpha(value_counts=counts,
    value_domain=values, ...)``."""
    func = "scale_alpha_from_counts"
    c = check_counts(counts, "counts", func)
    x = _check_values(values, func)
    if c.shape[1] != len(x):
        raise param_error(func, "values", f"have one number per column of counts ({c.shape[1]})", len(x))
    _check_level(level, func)
    t, v = np.nonzero(c)
    return _alpha(t, v, c[t, v], x, c.shape[0], level)


def _alpha(t: np.ndarray, v: np.ndarray, cnt: np.ndarray, x: np.ndarray, n_tasks: int, level: str) -> float:
    """Alpha on the distinct (task, value code) pairs with their counts."""
    uniq, inverse = np.unique(x, return_inverse=True)  # equal numbers are one value, ascending
    v = inverse.ravel()[v]
    if len(uniq) < len(x):
        t, v, cnt = _merge(t, v, cnt, n_tasks, len(uniq))
    m = np.bincount(t, weights=cnt, minlength=n_tasks)
    keep = m[t] >= 2
    t, v, cnt = t[keep], v[keep], cnt[keep]
    n_c = np.bincount(v, weights=cnt, minlength=len(uniq))
    n = float(n_c.sum())
    if n < 2:
        return float("nan")
    if level == "nominal":
        observed = n - float(np.sum(cnt * (cnt - 1.0) / (m[t] - 1.0)))
        expected = n * n - float(np.sum(n_c * n_c))
    elif level == "ratio":
        observed, expected = _ratio_sums(t, v, cnt, m, uniq, n_c)
    else:
        pos = np.cumsum(n_c) - n_c / 2.0 if level == "ordinal" else uniq  # ordinal: mid-ranks
        observed, expected = _squared_sums(t, v, cnt, m, pos, n_c, n, n_tasks)
    if not expected > 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * observed / expected)


def _merge(t, v, cnt, n_tasks: int, n_values: int):
    """The (task, value) pairs made distinct again (summing their counts) after equal numbers were merged."""
    (t2, v2), _ = unique_rows([t, v], [n_tasks, n_values])
    key = t.astype(np.int64) * n_values + v
    key2 = t2.astype(np.int64) * n_values + v2
    summed = np.bincount(np.searchsorted(key2, key), weights=cnt, minlength=len(key2))
    return t2, v2, summed


def _squared_sums(t, v, cnt, m, pos, n_c, n: float, n_tasks: int) -> tuple[float, float]:
    """Observed and expected sums of d_ck = (pos_c - pos_k)^2, from per-unit deviations (stable)."""
    mean = float(np.dot(n_c, pos)) / n
    xc = pos[v] - mean
    s1 = np.bincount(t, weights=cnt * xc, minlength=n_tasks)
    unit_mean = safe_divide(s1, m)
    dev = np.bincount(t, weights=cnt * (xc - unit_mean[t]) ** 2, minlength=n_tasks)
    on = m >= 2
    # sum_ck n_uc n_uk (x_c - x_k)^2 = 2 m_u sum_c n_uc (x_c - mean_u)^2
    observed = float(np.sum(2.0 * m[on] * dev[on] / (m[on] - 1.0)))
    expected = 2.0 * n * float(np.dot(n_c, (pos - mean) ** 2))
    return observed, expected


def _ratio_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    return np.divide(a - b, total, out=np.zeros(np.broadcast(a, b).shape), where=total != 0) ** 2


def _ratio_sums(t, v, cnt, m, uniq, n_c) -> tuple[float, float]:
    """Observed (sparse coincidences) and expected (blocks of value pairs) sums of the ratio d."""
    units, unit = np.unique(t, return_inverse=True)
    weight = 1.0 / (m[units] - 1.0)
    a = sp.csr_matrix((cnt, (unit.ravel(), v)), shape=(len(units), len(uniq)))
    o = (a.T @ sp.diags(weight) @ a).tocoo()
    observed = float(np.sum(o.data * _ratio_d(uniq[o.row], uniq[o.col])))
    on = np.flatnonzero(n_c > 0)
    x, w = uniq[on], n_c[on]
    step = max(1, _RATIO_BLOCK // max(len(x), 1))
    expected = 0.0
    for i in range(0, len(x), step):
        d = _ratio_d(x[i : i + step, None], x[None, :])
        expected += float(w[i : i + step] @ d @ w)
    return observed, expected


@dataclass(frozen=True)
class WeightedPairs:
    """One row per pair of workers sharing at least ``min_shared`` tasks, sorted by (a, b).

    worker_a, worker_b: (n_pairs,) int64 worker codes, worker_a < worker_b; n_shared: distinct
    tasks both answered; agreement: share of them with equal grades; kappa: Cohen's kappa;
    kappa_linear, kappa_quadratic: weighted kappa with weights |i - j| and (i - j)^2 on grade
    positions (as ``sklearn.metrics.cohen_kappa_score(a, b, labels=range(n_labels),
    weights="linear"/"quadratic")``); mean_abs_difference: mean |i - j| over the shared tasks.
    NaN kappas where the expected weighted disagreement is 0 (one and the same grade throughout).
    """

    worker_a: np.ndarray
    worker_b: np.ndarray
    n_shared: np.ndarray
    agreement: np.ndarray
    kappa: np.ndarray
    kappa_linear: np.ndarray
    kappa_quadratic: np.ndarray
    mean_abs_difference: np.ndarray


def weighted_pairwise_kappa(
    task, worker, label, n_workers: int, n_labels: int, min_shared: int = 10, max_task_pairs: int = 20_000_000
) -> WeightedPairs:
    """Cohen's kappa, linear- and quadratic-weighted, for every pair of workers sharing >=
    ``min_shared`` tasks; ``label`` codes are grade positions 0..n_labels-1 in scale order.

    The pairs are listed as in kernels.pairwise_agreement (its machinery: one label per (task,
    worker), the most frequent, lowest on a tie; same cost O(sum_t m_t^2) and ``max_task_pairs``
    bound). With a pair's n shared tasks, rater a's grade counts r_i, b's c_j, weighted kappa is
    1 - sum_ij w_ij o_ij / sum_ij w_ij r_i c_j / n, o the pair's confusion counts. Quadratic:
    sum w o = sum (i - j)^2 and sum w r c / n = Q_a + Q_b - 2 S_a S_b / n (S, Q: sums of grades
    and squared grades); linear: sum w o = sum |i - j| and sum_ij r_i c_j |i - j| = sum_g [A_g (n -
    B_g) + (n - A_g) B_g] over thresholds g, A_g, B_g the grades <= g (summed from one sort, see
    _linear_expected). Bincounts over the listed pairs, no per-pair confusion matrix.
    """
    listed = listed_pairs(
        "weighted_pairwise_kappa", task, worker, label, n_workers, n_labels, min_shared, max_task_pairs
    )
    if listed is None:
        return WeightedPairs(*(np.zeros(0, dtype=np.int64),) * 3, *(np.zeros(0),) * 5)
    n_workers, n_labels, pair_keys, n_shared, idx, la, lb = listed
    n_p, n = len(pair_keys), n_shared.astype(np.float64)

    def per_pair(weights) -> np.ndarray:
        return np.bincount(idx, weights=weights, minlength=n_p)

    fa, fb = la.astype(np.float64), lb.astype(np.float64)
    agree = per_pair(la == lb)
    chance = _label_count_products(idx, la, lb, n_p, n_labels)
    abs_diff = per_pair(np.abs(fa - fb))
    sa, sb = per_pair(fa), per_pair(fb)
    quad_expected = per_pair(fa * fa) + per_pair(fb * fb) - 2.0 * sa * sb / n
    lin_expected = _linear_expected(idx, la, lb, n, n_p, n_labels) / n
    return WeightedPairs(
        worker_a=pair_keys // n_workers,
        worker_b=pair_keys % n_workers,
        n_shared=n_shared,
        agreement=agree / n,
        kappa=1.0 - safe_divide((n - agree) * n, n * n - chance),
        kappa_linear=1.0 - safe_divide(abs_diff, lin_expected),
        kappa_quadratic=1.0 - safe_divide(per_pair((fa - fb) ** 2), quad_expected),
        mean_abs_difference=abs_diff / n,
    )


def _linear_expected(idx, la, lb, n: np.ndarray, n_p: int, n_labels: int) -> np.ndarray:
    """sum_ij r_i c_j |i - j| per pair, i.e. the sum of |grade_a - grade_b| over every (a answer,
    b answer) of the pair's shared tasks, from one sort of both sides' grades by (pair, grade):
    for an a grade g, sum_b |g - g_b| = g C - S + (S_total - S) - g (n - C), with C and S the
    count and sum of the pair's b grades <= g. O(listed pairs log listed pairs), whatever the
    number of grades."""
    m = len(idx)
    pair = np.concatenate([idx, idx])
    grade = np.concatenate([la, lb])
    is_b = np.concatenate([np.zeros(m, dtype=bool), np.ones(m, dtype=bool)])
    order = np.argsort(pair.astype(np.int64) * max(n_labels, 1) + grade, kind="stable")  # one int key: radix sort
    p, g, b = pair[order], grade[order].astype(np.float64), is_b[order]
    count_b = np.cumsum(b)
    sum_b = np.cumsum(np.where(b, g, 0.0))
    start = np.searchsorted(p, np.arange(n_p))  # each pair's first row: its cumulative offsets
    c = count_b - np.r_[0, count_b][start][p]
    s = sum_b - np.r_[0.0, sum_b][start][p]
    total = np.bincount(idx, weights=lb, minlength=n_p)[p]
    a = ~b
    gap = g[a] * c[a] - s[a] + (total[a] - s[a]) - g[a] * (n[p[a]] - c[a])
    return np.bincount(p[a], weights=gap, minlength=n_p)


@dataclass(frozen=True)
class TaskValues:
    """Per task, (n_tasks,) arrays of its answers' numbers (NaN without answers).

    n: answers; mean; std: sample standard deviation (ddof=1, NaN with one answer); minimum,
    maximum; median: the middle answer, the mean of the two middle ones for an even count (as
    numpy.median); lower_median: the lower of the two middle answers (always one of the answers:
    the median of ordinal grades).
    """

    n: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    median: np.ndarray
    lower_median: np.ndarray


def task_values(task, x, n_tasks: int) -> TaskValues:
    """Count, mean, standard deviation, range and medians of each task's numbers ``x`` (one per
    answer): bincounts and one sort by (task, x), O(answers log answers)."""
    func = "task_values"
    n_tasks = check_int(n_tasks, "n_tasks", func, low=0)
    task = check_codes(task, "task", func, n_tasks, "n_tasks")
    x = np.asarray(x, dtype=np.float64)
    if x.shape != task.shape or not np.isfinite(x).all():
        raise param_error(func, "x", f"hold one finite number per answer ({len(task)})")
    n = np.bincount(task, minlength=n_tasks)
    mean = safe_divide(np.bincount(task, weights=x, minlength=n_tasks), n)
    dev = np.bincount(task, weights=(x - mean[task]) ** 2, minlength=n_tasks)
    std = np.sqrt(safe_divide(dev, n - 1.0))
    order = np.lexsort((x, task))
    xs = x[order]
    start = np.cumsum(n) - n
    has = n > 0
    out = {k: np.full(n_tasks, np.nan) for k in ("minimum", "maximum", "median", "lower_median")}
    s, k = start[has], n[has]
    out["minimum"][has] = xs[s]
    out["maximum"][has] = xs[s + k - 1]
    low, high = xs[s + (k - 1) // 2], xs[s + k // 2]
    out["lower_median"][has] = low
    out["median"][has] = (low + high) / 2.0
    return TaskValues(n=n.astype(np.int64), mean=mean, std=std, **out)
