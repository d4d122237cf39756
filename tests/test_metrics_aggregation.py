"""Aggregation behind one function: by hand, against crowd-kit called directly, and the READMEs' figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared

from analytics import kernels
from analytics.metrics import aggregation as A
from analytics.metrics import control as C
from analytics.metrics._base import MetricUnavailable
from analytics.model import build_run
from analytics.sources import ReadOptions, read_files


def toy_run(rows, labels=("x", "y", "z"), truth=None):
    """rows: (worker, task, label, golden or '')."""
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label", "golden"])
    frame["kind"] = np.where(frame["golden"] != "", "control", "regular")
    return build_run(frame, file="toy", labels=list(labels), truth=truth)


TOY = [
    # t1: x x y -> x (2/3); t2: y z -> tie between y and z -> y (listed first); c1 control golden x: x y y -> y (wrong)
    ("w1", "t1", "x", ""),
    ("w2", "t1", "x", ""),
    ("w3", "t1", "y", ""),
    ("w1", "t2", "z", ""),
    ("w2", "t2", "y", ""),
    ("w1", "c1", "x", "x"),
    ("w2", "c1", "y", "x"),
    ("w3", "c1", "y", "x"),
]


def test_majority_vote_by_hand_with_the_documented_tie_rule():
    run = toy_run(TOY)
    a = A.aggregate(run, "mv")
    lab = a.labels
    assert lab.loc["t1", "label"] == "x" and lab.loc["t1", "confidence"] == pytest.approx(2 / 3)
    assert lab.loc["t2", "label"] == "y" and bool(lab.loc["t2", "tied"]) and lab.loc["t2", "confidence"] == 0.5
    assert lab.loc["c1", "label"] == "y"
    assert a.n_tied == 1 and lab["answers"].to_dict() == {"c1": 3, "t1": 3, "t2": 2}
    assert a.probas.loc["t1"].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    # the tie goes to the label listed first in the label set: reverse it and z wins
    rev = A.aggregate(toy_run(TOY, labels=("z", "y", "x")), "mv")
    assert rev.labels.loc["t2", "label"] == "z"


def test_accuracy_vs_golden_and_truth_by_hand():
    truth = pd.Series({"t1": "x", "t2": "z", "c1": "x"})
    run = toy_run(TOY, truth=truth)
    a = A.aggregate(run, "mv")
    g = A.accuracy_vs_golden(run, a)
    assert (g.tasks, g.correct, g.accuracy) == (1, 0, 0.0)
    t = A.accuracy_vs_truth(run, a)
    # t1 right, t2 tied y/z with truth z (wrong under the rule, 1/2 expected), c1 wrong
    assert (t.tasks, t.correct, t.tied) == (3, 1, 1)
    assert t.accuracy == pytest.approx(1 / 3) and t.strict == pytest.approx(1 / 3)
    assert t.expected == pytest.approx((1 + 0.5 + 0) / 3)
    assert 0 <= t.ci_low <= t.accuracy <= t.ci_high <= 1


def test_no_truth_and_no_golden_are_unavailable_with_the_reason():
    run = toy_run([r for r in TOY if not r[3]])
    a = A.aggregate(run, "mv")
    with pytest.raises(MetricUnavailable, match="control tasks"):
        A.accuracy_vs_golden(run, a)
    with pytest.raises(MetricUnavailable, match="truth"):
        A.accuracy_vs_truth(run, a)


def test_method_is_checked_in_scikit_learn_words():
    with pytest.raises(
        ValueError,
        match=r"The 'method' parameter of aggregate must be one of mv, wawa, ds, onecoin, glad, mace\. "
        r"Got 'vote' instead\.",
    ):
        A.aggregate(toy_run(TOY), "vote")


def test_disagreements_list_the_tasks_where_methods_differ():
    run = toy_run(TOY)
    d = A.disagreements(run, ("mv", "ds"))
    mv, ds = A.aggregate(run, "mv"), A.aggregate(run, "ds")
    differ = sorted(t for t in mv.labels.index if mv.labels.loc[t, "label"] != ds.labels.loc[t, "label"])
    assert sorted(d.index) == differ
    for t in d.index:
        assert d.loc[t, "mv"] == mv.labels.loc[t, "label"] and d.loc[t, "ds"] == ds.labels.loc[t, "label"]


def test_task_votes_has_every_fast_method():
    run = toy_run(TOY)
    v = A.task_votes(run, "t1")
    assert list(v.index) == [A.METHODS[m] for m in A.FAST_METHODS]
    assert v.loc["majority vote", "label"] == "x"
    with pytest.raises(MetricUnavailable, match="nope"):
        A.task_votes(run, "nope")


def test_estimate_grows_with_the_run(monkeypatch):
    run = toy_run(TOY)
    monkeypatch.setattr(A.os, "getloadavg", lambda: (0.5, 0.5, 0.5))  # a quiet machine
    assert A.estimate_seconds(run, "glad") == pytest.approx(A.SECONDS_PER_ANSWER["glad"] * 8)
    assert A.estimate_seconds(run, "mace") == pytest.approx(A.FIXED_SECONDS["mace"] + A.SECONDS_PER_ANSWER["mace"] * 8)
    # a machine twice as loaded as it has cores: the estimate doubles
    monkeypatch.setattr(A.os, "getloadavg", lambda: (2.0 * (A.os.cpu_count() or 1), 0, 0))
    assert A.estimate_seconds(run, "glad") == pytest.approx(2 * A.SECONDS_PER_ANSWER["glad"] * 8)


def test_a_run_without_pool_answers_is_not_asked_for_but_unavailable():
    # an exam-only run: nothing to aggregate, so no button to press; aggregate says why
    frame = pd.DataFrame(
        [("w1", "q1", "x", "x"), ("w2", "q1", "y", "x")], columns=["worker_id", "task_id", "label", "golden"]
    )
    frame["kind"] = "exam"
    run = build_run(frame, file="toy", labels=["x", "y"])
    for method in A.METHODS:
        assert A.on_request(run, method) is False
    with pytest.raises(MetricUnavailable, match="no labeled answers in its labeling pool"):
        A.aggregate(run, "ds")
    with pytest.raises(MetricUnavailable):
        A.task_votes(run, "q1")


# --- crowd-kit called directly on the same answers -----------------------------------------


def _crowdkit_frame(run):
    rows = A.pool_rows(run)
    a = run.answers.iloc[rows]
    return pd.DataFrame(
        {
            "task": a["task_id"].astype(str).to_numpy(),
            "worker": a["worker_id"].astype(str).to_numpy(),
            "label": a["label"].astype(str).to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def dog():
    folder = shared("zheng2017-truth-inference", "dog")
    return read_files([folder / "answer.csv"], truth=folder / "truth.csv")


@pytest.mark.shared_data
@pytest.mark.parametrize("method", ["ds", "onecoin", "mv"])
def test_fast_methods_equal_crowdkit(dog, method):
    """Through aggregate(run, ...) on real data. Wawa is left to tests/test_kernels.py (on data
    without majority ties): its skills are measured against the majority vote, so crowd-kit's
    row-order tie-break changes every probability of a worker who answered a tied task."""
    from crowdkit.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa

    df = _crowdkit_frame(dog)
    model = {
        "ds": DawidSkene(n_iter=20),
        "onecoin": OneCoinDawidSkene(n_iter=20),
        "wawa": Wawa(),
        "mv": MajorityVote(),
    }[method]
    ck_labels = model.fit_predict(df)
    ours = A.aggregate(dog, method, n_iter=20)
    ck_labels = ck_labels.astype(str).reindex(ours.labels.index)
    if method == "mv":
        # crowd-kit lets row order break ties; the rule here does it by label order: compare untied tasks
        untied = ~ours.labels["tied"].to_numpy()
        assert (ours.labels["label"].astype(str).to_numpy()[untied] == ck_labels.to_numpy()[untied]).all()
        assert ours.n_tied == 50
    else:
        assert (ours.labels["label"].astype(str) == ck_labels).all()
    if hasattr(model, "probas_"):
        ck = model.probas_.copy()
        ck.columns = ck.columns.astype(str)
        ck = ck.reindex(index=ours.probas.index, columns=ours.probas.columns).fillna(0.0)
        np.testing.assert_allclose(ours.probas.to_numpy(), ck.to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.shared_data
def test_glad_is_crowdkits():
    """GLAD runs through crowd-kit: probabilities and labels equal crowd-kit's on the strings.
    Three iterations (crowd-kit's GLAD takes about 1.5 s per iteration whatever the size); MACE
    is checked the same way in test_own_data_figures, on a label order a user gave."""
    from crowdkit.aggregation import GLAD

    folder = shared("zheng2017-truth-inference", "duck")
    run = read_files([folder / "answer.csv"], truth=folder / "truth.csv")
    df = _crowdkit_frame(run)
    model = GLAD(n_iter=3).fit(df)
    ours = A.aggregate(run, "glad", n_iter=3)
    ck = model.probas_.copy()
    ck.columns = ck.columns.astype(str)
    ck = ck.reindex(index=ours.probas.index, columns=ours.probas.columns).fillna(0.0)
    np.testing.assert_allclose(ours.probas.to_numpy(), ck.to_numpy(), atol=1e-6)
    assert (ours.labels["label"].astype(str) == model.labels_.astype(str).reindex(ours.labels.index)).all()
    assert ours.worker_skill is not None and ours.worker_skill.notna().all()


# --- the published and independently computed figures ---------------------------------------

# (strict, expected under random tie-break, tie -> lowest label (our rule), tied items, worker accuracy median)
ZHENG = {
    "duck": (0.7593, 0.7593, 0.7593, 0, 0.620),
    "dog": (0.7918, 0.8222, 0.8178, 50, 0.702),
    "face": (0.6216, 0.6367, 0.6301, 28, 0.583),
    "product": (0.8966, 0.8966, 0.8966, 0, 0.913),
}


def _check_mv(run, figures):
    strict, expected, low, tied, worker_median = figures
    acc = A.accuracy_vs_truth(run, A.aggregate(run, "mv"))
    assert round(acc.strict, 4) == strict
    assert round(acc.expected, 4) == expected
    assert round(acc.accuracy, 4) == low
    assert acc.tied == tied
    assert round(float(C.accuracy_vs_truth(run)["accuracy"].median()), 3) == worker_median


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ZHENG)
def test_zheng2017_majority_vote_accuracy(name):
    folder = shared("zheng2017-truth-inference", name)
    _check_mv(read_files([folder / "answer.csv"], truth=folder / "truth.csv"), ZHENG[name])


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name, figures", [("rte", (0.8562, 0.8969, 0.9187, 65, 0.850)), ("temp", (0.9177, 0.9361, 0.9329, 17, 0.900))]
)
def test_snow2008_majority_vote_accuracy(name, figures):
    _check_mv(read_files([shared("snow2008-rte-temp", f"{name}.standardized.csv")]), figures)


@pytest.mark.shared_data
def test_adultcontent2_majority_vote_on_gold():
    folder = shared("gal-adultcontent2")
    run = read_files([folder / "labels.txt"], ReadOptions(names=["worker", "task", "label"]), truth=folder / "gold.txt")
    _check_mv(run, (0.7447, 0.7598, 0.7628, 11, 0.706))
    w = C.accuracy_vs_truth(run)
    assert len(w) == 269
    assert round(w["correct"].sum() / w["answers"].sum(), 3) == 0.681


def test_long_methods_wait_for_a_request_until_computed(monkeypatch):
    run = toy_run(TOY)
    assert not A.on_request(run, "ds") and A.on_request(run, "glad")
    monkeypatch.setattr(A.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    # a bound: the setup (8 answers at 2e-7 s) and every one of the 10 iterations (8 answers at 2e-8 s each)
    assert A.estimate_seconds(run, "ds", n_iter=10) == pytest.approx(8 * 2e-7 + 10 * 8 * 2e-8)
    assert A.estimate_seconds(run, "onecoin", n_iter=100) == pytest.approx(8 * 2e-7 + 100 * 8 * 2e-8)
    monkeypatch.setitem(A.SECONDS_PER_ANSWER_ITERATION, "ds", 1.0)  # as if the run were huge
    assert A.on_request(run, "ds") and A.cached(run, "ds") is None
    assert "Dawid-Skene" not in A.task_votes(run, "t1").index
    A.aggregate(run, "ds")
    assert A.cached(run, "ds") is not None and not A.on_request(run, "ds")
    assert "Dawid-Skene" in A.task_votes(run, "t1").index


def test_majority_vote_probas_are_built_only_when_asked(demo_workspace, demo_versions):
    # a fresh run object: the majority vote's shares are the vote counts over their total, built
    # for the rows a figure needs (accuracy against golden) and as a whole only when asked
    run = demo_workspace.open_run(demo_versions[1].id)
    mv = A.aggregate(run, "mv")
    A.accuracy_vs_golden(run, mv)
    assert "probas" not in mv.__dict__
    rows = np.array([3, 0, len(mv.labels) - 1])
    expected = kernels.majority_from_counts(A.pool_vote_counts(run)).probas[np.flatnonzero(mv.codes >= 0)[rows]]
    np.testing.assert_array_equal(mv.probas_at(rows), expected)
    np.testing.assert_array_equal(mv.probas.to_numpy()[rows], expected)


def test_the_registrys_task_votes_list_a_method_computed_since(monkeypatch):
    """task_votes depends on which aggregations exist: the registry computes it afresh every time
    (a cached copy kept Dawid-Skene out after it was computed)."""
    from analytics.metrics import registry

    run = toy_run(TOY)
    monkeypatch.setitem(A.SECONDS_PER_ANSWER_ITERATION, "ds", 1.0)  # as if the run were huge
    assert "Dawid-Skene" not in registry.compute(run, "task_votes", task_id="t1").index
    A.aggregate(run, "ds")
    assert "Dawid-Skene" in registry.compute(run, "task_votes", task_id="t1").index
    assert not registry.computed(run, "task_votes", task_id="t1")  # never kept
    with pytest.raises(MetricUnavailable):
        registry.compute(run, "task_votes", task_id="nope")
