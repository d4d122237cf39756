"""The exam (qualification) pool: how each exam item performs, each candidate's score, who passed.

Exam answers are the answers with ``kind == "exam"``; an answer is graded when it has a label
and its item has a golden label (an item without one is listed with NaN rates). The pass
threshold is ``PoolInfo.pass_threshold`` of the run's pool of kind ``"exam"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analytics.kernels import wilson_interval
from analytics.metrics._base import MetricUnavailable, kind_mask, rate
from analytics.model import Run

# --- how exam_item_pass_rate reads an item (classical test theory, see its docstring)
MIN_ANSWERS_TO_READ = 10  # fewer graded answers than this: too few to judge
HARD_GAP = 0.20  # pass rate at least 20 points below the median item's: a hard item
EASY_RATE = 0.95  # almost everyone right: tells candidates apart little
DISCRIMINATING = 0.20  # item–rest correlation >= 0.20: the item separates strong from weak
# (Ebel & Frisbie 1991: >= 0.40 very good, 0.30-0.39 good, 0.20-0.29 marginal, < 0.20 poor)

# exam scores are shares; a share equal to the threshold passes even after float rounding
_SCORE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ExamSummary:
    """The exam at a glance.

    ``passed`` and ``pass_rate`` are None where no pass threshold is known (see ``threshold``);
    ``items`` counts distinct exam items, ``mean_score`` is the mean of candidates' scores.
    """

    candidates: int
    passed: int | None
    pass_rate: float | None
    threshold: float | None
    items: int
    mean_score: float

    def as_dict(self) -> dict:
        return asdict(self)


def exam_threshold(run: Run) -> float | None:
    """The pass threshold (a share) of the run's exam pool, or None where none is recorded."""
    pools = [p for p in run.meta.pools if p.kind == "exam" and p.pass_threshold is not None]
    return float(pools[0].pass_threshold) if pools else None


