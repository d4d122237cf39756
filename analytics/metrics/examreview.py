"""Exam review: does the exam predict quality in the main pool, and what would another pass mark have done?

For every exam candidate, their exam score (:func:`analytics.metrics.exam.exam_scores`) beside what
they did later in the labeling pool: accuracy on its control tasks (the main-pool accuracy the
correlation uses), agreement of their regular answers with the aggregate, and accuracy against
ground truth where the run has it. The correlation is Pearson's r between exam score and
main-pool control accuracy over the candidates with at least ``min_control`` control answers, with
a 95 % interval by Fisher's z transform (tanh(atanh r ± 1.96 / sqrt(n − 3))), and Spearman's rho
beside it. A pass mark other than the recorded one lets in the candidates whose score is at or
above it but below the recorded mark, and keeps out those at or above the recorded mark but
below it; their later accuracy is known only for those who worked in the main pool (someone an
exam kept out never did), which the table says.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable, kind_mask
from analytics.metrics._qa import records
from analytics.metrics.exam import exam_scores, exam_threshold
from analytics.model import Run

Z95 = 1.959963984540054
SCORE_TOLERANCE = 1e-9  # a share equal to the pass mark passes even after float rounding (as exam.exam_scores)


@dataclass(frozen=True)
class ExamReview:
    """See :func:`exam_review`.

    ``candidates`` (index worker_id): ``exam_score``, ``exam_items``, ``passed`` (at the recorded
    mark), ``passes`` (at ``pass_mark``), ``change`` ("let in", "kept out" or ""),
    ``main_answers``, ``control_answers``, ``control_correct``, ``control_accuracy``,
    ``agreement`` (share of regular answers equal to the aggregate), ``truth_accuracy``.
    ``correlation``: measure, n, pearson_r, ci_low, ci_high, spearman_rho, why (None where
    defined). ``by_score``: per exam score: candidates, passed, worked (with main answers),
    control_answers, control_accuracy (pooled), agreement (mean). ``let_in`` / ``kept_out``:
    candidates, worked, control_answers, control_accuracy (pooled; None where none worked).
    ``kept``: the same for those passing at ``pass_mark``.
    """

    recorded_pass_mark: float | None
    pass_mark: float | None
    candidates: pd.DataFrame
    correlation: dict[str, Any]
    by_score: pd.DataFrame
    let_in: dict[str, Any]
    kept_out: dict[str, Any]
    kept: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = records(v) if isinstance(v, pd.DataFrame) else v
        return out


def _mark(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    if not 0 <= x <= 1:
        raise ValueError(
            f"The 'pass_mark' parameter of exam_review must be a share of items right from 0 to 1 (0.9 for 90 %). "
            f"Got {value!r} instead."
        )
    return x


def _main_pool(run: Run, method: str) -> pd.DataFrame:
    """Per annotator with labeling-pool answers: answers, control answers and correct, agreement."""
    c = run.codes
    given = c.label >= 0
    main = kind_mask(run, "regular", "control") & given
    ctl = kind_mask(run, "control") & given & (c.golden >= 0)
    reg = kind_mask(run, "regular") & given
    nw = c.n_workers
    agree = np.full(len(c.label), False)
    try:
        from analytics.metrics import aggregation

        codes = aggregation.aggregate(run, method).codes
        agree = reg & (codes[c.task] == c.label)
    except MetricUnavailable:
        reg = np.zeros(len(c.label), dtype=bool)
    n_reg = np.bincount(c.worker[reg], minlength=nw)
    out = pd.DataFrame(
        {
            "main_answers": np.bincount(c.worker[main], minlength=nw),
            "control_answers": np.bincount(c.worker[ctl], minlength=nw),
            "control_correct": np.bincount(c.worker[ctl], weights=c.label[ctl] == c.golden[ctl], minlength=nw),
            "agreement": np.where(
                n_reg > 0, np.bincount(c.worker, weights=agree, minlength=nw) / np.maximum(n_reg, 1), np.nan
            ),
        },
        index=pd.Index(np.asarray(c.worker_names, dtype=object), name="worker_id", dtype="str"),
    ).astype({"main_answers": "int64", "control_answers": "int64", "control_correct": "int64"})
    return out


def _truth_accuracy(run: Run) -> pd.Series:
    if run.truth is None or len(run.truth) == 0:
        return pd.Series(dtype="float64")
    from analytics.metrics.control import accuracy_vs_truth

    try:
        return accuracy_vs_truth(run)["accuracy"]
    except MetricUnavailable:
        return pd.Series(dtype="float64")


def _correlation(t: pd.DataFrame, min_control: int) -> dict[str, Any]:
    ok = t["exam_score"].notna() & (t["control_answers"] >= min_control)
    x, y = t.loc[ok, "exam_score"].to_numpy(float), t.loc[ok, "control_accuracy"].to_numpy(float)
    out: dict[str, Any] = {
        "measure": f"exam score against main-pool control accuracy (candidates with >= {min_control} control answers)",
        "n": int(ok.sum()),
        "pearson_r": None,
        "ci_low": None,
        "ci_high": None,
        "spearman_rho": None,
        "why": None,
    }
    if len(x) < 4:
        out["why"] = f"{len(x)} candidate(s) worked in the main pool with enough control answers; at least 4 are needed"
    elif np.ptp(x) == 0:
        out["why"] = f"every candidate who worked in the main pool scored the same on the exam ({x[0]:g})"
    elif np.ptp(y) == 0:
        out["why"] = f"every candidate who worked in the main pool has the same control accuracy ({y[0]:g})"
    if out["why"]:
        return out
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
    z, se = math.atanh(min(max(r, -0.999999), 0.999999)), 1 / math.sqrt(len(x) - 3)
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    out.update(
        pearson_r=r,
        ci_low=math.tanh(z - Z95 * se),
        ci_high=math.tanh(z + Z95 * se),
        spearman_rho=float(np.corrcoef(rx, ry)[0, 1]),
    )
    return out


def _group(t: pd.DataFrame) -> dict[str, Any]:
    worked = t[t["main_answers"] > 0]
    n = int(worked["control_answers"].sum())
    return {
        "candidates": int(len(t)),
        "worked": int(len(worked)),
        "control_answers": n,
        "control_accuracy": float(worked["control_correct"].sum() / n) if n else None,
    }


def exam_review(run: Run, pass_mark: float | None = None, min_control: int = 5, method: str = "mv") -> ExamReview:
    """Exam scores against main-pool accuracy, and what ``pass_mark`` (a share; default: the
    recorded one) would have let in or kept out (see ExamReview and the module's docstring).

    Raises MetricUnavailable without exam answers, ValueError for a pass mark outside 0..1.
    """
    mark = _mark(pass_mark)
    scores = exam_scores(run)
    recorded = exam_threshold(run)
    mark = recorded if mark is None else mark
    main = _main_pool(run, method)
    t = pd.DataFrame(
        {"exam_score": scores["score"], "exam_items": scores["items"], "passed": scores["passed"]}, index=scores.index
    )
    t = t.join(main, how="left")
    for col in ("main_answers", "control_answers", "control_correct"):
        t[col] = t[col].fillna(0).astype("int64")
    t["control_accuracy"] = np.where(
        t["control_answers"] > 0, t["control_correct"] / t["control_answers"].clip(1), np.nan
    )
    t["truth_accuracy"] = _truth_accuracy(run).reindex(t.index).to_numpy(dtype=float)
    s = t["exam_score"].to_numpy(float)
    passes = pd.array(np.where(np.isnan(s), None, s >= (mark or 0) - SCORE_TOLERANCE), dtype="boolean")
    t["passes"] = passes if mark is not None else pd.array([pd.NA] * len(t), dtype="boolean")
    was = t["passed"].fillna(False).to_numpy(bool)
    now = t["passes"].fillna(False).to_numpy(bool)
    t["change"] = np.select([now & ~was, was & ~now], ["let in", "kept out"], default="")
    t = t[
        [
            "exam_score",
            "exam_items",
            "passed",
            "passes",
            "change",
            "main_answers",
            "control_answers",
            "control_correct",
            "control_accuracy",
            "agreement",
            "truth_accuracy",
        ]
    ].sort_index()
    return ExamReview(
        recorded_pass_mark=recorded,
        pass_mark=mark,
        candidates=t,
        correlation=_correlation(t, min_control),
        by_score=_by_score(t),
        let_in=_group(t[t["change"] == "let in"]),
        kept_out=_group(t[t["change"] == "kept out"]),
        kept=_group(t[now]),
    )


def _by_score(t: pd.DataFrame) -> pd.DataFrame:
    g = t[t["exam_score"].notna()].assign(worked=lambda d: d["main_answers"] > 0)
    g = g.assign(passed=g["passed"].fillna(False).astype(bool))
    out = g.groupby("exam_score").agg(
        candidates=("worked", "size"),
        passed=("passed", "sum"),
        worked=("worked", "sum"),
        control_answers=("control_answers", "sum"),
        control_correct=("control_correct", "sum"),
        agreement=("agreement", "mean"),
    )
    out["control_accuracy"] = np.where(
        out["control_answers"] > 0, out["control_correct"] / out["control_answers"].clip(lower=1), np.nan
    )
    return out.drop(columns="control_correct").astype({"passed": "int64", "worked": "int64"}).sort_index()
