"""Control-task metrics: toy runs by hand, Wilson against statsmodels, the demo, and real data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import shared
from statsmodels.stats.proportion import proportion_confint

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.control import accuracy_vs_truth, control_accuracy, control_task_difficulty
from analytics.model import build_run
from analytics.sources import ReadOptions, read_files


def toy_run(rows, truth=None, labels=("x", "y", "z")):
    """rows: (worker, task, label, golden or '')."""
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label", "golden"])
    frame["kind"] = np.where(frame["golden"] != "", "control", "regular")
    return build_run(frame, file="toy", labels=list(labels), truth=truth)


ROWS = [
    # w1: 3 control answers, 2 right; w2: 1 of 1; w3: 0 of 2; w4: regular answers only
    ("w1", "c1", "x", "x"),
    ("w1", "c2", "y", "y"),
    ("w1", "c3", "x", "z"),
    ("w2", "c1", "x", "x"),
    ("w3", "c1", "y", "x"),
    ("w3", "c2", "z", "y"),
    ("w4", "r1", "x", ""),
    ("w1", "r1", "y", ""),
]


def test_control_accuracy_by_hand():
    t = control_accuracy(toy_run(ROWS), min_answers=2)
    assert list(t.index) == ["w1", "w2", "w3", "w4"]
    assert t["answers"].tolist() == [3, 1, 2, 0]
    assert t["correct"].tolist() == [2, 1, 0, 0]
    assert t["accuracy"].iloc[:3].tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    # w4 never met a control task: NaN with 0 / 0 beside it, not a silent 0
    assert np.isnan(t.loc["w4", "accuracy"]) and np.isnan(t.loc["w4", "ci_low"])
    for w, k, n in [("w1", 2, 3), ("w2", 1, 1), ("w3", 0, 2)]:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert t.loc[w, "ci_low"] == pytest.approx(lo, abs=1e-12)
        assert t.loc[w, "ci_high"] == pytest.approx(hi, abs=1e-12)
    assert t["enough"].tolist() == [True, False, True, False]


def test_parameter_errors_in_scikit_learn_words():
    run = toy_run(ROWS)
    with pytest.raises(
        ValueError, match=r"^The 'min_answers' parameter of control_accuracy must be an int >= 1\. Got 0 instead\.$"
    ):
        control_accuracy(run, min_answers=0)
    with pytest.raises(ValueError, match="Got 2.5 instead"):
        control_accuracy(run, min_answers=2.5)


def test_no_control_tasks_is_unavailable():
    run = toy_run([("w1", "r1", "x", ""), ("w2", "r1", "y", "")])
    for f in (control_accuracy, control_task_difficulty):
        with pytest.raises(MetricUnavailable) as err:
            f(run)
        assert err.value.missing_field == "golden"
        assert "control tasks" in str(err.value)


def _difficulty_rows():
    rows = []
    # five strong annotators: right on the four good control tasks g1-g4
    for w in ["s1", "s2", "s3", "s4", "s5"]:
        rows += [(w, f"g{i}", "x", "x") for i in range(1, 5)]
    # bad: golden "x", but the true answer is "y"; s1-s3 (strong) and one weak annotator say "y"
    rows += [("s1", "bad", "y", "x"), ("s2", "bad", "y", "x"), ("s3", "bad", "y", "x"), ("k1", "bad", "y", "x")]
    # hard: golden "x"; weak annotators k1-k3 say "z" together, strong s4 says "x"
    rows += [("k1", "hard", "z", "x"), ("k2", "hard", "z", "x"), ("k3", "hard", "z", "x"), ("s4", "hard", "x", "x")]
    # weak annotators miss every good task they see
    rows += [
        ("k1", "g1", "z", "x"),
        ("k2", "g1", "z", "x"),
        ("k3", "g2", "y", "x"),
        ("k1", "g2", "z", "x"),
        ("k2", "g3", "y", "x"),
        ("k3", "g3", "z", "x"),
    ]
    # split: golden "x" and three different answers
    rows += [("s5", "split", "y", "x"), ("k2", "split", "z", "x"), ("k3", "split", "x", "x")]
    return rows


def test_control_task_difficulty_flags_a_wrong_golden_not_a_hard_task():
    t = control_task_difficulty(toy_run(_difficulty_rows()))
    # bad: 4 answers, 0 right, all "y"; strong (>= 0.7 on >= 3 other tasks): s1 s2 s3 (4/4 each)
    assert t.loc[
        "bad",
        ["answers", "correct", "most_common_count", "strong_answers", "strong_on_most_common", "strong_on_golden"],
    ].tolist() == [4, 0, 4, 3, 3, 0]
    assert t.loc["bad", "most_common_answer"] == "y" and t.loc["bad", "suspect"]
    # hard: 3 of 4 say "z", but they are weak (k1: 0 of 3 others) and the strong s4 chose golden
    assert t.loc["hard", "most_common_answer"] == "z" and t.loc["hard", "strong_on_golden"] == 1
    assert not t.loc["hard", "suspect"]
    # split: no majority for any label
    assert t.loc["split", "most_common_count"] == 1 and not t.loc["split", "suspect"]
    # g1: s1-s5 right, k1 k2 wrong -> 5/7
    assert t.loc["g1", "share_correct"] == pytest.approx(5 / 7)
    lo, hi = proportion_confint(5, 7, method="wilson")
    assert (t.loc["g1", "ci_low"], t.loc["g1", "ci_high"]) == pytest.approx((lo, hi))
    assert not t.loc[["g1", "g2", "g3", "g4"], "suspect"].any()
    assert list(t.index) == sorted(t.index)


def test_demo_wrong_golden_control_tasks(demo_run):
    t = control_task_difficulty(demo_run)
    urls = demo_run.tasks["image"].reindex(t.index)
    name = urls.str.extract(r"(ctl_\d+)")[0]
    t = t.assign(name=name.to_numpy())
    # the two control tasks with a wrong known answer (demo i == 7 and 41): all three annotators,
    # two of them strong, agree on another label, and the rule calls both and no other
    assert t.loc[t["suspect"], "name"].tolist() == ["ctl_008", "ctl_042"]
    row = t[t["name"] == "ctl_042"].iloc[0]
    assert (row["golden"], row["most_common_answer"], row["correct"]) == ("liquid", "solid", 0)
    row = t[t["name"] == "ctl_008"].iloc[0]
    assert (row["golden"], row["most_common_answer"], row["most_common_count"]) == ("solid", "other", 3)
    assert t["answers"].sum() == (demo_run.answers["kind"] == "control").sum()


def test_demo_control_accuracy_matches_the_raw_answers(demo_run):
    a = demo_run.answers
    ctl = a[a["kind"] == "control"]
    right = (
        (ctl["label"].astype(str) == ctl["golden"].astype(str))
        .groupby(ctl["worker_id"].astype(str))
        .agg(["sum", "size"])
    )
    t = control_accuracy(demo_run)
    got = t[t["answers"] > 0]
    assert got["correct"].to_dict() == right["sum"].to_dict()
    assert got["answers"].to_dict() == right["size"].to_dict()
    assert (t["enough"] == (t["answers"] >= 5)).all()


def test_accuracy_vs_truth_by_hand():
    truth = pd.Series({"t1": "x", "t2": "y", "t9": "x"})  # t9 has no answers
    run = toy_run(
        [("w1", "t1", "x", ""), ("w1", "t2", "x", ""), ("w2", "t2", "y", ""), ("w3", "t3", "x", "")], truth=truth
    )
    t = accuracy_vs_truth(run)
    # w1: t1 right, t2 wrong -> 1/2; w2: 1/1; w3 answered no task with truth -> not listed
    assert list(t.index) == ["w1", "w2"]
    assert t["answers"].tolist() == [2, 1] and t["correct"].tolist() == [1, 1]
    lo, hi = proportion_confint(1, 2, method="wilson")
    assert (t.loc["w1", "ci_low"], t.loc["w1", "ci_high"]) == pytest.approx((lo, hi))
    # a given truth overrides run.truth
    t2 = accuracy_vs_truth(run, pd.Series({"t3": "y"}))
    assert list(t2.index) == ["w3"] and t2.loc["w3", "correct"] == 0


def test_accuracy_vs_truth_without_truth_is_unavailable():
    run = toy_run([("w1", "t1", "x", "")])
    with pytest.raises(MetricUnavailable) as err:
        accuracy_vs_truth(run)
    assert err.value.missing_field == "truth"


# ---- real data: README figures. Quantiles: numpy's default "linear" (Hyndman & Fan type 7),
# the one definition that reproduces every README figure below.


def _q(x, q):
    return float(np.quantile(x, q, method="linear"))


@pytest.mark.shared_data
def test_adultcontent2_worker_accuracy_against_gold():
    folder = shared("gal-adultcontent2")
    run = read_files([folder / "labels.txt"], ReadOptions(names=["worker", "task", "label"]), truth=folder / "gold.txt")
    t = accuracy_vs_truth(run)
    assert len(t) == 269  # 269 workers answered a gold url
    assert round(_q(t["accuracy"], 0.5), 3) == 0.706
    assert (round(_q(t["accuracy"], 0.1), 3), round(_q(t["accuracy"], 0.9), 3)) == (0.0, 1.0)
    ten = t[t["answers"] >= 10]
    assert len(ten) == 75
    # README: median 0.702; the exact median is 47/67 = 0.70149, i.e. 0.702 only if rounded twice
    # (0.70149 -> 0.7015 -> 0.702): within 0.001 of the figure, and p10/p90 match exactly
    assert _q(ten["accuracy"], 0.5) == pytest.approx(0.702, abs=1e-3)
    assert (round(_q(ten["accuracy"], 0.1), 3), round(_q(ten["accuracy"], 0.9), 3)) == (0.522, 0.867)
    assert round(t["correct"].sum() / t["answers"].sum(), 3) == 0.681  # pooled answer accuracy


ZHENG = {
    # set: (median, p10, p90) over all workers, and over workers with >= 10 answers (n, median, p10, p90)
    "duck": ((0.620, 0.439, 0.807), (39, 0.620, 0.439, 0.807)),
    "dog": ((0.702, 0.500, 1.000), (78, 0.695, 0.597, 0.819)),
    "face": ((0.583, 0.531, 0.675), (25, 0.583, 0.544, 0.667)),
    "product": ((0.913, 0.323, 1.000), (176, 0.913, 0.323, 1.000)),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(ZHENG))
def test_zheng2017_worker_accuracy(name):
    folder = shared("zheng2017-truth-inference", name)
    run = read_files([folder / "answer.csv"], truth=folder / "truth.csv")
    t = accuracy_vs_truth(run)
    everyone, ten = ZHENG[name]
    assert tuple(round(_q(t["accuracy"], q), 3) for q in (0.5, 0.1, 0.9)) == everyone
    sub = t[t["answers"] >= 10]
    assert (len(sub),) + tuple(round(_q(sub["accuracy"], q), 3) for q in (0.5, 0.1, 0.9)) == ten


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, figures, pooled", [("rte", (0.850, 0.665, 0.950), 0.729), ("temp", (0.900, 0.567, 1.000), 0.734)]
)
def test_snow2008_worker_accuracy(name, figures, pooled):
    run = read_files([shared("snow2008-rte-temp", f"{name}.standardized.csv")])
    t = accuracy_vs_truth(run)
    assert tuple(round(_q(t["accuracy"], q), 3) for q in (0.5, 0.1, 0.9)) == figures
    assert round(t["correct"].sum() / t["answers"].sum(), 3) == pooled


def test_row_order_does_not_matter(demo_run):
    a = demo_run.answers.sample(frac=1, random_state=7).reset_index(drop=True)
    for col in ("task_id", "worker_id"):
        a[col] = a[col].cat.reorder_categories(list(a[col].cat.categories)[::-1])
    shuffled = dataclasses.replace(demo_run, answers=a)
    pd.testing.assert_frame_equal(control_accuracy(demo_run), control_accuracy(shuffled))
    pd.testing.assert_frame_equal(control_task_difficulty(demo_run), control_task_difficulty(shuffled))
