"""The cost-quality curve: a toy run computed by hand, the model's figures in closed form, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.metrics import aggregation as A
from analytics.metrics._base import MetricUnavailable
from analytics.metrics.cost import cost_breakdown
from analytics.metrics.curve import OBSERVED, PROJECTED, cost_quality_curve
from analytics.model import Pricing, build_run


def toy_run(rows, labels=("x", "y"), truth=None, reward=0.10):
    """rows: (worker, task, label, golden or ''); each answer its own accepted suite at ``reward``."""
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label", "golden"])
    frame["kind"] = np.where(frame["golden"] != "", "control", "regular")
    frame["golden"] = frame["golden"].where(frame["golden"] != "", None)
    frame["assignment_id"] = [f"a{i}" for i in range(len(frame))]
    frame["status"] = "ACCEPTED"
    frame["reward"] = reward
    return build_run(frame, file="toy", labels=list(labels), truth=truth, pricing=Pricing(currency="USD"))


# overlap 2 everywhere. c1 (golden x): x, y -> a tie, which x (listed first) wins: right.
# c2 (golden y): y, y -> right. t1: x, x. Full aggregate: c1 x, c2 y, t1 x.
TOY = [
    ("w1", "c1", "x", "x"),
    ("w2", "c1", "y", "x"),
    ("w1", "c2", "y", "y"),
    ("w2", "c2", "y", "y"),
    ("w1", "t1", "x", ""),
    ("w2", "t1", "x", ""),
]


def test_toy_run_by_hand():
    run = toy_run(TOY)
    cq = cost_quality_curve(run, repeats=200, seed=3)
    p = cq.points
    assert cq.max_overlap == cq.typical_overlap == 2 and cq.tasks == 3 and cq.tasks_left_out == 0
    assert list(p.index) == [1, 2, 3, 4]
    assert list(p["basis"]) == [OBSERVED, OBSERVED, PROJECTED, PROJECTED]
    assert (
        p.loc[1, "tasks"] == 3
        and p.loc[1, "answers"] == 3
        and p.loc[2, "answers"] == 6
        and p.loc[1, "golden_tasks"] == 2
    )
    # k = 1: one answer per task. c2 and t1 are always right/unchanged; c1 is right iff its draw is x.
    rep = cq.per_repeat[cq.per_repeat["overlap"] == 1]
    picked_x = 2 * rep["golden_accuracy"] - 1  # accuracy = (1[x] + 1) / 2
    assert set(picked_x.round(12)) <= {0.0, 1.0}
    assert np.allclose(rep["agreement_with_full"], (2 + picked_x) / 3)
    assert (rep["tied_share"] == 0).all()
    assert p.loc[1, "golden_accuracy"] == pytest.approx(0.75, abs=0.06)  # E = 3/4 over 200 draws
    assert p.loc[1, "golden_min"] == 0.5 and p.loc[1, "golden_max"] == 1.0
    # k = 2: every answer; c1's tie goes to x -> accuracy 1, agreement 1, one task of three tied
    assert p.loc[2, "golden_accuracy"] == 1.0 and p.loc[2, "golden_std"] == 0.0
    assert p.loc[2, "agreement_with_full"] == 1.0 and p.loc[2, "tied_share"] == pytest.approx(1 / 3)
    # Wilson interval of 2 of 2
    assert (p.loc[2, "golden_ci_low"], p.loc[2, "golden_ci_high"]) == pytest.approx((0.3424, 1.0), abs=1e-4)
    # no truth: truth columns are NaN with 0 tasks behind them
    assert p.loc[1, "truth_tasks"] == 0 and np.isnan(p.loc[1, "truth_accuracy"])
    # projected rows carry no observed figures
    assert (
        pd.isna(p.loc[3, "tasks"])
        and np.isnan(p.loc[3, "golden_accuracy"])
        and np.isnan(p.loc[3, "agreement_with_full"])
    )


def test_cost_per_label_is_cost_per_answer_times_overlap():
    run = toy_run(TOY)
    cq = cost_quality_curve(run)
    # six accepted suites at 0.10, no fee: 0.60 / 6 answers = 0.10 an answer
    assert cq.cost_per_answer == pytest.approx(cost_breakdown(run).cost_per_answer) == pytest.approx(0.10)
    assert cq.points["cost_per_label"].tolist() == pytest.approx([0.10, 0.20, 0.30, 0.40])
    assert cq.currency == "USD" and cq.cost_missing is None
    # what a delivered label costs at overlap k: no exam, so all 0.60 is labeling-pool spend that
    # scales with k / K, over 1 final label (t1; c1 and c2 are control tasks): 0.30 at k = 1
    assert (cq.variable_spend, cq.fixed_spend, cq.final_labels) == pytest.approx((0.60, 0.0, 1))
    assert cq.points["cost_per_final_label"].tolist() == pytest.approx([0.30, 0.60, 0.90, 1.20])
    assert cq.points.loc[2, "cost_per_final_label"] == pytest.approx(cost_breakdown(run).cost_per_final_label)
    unpriced = toy_run(TOY, reward=None)
    cu = cost_quality_curve(unpriced)
    assert cu.cost_per_answer is None and "reward" in cu.cost_missing and cu.points["cost_per_label"].isna().all()
    assert cu.points["cost_per_final_label"].isna().all()


def test_cost_per_final_label_keeps_the_exam_fixed(demo_run):
    cq = cost_quality_curve(demo_run, repeats=1)
    b = cost_breakdown(demo_run)
    K = cq.max_overlap
    # at the run's overlap: the figure cost_breakdown reports
    assert cq.points.loc[K, "cost_per_final_label"] == pytest.approx(b.cost_per_final_label)
    # the exam (and bonuses) do not grow with overlap: one more answer per task adds V / K / labels
    assert cq.fixed_spend > 0 and cq.variable_spend + cq.fixed_spend == pytest.approx(b.total)
    step = cq.points["cost_per_final_label"].diff().dropna()
    assert step.to_numpy() == pytest.approx(cq.variable_spend / K / b.final_labels)


def test_model_projection_matches_its_closed_form():
    # control accuracy: w1 2/2, w2 1/2; pooled 3/4; shrunk with 2 answers' worth:
    # p1 = (2 + 1.5) / 4 = 0.875, p2 = (1 + 1.5) / 4 = 0.625; each draws half of the answers, so
    # every simulated answer is right with probability 0.75, independently. Two labels, truth x
    # or y half each (c1's and c2's known answers); ties go to x.
    #   k=1: 0.75;  k=2: 0.75^2 + 2(0.75)(0.25) / 2 = 0.75;  k=3: P(>= 2 right) = 0.84375;
    #   k=4: P(>= 3 right) + P(2-2) / 2 = 0.73828125 + 0.10546875 = 0.84375
    cq = cost_quality_curve(toy_run(TOY), simulations=50_000)
    expected = [0.75, 0.75, 0.84375, 0.84375]
    got = cq.points["model_accuracy"].tolist()
    se = cq.points["model_se"].tolist()
    for g, e, s in zip(got, expected, se, strict=True):
        assert abs(g - e) < 4 * s + 1e-9, (got, expected)
    assert cq.model_note == "" and "equal probability" in cq.assumptions


@pytest.fixture(scope="module")
def raw_demo_run(demo_workspace, demo_versions):
    """Demo 1.0.0 (nothing rejected yet): every task of the pool has exactly 3 answers."""
    return demo_workspace.open_run(next(v for v in demo_versions if v.version == "1.0.0").id)


def test_at_full_overlap_the_curve_is_the_full_aggregate(raw_demo_run):
    # k = 3 uses every answer of every task
    demo_run = raw_demo_run
    cq = cost_quality_curve(demo_run, repeats=3)
    full = A.accuracy_vs_golden(demo_run, A.aggregate(demo_run, "mv"))
    K = cq.max_overlap
    assert K == 3 and cq.tasks_left_out == 0
    row = cq.points.loc[K]
    assert row["golden_accuracy"] == pytest.approx(full.accuracy) and row["golden_std"] == 0.0
    assert row["golden_tasks"] == full.tasks
    assert (row["golden_ci_low"], row["golden_ci_high"]) == pytest.approx((full.ci_low, full.ci_high))
    assert row["agreement_with_full"] == 1.0
    assert row["tied_share"] == pytest.approx(A.aggregate(demo_run, "mv").n_tied / cq.tasks)


def test_seed_determinism_and_row_order(demo_run):
    a = cost_quality_curve(demo_run, repeats=4, seed=11)
    b = cost_quality_curve(demo_run, repeats=4, seed=11)
    pd.testing.assert_frame_equal(a.points, b.points)
    pd.testing.assert_frame_equal(a.per_repeat, b.per_repeat)
    c = cost_quality_curve(demo_run, repeats=4, seed=12)
    assert not c.per_repeat.equals(a.per_repeat)
    # shuffled rows, codes built anew: the same figures
    ans = demo_run.answers.sample(frac=1.0, random_state=5).reset_index(drop=True)
    for col in ("assignment_id", "task_id", "worker_id", "pool_id", "label", "golden", "kind", "status"):
        ans[col] = ans[col].astype(object).where(ans[col].notna(), None)
    shuffled = build_run(
        ans,
        file="shuffled",
        tasks=demo_run.tasks,
        restrictions=demo_run.restrictions,
        pricing=demo_run.pricing,
        meta=demo_run.meta,
        labels=demo_run.labels,
    )
    d = cost_quality_curve(shuffled, repeats=4, seed=11)
    pd.testing.assert_frame_equal(a.points, d.points, check_exact=False, rtol=1e-12)


def test_varying_overlap_uses_the_same_tasks_at_every_k():
    rows = TOY + [("w3", "t1", "y", ""), ("w1", "t2", "x", "")]  # t1 has 3 answers, t2 one
    cq = cost_quality_curve(toy_run(rows))
    assert cq.max_overlap == 2 and cq.tasks == 3 and cq.tasks_left_out == 1  # t2 (1 answer) is out
    assert (cq.observed["tasks"] == 3).all()
    # t1 has 3 answers (x, x, y): at k = 2 a draw may give x, y (tie -> x) or x, x: always x
    assert cq.points.loc[2, "agreement_with_full"] == 1.0
    with pytest.raises(
        ValueError,
        match=r"^The 'max_overlap' parameter of cost_quality_curve must be an int in \[1, 3\]\. Got 4 instead\.$",
    ):
        cost_quality_curve(toy_run(rows), max_overlap=4)
    k3 = cost_quality_curve(toy_run(rows), max_overlap=3)
    assert k3.tasks == 1 and k3.points.loc[1, "golden_tasks"] == 0 and np.isnan(k3.points.loc[1, "golden_accuracy"])


def test_truth_columns():
    truth = pd.Series({"c1": "y", "c2": "y", "t1": "x"})
    cq = cost_quality_curve(toy_run(TOY, truth=truth), repeats=50)
    p = cq.points
    assert p.loc[2, "truth_tasks"] == 3
    # at k = 2: c1 -> x (truth y: wrong), c2 right, t1 right
    assert p.loc[2, "truth_accuracy"] == pytest.approx(2 / 3)
    assert p.loc[2, "truth_accuracy"] == pytest.approx(
        A.accuracy_vs_truth(toy_run(TOY, truth=truth), A.aggregate(toy_run(TOY, truth=truth), "mv")).accuracy
    )


def test_no_control_tasks_no_model():
    rows = [(w, t, lab, "") for w, t, lab, _ in TOY]
    cq = cost_quality_curve(toy_run(rows))
    assert cq.points["golden_accuracy"].isna().all() and cq.points["model_accuracy"].isna().all()
    assert "no answered control tasks" in cq.model_note
    assert cq.points.loc[2, "agreement_with_full"] == 1.0


def test_parameters_are_checked():
    run = toy_run(TOY)
    with pytest.raises(
        ValueError, match=r"^The 'method' parameter of cost_quality_curve must be one of mv\. Got 'ds' instead\.$"
    ):
        cost_quality_curve(run, method="ds")
    with pytest.raises(
        ValueError, match=r"^The 'repeats' parameter of cost_quality_curve must be an int >= 1\. Got 0 instead\.$"
    ):
        cost_quality_curve(run, repeats=0)
    with pytest.raises(ValueError, match="'seed' parameter"):
        cost_quality_curve(run, seed=-1)
    exam_only = build_run(
        pd.DataFrame({"worker_id": ["w"], "task_id": ["e"], "label": ["x"], "golden": ["x"], "kind": ["exam"]}),
        file="exam",
        labels=["x", "y"],
    )
    with pytest.raises(MetricUnavailable, match="no labeled answers in its labeling pool"):
        cost_quality_curve(exam_only)


def test_large_runs_are_sampled_keeping_every_known_answer(raw_demo_run):
    full = cost_quality_curve(raw_demo_run, repeats=2)
    cq = cost_quality_curve(raw_demo_run, repeats=2, max_tasks=100)
    assert full.tasks_sampled_from is None and cq.tasks_sampled_from == full.tasks == 980
    # the 98 control tasks are all kept, plus 100 chosen by hash (some of them control tasks)
    assert 100 <= cq.tasks <= 198
    K = cq.max_overlap
    # accuracy uses only known-answer tasks, all kept: at k = K it equals the unsampled curve's
    assert cq.points.loc[K, "golden_accuracy"] == pytest.approx(full.points.loc[K, "golden_accuracy"])
    assert cq.points.loc[K, "golden_tasks"] == full.points.loc[K, "golden_tasks"]