def _graded(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row positions of the exam answers with a label, and their task, worker, correct arrays."""
    c = run.codes
    exam = kind_mask(run, "exam")
    if not exam.any():
        raise MetricUnavailable(
            "the run has no exam answers: add the exam pool's results (a Toloka results TSV with "
            "GOLDEN: answers, read as an exam pool)",
            missing_field=None,
        )
    rows = np.flatnonzero(exam & (c.label >= 0))
    return rows, c.task[rows], c.worker[rows], (c.label[rows] == c.golden[rows]) & (c.golden[rows] >= 0)


def exam_item_pass_rate(run: Run) -> pd.DataFrame:
    """Per exam item: how many pass it, with a 95 % Wilson interval, and whether it works.

    Index ``task_id`` (sorted). Columns:

    * ``answers``: graded answers (with a label) on the item; ``correct``: those equal to golden;
      ``pass_rate`` = correct / answers (NaN where the item has no golden label or no answer);
      ``ci_low``, ``ci_high``: the 95 % Wilson score interval of pass_rate (Wilson 1927).
    * ``golden``: the item's known answer; ``most_common_wrong`` and ``most_common_wrong_count``:
      the wrong label chosen most often (ties go to the earlier label of ``run.labels``) and how
      often; missing / 0 where nobody was wrong.
    * ``candidates``: candidates in the discrimination below (those who answered the item and
      at least one other item); ``discrimination``: the corrected item–rest correlation, i.e.
      the Pearson (point-biserial) correlation over candidates between x = getting this item
      right and y = the candidate's share correct on the OTHER exam items (equal to the rest
      sum when every candidate saw every item; a candidate who answered the item twice counts
      with their share correct on it). NaN where undefined (fewer than 3 candidates, or x or y
      constant — e.g. everyone passed the item). Reference: Nunnally & Bernstein, Psychometric
      Theory (1994), ch. 8, corrected item-total correlation.
    * ``reading``: the item in words, by the first rule that applies:

      1. answers < MIN_ANSWERS_TO_READ (10): "too few answers to judge";
      2. no golden label: "no golden label: it cannot be graded";
      3. pass_rate == 0: "nobody gets it right: check the golden label";
      4. discrimination <= 0: "ambiguous or wrong golden: strong candidates miss it as often
         as weak ones";
      5. pass_rate <= (median pass rate of the items) - HARD_GAP (0.20) and discrimination >=
         DISCRIMINATING (0.20): "hard item working as meant (a trap): those who miss it score
         lower on the other items"; with 0 < discrimination < 0.20: "hard item working as
         meant (a trap), but it separates strong from weak candidates only weakly" (a positive
         discrimination is what tells a trap from a broken item; below 0.20 it is weak);
      6. pass_rate >= EASY_RATE (0.95) (discrimination may be NaN here): "easy: almost everyone
         gets it right, it tells candidates apart little";
      7. discrimination NaN: "discrimination undefined: candidates' scores do not vary";
      8. discrimination < 0.20: "works, but separates strong from weak candidates poorly";
      9. otherwise "works: separates strong from weak candidates".

      The 0.20 discrimination threshold is the usual "marginal" floor of classical item analysis
      (Ebel & Frisbie, Essentials of Educational Measurement, 1991).
    """
    c = run.codes
    rows, task, worker, correct = _graded(run)
    exam_rows = np.flatnonzero(kind_mask(run, "exam"))
    items = np.unique(c.task[exam_rows])
    nt = c.n_tasks

    answers = np.bincount(task, minlength=nt)
    n_correct = np.bincount(task, weights=correct, minlength=nt).astype(np.int64)
    golden = _item_golden(run, exam_rows)
    has_gold = golden >= 0
    pass_rate = rate(n_correct, answers)
    pass_rate[~has_gold] = np.nan
    low, high = wilson_interval(np.where(has_gold, n_correct, 0), np.where(has_gold, answers, 0))
    top_wrong, top_wrong_n = _most_common_wrong(run, rows, task, ~correct & has_gold[task])
    cand, disc = _item_rest_correlation(task, worker, correct, has_gold, nt, c.n_workers)

    sel = items
    out = pd.DataFrame(
        {
            "answers": answers[sel].astype(np.int64),
            "correct": n_correct[sel],
            "pass_rate": pass_rate[sel],
            "ci_low": low[sel],
            "ci_high": high[sel],
            "golden": pd.Categorical.from_codes(golden[sel], dtype=run.answers["golden"].dtype),
            "most_common_wrong": pd.Categorical.from_codes(
                np.where(top_wrong_n[sel] > 0, top_wrong[sel], -1), dtype=run.answers["label"].dtype
            ),
            "most_common_wrong_count": top_wrong_n[sel].astype(np.int64),
            "candidates": cand[sel],
            "discrimination": disc[sel],
        },
        index=pd.Index(np.asarray(c.task_names, dtype=object)[sel], name="task_id", dtype="str"),
    )
    out["reading"] = _readings(out)
    return out.sort_index()


def _item_golden(run: Run, exam_rows: np.ndarray) -> np.ndarray:
    """Per task code, the golden label code of the exam item (-1 where none)."""
    c = run.codes
    gold_rows = exam_rows[c.golden[exam_rows] >= 0]
    golden = np.full(c.n_tasks, -1, dtype=np.int64)
    # (np.maximum.at: should rows disagree on an item's golden label, the result still does not
    # depend on row order)
    np.maximum.at(golden, c.task[gold_rows], c.golden[gold_rows].astype(np.int64))
    return golden


def _most_common_wrong(
    run: Run, rows: np.ndarray, task: np.ndarray, wrong: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per task code, the wrong label chosen most often and how often (0 where nobody was wrong)."""
    # a (task x label) count of wrong answers; argmax takes the first (earliest label) of tied maxima
    nt, n_labels = run.codes.n_tasks, run.codes.n_labels
    label = run.codes.label[rows]
    wrong_counts = np.bincount(task[wrong].astype(np.int64) * n_labels + label[wrong], minlength=nt * n_labels).reshape(
        nt, n_labels
    )
    top_wrong = wrong_counts.argmax(axis=1) if n_labels else np.zeros(nt, dtype=np.int64)
    top_wrong_n = wrong_counts.max(axis=1) if n_labels else np.zeros(nt, dtype=np.int64)
    return top_wrong, top_wrong_n


def _item_rest_correlation(task, worker, correct, has_gold, n_tasks: int, n_workers: int):
    """Per item: candidates counted and the corrected item–rest correlation (see above)."""
    g = has_gold[task]
    task, worker, correct = task[g], worker[g], correct[g].astype(np.float64)
    cand = np.zeros(n_tasks, dtype=np.int64)
    disc = np.full(n_tasks, np.nan)
    if len(task) == 0:
        return cand, disc
    # one row per (candidate, item): answers and correct answers
    key = worker.astype(np.int64) * n_tasks + task
    uniq, inv = np.unique(key, return_inverse=True)
    a_wi = np.bincount(inv).astype(np.float64)
    s_wi = np.bincount(inv, weights=correct)
    w_of = uniq // n_tasks
    t_of = uniq % n_tasks
    a_w = np.bincount(w_of, weights=a_wi, minlength=n_workers)
    s_w = np.bincount(w_of, weights=s_wi, minlength=n_workers)
    rest_n = a_w[w_of] - a_wi
    ok = rest_n > 0
    x = (s_wi / a_wi)[ok]
    y = (s_w[w_of] - s_wi)[ok] / rest_n[ok]
    t = t_of[ok]
    n = np.bincount(t, minlength=n_tasks).astype(np.float64)
    mx = rate(np.bincount(t, weights=x, minlength=n_tasks), n)
    my = rate(np.bincount(t, weights=y, minlength=n_tasks), n)
    dx, dy = x - mx[t], y - my[t]
    sxy = np.bincount(t, weights=dx * dy, minlength=n_tasks)
    sxx = np.bincount(t, weights=dx * dx, minlength=n_tasks)
    syy = np.bincount(t, weights=dy * dy, minlength=n_tasks)
    den = np.sqrt(sxx * syy)
    # a variance that is zero up to rounding is zero: the correlation is undefined there
    defined = (n >= 3) & (sxx > 1e-12 * np.maximum(n, 1)) & (syy > 1e-12 * np.maximum(n, 1))
    disc[defined] = np.clip(sxy[defined] / den[defined], -1.0, 1.0)
    cand[:] = n.astype(np.int64)
    return cand, disc


