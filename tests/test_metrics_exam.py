"""Exam metrics: hand-computed toy exams, Wilson against statsmodels, and the demo's trap item."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.exam import exam_item_pass_rate, exam_scores, exam_summary
from analytics.model import PoolInfo, RunMeta, build_run

EXAM = PoolInfo("p-exam", "exam", "exam", pass_threshold=2 / 3)


def exam_run(answers: dict[str, dict[str, str]], golden: dict[str, str], threshold=2 / 3, labels=("x", "y", "z")):
    """answers[candidate][item] = label; one suite per candidate."""
    rows = [
        {
            "assignment_id": f"a-{w}",
            "task_id": t,
            "worker_id": w,
            "label": lab,
            "golden": golden[t],
            "kind": "exam",
            "pool_id": "p-exam",
            "submitted_at": f"2024-05-01T10:0{i}:00",
            "started_at": f"2024-05-01T10:0{i}:00",
        }
        for i, (w, items) in enumerate(answers.items())
        for t, lab in items.items()
    ]
    meta = RunMeta(pools=(dataclasses.replace(EXAM, pass_threshold=threshold),))
    return build_run(pd.DataFrame(rows), file="toy", meta=meta, labels=list(labels))


# five candidates, three items (golden x, x, y)
TOY = {
    "A": {"i1": "x", "i2": "x", "i3": "y"},  # 3/3
    "B": {"i1": "x", "i2": "x", "i3": "x"},  # 2/3
    "C": {"i1": "x", "i2": "y", "i3": "z"},  # 1/3
    "D": {"i1": "y", "i2": "y", "i3": "z"},  # 0/3
    "E": {"i1": "x", "i2": "x", "i3": "y"},  # 3/3
}
GOLD = {"i1": "x", "i2": "x", "i3": "y"}


def test_item_pass_rates_by_hand():
    t = exam_item_pass_rate(exam_run(TOY, GOLD))
    assert list(t.index) == ["i1", "i2", "i3"]
    # i1: A B C E right = 4/5; i2: A B E = 3/5; i3: A E = 2/5
    assert t["answers"].tolist() == [5, 5, 5]
    assert t["correct"].tolist() == [4, 3, 2]
    assert t["pass_rate"].tolist() == pytest.approx([0.8, 0.6, 0.4])
    for item, k in zip(t.index, [4, 3, 2], strict=True):
        lo, hi = proportion_confint(k, 5, alpha=0.05, method="wilson")
        assert t.loc[item, "ci_low"] == pytest.approx(lo, abs=1e-12)
        assert t.loc[item, "ci_high"] == pytest.approx(hi, abs=1e-12)
    # wrong answers: i1 y (D); i2 y, y (C, D); i3 x (B), z, z (C, D) -> z twice
    assert t["most_common_wrong"].astype(str).tolist() == ["y", "y", "z"]
    assert t["most_common_wrong_count"].tolist() == [1, 2, 2]
    assert t["golden"].astype(str).tolist() == ["x", "x", "y"]
    # five candidates, fewer than 10 answers: no reading yet
    assert set(t["reading"]) == {"too few answers to judge"}


def test_discrimination_is_the_item_rest_correlation():
    t = exam_item_pass_rate(exam_run(TOY, GOLD))
    # right/wrong matrix, candidates A..E x items i1..i3, written out by hand
    m = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    for j, item in enumerate(["i1", "i2", "i3"]):
        rest = (m.sum(axis=1) - m[:, j]) / 2  # share right on the two other items
        expected = np.corrcoef(m[:, j], rest)[0, 1]
        assert t.loc[item, "discrimination"] == pytest.approx(expected)
        assert t.loc[item, "candidates"] == 5
    # i1: x = 1 1 1 0 1, rest = 1 .5 0 0 1 -> r = 0.5590 (positive: weak D misses it)
    assert t.loc["i1", "discrimination"] == pytest.approx(0.5590169943749475)


def test_discrimination_undefined_when_everyone_passes():
    answers = {w: {"i1": "x", "i2": "x" if w in "AB" else "y"} for w in "ABC"}
    t = exam_item_pass_rate(exam_run(answers, {"i1": "x", "i2": "x"}))
    assert t.loc["i1", "pass_rate"] == 1.0
    assert np.isnan(t.loc["i1", "discrimination"])  # x is constant: no correlation


def _graded_exam():
    """12 candidates, 5 items: i1-i3 normal, i4 with a wrong golden, i5 a trap."""
    answers = {}
    for k in range(12):
        strong = k < 6
        answers[f"w{k:02d}"] = {
            "i1": "x" if strong or k % 2 == 0 else "y",
            "i2": "x" if strong else "y",
            "i3": "x" if strong else "z",
            # wrong golden ("x"): the strong candidates answer the true "y", the weak hit "x"
            "i4": "y" if strong else "x",
            # trap: only the three best get it
            "i5": "x" if k < 3 else "z",
        }
    return exam_run(answers, {f"i{j}": "x" for j in range(1, 6)})


def test_readings_tell_a_trap_from_a_broken_item():
    t = exam_item_pass_rate(_graded_exam())
    # pass rates: i1 (6 strong + w06 w08 w10) 9/12, i2 6/12, i3 6/12, i4 6/12, i5 3/12
    assert t["pass_rate"].tolist() == pytest.approx([0.75, 0.5, 0.5, 0.5, 0.25])
    assert t.loc["i4", "discrimination"] < 0
    assert t.loc["i4", "reading"] == "ambiguous or wrong golden: strong candidates miss it as often as weak ones"
    # i5: 0.25 <= median 0.5 - 0.20, and those who pass it are the strongest
    assert t.loc["i5", "discrimination"] > 0.2
    assert t.loc["i5", "reading"].startswith("hard item working as meant (a trap)")
    assert t.loc["i2", "reading"] == "works: separates strong from weak candidates"


def test_scores_and_summary_by_hand():
    run = exam_run(TOY, GOLD)
    s = exam_scores(run)
    assert list(s.index) == list("ABCDE")
    assert s["items"].tolist() == [3] * 5
    assert s["correct"].tolist() == [3, 2, 1, 0, 3]
    assert s["score"].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 0, 1])
    # threshold 2/3: B's 2 of 3 passes exactly at the threshold
    assert s["passed"].tolist() == [True, True, False, False, True]
    assert str(s["submitted_at"].dtype) == "datetime64[ns, UTC]"
    assert s.loc["C", "submitted_at"] == pd.Timestamp("2024-05-01T10:02:00", tz="UTC")
    summ = exam_summary(run)
    # 3 of 5 passed; mean score (1 + 2/3 + 1/3 + 0 + 1) / 5 = 0.6
    assert (summ.candidates, summ.passed, summ.items) == (5, 3, 3)
    assert summ.pass_rate == pytest.approx(0.6)
    assert summ.mean_score == pytest.approx(0.6)
    assert summ.threshold == pytest.approx(2 / 3)


def test_no_threshold_gives_na_not_false():
    run = exam_run(TOY, GOLD, threshold=None)
    s = exam_scores(run)
    assert s["passed"].isna().all() and str(s["passed"].dtype) == "boolean"
    summ = exam_summary(run)
    assert summ.passed is None and summ.pass_rate is None and summ.threshold is None


def test_no_exam_answers_is_unavailable():
    run = build_run(pd.DataFrame({"task_id": ["t1"], "worker_id": ["w1"], "label": ["x"]}), file="toy")
    for f in (exam_item_pass_rate, exam_scores, exam_summary):
        with pytest.raises(MetricUnavailable) as err:
            f(run)
        assert "no exam answers" in err.value.reason and isinstance(err.value, ValueError)


def test_row_order_does_not_matter():
    run = _graded_exam()
    a = run.answers.sample(frac=1, random_state=3).reset_index(drop=True)
    for col in ("task_id", "worker_id", "assignment_id"):
        cats = list(a[col].cat.categories)
        a[col] = a[col].cat.reorder_categories(cats[::-1])
    shuffled = dataclasses.replace(run, answers=a)
    pd.testing.assert_frame_equal(exam_item_pass_rate(run), exam_item_pass_rate(shuffled))
    pd.testing.assert_frame_equal(exam_scores(run), exam_scores(shuffled))


# ---- the demo: 10 images, the mixed plate ("other") is the trap about half get right


def test_demo_trap_item_is_read_as_a_trap(demo_run):
    t = exam_item_pass_rate(demo_run)
    assert len(t) == 10 and t["answers"].eq(105).all()
    trap = t[t["golden"] == "other"]
    assert len(trap) == 1
    row = trap.iloc[0]
    assert 0.4 <= row["pass_rate"] <= 0.6
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["discrimination"] > 0
    assert "trap" in row["reading"]
    # the other nine are ordinary items, none a trap or broken
    others = t[t["golden"] != "other"]
    assert not others["reading"].str.contains("trap|ambiguous").any()
    assert (others["pass_rate"] > 0.8).all()


def test_demo_scores_match_the_raw_answers(demo_run):
    a = demo_run.answers
    exam = a[a["kind"] == "exam"]
    right = (exam["label"].astype(str) == exam["golden"].astype(str)).groupby(exam["worker_id"].astype(str)).sum()
    s = exam_scores(demo_run)
    assert s["correct"].to_dict() == right.to_dict()
    assert (s["passed"] == (right.reindex(s.index) >= 10)).all()  # pass mark 100 %: all 10 items
    summ = exam_summary(demo_run)
    assert summ.candidates == 105 and summ.items == 10 and summ.threshold == 1.0
    assert summ.passed == int((right >= 10).sum())
