"""Label distributions: counts by hand, chi-square against scipy, every label listed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.labels import annotator_label_use, compare_distributions, distribution_of, label_distribution
from analytics.model import build_run


def toy_run(rows, labels=("a", "b", "c")):
    """rows: (worker, task, label, kind)."""
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label", "kind"])
    frame["golden"] = np.where(frame["kind"] == "control", "a", None)
    return build_run(frame, file="toy", labels=list(labels))


def test_label_distribution_lists_every_label_with_zeros():
    run = toy_run(
        [
            ("w1", "t1", "a", "regular"),
            ("w2", "t1", "a", "regular"),
            ("w1", "t2", "b", "regular"),
            ("w1", "c1", "a", "control"),
            ("w1", "e1", "b", "exam"),
        ]
    )
    d = label_distribution(run)
    # regular + control: a a b a -> a 3, b 1, c 0
    assert list(d.index) == ["a", "b", "c"]
    assert d["count"].tolist() == [3, 1, 0]
    assert d["share"].tolist() == pytest.approx([0.75, 0.25, 0.0])
    assert label_distribution(run, kinds=("exam",))["count"].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match=r"The 'kinds' parameter of label_distribution must be a non-empty subset"):
        label_distribution(run, kinds=("gold",))
    with pytest.raises(MetricUnavailable):
        label_distribution(run, kinds=("training",))


def test_distribution_of_aggregated_labels():
    agg = pd.Series(["b", "a", None, "b"], index=["t1", "t2", "t3", "t4"])
    d = distribution_of(agg, ["a", "b", "c"])
    # t3 has no aggregate: b 2, a 1, c 0 over 3
    assert d["count"].tolist() == [1, 2, 0]
    assert d["share"].tolist() == pytest.approx([1 / 3, 2 / 3, 0])
    with pytest.raises(ValueError, match="outside label_order.*'q'"):
        distribution_of(pd.Series(["a", "q"]), ["a", "b"])


def test_distribution_of_a_categorical_equals_the_text():
    """Aggregated labels are categoricals: counted on their codes, as the same labels as text."""
    text = pd.Series(["b", "a", None, "b", "c", "b"])
    cat = text.astype(pd.CategoricalDtype(["c", "z", "b", "a"]))  # another order, an unused category
    pd.testing.assert_frame_equal(distribution_of(cat, ["a", "b", "c"]), distribution_of(text, ["a", "b", "c"]))
    assert distribution_of(cat, ["a", "b", "c"])["count"].tolist() == [1, 3, 1]
    with pytest.raises(ValueError, match="outside label_order.*'q'"):
        distribution_of(pd.Series(["a", "q", "q"], dtype="category"), ["a", "b"])


def _use_rows():
    rows = []
    # w1: 20 answers, 16 "a" (over-uses a); w2, w3: 20 answers each, 5 a / 10 b / 5 c; w4: 3 answers
    rows += [("w1", f"t{i}", "a" if i < 16 else "b", "regular") for i in range(20)]
    for w in ("w2", "w3"):
        rows += [(w, f"t{i}", "a" if i < 5 else ("b" if i < 15 else "c"), "regular") for i in range(20)]
    rows += [("w4", f"t{i}", "c", "regular") for i in range(3)]
    return rows


def test_annotator_label_use_against_the_others():
    use = annotator_label_use(toy_run(_use_rows()), min_answers=20)
    t = use.annotators
    assert list(t.index) == ["w1", "w2", "w3", "w4"]
    assert t["answers"].tolist() == [20, 20, 20, 3]
    # w1 against everyone else (w2 w3 w4): a 10, b 20, c 13 of 43
    others = np.array([10, 20, 13]) / 43
    observed = np.array([16, 4, 0])
    expected = stats.chisquare(observed, observed.sum() * others)
    assert t.loc["w1", "chi2"] == pytest.approx(expected.statistic)
    assert t.loc["w1", "p_value"] == pytest.approx(expected.pvalue)
    assert t.loc["w1", "dof"] == 2
    assert t.loc["w1", "over_used_label"] == "a"
    assert t.loc["w1", "over_use_pp"] == pytest.approx(100 * (16 / 20 - 10 / 43))
    # Bonferroni over the 3 tested annotators: p < 0.05 / 3 and >= 10 points over
    assert t["flagged"].tolist() == [True, False, False, False]
    # w4 has 3 < 20 answers: not tested
    assert np.isnan(t.loc["w4", "p_value"]) and not t.loc["w4", "flagged"]
    s = use.shares
    assert s.loc[("w1", "a"), "count"] == 16 and s.loc[("w1", "c"), "share"] == 0
    assert s.loc[("w1", "a"), "others_share"] == pytest.approx(10 / 43)
    assert len(s) == 4 * 3
    # pooled: a 26, b 24, c 13 of 63
    assert use.pool_share.tolist() == pytest.approx([26 / 63, 24 / 63, 13 / 63])


def test_label_the_others_never_use_is_p_zero():
    rows = [("w1", f"t{i}", "a", "regular") for i in range(5)] + [("w2", f"t{i}", "c", "regular") for i in range(5)]
    t = annotator_label_use(toy_run(rows), min_answers=5).annotators
    assert t["p_value"].tolist() == [0.0, 0.0]
    assert t["flagged"].all()


def test_single_annotator_is_unavailable():
    with pytest.raises(MetricUnavailable, match="single annotator"):
        annotator_label_use(toy_run([("w1", "t1", "a", "regular")]))
    with pytest.raises(
        ValueError, match=r"^The 'min_answers' parameter of annotator_label_use must be an int >= 1\. Got -1 instead\.$"
    ):
        annotator_label_use(toy_run(_use_rows()), min_answers=-1)


def test_compare_distributions_against_scipy():
    a = pd.Series({"x": 30, "y": 50, "z": 20})
    b = pd.Series({"x": 20, "y": 20, "w": 10})
    r = compare_distributions(a, b)
    assert list(r.table.index) == ["x", "y", "z", "w"]
    assert r.table["count_b"].tolist() == [20, 20, 0, 10]
    # shares a .3 .5 .2 0, b .4 .4 0 .2 -> differences +10 -10 -20 +20 points; TVD = (10+10+20+20)/2 %
    assert r.table["difference_pp"].tolist() == pytest.approx([10, -10, -20, 20])
    assert r.total_variation == pytest.approx(0.30)
    chi2, p, dof, _ = stats.chi2_contingency([[30, 50, 20, 0], [20, 20, 0, 10]], correction=False)
    assert (r.chi2, r.p_value, r.dof) == (pytest.approx(chi2), pytest.approx(p), dof)


def test_compare_distributions_accepts_label_distribution_frames(demo_workspace, demo_versions):
    v1, _, v3 = (demo_workspace.open_run(v.id) for v in demo_versions)
    r = compare_distributions(label_distribution(v1), label_distribution(v3))
    # v3 adds the 90 re-annotation answers to v1's answers (and v1 has no rejected suites removed)
    assert r.table["count_b"].sum() - r.table["count_a"].sum() == 90
    assert 0 <= r.total_variation < 0.05
    with pytest.raises(ValueError, match="non-negative counts"):
        compare_distributions(pd.Series({"x": -1}), pd.Series({"x": 1}))


def test_row_order_does_not_matter(demo_run):
    a = demo_run.answers.sample(frac=1, random_state=11).reset_index(drop=True)
    a["worker_id"] = a["worker_id"].cat.reorder_categories(list(a["worker_id"].cat.categories)[::-1])
    shuffled = dataclasses.replace(demo_run, answers=a)
    pd.testing.assert_frame_equal(label_distribution(demo_run), label_distribution(shuffled))
    u1, u2 = annotator_label_use(demo_run), annotator_label_use(shuffled)
    pd.testing.assert_frame_equal(u1.annotators, u2.annotators)
    pd.testing.assert_frame_equal(u1.shares, u2.shares)