def _readings(t: pd.DataFrame) -> pd.Series:
    rate_ = t["pass_rate"].to_numpy()
    disc = t["discrimination"].to_numpy()
    median = np.nanmedian(rate_) if np.isfinite(rate_).any() else np.nan
    hard = rate_ <= median - HARD_GAP
    conditions = [
        t["answers"].to_numpy() < MIN_ANSWERS_TO_READ,
        t["golden"].isna().to_numpy(),
        rate_ == 0,
        disc <= 0,
        hard & (disc >= DISCRIMINATING),
        hard & (disc > 0),
        rate_ >= EASY_RATE,
        np.isnan(disc),
        disc < DISCRIMINATING,
    ]
    choices = [
        "too few answers to judge",
        "no golden label: it cannot be graded",
        "nobody gets it right: check the golden label",
        "ambiguous or wrong golden: strong candidates miss it as often as weak ones",
        "hard item working as meant (a trap): those who miss it score lower on the other items",
        "hard item working as meant (a trap), but it separates strong from weak candidates only weakly",
        "easy: almost everyone gets it right, it tells candidates apart little",
        "discrimination undefined: candidates' scores do not vary",
        "works, but separates strong from weak candidates poorly",
    ]
    # np.select takes the first condition that holds; NaN comparisons are False
    return pd.Series(
        np.select(conditions, choices, default="works: separates strong from weak candidates"),
        index=t.index,
        dtype="str",
    )


def exam_scores(run: Run) -> pd.DataFrame:
    """Per candidate: graded exam answers, correct ones, score and whether they passed.

    Index ``worker_id`` (sorted). ``items`` = graded exam answers (on items with a golden label;
    the number of items unless an item was answered twice); ``correct``; ``score`` = correct /
    items (NaN where items == 0); ``passed`` = score >= the exam pool's pass threshold (a
    nullable boolean, NA where no threshold is recorded or the score is NaN); ``submitted_at`` =
    the candidate's last exam submission (NaT where times are missing). Toloka's exam skill is
    the same share of correct answers on the exam's control tasks.
    """
    c = run.codes
    rows, task, worker, correct = _graded(run)
    graded = c.golden[rows] >= 0
    nw = c.n_workers
    items = np.bincount(worker[graded], minlength=nw)
    n_correct = np.bincount(worker[graded], weights=correct[graded], minlength=nw).astype(np.int64)
    exam_rows = np.flatnonzero(kind_mask(run, "exam"))
    who = np.unique(c.worker[exam_rows])
    score = rate(n_correct, items)
    threshold = exam_threshold(run)
    passed = pd.array([pd.NA] * len(who), dtype="boolean")
    if threshold is not None:
        s = score[who]
        passed = pd.array(np.where(np.isnan(s), None, s >= threshold - _SCORE_TOLERANCE), dtype="boolean")
    sub = run.answers["submitted_at"].iloc[exam_rows]
    last = sub.groupby(c.worker[exam_rows]).max()
    submitted = pd.Series(pd.NaT, index=who, dtype=run.answers["submitted_at"].dtype)
    submitted.loc[last.index] = last.to_numpy()
    out = pd.DataFrame(
        {
            "items": items[who].astype(np.int64),
            "correct": n_correct[who],
            "score": score[who],
            "passed": passed,
            "submitted_at": submitted.to_numpy(),
        },
        index=pd.Index(np.asarray(c.worker_names, dtype=object)[who], name="worker_id", dtype="str"),
    )
    out["submitted_at"] = out["submitted_at"].astype(run.answers["submitted_at"].dtype)
    return out.sort_index()


def exam_summary(run: Run) -> ExamSummary:
    """Candidates, how many passed (score >= threshold), the pass rate, items and mean score.

    pass_rate = passed / candidates with a score; None (with ``passed``) where no threshold is
    recorded for the exam pool.
    """
    scores = exam_scores(run)
    threshold = exam_threshold(run)
    exam_rows = kind_mask(run, "exam")
    items = int(len(np.unique(run.codes.task[exam_rows])))
    scored = scores["score"].notna()
    passed = None if threshold is None else int(scores["passed"].fillna(False).sum())
    pass_rate = None if threshold is None or not scored.any() else passed / int(scored.sum())
    mean = float(scores["score"].mean()) if scored.any() else float("nan")
    return ExamSummary(int(len(scores)), passed, pass_rate, threshold, items, mean)
