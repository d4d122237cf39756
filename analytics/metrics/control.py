"""Control tasks (known answers inside the paid pool): annotator accuracy, task difficulty, truth.

Control answers are those with ``kind == "control"``, a label and a golden label; an answer is
correct when its label equals the golden one. Intervals are 95 % Wilson score intervals (Wilson
1927), which stay inside [0, 1] and behave at 0 and 1 correct, unlike the normal approximation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.kernels import wilson_interval
from analytics.metrics._base import MetricUnavailable, check_int, kind_mask, rate
from analytics.model import Run

# --- control_task_difficulty's suspect rule (see its docstring)
SUSPECT_MIN_ANSWERS = 3  # fewer answers than this: no verdict on the task
STRONG_ACCURACY = 0.7  # an annotator is "strong" with >= 70 % correct on the OTHER control tasks
STRONG_MIN_ANSWERS = 3  # … judged on at least 3 other control answers
SUSPECT_MIN_STRONG = 2  # at least 2 strong annotators must agree on the other label


def _control_rows(run: Run) -> np.ndarray:
    c = run.codes
    rows = np.flatnonzero(kind_mask(run, "control") & (c.label >= 0) & (c.golden >= 0))
    if len(rows) == 0:
        raise MetricUnavailable(
            "the run has no answered control tasks (tasks with a known answer in the labeling pool)",
            missing_field="golden",
        )
    return rows


def _per_worker(run: Run, workers: np.ndarray, n: np.ndarray, k: np.ndarray) -> pd.DataFrame:
    c = run.codes
    low, high = wilson_interval(k[workers], n[workers])
    return pd.DataFrame(
        {
            "answers": n[workers].astype(np.int64),
            "correct": k[workers].astype(np.int64),
            "accuracy": rate(k[workers], n[workers]),
            "ci_low": low,
            "ci_high": high,
        },
        index=pd.Index(np.asarray(c.worker_names, dtype=object)[workers], name="worker_id", dtype="str"),
    )


def control_accuracy(run: Run, min_answers: int = 5) -> pd.DataFrame:
    """Per annotator: accuracy on control tasks with a 95 % Wilson interval and the count behind it.

    Index ``worker_id`` (sorted): every annotator with a regular or control answer, so someone who
    never met a control task shows up with ``answers`` 0 and NaN accuracy rather than vanishing.
    Columns: ``answers`` (control answers with a label), ``correct``, ``accuracy`` = correct /
    answers (NaN where answers == 0), ``ci_low``/``ci_high`` (Wilson; NaN where answers == 0),
    ``enough`` = answers >= ``min_answers`` (below it the interval is too wide to judge on: with
    5 answers all correct the Wilson interval is still [0.57, 1]).
    """
    min_answers = check_int(min_answers, "min_answers", "control_accuracy", low=1)
    c = run.codes
    rows = _control_rows(run)
    nw = c.n_workers
    n = np.bincount(c.worker[rows], minlength=nw)
    k = np.bincount(c.worker[rows], weights=c.label[rows] == c.golden[rows], minlength=nw)
    workers = np.unique(c.worker[kind_mask(run, "regular", "control")])
    out = _per_worker(run, workers, n, k)
    out["enough"] = out["answers"] >= min_answers
    return out.sort_index()


def control_task_difficulty(run: Run) -> pd.DataFrame:
    """Per control task: how many get it right (Wilson interval) and whether its golden is suspect.

    Index ``task_id`` (sorted). Columns: ``answers``, ``correct``, ``share_correct`` = correct /
    answers with ``ci_low``/``ci_high``; ``golden``; ``most_common_answer`` (ties go to the earlier
    label of ``run.labels``) and ``most_common_count``; ``strong_answers``: answers by strong
    annotators, ``strong_on_most_common`` and ``strong_on_golden``: how many of those chose the
    most common answer and the golden label; ``suspect``.

    A control task most people miss is more likely wrong than they are. ``suspect`` holds when

    1. the task has at least SUSPECT_MIN_ANSWERS (3) answers,
    2. the most common answer is not the golden label and more than half of the answers chose it,
    3. and the strong annotators agree on it: at least SUSPECT_MIN_STRONG (2) strong annotators
       chose that most common answer and none chose the golden label. An annotator is strong for
       a task when their accuracy on the OTHER control tasks (this one left out, so a wrong
       golden cannot lower it) is >= STRONG_ACCURACY (0.7) on at least STRONG_MIN_ANSWERS (3)
       answers.

    Condition 3 keeps a task that careless annotators fail together, or that one strong
    annotator got right, from being called wrong. The rule is deliberately conservative: a task
    with a wrong golden whose few answers split over several labels (no majority) is not
    flagged, because its answers do not show what the right label is; sort by
    ``share_correct`` to review every task most annotators miss.
    """
    c = run.codes
    rows = _control_rows(run)
    task, worker, label, golden = c.task[rows], c.worker[rows], c.label[rows], c.golden[rows]
    ok = label == golden
    nl, nw = c.n_labels, c.n_workers
    # the control tasks and each answer's place among them: arrays the size of the control tasks,
    # not of every task of the run (3 M at 10^7 answers)
    sel, t = np.unique(task, return_inverse=True)
    nt = len(sel)
    n = np.bincount(t, minlength=nt)
    k = np.bincount(t, weights=ok, minlength=nt)
    counts = np.bincount(t.astype(np.int64) * nl + label, minlength=nt * nl).reshape(nt, nl)
    top = counts.argmax(axis=1)
    top_n = counts.max(axis=1)
    gold = np.full(nt, -1, dtype=np.int64)
    np.maximum.at(gold, t, golden.astype(np.int64))  # row-order free even if rows disagree

    # leave-one-out accuracy of the answer's annotator on the other control answers
    wn = np.bincount(worker, minlength=nw)
    wk = np.bincount(worker, weights=ok, minlength=nw)
    other_n = wn[worker] - 1
    other_acc = rate(wk[worker] - ok, other_n)
    strong = (other_n >= STRONG_MIN_ANSWERS) & (other_acc >= STRONG_ACCURACY)
    strong_n = np.bincount(t[strong], minlength=nt)
    strong_top = np.bincount(t[strong], weights=label[strong] == top[t[strong]], minlength=nt).astype(np.int64)
    strong_gold = np.bincount(t[strong], weights=ok[strong], minlength=nt).astype(np.int64)

    suspect = (
        (n >= SUSPECT_MIN_ANSWERS)
        & (top != gold)
        & (2 * top_n > n)
        & (strong_top >= SUSPECT_MIN_STRONG)
        & (strong_gold == 0)
    )
    low, high = wilson_interval(k, n)
    out = pd.DataFrame(
        {
            "answers": n.astype(np.int64),
            "correct": k.astype(np.int64),
            "share_correct": rate(k, n),
            "ci_low": low,
            "ci_high": high,
            "golden": pd.Categorical.from_codes(gold, dtype=run.answers["golden"].dtype),
            "most_common_answer": pd.Categorical.from_codes(top, dtype=run.answers["label"].dtype),
            "most_common_count": top_n.astype(np.int64),
            "strong_answers": strong_n.astype(np.int64),
            "strong_on_most_common": strong_top,
            "strong_on_golden": strong_gold,
            "suspect": suspect,
        },
        index=c.task_names.take(sel).astype("str").rename("task_id"),  # the control tasks' names only
    )
    return out.sort_index()


def accuracy_vs_truth(run: Run, truth: pd.Series | None = None) -> pd.DataFrame:
    """Per annotator: accuracy against ground truth on the tasks that have it, with a Wilson interval.

    ``truth`` is a Series of labels indexed by task_id (default ``run.truth``). Every answer with
    a label on a task with a truth label counts, whatever its kind, repeated answers included
    (as the raw rows are). Index ``worker_id`` (sorted): the annotators with at least one such
    answer. Columns: ``answers``, ``correct``, ``accuracy`` = correct / answers, ``ci_low``,
    ``ci_high``. Pooled answer accuracy is ``correct.sum() / answers.sum()``.
    """
    if truth is None:
        truth = run.truth
    if truth is None or len(truth) == 0:
        raise MetricUnavailable(
            "the run has no ground truth (a truth label per task)",
            missing_field="truth",
        )
    if not isinstance(truth, pd.Series):
        raise ValueError(
            "The 'truth' parameter of accuracy_vs_truth must be a pandas Series (task_id -> label). "
            f"Got {type(truth).__name__} instead."
        )
    from analytics.metrics.aggregation import truth_codes

    c = run.codes
    # per task code the truth label's code (-1 none; -2 outside the label set, never matched)
    tc = truth_codes(run, truth)[c.task]
    rows = np.flatnonzero((tc != -1) & (c.label >= 0))
    if len(rows) == 0:
        raise MetricUnavailable(
            "no answer falls on a task with a truth label: check that the truth file's task ids "
            "match the answers' (e.g. the same URL spelling)",
            missing_field="truth",
        )
    nw = c.n_workers
    w = c.worker[rows]
    n = np.bincount(w, minlength=nw)
    k = np.bincount(w, weights=c.label[rows] == tc[rows], minlength=nw)
    return _per_worker(run, np.unique(w), n, k).sort_index()
