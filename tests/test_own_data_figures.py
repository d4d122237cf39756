"""Your own data gets every figure (issue 12): counts of given answers, truth per annotator, honest aggregators,
a report with no unexplained null, and hints in the source's own words. Hand-built exports and the real data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import shared
from toloka_fixtures import HEADER, write_tsv

from analytics import people
from analytics.kernels import wilson_interval
from analytics.metrics import aggregation as A
from analytics.metrics import cost, registry
from analytics.metrics._crowdkit import crowdkit_frame
from analytics.model import build_run
from analytics.report import build_report, headline_figures
from analytics.sources import ReadOptions, read_files
from analytics.versions.figures import manifest_figures

# --- 1. headline counts of given answers; suites without an answer apart, by status ---------------


def _row(task, label, assignment, worker, status, submitted="2024-05-01T10:00:30.000", golden=""):
    return [
        f"http://img/{task}.jpg",
        label,
        golden,
        "",
        f"https://platform.toloka.ai/task/777/{assignment}",
        task,
        assignment,
        worker,
        status,
        "2024-05-01T10:00:00.000",
        submitted if label else "",
        "0.030",
    ]


# 3 tasks; w1 and w2 answer every one (2 approved suites, 6 answers); w3's suite EXPIRED, w4 SKIPPED
# theirs, w5's EXPIRED, and w2 let a second suite expire: 4 suites (12 rows) without an answer
EXPORT = (
    [_row(t, lab, "a1", "w1", "APPROVED") for t, lab in (("t1", "cat"), ("t2", "dog"), ("t3", "cat"))]
    + [_row(t, lab, "a2", "w2", "APPROVED") for t, lab in (("t1", "cat"), ("t2", "cat"), ("t3", "cat"))]
    + [_row(t, "", "a3", "w3", "EXPIRED") for t in ("t1", "t2", "t3")]
    + [_row(t, "", "a4", "w4", "SKIPPED") for t in ("t1", "t2", "t3")]
    + [_row(t, "", "a5", "w5", "EXPIRED") for t in ("t1", "t2", "t3")]
    + [_row(t, "", "a6", "w2", "EXPIRED") for t in ("t1", "t2", "t3")]
)


@pytest.fixture()
def expired_run(tmp_path):
    return read_files([write_tsv(tmp_path / "expired.tsv", EXPORT, HEADER)])


def test_counts_are_of_given_answers_and_unanswered_suites_are_apart(expired_run):
    assert len(expired_run.answers) == 18  # every row is read
    s = expired_run.summary()
    assert (s["answers"], s["tasks"], s["workers"], s["assignments"]) == (6, 3, 2, 2)
    assert s["without_answer"] == {"SKIPPED": 1, "EXPIRED": 3}
    assert s["kinds"] == {"regular": 6}
    figures = manifest_figures(expired_run)
    assert (figures["answers"], figures["tasks"], figures["workers"], figures["assignments"]) == (6, 3, 2, 2)
    assert figures["without_answer"] == {"SKIPPED": 1, "EXPIRED": 3}
    assert (figures["headline"]["answers"], figures["headline"]["annotators"]) == (6, 2)


def test_manifest_figures_on_fresh_copies_are_the_runs_own(expired_run):
    from analytics.model._deferred import replace_run
    from analytics.versions.files import _figures_of

    copies = []

    def fresh():
        copies.append(replace_run(expired_run))
        return copies[-1]

    expected = manifest_figures(replace_run(expired_run))
    assert manifest_figures(expired_run, fresh) == expected
    # money, agreement and the vote's accuracy on a copy each
    assert len(copies) == 3 and len({id(c) for c in copies}) == 3
    assert expected["headline"]["cost_per_label"] is not None  # the one figure counted on the first copy
    # the cost per label and the summary handed over from the first copy: the headline's own figures
    assert expected["headline"] == headline_figures(replace_run(expired_run))
    assert _figures_of(expired_run) == expected


def test_report_counts_agree_with_cost_and_agreement(expired_run):
    rep = build_report(expired_run)
    assert (rep["answers"], rep["tasks"], rep["workers"]) == (6, 3, 2)
    assert rep["suites_without_answer"] == {"SKIPPED": 1, "EXPIRED": 3}
    # the figures built on answers use the same 6: cost per answer, agreement
    assert rep["agreement"]["answers"] == 6
    b = registry.compute(expired_run, "cost_breakdown")
    assert b.answers == 6 and rep["cost"]["per_answer"] == pytest.approx(b.total / 6)
    assert b.paid_assignments == 2  # 2 x 0.03, expired and skipped suites are not paid
    assert rep["cost"]["rewards"] == pytest.approx(0.06)


def test_a_long_table_has_no_suites_without_answer():
    run = build_run(pd.DataFrame({"task_id": ["t1", "t1"], "worker_id": ["a", "b"], "label": ["x", "y"]}), file="t")
    s = run.summary()
    assert (s["answers"], s["workers"], s["assignments"], s["without_answer"]) == (2, 2, None, {})


# --- 2. truth first-class: per annotator, per answer, per task -------------------------------------


def truth_toy():
    """Two tasks with truth (t1 x, t2 y), one without (t3); three annotators."""
    answers = pd.DataFrame(
        {
            "task_id": ["t1", "t2", "t3", "t1", "t2", "t3", "t1"],
            "worker_id": ["w1", "w1", "w1", "w2", "w2", "w2", "w3"],
            "label": ["x", "y", "x", "x", "x", "y", "y"],
        }
    )
    truth = pd.Series({"t1": "x", "t2": "y"})
    return build_run(answers, file="toy", labels=["x", "y"], truth=truth)


def test_annotator_table_has_accuracy_against_truth_by_hand():
    run = truth_toy()
    t = people.annotator_table(run)
    # w1: t1 right, t2 right (t3 has no truth) -> 2/2; w2: t1 right, t2 wrong -> 1/2; w3: t1 wrong -> 0/1
    assert t["truth_answers"].tolist() == [2, 2, 1]
    assert t["truth_correct"].tolist() == [2, 1, 0]
    assert t["truth_accuracy"].tolist() == [1.0, 0.5, 0.0]
    low, high = wilson_interval(np.array([2, 1, 0]), np.array([2, 2, 1]))
    np.testing.assert_allclose(t["truth_ci_low"], low)
    np.testing.assert_allclose(t["truth_ci_high"], high)
    assert "accuracy against truth" not in t.attrs["unavailable"]


def test_without_truth_the_columns_are_empty_with_a_reason():
    run = build_run(pd.DataFrame({"task_id": ["t1", "t1"], "worker_id": ["a", "b"], "label": ["x", "y"]}), file="t")
    t = people.annotator_table(run)
    assert t["truth_answers"].tolist() == [0, 0] and t["truth_correct"].tolist() == [0, 0]
    assert t[["truth_accuracy", "truth_ci_low", "truth_ci_high"]].isna().all().all()
    assert "ground truth" in t.attrs["unavailable"]["accuracy against truth"]


def test_each_answer_is_marked_against_truth():
    run = truth_toy()
    w2 = people.annotator_answers(run, "w2").set_index("task_id")
    assert w2["truth"].astype(object).where(w2["truth"].notna(), None).to_dict() == {"t1": "x", "t2": "y", "t3": None}
    assert w2["truth_check"].astype(str).to_dict() == {"t1": "right", "t2": "wrong", "t3": ""}
    t1 = people.task_answers(run, "t1").set_index("worker_id")
    assert set(t1["truth"].astype(str)) == {"x"}
    assert t1["truth_check"].astype(str).to_dict() == {"w1": "right", "w2": "right", "w3": "wrong"}
    votes = A.task_votes(run, "t2")
    assert set(votes["truth"]) == {"y"}
    mv = votes.loc["majority vote"]
    # t2: one x, one y: a tie, x is first in the label set -> wrong against truth y
    assert (mv["label"], bool(mv["tied"]), mv["truth_check"]) == ("x", True, "wrong")
    no_truth = A.task_votes(run, "t3")
    assert no_truth["truth"].isna().all() and set(no_truth["truth_check"]) == {""}


def test_a_truth_label_outside_the_label_set_is_shown_and_wrong():
    # build_run refuses such a truth file; a truth Series given to the report afterwards may have one
    run = dataclasses.replace(truth_toy(), truth=pd.Series({"t1": "z"}))
    a = people.task_answers(run, "t1")
    assert set(a["truth"].astype(str)) == {"z"} and set(a["truth_check"].astype(str)) == {"wrong"}


def test_report_workers_vs_truth_records_by_hand():
    rep = build_report(truth_toy())
    records = {r["worker_id"]: r for r in rep["workers_vs_truth"]}
    assert set(records["w2"]) == {"worker_id", "answers", "correct", "accuracy", "ci_low", "ci_high"}
    assert (records["w2"]["answers"], records["w2"]["correct"], records["w2"]["accuracy"]) == (2, 1, 0.5)
    low, high = wilson_interval(np.array([1]), np.array([2]))
    assert records["w2"]["ci_low"] == pytest.approx(low[0]) and records["w2"]["ci_high"] == pytest.approx(high[0])


@pytest.fixture(scope="module")
def duck():
    folder = shared("zheng2017-truth-inference", "duck")
    return read_files([folder / "answer.csv"], truth=folder / "truth.csv")


@pytest.mark.shared_data
def test_duck_annotators_against_truth_match_the_readme(duck):
    t = people.annotator_table(duck)
    assert len(t) == 39 and (t["truth_answers"] == 108).all()  # every annotator answered all 108 items
    # README: worker accuracy median 0.620 (p10 0.439, p90 0.807)
    q = np.quantile(t["truth_accuracy"], [0.5, 0.1, 0.9])
    assert tuple(np.round(q, 3)) == (0.620, 0.439, 0.807)
    low, high = wilson_interval(t["truth_correct"].to_numpy(), t["truth_answers"].to_numpy())
    np.testing.assert_allclose(t["truth_ci_low"], low)
    np.testing.assert_allclose(t["truth_ci_high"], high)
    assert t["control_accuracy"].isna().all()  # no control tasks: truth is the only accuracy
    worker = str(t.index[0])  # numeric ids stay text
    answers = people.annotator_answers(duck, worker)
    right = int((answers["truth_check"] == "right").sum())
    assert right == t.loc[worker, "truth_correct"] and int((answers["truth_check"] == "wrong").sum()) == 108 - right


# --- 6. aggregators honest on real data -----------------------------------------------------------


def test_start_tied_counts_the_majority_vote_ties_by_hand():
    run = truth_toy()  # t2 ties 1-1 (t3 too): two majority-vote ties
    assert A.aggregate(run, "mv").n_tied == 2
    for method in ("wawa", "ds", "onecoin"):
        assert A.aggregate(run, method).start_tied == 2, method
    assert A.aggregate(run, "mv").start_tied is None
    rep = build_report(run, method="wawa")
    assert rep["aggregation"]["start_tied"] == 2 and rep["aggregation"]["start"] == A.START["wawa"]
    rep = build_report(run)
    assert rep["aggregation"]["start_tied"] is None and "aggregation.start_tied" in rep["unavailable"]


@pytest.mark.shared_data
def test_start_tied_on_a_real_set():
    folder = shared("zheng2017-truth-inference", "dog")
    run = read_files([folder / "answer.csv"], truth=folder / "truth.csv")
    assert A.aggregate(run, "mv").n_tied == 50  # the README's 50 tied items
    wawa = A.aggregate(run, "wawa")
    assert wawa.start_tied == 50 and wawa.n_tied < 50  # the weighted vote breaks most ties itself
    assert A.aggregate(run, "ds", n_iter=20).start_tied == 50
    rep = build_report(run, method="wawa")
    assert rep["aggregation"]["start_tied"] == 50 and rep["aggregation"]["tied"] == wawa.n_tied


def test_crowdkit_sees_the_users_own_strings_in_row_order():
    run = truth_toy()
    df = crowdkit_frame(run, np.arange(len(run.answers)))
    assert df["task"].tolist() == ["t1", "t2", "t3", "t1", "t2", "t3", "t1"]
    assert df["label"].tolist() == ["x", "y", "x", "x", "x", "y", "y"]
    assert not any(isinstance(df[c].dtype, pd.CategoricalDtype) for c in df.columns)  # crowd-kit fails on them


@pytest.mark.shared_data
def test_mace_gives_crowdkits_labels_on_the_users_own_labels(tmp_path):
    """Duck's first 10 annotators (1,080 answers, to keep it fast) read with the label order 1, 0
    (as a user may give it): on integer codes MACE gave other labels on 4 of the 108 tasks (its
    M-step takes the sorted label order, its start the order of first appearance); on the user's
    strings it is crowd-kit called on the file itself, label for label. GLAD takes the same
    frame (test_metrics_aggregation)."""
    import warnings

    from crowdkit.aggregation import MACE

    df = pd.read_csv(shared("zheng2017-truth-inference", "duck", "answer.csv"), dtype=str)
    df = df[df["worker"].isin(pd.unique(df["worker"])[:10])]
    df.to_csv(tmp_path / "answer.csv", index=False)
    run = read_files([tmp_path / "answer.csv"], ReadOptions(labels=["1", "0"]))
    assert run.labels == ("1", "0") and len(run.answers) == 1080
    df = df.rename(columns={"question": "task", "answer": "label"})[["task", "worker", "label"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MACE(random_state=0)
        ck = model.fit_predict(df)
    ours = A.aggregate(run, "mace")
    assert ours.n_tied == 0 and len(ours.labels) == 108
    assert (ours.labels["label"].astype(str) == ck.astype(str).reindex(ours.labels.index)).all()
    p = model.probas_.reindex(index=ours.probas.index, columns=list(ours.probas.columns)).fillna(0.0)
    np.testing.assert_allclose(ours.probas.to_numpy(), p.to_numpy(), atol=1e-9)
    competence = pd.Series(model.spamming_[:, 1], index=pd.factorize(df["worker"])[1])  # P(not spamming)
    assert ours.worker_skill is not None
    np.testing.assert_allclose(ours.worker_skill.to_numpy(), competence.reindex(ours.worker_skill.index), atol=1e-9)


# --- 7. every null figure of the report is explained ----------------------------------------------


def unexplained_nulls(rep: dict) -> list[str]:
    """Dotted keys of null figures (inside lists: the list's key and the field) without an
    ``unavailable`` entry at their own key or a parent's."""
    found: list[str] = []

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                if path or k not in ("unavailable", "seconds"):
                    walk(v, f"{path}.{k}" if path else k)
        elif isinstance(x, list):
            for v in x:
                walk(v, path)
        elif x is None:
            found.append(path)

    walk(rep, "")
    u = rep["unavailable"]
    return sorted({p for p in found if not any(".".join(p.split(".")[:i]) in u for i in range(1, p.count(".") + 2))})


def test_every_null_of_the_demo_report_is_explained(demo_run):
    for method in ("mv", "wawa", "ds"):
        rep = build_report(demo_run, method=method)
        assert unexplained_nulls(rep) == [], method
    rep = build_report(demo_run)
    sb = rep["cost"]["spend_on_banned"]
    direct = registry.compute(demo_run, "spend_on_banned")
    assert sb["banned_workers"] == direct.banned_workers > 0
    assert sb["spend_before_ban"] == pytest.approx(direct.spend_before_ban)
    assert sb["share_of_spend"] == pytest.approx(direct.share_of_spend)
    assert sb["spend_on_banned"] == pytest.approx(direct.spend_before_ban + direct.spend_after_ban)
    assert len(sb["per_worker"]) == direct.banned_workers
    json.dumps(rep, allow_nan=False)


def long_table(tmp_path, with_assignment: bool):
    rows = ["task,worker,label" + (",assignment" if with_assignment else "")]
    for i, (t, w, lab) in enumerate([("t1", "a", "x"), ("t1", "b", "x"), ("t2", "a", "y"), ("t2", "b", "x")]):
        rows.append(f"{t},{w},{lab}" + (f",s{i}" if with_assignment else ""))
    path = tmp_path / "answers.csv"
    path.write_text("\n".join(rows) + "\n")
    return read_files([path])


@pytest.mark.parametrize("with_assignment", [False, True])
def test_every_null_of_a_long_table_report_is_explained_in_its_own_words(tmp_path, with_assignment):
    rep = build_report(long_table(tmp_path, with_assignment))
    assert unexplained_nulls(rep) == []
    assert rep["cost"]["total"] is None and rep["cost"]["spend_on_banned"]["share_of_spend"] is None
    text = json.dumps(rep["unavailable"])
    assert "ASSIGNMENT:" not in json.dumps(rep)
    assert "--columns submitted=COL" in rep["unavailable"]["speed"]
    assert "--reward-per-answer X" in rep["unavailable"]["cost.total"]
    if with_assignment:
        assert "reward (--columns reward=COL)" in rep["unavailable"]["cost.total"]
    else:
        assert "assignment (--columns assignment=COL)" in rep["unavailable"]["cost.total"]
    assert "--truth FILE" in rep["unavailable"]["workers_vs_truth"]
    assert "include it in the export" not in text  # a long table is not a Toloka export


@pytest.mark.shared_data
def test_every_null_of_a_real_long_table_report_is_explained():
    folder = shared("zheng2017-truth-inference", "duck")
    rep = build_report(read_files([folder / "answer.csv"], truth=folder / "truth.csv"))
    assert unexplained_nulls(rep) == []
    assert len(rep["workers_vs_truth"]) == 39


def test_a_toloka_export_without_rewards_names_its_column_and_the_flag(tmp_path):
    header = [h for h in HEADER if h != "ASSIGNMENT:reward"]
    rows = [r[:-1] for r in EXPORT]
    run = read_files([write_tsv(tmp_path / "r.tsv", rows, header)])
    missing = cost.spend(run).missing
    assert "ASSIGNMENT:reward" in missing and "--reward-per-suite X" in missing
    rep = build_report(run)
    assert unexplained_nulls(rep) == [] and "ASSIGNMENT:reward" in rep["unavailable"]["cost.total"]
