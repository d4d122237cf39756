"""False-ban risk: the chance that an annotator of a given accuracy trips a golden_set rule by chance.

The model. An annotator's control answers are independent, each correct with probability ``p``
(their estimated accuracy: the share of all their graded control answers in the pool that were
right, or their one-coin Dawid-Skene skill). The answers arrive in the order they were given,
grouped into the suites they were submitted in (``counts``: graded control answers per submitted
suite, in submission order). After every suite the golden_set rule looks at the last
``history_size`` control answers (all of them where ``history_size`` is None), and fires when
there are at least ``min_answers`` of them and the percentage correct is below
``min_correct_percent`` (or the percentage incorrect is above ``max_incorrect_percent``) — the
same check as :mod:`analytics.metrics.rules`. The risk is P(the rule fires after at least one of
the suites): one minus the chance of passing every check.

It is computed exactly where it can be:

* the window holds the whole history at every check (``history_size`` None, or >= all their
  control answers): a binomial recursion over the number correct so far (O(n²));
* a window of at most :data:`MAX_EXACT_WINDOW` (16) answers: a Markov chain over the window's
  contents (2^h states, the newest answer in the lowest bit);
* a longer window: Monte Carlo with :data:`DRAWS` seeded draws (standard error at most
  0.5/sqrt(DRAWS) ≈ 0.0035), said so in the method.

Because ``p`` is estimated from the same answers the ban rests on, the risk is a reading aid (how
surprising the ban is for someone that good), not a calibrated probability.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

MAX_EXACT_WINDOW = 16
DRAWS = 20_000
SEED = 17
EXACT_HISTORY = "exact (binomial over the whole history)"
EXACT_WINDOW = "exact (Markov chain over the window)"
MONTE_CARLO = f"Monte Carlo ({DRAWS} seeded draws)"


def fires(correct: np.ndarray, n: int, min_answers: int, lo: float | None, hi: float | None) -> np.ndarray:
    """Whether the rule fires on a window of ``n`` answers with ``correct`` right (vectorised)."""
    correct = np.asarray(correct)
    if n <= 0 or n < min_answers:
        return np.zeros(correct.shape, dtype=bool)
    pct = 100.0 * correct / n
    out = np.zeros(correct.shape, dtype=bool)
    if lo is not None:
        out |= pct < float(lo)
    if hi is not None:
        out |= (100.0 - pct) > float(hi)
    return out


def _whole_history(counts, p, min_answers, lo, hi) -> float:
    prob = np.array([1.0])  # over the number correct so far
    fired, n = 0.0, 0
    for c in counts:
        for _ in range(int(c)):
            prob = np.r_[prob * (1 - p), 0.0] + np.r_[0.0, prob * p]
            n += 1
        if c:
            mask = fires(np.arange(n + 1), n, min_answers, lo, hi)
            fired += float(prob[mask].sum())
            prob[mask] = 0.0
    return fired


def _window_chain(counts, p, h, min_answers, lo, hi) -> float:
    size = 1 << h
    popcount = np.zeros(size, dtype=np.int64)
    idx = np.arange(size)
    for b in range(h):
        popcount += (idx >> b) & 1
    prob = np.array([1.0])  # over the window's contents, the newest answer in bit 0
    fired, n = 0.0, 0
    for c in counts:
        for _ in range(int(c)):
            if n >= h:  # the oldest answer (bit h-1) leaves the window
                half = len(prob) // 2
                prob = prob[:half] + prob[half:]
            new = np.empty(2 * len(prob))
            new[0::2], new[1::2] = prob * (1 - p), prob * p
            prob, n = new, n + 1
        if c:
            mask = fires(popcount[: len(prob)], min(n, h), min_answers, lo, hi)
            fired += float(prob[mask].sum())
            prob[mask] = 0.0
    return fired


def _monte_carlo(counts, p, h, min_answers, lo, hi) -> float:
    ends = np.cumsum(np.asarray(counts, dtype=np.int64))
    total = int(ends[-1])
    rng = np.random.default_rng(SEED)
    cs = np.zeros((DRAWS, total + 1), dtype=np.int32)
    cs[:, 1:] = np.cumsum(rng.random((DRAWS, total)) < p, axis=1)
    hit = np.zeros(DRAWS, dtype=bool)
    for e in np.unique(ends[ends > 0]):
        w = min(int(e), h)
        hit |= fires(cs[:, e] - cs[:, e - w], w, min_answers, lo, hi)
    return float(hit.mean())


def window_rule_risk(
    counts: Sequence[int],
    p: float,
    history_size: int | None,
    min_answers: int = 1,
    min_correct_percent: float | None = None,
    max_incorrect_percent: float | None = None,
) -> tuple[float, str]:
    """(P(the golden_set rule fires at least once by chance), how it was computed) — see the module.

    ``counts``: graded control answers per submitted suite, in submission order; ``p``: the
    chance that one answer is right. NaN where ``p`` is unknown; 0 without control answers.
    """
    if p is None or not math.isfinite(float(p)):
        return math.nan, "no accuracy estimate"
    p = min(max(float(p), 0.0), 1.0)
    counts = [int(c) for c in counts]
    total = sum(counts)
    if total == 0:
        return 0.0, EXACT_HISTORY
    lo, hi = min_correct_percent, max_incorrect_percent
    min_answers = max(int(min_answers or 1), 1)
    if history_size is None or history_size >= total:
        return _whole_history(counts, p, min_answers, lo, hi), EXACT_HISTORY
    h = int(history_size)
    if h <= MAX_EXACT_WINDOW:
        return _window_chain(counts, p, h, min_answers, lo, hi), EXACT_WINDOW
    return _monte_carlo(counts, p, h, min_answers, lo, hi), MONTE_CARLO
