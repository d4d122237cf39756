"""People views (analytics.people): a toy run worked out by hand, and the demo against its metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import people
from analytics.metrics import aggregation, control, exam, speed
from analytics.metrics._base import MetricUnavailable
from analytics.model import PoolInfo, RunMeta, build_run

T0 = pd.Timestamp("2024-05-01T10:00:00", tz="UTC")
GOLD = {"type": "golden_set", "history_size": 10, "min_answers": 2, "min_correct_percent": 50}

# suite: (worker, pool, assignment, start minute, seconds, [(task, label, golden or None)])
SUITES = [
    ("w1", "pe", "e1", 0, 10, [("q1", "x", "x"), ("q2", "y", "y")]),  # exam 2/2
    ("w2", "pe", "e2", 0, 8, [("q1", "x", "x"), ("q2", "x", "y")]),  # exam 1/2: passes at 0.5
    ("w3", "pe", "e3", 0, 12, [("q1", "y", "x"), ("q2", "x", "y")]),  # exam 0/2
    ("w1", "pm", "m1", 1, 20, [("t1", "x", None), ("t2", "x", None), ("c1", "x", "x")]),
    ("w1", "pm", "m2", 5, 40, [("t3", "y", None), ("c2", "y", "y")]),
    ("w2", "pm", "m3", 2, 30, [("t1", "x", None), ("t2", "y", None), ("c1", "y", "x")]),
    ("w2", "pm", "m4", 6, 10, [("t3", "y", None), ("c2", "x", "y")]),  # 0 of 2 control right: banned after m4
    ("w4", "pm", "m5", 3, 60, [("t1", "y", None), ("t2", "y", None), ("t3", "y", None)]),
]


def at(minute: int, seconds: float = 0) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minute, seconds=seconds)


def toy_run():
    rows = []
    for w, pool, a, minute, secs, answers in SUITES:
        for task, label, golden in answers:
            rows.append(
                {
                    "assignment_id": a,
                    "worker_id": w,
                    "pool_id": pool,
                    "task_id": task,
                    "label": label,
                    "golden": golden,
                    "kind": "exam" if pool == "pe" else ("control" if golden else "regular"),
                    "started_at": at(minute),
                    "submitted_at": at(minute, secs),
                    "status": "ACCEPTED",
                    "reward": 0.01,
                }
            )
    restrictions = pd.DataFrame(
        [
            {
                "worker_id": "w2",
                "pool_id": "pm",
                "rule": "golden_set",
                "reason": "control",
                "scope": "PROJECT",
                "created_at": at(6, 10),
            },
            {
                "worker_id": "w4",
                "pool_id": "pm",
                "rule": None,
                "reason": "manual ban",
                "scope": "PROJECT",
                "created_at": at(9),
            },
        ]
    )
    meta = RunMeta(pools=(PoolInfo("pe", kind="exam", pass_threshold=0.5), PoolInfo("pm", kind="main", rules=(GOLD,))))
    tasks = pd.DataFrame(
        {
            "task_id": ["t1", "t2", "t3"],
            "image": ["https://x.invalid/1.jpg", "https://x.invalid/2.jpg", "https://x.invalid/3.jpg"],
        }
    )
    return build_run(
        pd.DataFrame(rows), file="toy", meta=meta, labels=["x", "y"], restrictions=restrictions, tasks=tasks
    )


@pytest.fixture(scope="module")
def run():
    return toy_run()


def test_annotator_table_by_hand(run):
    t = people.annotator_table(run)
    assert list(t.index) == ["w1", "w2", "w3", "w4"]
    assert t["answers"].tolist() == [7, 7, 2, 3]
    assert t["labeling_answers"].tolist() == [5, 5, 0, 3]
    # control: w1 2 of 2, w2 0 of 2, w3 never in the labeling pool, w4 no control task
    assert t["control_answers"].tolist() == [2, 2, 0, 0]
    assert t["control_correct"].tolist() == [2, 0, 0, 0]
    assert t.loc["w1", "control_accuracy"] == 1.0 and t.loc["w2", "control_accuracy"] == 0.0
    assert np.isnan(t.loc["w3", "control_accuracy"]) and np.isnan(t.loc["w4", "control_accuracy"])
    # majority vote: t1 x (2 of 3), t2 y, t3 y; c1 and c2 tie 1-1 and go to x (first in the label set)
    # w1: t1 ok, t2 no, c1 ok, t3 ok, c2 no -> 3/5; w2: t1, t2, t3, c2 ok, c1 no -> 4/5; w4: t2, t3 -> 2/3
    assert t["agreement_agree"].tolist()[:2] == [3, 4] and t.loc["w4", "agreement_agree"] == 2
    assert t.loc["w1", "agreement"] == pytest.approx(3 / 5)
    assert t.loc["w2", "agreement"] == pytest.approx(4 / 5)
    assert t.loc["w4", "agreement"] == pytest.approx(2 / 3)
    # seconds per task per suite: w1 e1 10/2 = 5, m1 20/3, m2 40/2 = 20 -> median 20/3
    assert t.loc["w1", "median_seconds_per_task"] == pytest.approx(20 / 3)
    assert t.loc["w2", "median_seconds_per_task"] == pytest.approx(5.0)  # 4, 10, 5
    assert t["exam_score"].tolist()[:3] == [1.0, 0.5, 0.0] and np.isnan(t.loc["w4", "exam_score"])
    assert t["exam_passed"].tolist()[:3] == [True, True, False]
    assert t["banned"].tolist() == [False, True, False, True]
    assert t.loc["w2", "replayed_rule"] == "golden_set" and pd.isna(t.loc["w4", "replayed_rule"])
    assert t["flagged"].tolist() == [False, True, False, True]
    assert t.loc["w2", "ban_status"] == "banned by golden_set (the replay agrees)"
    assert t.loc["w4", "ban_status"] == "banned (no rule recorded) (the replay does not ban)"
    assert t.loc["w1", "ban_status"] == "not banned"
    assert t.loc["w2", "replayed_at"] == at(6, 10)
    # label use is tested from 20 answers on: nobody here
    assert t["over_used_label"].isna().all()
    # the toy run has no truth file: accuracy against truth is empty, with the reason
    assert list(t.attrs["unavailable"]) == ["accuracy against truth"]
    assert t["truth_answers"].tolist() == [0, 0, 0, 0] and t["truth_accuracy"].isna().all()


def test_annotator_table_takes_precomputed_figures_and_notes_missing_ones(run):
    gone = MetricUnavailable("no exam here", missing_field="exam pool")
    t = people.annotator_table(run, exam_scores=gone, control_acc=control.control_accuracy(run))
    assert t.attrs["unavailable"]["exam score"] == str(gone)
    assert set(t.attrs["unavailable"]) == {"exam score", "accuracy against truth"}
    assert t["exam_items"].tolist() == [0, 0, 0, 0] and t["exam_score"].isna().all() and t["exam_passed"].isna().all()
    assert t["control_correct"].tolist() == [2, 0, 0, 0]


def test_attach_decisions_keeps_the_latest(run):
    decisions = pd.DataFrame(
        [
            {
                "worker_id": "w2",
                "decision": "uphold",
                "reviewer": "ann",
                "note": "",
                "decided_at": "2024-05-02T10:00:00Z",
            },
            {
                "worker_id": "w4",
                "decision": "needs more evidence",
                "reviewer": "bob",
                "note": "",
                "decided_at": "2024-05-02T11:00:00Z",
            },
            {
                "worker_id": "w2",
                "decision": "overturn",
                "reviewer": "cyd",
                "note": "x",
                "decided_at": "2024-05-02T12:00:00Z",
            },
        ]
    )
    t = people.attach_decisions(people.annotator_table(run), decisions)
    assert t.loc["w2", ["last_decision", "decided_by", "decisions"]].tolist() == ["overturn", "cyd", 2]
    assert t.loc["w4", "last_decision"] == "needs more evidence"
    assert pd.isna(t.loc["w1", "last_decision"]) and t.loc["w1", "decisions"] == 0
    empty = people.attach_decisions(people.annotator_table(run), pd.DataFrame(columns=decisions.columns))
    assert empty["decisions"].tolist() == [0, 0, 0, 0] and empty["last_decision"].isna().all()


def test_filter_annotators(run):
    t = people.annotator_table(run)
    assert list(people.filter_annotators(t, flagged_only=True).index) == ["w2", "w4"]
    assert list(people.filter_annotators(t, banned_only=True, min_answers=4).index) == ["w2"]
    assert list(people.filter_annotators(t, min_answers=7).index) == ["w1", "w2"]
    # accuracy below 50 %: w2 (0 %); w3 and w4 have no control accuracy and are left out
    assert list(people.filter_annotators(t, accuracy_below=0.5).index) == ["w2"]
    assert list(people.filter_annotators(t, search=" W1 ").index) == ["w1"]
    assert list(people.filter_annotators(t, search="w.").index) == []  # literal, not a pattern
    assert len(people.filter_annotators(t)) == 4


def test_annotator_answers_by_hand(run):
    a = people.annotator_answers(run, "w2", {"mv": aggregation.aggregate(run, "mv")})
    # submission order: e2 (8 s), m3 (2 min), m4 (6 min); inside a suite by task id
    assert a["task_id"].tolist() == ["q1", "q2", "c1", "t1", "t2", "c2", "t3"]
    assert a["check"].tolist() == ["right", "wrong", "wrong", "", "", "wrong", ""]
    assert a["correct"].tolist()[:3] == [True, False, False] and pd.isna(a["correct"].iloc[3])
    assert a["seconds_per_task"].tolist() == pytest.approx([4, 4, 10, 10, 10, 5, 5])
    assert a["mv_label"].astype(object).where(a["mv_label"].notna(), None).tolist() == [
        None,
        None,
        "x",
        "x",
        "y",
        "x",
        "y",
    ]
    assert a["mv_confidence"].iloc[2] == pytest.approx(0.5) and a["mv_confidence"].iloc[3] == pytest.approx(2 / 3)
    assert a["input_image"].tolist()[3] == "https://x.invalid/1.jpg" and pd.isna(a["input_image"].iloc[0])
    with pytest.raises(
        ValueError,
        match="The 'worker_id' parameter of annotator_answers must be an annotator of this run. Got 'nobody' instead.",
    ):
        people.annotator_answers(run, "nobody")


def test_task_and_exam_item_answers_by_hand(run):
    t = people.task_answers(run, "t1")
    assert t["worker_id"].tolist() == ["w1", "w2", "w4"]  # submitted at 1:20, 2:30, 4:00
    assert t["label"].astype(str).tolist() == ["x", "x", "y"]
    assert t["seconds_per_task"].tolist() == pytest.approx([20 / 3, 10, 20])
    q = people.exam_item_answers(run, "q2")
    # wrong first (w2 and w3 chose x), then right (w1)
    assert q["worker_id"].tolist() == ["w2", "w3", "w1"]
    assert q["check"].tolist() == ["wrong", "wrong", "right"]
    assert q["exam_score"].tolist() == [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="'task_id' parameter of task_answers"):
        people.task_answers(run, "t9")


def test_speed_vs_pool_by_hand(run):
    s = people.speed_vs_pool(run, "w1")
    bp = s.by_pool
    assert list(bp.index) == ["pe", "pm"]
    assert bp["kind"].tolist() == ["exam", "main"]
    assert bp["suites"].tolist() == [1, 2] and bp["pool_suites"].tolist() == [3, 5]
    assert bp["pool_annotators"].tolist() == [3, 3]
    # pe: w1 5; everyone 5, 4, 6 -> 5.  pm: w1 20/3 and 20 -> 40/3; everyone 20/3, 20, 10, 5, 20 -> 10
    assert bp["median_seconds_per_task"].tolist() == pytest.approx([5.0, 40 / 3])
    assert bp["pool_median_seconds_per_task"].tolist() == pytest.approx([5.0, 10.0])
    assert bp["ratio"].tolist() == pytest.approx([1.0, 4 / 3])
    assert s.median_seconds_per_task == pytest.approx(20 / 3)
    assert s.median_seconds_per_task == pytest.approx(speed.worker_speed(run).loc["w1", "median_seconds_per_task"])
    # all 8 suites: 4, 5, 5, 6, 20/3, 10, 20, 20 -> (6 + 20/3) / 2
    assert s.pool_median_seconds_per_task == pytest.approx((6 + 20 / 3) / 2)
    assert (s.suites, s.pool_suites) == (3, 8)
    assert s.histogram["count"].sum() == 3 and s.histogram["pool_count"].sum() == 8
    assert s.histogram["share"].sum() == pytest.approx(1.0)
    # w3 only took the exam: compared within the exam pool alone
    assert list(people.speed_vs_pool(run, "w3").by_pool.index) == ["pe"]


def test_speed_vs_pool_without_times_is_unavailable(run):
    import dataclasses

    a = run.answers.copy()
    a["submitted_at"] = pd.NaT
    untimed = dataclasses.replace(run, answers=a)
    with pytest.raises(MetricUnavailable, match="submitted_at"):
        people.speed_vs_pool(untimed, "w1")


def test_item_verdicts_by_hand():
    items = pd.DataFrame(
        {
            "pass_rate": [0.9, 0.85, 0.5, 0.4, 0.98, 0.5],
            "reading": [
                "works: separates strong from weak candidates",
                "works, but separates strong from weak candidates poorly",
                "hard item working as meant (a trap): those who miss it score lower on the other items",
                "ambiguous or wrong golden: strong candidates miss it as often as weak ones",
                "easy: almost everyone gets it right, it tells candidates apart little",
                "too few answers to judge",
            ],
        },
        index=pd.Index(list("abcdef"), name="task_id"),
    )
    v = people.item_verdicts(items)
    assert v["verdict"].tolist() == ["works", "works", "trap", "check item", "easy", "too few answers"]
    # median pass rate 0.675; low at <= 0.475
    assert v["low_pass_rate"].tolist() == [False, False, False, True, False, False]


def test_demo_people_figures_equal_their_metrics(demo_run):
    t = people.annotator_table(demo_run)
    ctl = control.control_accuracy(demo_run)
    joined = t.loc[ctl.index]
    assert (joined["control_answers"].to_numpy() == ctl["answers"].to_numpy()).all()
    np.testing.assert_allclose(joined["control_accuracy"].to_numpy(), ctl["accuracy"].to_numpy(), equal_nan=True)
    assert t["answers"].sum() == len(demo_run.answers)
    assert t["banned"].sum() == demo_run.restrictions["worker_id"].nunique()
    # the demo's replay reproduces every recorded ban
    assert (t.loc[t["banned"], "ban_status"].str.endswith("(the replay agrees)")).all()
    items = exam.exam_item_pass_rate(demo_run)
    v = people.item_verdicts(items)
    trap = items.index[(items["golden"] == "other")]
    assert len(trap) == 1 and v.loc[trap[0], "verdict"] == "trap" and v.loc[trap[0], "low_pass_rate"]
    assert v["low_pass_rate"].sum() == 1


def test_annotator_answers_sort_by_text_whatever_the_category_order():
    # readers of large files keep categories in order of appearance, not in text order
    rows = []
    for task in ("t3", "t1", "t2"):
        rows.append(
            {
                "assignment_id": "s1",
                "worker_id": "w1",
                "pool_id": "pm",
                "task_id": task,
                "label": "x",
                "golden": None,
                "kind": "regular",
                "started_at": at(0),
                "submitted_at": at(1),
                "status": "ACCEPTED",
                "reward": 0.01,
            }
        )
    frame = pd.DataFrame(rows)
    frame["task_id"] = pd.Categorical(frame["task_id"], categories=["t3", "t1", "t2"])
    run = build_run(frame, file="toy", labels=["x", "y"])
    assert list(run.codes.task_names) == ["t3", "t1", "t2"]
    assert people.annotator_answers(run, "w1")["task_id"].tolist() == ["t1", "t2", "t3"]


def test_pool_completion_by_hand(run):
    from analytics.metrics import progress

    comp = progress.pool_completion(run)
    assert list(comp.index) == ["pe", "pm"]
    # pm: tasks t1 t2 t3 c1 c2 = 5 distinct, 13 labeled answers in ACCEPTED suites; no overlap recorded
    assert (
        comp.loc["pm", "tasks"] == 5
        and comp.loc["pm", "submitted_answers"] == 13
        and comp.loc["pm", "accepted_answers"] == 13
    )
    assert comp.loc["pe", "tasks"] == 2 and comp.loc["pe", "submitted_answers"] == 6
    assert pd.isna(comp.loc["pe", "expected_answers"]) and pd.isna(comp.loc["pe", "done"])


def test_annotator_table_is_sorted_by_id_whatever_the_category_order():
    frame = pd.DataFrame(
        [("w2", "t1", "x"), ("w1", "t1", "y"), ("w3", "t2", "x")], columns=["worker_id", "task_id", "label"]
    )
    frame["worker_id"] = pd.Categorical(frame["worker_id"], categories=["w2", "w3", "w1"])
    frame["kind"] = "regular"
    run = build_run(frame, file="toy", labels=["x", "y"])
    t = people.annotator_table(run)
    assert list(t.index) == ["w1", "w2", "w3"] and t["answers"].tolist() == [1, 1, 1]


def test_truth_beside_control_accuracy_by_hand():
    import dataclasses

    truth_run = dataclasses.replace(toy_run(), truth=pd.Series({"t1": "x", "t2": "y", "t3": "y"}))
    t = people.annotator_table(truth_run)
    # w1: t1 x right, t2 x wrong, t3 y right; w2: all three right; w3: exam only; w4: t1 y wrong, t2, t3 right
    assert t["truth_answers"].tolist() == [3, 3, 0, 3]
    assert t["truth_correct"].tolist() == [2, 3, 0, 2]
    assert t.loc["w2", "truth_accuracy"] == 1.0 and np.isnan(t.loc["w3", "truth_accuracy"])
    assert "accuracy against truth" not in t.attrs["unavailable"]
    w1 = people.annotator_answers(truth_run, "w1")
    checks = dict(zip(w1["task_id"].astype(str), w1["truth_check"].astype(str), strict=True))
    assert {k: checks[k] for k in ("t1", "t2", "t3", "c1", "q1")} == {
        "t1": "right",
        "t2": "wrong",
        "t3": "right",
        "c1": "",  # control and exam tasks have no truth here: graded by golden/check instead
        "q1": "",
    }


def test_position_finds_an_id_without_the_hash_table():
    from analytics.metrics import position

    rng = np.random.default_rng(8)
    names = pd.Index([f"task-{v}" for v in rng.permutation(250_000)], dtype="str")
    for i in (0, 1, 77_777, len(names) - 1):
        assert position(names, names[i]) == i
    assert position(names, "no such task") == -1
    assert "_engine" not in names._cache  # the scan built no hash table
    small = pd.Index(["b", "a"], dtype="str")
    assert position(small, "a") == 1 and position(small, "z") == -1
