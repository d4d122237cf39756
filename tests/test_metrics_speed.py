"""Speed and the fast-response rule: toy suites by hand, missing times, and the demo's bans."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import shared
from toloka_fixtures import write_tsv

from analytics.metrics import registry, speed
from analytics.metrics._base import MetricUnavailable
from analytics.metrics.speed import assignment_speed, fast_responders, worker_speed
from analytics.model import PoolInfo, RunMeta, build_run
from analytics.sources import read_files
from analytics.sources.toloka_tsv import read_toloka_tsv

T0 = pd.Timestamp("2024-05-01T10:00:00", tz="UTC")


def suites_run(spec, rules=(), pool_kind="main", status="ACCEPTED"):
    """spec: (worker, assignment, start minute, seconds, tasks)."""
    rows = []
    for w, a, minute, secs, n in spec:
        start = T0 + pd.Timedelta(minutes=minute)
        for i in range(n):
            rows.append(
                {
                    "assignment_id": a,
                    "task_id": f"{a}-t{i}",
                    "worker_id": w,
                    "label": "x",
                    "pool_id": "p1",
                    "started_at": start,
                    "submitted_at": start + pd.Timedelta(seconds=secs),
                    "status": status,
                }
            )
    meta = RunMeta(pools=(PoolInfo("p1", kind=pool_kind, rules=tuple(rules)),))
    return build_run(pd.DataFrame(rows), file="toy", meta=meta)


def test_assignment_and_worker_speed_by_hand(tmp_path):
    # the hand-written Toloka export: a1 30 s (3 tasks), a2 9 s, a3 60 s (times with +02:00)
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv"))
    t = assignment_speed(run)
    assert list(t.index) == ["a1", "a2", "a3"]
    assert t["seconds"].tolist() == [30.0, 9.0, 60.0]
    assert t["seconds_per_task"].tolist() == [10.0, 3.0, 20.0]
    assert t["tasks"].tolist() == [3, 3, 3]
    assert t.loc["a3", "submitted_at"] == pd.Timestamp("2024-05-01T10:01:00", tz="UTC")
    assert t["worker_id"].tolist() == ["w1", "w2", "w3"]
    w = worker_speed(
        suites_run([("w1", "a", 0, 20, 2), ("w1", "b", 5, 60, 3), ("w1", "c", 9, 40, 4), ("w2", "d", 0, 7, 1)])
    )
    # w1: 10, 20, 10 s per task -> median 10; suites 20, 60, 40 -> median 40
    assert w.loc["w1"].tolist() == [3, 9, 10.0, 40.0, 120.0]
    assert w.loc["w2", "median_seconds_per_task"] == 7.0


def test_missing_times_name_the_field(tmp_path):
    no_submit = read_toloka_tsv(write_tsv(tmp_path / "a.tsv", drop=("ASSIGNMENT:submitted",)))
    with pytest.raises(MetricUnavailable) as err:
        assignment_speed(no_submit)
    assert err.value.missing_field == "submitted_at"
    # through the registry, the message names the field as the user's TSV calls it
    with pytest.raises(MetricUnavailable, match="missing: ASSIGNMENT:submitted; include it in the export"):
        registry.compute(no_submit, "assignment_speed")
    no_start = read_toloka_tsv(write_tsv(tmp_path / "b.tsv", drop=("ASSIGNMENT:started",)))
    with pytest.raises(MetricUnavailable) as err:
        worker_speed(no_start)
    assert err.value.missing_field == "started_at"
    # times, but no suites (a long table with per-answer times)
    long = build_run(
        pd.DataFrame({"task_id": ["t"], "worker_id": ["w"], "label": ["x"], "started_at": [T0], "submitted_at": [T0]}),
        file="toy",
    )
    with pytest.raises(MetricUnavailable) as err:
        fast_responders(long)
    assert err.value.missing_field == "assignment_id"


@pytest.mark.shared_data
def test_placeholder_times_give_no_speed():
    run = read_files([shared("snow2008-rte-temp", "rte.standardized.csv")])
    with pytest.raises(MetricUnavailable) as err:
        assignment_speed(run)
    # start/end hold one placeholder value: dropped at import, so speed says what is missing
    assert err.value.missing_field == "submitted_at"
    assert any("placeholder" in n.message for n in run.notes)


def test_skipped_suites_have_no_duration():
    run = suites_run([("w1", "a", 0, 20, 2)], status="SKIPPED")
    assert np.isnan(assignment_speed(run).loc["a", "seconds"])


def test_fast_responders_window_by_hand():
    spec = [
        # w1: 40 s, 10 s (fast), 50 s, 12 s (fast): 2 fast among the last 3 at the 4th suite
        ("w1", "a1", 0, 40, 2),
        ("w1", "a2", 5, 10, 2),
        ("w1", "a3", 10, 50, 2),
        ("w1", "a4", 15, 12, 2),
        # w2: two fast suites, but 4 slow ones between them: never 2 in a window of 3
        ("w2", "b1", 0, 5, 2),
        ("w2", "b2", 5, 30, 2),
        ("w2", "b3", 10, 30, 2),
        ("w2", "b4", 15, 30, 2),
        ("w2", "b5", 20, 9, 2),
        # w3: slow
        ("w3", "c1", 0, 100, 2),
    ]
    f = fast_responders(suites_run(spec), history_size=3, count=2, threshold_seconds=15)
    assert f["worker_id"].tolist() == ["w1"]
    row = f.iloc[0]
    assert row["flagged_at"] == T0 + pd.Timedelta(minutes=15, seconds=12)
    assert (row["fast_suites"], row["suites_considered"], row["fastest_seconds"]) == (2, 3, 10.0)
    assert "2 of the last 3 task suites submitted in under 15 s" in row["evidence"]
    # count 1: w2 flagged at its very first suite (1 of 1), w1 at its second
    f1 = fast_responders(suites_run(spec), history_size=3, count=1, threshold_seconds=15).set_index("worker_id")
    assert f1.loc["w2", "flagged_at"] == T0 + pd.Timedelta(seconds=5)
    assert (f1.loc["w2", "suites_considered"], f1.loc["w1", "suites_considered"]) == (1, 2)
    # a suite of exactly the threshold is not fast ("under")
    assert fast_responders(suites_run([("w", "a", 0, 15, 1)]), threshold_seconds=15).empty


def test_fast_responders_defaults_come_from_the_pool_rule():
    spec = [("w1", "a1", 0, 25, 2)]
    # no rule: Toloka's usual 15 s -> a 25 s suite is not fast
    assert fast_responders(suites_run(spec)).empty
    rule = {"type": "fast_responses", "history_size": 2, "count": 1, "fast_submit_threshold_seconds": 30}
    f = fast_responders(suites_run(spec, rules=[rule]))
    assert f["worker_id"].tolist() == ["w1"] and "under 30 s" in f.loc[0, "evidence"]
    # a rule without history_size (Toloka: the whole history) counts every suite: w2's 2 fast of 5
    whole = {"type": "fast_responses", "history_size": None, "count": 2, "fast_submit_threshold_seconds": 15}
    spec2 = [
        ("w2", "b1", 0, 5, 2),
        ("w2", "b2", 5, 30, 2),
        ("w2", "b3", 10, 30, 2),
        ("w2", "b4", 15, 30, 2),
        ("w2", "b5", 20, 9, 2),
    ]
    g = fast_responders(suites_run(spec2, rules=[whole]))
    assert g["worker_id"].tolist() == ["w2"] and (g.loc[0, "fast_suites"], g.loc[0, "suites_considered"]) == (2, 5)
    with pytest.raises(
        ValueError, match=r"^The 'history_size' parameter of fast_responders must be an int >= 1\. Got 0 instead\.$"
    ):
        fast_responders(suites_run(spec), history_size=0)
    with pytest.raises(ValueError, match="'count' parameter of fast_responders"):
        fast_responders(suites_run(spec), history_size=2, count=3)


def test_demo_fast_responders_are_the_fast_rule_bans(demo_run):
    f = fast_responders(demo_run)
    r = demo_run.restrictions
    fast = r[r["rule"] == "fast_responses"].sort_values("worker_id")
    assert f["worker_id"].tolist() == fast["worker_id"].tolist()
    # the exports round times to milliseconds; the restriction keeps the platform's clock
    delta = (fast["created_at"].to_numpy() - f["flagged_at"].to_numpy()) / np.timedelta64(1, "ms")
    assert np.all(np.abs(delta) < 1)
    assert (f["pool_id"] == "41000002").all()  # the exam pool carries no rule and is not judged
    assert (f["fastest_seconds"] < 15).all()


def test_row_order_does_not_matter(demo_run):
    a = demo_run.answers.sample(frac=1, random_state=5).reset_index(drop=True)
    a["assignment_id"] = a["assignment_id"].cat.reorder_categories(list(a["assignment_id"].cat.categories)[::-1])
    shuffled = dataclasses.replace(demo_run, answers=a)
    pd.testing.assert_frame_equal(assignment_speed(demo_run), assignment_speed(shuffled))
    pd.testing.assert_frame_equal(worker_speed(demo_run), worker_speed(shuffled))
    pd.testing.assert_frame_equal(fast_responders(demo_run), fast_responders(shuffled))


def test_window_min_against_a_direct_loop():
    from analytics.metrics.speed import window_min

    rng = np.random.default_rng(0)
    values = rng.random(500)
    group_start = np.repeat([0, 120, 121, 400], [120, 1, 279, 100])
    for h in (1, 2, 5, 64, 1000):
        first = np.maximum(group_start, np.arange(500) - h + 1)
        expected = [values[f : i + 1].min() for i, f in enumerate(first)]
        assert np.array_equal(window_min(values, first), expected)


def test_a_whole_history_rule_is_cheap():
    # the Toloka API reader turns an unset history ("the whole pool") into a bound as large as the
    # pool's rows; the window must not cost O(rows x history)
    spec = [("w1", f"a{i}", i, 40 if i != 7 else 5, 1) for i in range(30)]
    f = fast_responders(suites_run(spec), history_size=10_000_000, count=1, threshold_seconds=15)
    assert f.loc[0, "suites_considered"] == 8 and f.loc[0, "fastest_seconds"] == 5.0


@pytest.mark.parametrize("seed", range(6))
def test_replay_order_sorts_as_the_text_does(seed):
    # replay_order sorts by ranks of the names (no sort of 10^6 strings); the order must be the
    # one pandas gives sorting the text columns, ties at one instant decided by assignment id
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    when = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 4, n), unit="s")
    s = pd.DataFrame(
        {
            "worker_id": pd.array(rng.choice(["w10", "w2", "é", "W1", "a", "b b"], n), dtype="str"),
            "pool_id": pd.array(rng.choice(["1", "10", "2"], n), dtype="str"),
            "submitted_at": when,
            "assignment_id": pd.array([f"as{v}" for v in rng.permutation(3 * n)[:n]], dtype="str"),
            "status": pd.Categorical(rng.choice(["ACCEPTED", "SUBMITTED"], n)),
            "seconds": rng.random(n),
        }
    )
    got = speed.replay_order(s)
    ref = s.sort_values(["worker_id", "pool_id", "submitted_at", "assignment_id"], kind="stable")
    assert got["assignment_id"].tolist() == ref["assignment_id"].tolist()
