"""Aggregated labels: one label per task from its overlapping answers, with a confidence.

``aggregate(run, method)`` puts five aggregators behind one function. Majority vote, Wawa,
Dawid-Skene and one-coin Dawid-Skene run on the fast kernels (analytics/kernels.py, equal to
crowd-kit 1.4.2 to 1e-9 except for the tie rule below); GLAD and MACE run through crowd-kit
itself, on the user's own task, annotator and label names in the answers' order (see
analytics/metrics/_crowdkit.py: MACE's result depends on both), and take minutes on large runs
— ``estimate_seconds`` says how long before anyone starts them.

Only answers of the labeling pool count (kinds ``regular`` and ``control``): the exam and
training are other questions answered under other incentives. Answers in REJECTED task suites
do not count either: a reviewer (or a ban rule) threw that work out, and Toloka does not pay
for it. The annotator metrics (control accuracy, speed, rules) still see them as evidence.

Tie rule (:data:`TIE_RULE`): where two labels score the same, the one listed first in the run's
label set (``run.labels``, the tie order) wins, and the task is marked ``tied``. crowd-kit's
MajorityVote instead lets the order in which labels first appear in the data decide, so the same
answers shuffled give other labels; here no fast method's result depends on the order of the rows.
Wawa and the two Dawid-Skenes start from the majority vote: :attr:`Aggregation.start_tied` counts
the tasks tied there (:data:`START` says what the tie rule does to each start).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from analytics import kernels
from analytics.kernels import wilson_interval
from analytics.metrics import _crowdkit
from analytics.metrics._base import MetricUnavailable, check_int, position
from analytics.metrics._pool import (  # noqa: F401 (the pool's codes and counts, read by the metrics from here)
    VoteShares,
    _answered_tasks,
    pool_answers,
    pool_codes,
    pool_rows,
    pool_task_answers,
    pool_vote_counts,
    task_vote_counts,
)
from analytics.model import Run

METHODS: dict[str, str] = {
    "mv": "majority vote",
    "wawa": "Wawa",
    "ds": "Dawid-Skene",
    "onecoin": "one-coin Dawid-Skene",
    "glad": "GLAD",
    "mace": "MACE",
}
FAST_METHODS = ("mv", "wawa", "ds", "onecoin")
SLOW_METHODS = ("glad", "mace")
TIE_RULE = "ties go to the label listed first in the run's label set (the tie order); tied tasks are counted and marked"
# what each method starting from the majority vote takes from it (start_tied counts its tied tasks)
START = {
    "wawa": "the majority vote's labels, tie rule included: each annotator's weight is their agreement with them",
    "ds": "the majority vote's shares (tied tasks start with equal posteriors; the tie rule does not enter)",
    "onecoin": "the majority vote's shares (tied tasks start with equal posteriors; the tie rule does not enter)",
}

# Time models for the estimate shown before a slow aggregator starts: seconds = fixed + per answer x answers,
# times the machine's load beyond its cores (GLAD slows 2-4x on a loaded 2-core machine; MACE is erratic).
# GLAD and MACE (crowd-kit) calibrated on this project's 2-core machine, quiet, through registry.compute:
#   GLAD: demo 2,800 answers 3.5 s, Zheng Duck 4,212 7.3 s, Dog 8,070 11.6 s, AdultContent2 20 % 18,877 27.6 s;
#   MACE: 7.7 s, 8.0 s, 11.5 s, 22.5 s on the same runs (10 restarts x 50 iterations).
# MV, Wawa, DS at 9.6 M pool answers, quiet (2026-12-02): MV 0.5 s, Wawa 2.0 s, DS 1.95 s + 0.19 s per iteration
FIXED_SECONDS = {"glad": 0.0, "mace": 4.0}
SECONDS_PER_ANSWER = {"glad": 1.5e-3, "mace": 1.0e-3, "mv": 5e-8, "wawa": 2.2e-7}
SECONDS_PER_ANSWER_ITERATION = {"ds": 2e-8, "onecoin": 2e-8}
SETUP_SECONDS_PER_ANSWER = {"ds": 2e-7, "onecoin": 2e-7}
# EM iterations and tolerance of Dawid-Skene, one-coin DS and GLAD (crowd-kit's defaults): run to convergence
DEFAULT_ITERATIONS = 100
TASK_COUNT = np.int32  # a task's answer counts in the per-task tables (half the bytes at 10^7 tasks)
DEFAULT_TOLERANCE = 1e-5
# a method expected to take longer than this is run when someone asks for it, not on page open
ON_REQUEST_SECONDS = 5.0
# over this many labeling-pool answers every method but majority vote waits for a click (several add up)
LARGE_RUN_ANSWERS = 2_000_000

_CACHE: "weakref.WeakKeyDictionary[Run, dict]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Aggregation:
    """The result of one aggregator on one run.

    ``labels``: index ``task_id`` (the tasks with a labeled answer in the labeling pool, in the
    run's task order), columns ``label`` (categorical over ``run.labels``), ``confidence`` (the
    method's probability of that label: vote share for majority vote, weighted share for Wawa,
    posterior for Dawid-Skene, crowd-kit's probability for GLAD/MACE), ``tied`` (the tie rule
    decided it), ``answers``.
    ``probas``: the same index, one column per label, rows summing to 1.
    ``worker_skill``: per worker_id where the method estimates one (Wawa: agreement with the
    majority; one-coin DS: accuracy; GLAD: alpha; MACE: competence, P(not spamming)), else None.
    ``codes``: the label code per task code of ``run.codes`` (-1 where the task is not
    aggregated) for fast joins. ``seconds``: wall time of the computation. ``start_tied``: for
    a method started from the majority vote (Wawa, Dawid-Skene, one-coin DS; see :data:`START`),
    the tasks tied in that majority vote: Wawa's start label there is the tie rule's, Dawid-Skene
    starts them undecided (equal posteriors); None for the others (``n_tied`` counts the
    result's own ties).
    """

    method: str
    labels: pd.DataFrame
    probas_source: "pd.DataFrame | Callable[[], pd.DataFrame]"  # the frame, or how to build it when asked
    worker_skill: pd.Series | None
    codes: np.ndarray
    n_iter: int | None
    converged: bool | None
    seconds: float
    start_tied: int | None = None

    @functools.cached_property
    def probas(self) -> pd.DataFrame:
        """One column per label, rows summing to 1 (see the class); the majority vote's are built
        from the run's vote counts when first asked (no second 10^7-row matrix held unasked)."""
        source = self.probas_source
        return source if isinstance(source, pd.DataFrame) else source()

    def probas_at(self, rows: np.ndarray) -> np.ndarray:
        """probas at positions ``rows`` of ``labels``, without building the whole frame of a majority vote."""
        source = self.probas_source
        if isinstance(source, VoteShares) and "probas" not in self.__dict__:
            return source.rows(rows)
        return self.probas.to_numpy()[rows]

    @property
    def n_tied(self) -> int:
        return int(self.labels["tied"].sum())

    @property
    def name(self) -> str:
        return METHODS[self.method]


def _check_method(method: str, func: str) -> str:
    if method not in METHODS:
        raise ValueError(
            f"The 'method' parameter of {func} must be one of {', '.join(METHODS)}. Got {method!r} instead."
        )
    return method


def estimate_seconds(run: Run, method: str, n_iter: int = DEFAULT_ITERATIONS) -> float:
    """A rough wall-time estimate of ``aggregate(run, method, n_iter=n_iter)`` on this run's size, in
    seconds. For Dawid-Skene and one-coin DS it is a bound: as if all ``n_iter`` iterations ran (they
    stop once converged: 27 of 100 at 10^7 answers of the bench's run)."""
    _check_method(method, "estimate_seconds")
    n = len(pool_rows(run))
    if method in SECONDS_PER_ANSWER_ITERATION:
        seconds = (SETUP_SECONDS_PER_ANSWER[method] + SECONDS_PER_ANSWER_ITERATION[method] * n_iter) * n
    else:
        seconds = FIXED_SECONDS.get(method, 0.0) + SECONDS_PER_ANSWER[method] * n
    return float(seconds * _load_factor())


def estimate_is_bound(method: str) -> bool:
    """Whether estimate_seconds is an upper bound: Dawid-Skene's and one-coin DS's (every iteration)."""
    return method in SECONDS_PER_ANSWER_ITERATION


def _load_factor() -> float:
    """How much slower than on a quiet machine: the 1-minute load average over the cores, at least 1."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:  # no load average on this platform
        return 1.0


def cached(
    run: Run, method: str, *, n_iter: int = DEFAULT_ITERATIONS, tol: float = DEFAULT_TOLERANCE
) -> "Aggregation | None":
    """The aggregation if it was already computed for this run object, else None (never computes)."""
    return _CACHE.get(run, {}).get((method, n_iter, float(tol)))


def on_request(run: Run, method: str) -> bool:
    """True when ``method`` should wait for someone to ask and is not computed yet: GLAD and MACE
    always, the others when estimate_seconds exceeds ON_REQUEST_SECONDS or (all but majority vote)
    the run is large (see waits_on_size)."""
    if cached(run, method) is not None:
        return False
    try:
        pool_rows(run)
    except MetricUnavailable:
        return False  # nothing to aggregate: aggregate() itself says why, at once
    slow = method in SLOW_METHODS or estimate_seconds(run, method) > ON_REQUEST_SECONDS
    return slow or waits_on_size(run, method)


def is_large(run: Run) -> bool:
    """Whether the run has over LARGE_RUN_ANSWERS labeling-pool answers (see :func:`pool_answers`)."""
    return pool_answers(run) > LARGE_RUN_ANSWERS


def waits_on_size(run: Run, method: str) -> bool:
    """Whether ``method`` waits for a click because the run is large (:func:`is_large`; every
    method but majority vote) and it is not computed yet."""
    return is_large(run) and method != "mv" and cached(run, method) is None


def aggregate(
    run: Run, method: str = "mv", *, n_iter: int = DEFAULT_ITERATIONS, tol: float = DEFAULT_TOLERANCE
) -> Aggregation:
    """One label per task with a confidence, by ``method`` (see :data:`METHODS`).

    ``n_iter``/``tol`` bound the EM of Dawid-Skene and one-coin DS (crowd-kit's defaults: 100,
    1e-5) and GLAD's iterations; MACE uses crowd-kit's defaults. Results are cached per run
    object and parameters (a run is immutable), so pages and the report share one computation.
    Raises MetricUnavailable when the labeling pool has no labeled answer.
    """
    func = "aggregate"
    _check_method(method, func)
    n_iter = check_int(n_iter, "n_iter", func, low=1)
    key = (method, n_iter, float(tol))
    cache = _CACHE.setdefault(run, {})
    if key in cache:
        return cache[key]
    start = time.perf_counter()
    c = run.codes
    rows, t, w, lab = pool_codes(run)
    nt, nw, nl = c.n_tasks, c.n_workers, c.n_labels
    skill = None
    converged = None
    iters = None
    start_tied = None
    if method in START:  # the majority vote's ties, from its cached result
        start_tied = aggregate(run, "mv").n_tied
    if method == "mv":  # the chosen labels' shares only: the rest are built from the counts when asked
        labels, tied, probas = kernels.majority_choice(pool_vote_counts(run))
    elif method == "wawa":
        r = kernels.wawa(t, w, lab, nt, nw, nl, counts=pool_vote_counts(run))
        labels, probas, tied, skill = r.labels, r.probas, r.tied, r.skills
    elif method in ("ds", "onecoin"):
        fn = kernels.dawid_skene if method == "ds" else kernels.one_coin_dawid_skene
        r = fn(t, w, lab, nt, nw, nl, n_iter=n_iter, tol=tol)
        labels, probas, skill = r.labels, r.probas, r.skills
        tied = kernels.tied_tasks(probas, labels)
        converged, iters = r.converged, r.n_iter_run
    else:
        labels, probas, skill = _crowdkit.fit(run, method, rows, n_iter, tol)
        tied = kernels.tied_tasks(probas, labels)
    seconds = time.perf_counter() - start
    # the majority vote's shares are the vote counts over their total: built again when asked
    counts = pool_vote_counts(run) if method == "mv" else None
    result = _result(run, method, rows, labels, probas, tied, skill, iters, converged, seconds, counts)
    result = dataclasses.replace(result, start_tied=start_tied)
    cache[key] = result
    return result


def _result(run, method, rows, labels, probas, tied, skill, iters, converged, seconds, counts=None) -> Aggregation:
    c = run.codes
    n_answers = pool_task_answers(run)
    keep = np.flatnonzero((labels >= 0) & (n_answers > 0))
    answered, names = _answered_tasks(run)  # one index per run, where a method labels them all
    if np.array_equal(answered, keep):
        keep, index = answered, names  # the run's own: not held again by each aggregation
    else:
        index = c.task_names.take(keep).rename("task_id")
    code_type = np.int8 if len(c.labels) < 127 else np.int32
    lab = labels.astype(code_type)[keep]
    conf = probas[keep] if probas.ndim == 1 else probas[keep, lab]  # 1-D: the chosen labels' shares
    frame = pd.DataFrame(
        {
            "label": pd.Categorical.from_codes(lab, categories=c.labels),
            "confidence": conf,
            "tied": tied[keep],
            "answers": n_answers[keep].astype(TASK_COUNT),
        },
        index=index,
        copy=False,  # the columns are new: not held twice while the frame is built
    )
    columns = pd.Index(list(c.labels), name="label")
    if counts is None:
        every = len(keep) == len(probas)  # every task labeled: the method's probas themselves, not a copy
        pro = pd.DataFrame(probas if every else probas[keep], index=index, columns=columns, copy=False)
    else:
        pro = VoteShares(counts, keep, index, columns)
    codes = np.full(c.n_tasks, -1, dtype=code_type)
    codes[keep] = lab
    ws = None
    if skill is not None:
        active = np.flatnonzero(np.bincount(c.worker[rows], minlength=c.n_workers))
        ws = pd.Series(skill[active], index=c.worker_names.take(active).rename("worker_id"), name="skill")
    return Aggregation(method, frame, pro, ws, codes, iters, converged, seconds)


@dataclass(frozen=True)
class Accuracy:
    """Share of aggregated labels equal to a reference, with its count and 95 % Wilson interval.

    ``tied`` counts compared tasks whose label the tie rule decided; ``strict`` is the accuracy
    with every tied task counted wrong, ``expected`` the expected accuracy had ties been broken
    uniformly at random (a tied task counts 1/k when the reference is among its k tied labels),
    so the effect of the tie rule can be seen and compared with published figures.
    """

    reference: str
    tasks: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    tied: int
    strict: float
    expected: float

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.__dict__.items()}


def _accuracy(reference: str, agg: Aggregation, ref_codes: np.ndarray) -> Accuracy:
    """ref_codes: per task code, the reference label code (-1 none, -2 outside the label set)."""
    mask = (ref_codes != -1) & (agg.codes >= 0)
    n = int(mask.sum())
    if n == 0:
        raise MetricUnavailable(f"no aggregated task has a {reference} label to compare with")
    hit = agg.codes[mask] == ref_codes[mask]
    k = int(hit.sum())
    tied_codes = np.zeros(len(agg.codes), dtype=bool)
    tied_codes[agg.codes >= 0] = agg.labels["tied"].to_numpy()
    tied = tied_codes[mask]
    # rows of agg.probas are the aggregated task codes in ascending order
    row_of = np.cumsum(agg.codes >= 0) - 1
    p = agg.probas_at(row_of[mask])
    top = np.nanmax(p, axis=1)
    in_top = np.abs(p - top[:, None]) <= kernels.TIE_RTOL * np.maximum(np.abs(top[:, None]), 1.0)
    ref = ref_codes[mask]
    ref_in = np.where(ref >= 0, in_top[np.arange(n), np.clip(ref, 0, None)], False)
    expected = float(np.sum(ref_in / in_top.sum(axis=1)) / n)
    low, high = wilson_interval(np.array([k]), np.array([n]))
    return Accuracy(
        reference, n, k, k / n, float(low[0]), float(high[0]), int(tied.sum()), float((hit & ~tied).sum() / n), expected
    )


def golden_codes(run: Run) -> np.ndarray:
    """Per task code, the golden (known) label code of a control task, -1 elsewhere."""
    c = run.codes
    out = np.full(c.n_tasks, -1, dtype=np.int64)
    rows = np.flatnonzero(c.golden >= 0)
    out[c.task[rows]] = c.golden[rows]
    return out


def truth_codes(run: Run, truth: pd.Series | None = None) -> np.ndarray:
    """Per task code, the truth label code (-1 no truth, -2 a truth label outside the label set)."""
    if truth is None:
        truth = run.truth
    if truth is None or len(truth) == 0:
        raise MetricUnavailable("the run has no ground truth (a truth label per task)", missing_field="truth")
    c = run.codes
    t = truth[truth.notna()]
    t = t[~t.index.astype(str).duplicated()]
    task_pos = c.task_names.get_indexer(t.index.astype(str))
    label_pos = c.labels.get_indexer(t.astype(str).to_numpy())
    known = task_pos >= 0
    out = np.full(c.n_tasks, -1, dtype=np.int64)
    out[task_pos[known]] = np.where(label_pos[known] >= 0, label_pos[known], -2)
    return out


def accuracy_vs_golden(run: Run, agg: Aggregation) -> Accuracy:
    """Aggregated label vs the known answer of each control task (a check of the aggregator on
    the tasks annotators could be judged on; control tasks get the same overlap as the rest)."""
    gold = golden_codes(run)
    if not (gold >= 0).any():
        raise MetricUnavailable("the run has no control tasks with a known answer", missing_field="golden")
    return _accuracy("golden", agg, gold)


def accuracy_vs_truth(run: Run, agg: Aggregation, truth: pd.Series | None = None) -> Accuracy:
    """Aggregated label vs a ground-truth file (``truth``: labels indexed by task_id, default
    ``run.truth``), over the aggregated tasks that have a truth label."""
    return _accuracy("truth", agg, truth_codes(run, truth))


def disagreements(run: Run, methods=("mv", "wawa", "ds"), *, n_iter: int = DEFAULT_ITERATIONS) -> pd.DataFrame:
    """Tasks where the aggregators do not all give the same label.

    Index ``task_id``; one label column and one ``<method>_confidence`` column per method, plus
    ``answers``; sorted by the lowest confidence first (the least settled tasks on top). An empty
    frame means they agree everywhere.
    """
    methods = tuple(_check_method(m, "disagreements") for m in methods)
    if len(methods) < 2:
        raise ValueError(
            f"The 'methods' parameter of disagreements must name at least two methods. Got {methods!r} instead."
        )
    aggs = [aggregate(run, m, n_iter=n_iter) for m in methods]
    codes = np.stack([a.codes for a in aggs])
    answered = (codes >= 0).all(axis=0)
    differ = answered & (codes != codes[0]).any(axis=0)
    tasks = np.asarray(run.codes.task_names, dtype=object)[differ]
    out = pd.DataFrame(index=pd.Index(tasks, name="task_id", dtype="str"))
    for m, a in zip(methods, aggs, strict=True):
        # a.labels holds the tasks with codes >= 0 in task-code order: position by a running count
        pos = (np.cumsum(a.codes >= 0) - 1)[differ]
        out[m] = a.labels["label"].iloc[pos].to_numpy()
        out[f"{m}_confidence"] = a.labels["confidence"].to_numpy()[pos]
    pos0 = (np.cumsum(aggs[0].codes >= 0) - 1)[differ]
    out["answers"] = aggs[0].labels["answers"].to_numpy()[pos0]
    if len(out):
        out["min_confidence"] = out[[f"{m}_confidence" for m in methods]].min(axis=1)
        out = out.sort_values(["min_confidence"], kind="stable").drop(columns="min_confidence")
    return out


def task_votes(run: Run, task_id: str) -> pd.DataFrame:
    """Every aggregator's label and confidence on one task (for a task page): the fast methods,
    except one that would take long on this run and is not computed yet (see on_request), and
    GLAD or MACE where already computed.

    Index ``method``; columns ``label``, ``confidence``, ``tied``, and ``truth`` (the task's
    label in the run's truth file, missing without one) with ``truth_check`` ("right" /
    "wrong" against it, "" without truth)."""
    rows = []
    for m in METHODS:
        if on_request(run, m):
            continue
        a = aggregate(run, m)
        at = position(a.labels.index, task_id)  # no hash table of 3 M task ids for one look-up
        if at >= 0:
            r = a.labels.iloc[at]
            rows.append(
                {
                    "method": METHODS[m],
                    "label": r["label"],
                    "confidence": float(r["confidence"]),
                    "tied": bool(r["tied"]),
                }
            )
    if not rows:
        raise MetricUnavailable(f"task {task_id!r} has no labeled answer in the labeling pool")
    out = pd.DataFrame(rows).set_index("method")
    truth = _task_truth(run, task_id)
    out["truth"] = truth
    check = np.where(out["label"].astype(str).to_numpy() == truth, "right", "wrong") if truth is not None else ""
    out["truth_check"] = check
    return out


def _task_truth(run: Run, task_id: str) -> str | None:
    """The task's truth label as text (run.truth), None where it has none."""
    if run.truth is None or len(run.truth) == 0:
        return None
    t = run.truth[run.truth.index.astype(str) == str(task_id)].dropna()
    return None if len(t) == 0 else str(t.iloc[0])


def label_counts(agg: Aggregation, labels) -> np.ndarray:
    """How many tasks got each label (in ``labels`` order)."""
    codes = agg.codes[agg.codes >= 0]
    return np.bincount(codes, minlength=len(labels))


__all__ = [
    "is_large",
    "TASK_COUNT",
    "METHODS",
    "FAST_METHODS",
    "SLOW_METHODS",
    "TIE_RULE",
    "Aggregation",
    "Accuracy",
    "aggregate",
    "estimate_seconds",
    "cached",
    "on_request",
    "ON_REQUEST_SECONDS",
    "accuracy_vs_golden",
    "accuracy_vs_truth",
    "disagreements",
    "task_votes",
    "golden_codes",
    "truth_codes",
    "pool_rows",
    "pool_codes",
    "pool_vote_counts",
    "pool_task_answers",
]
