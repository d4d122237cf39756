"""Replaying quality-control rules: a toy pool by hand, and the demo's recorded restrictions exactly."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.rules import ban_evidence, replay_rules
from analytics.model import PoolInfo, Pricing, RunMeta, build_run

T0 = pd.Timestamp("2024-05-01T10:00:00", tz="UTC")
FAST = {"type": "fast_responses", "history_size": 3, "count": 2, "fast_submit_threshold_seconds": 15}
GOLD = {"type": "golden_set", "history_size": 4, "min_answers": 3, "min_correct_percent": 50}
REWARD, FEE_RATE, FEE_MIN = 0.05, 0.3, 0.001
SUITE_COST = REWARD + max(REWARD * FEE_RATE, FEE_MIN)  # 0.05 + 0.015 = 0.065


def submitted(minute: int, secs: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minute, seconds=secs)


# (worker, assignment, start minute, seconds, control answer right?, status)
SUITES = [
    # w1: control right, wrong, wrong -> 1 of 3 = 33 % < 50 % after a3; a4, a5 come after the ban
    ("w1", "a1", 0, 60, True, "ACCEPTED"),
    ("w1", "a2", 2, 60, False, "ACCEPTED"),
    ("w1", "a3", 4, 60, False, "ACCEPTED"),
    ("w1", "a4", 6, 60, False, "ACCEPTED"),
    ("w1", "a5", 8, 60, True, "ACCEPTED"),
    # w2: 10 s, 60 s, 12 s -> 2 fast of the last 3 after b3; b4 after it was rejected (not paid)
    ("w2", "b1", 0, 10, True, "ACCEPTED"),
    ("w2", "b2", 2, 60, True, "ACCEPTED"),
    ("w2", "b3", 4, 12, True, "ACCEPTED"),
    ("w2", "b4", 6, 60, True, "REJECTED"),
    # w3: both rules fire after c3 (2 fast of 3; 0 of 3 right): the rule listed first names it
    ("w3", "c1", 0, 60, False, "ACCEPTED"),
    ("w3", "c2", 2, 10, False, "ACCEPTED"),
    ("w3", "c3", 4, 10, False, "ACCEPTED"),
    # w4: slow and right: never banned, yet a restriction was recorded
    ("w4", "d1", 0, 60, True, "ACCEPTED"),
    ("w4", "d2", 2, 60, True, "ACCEPTED"),
]
RECORDED = [
    {
        "worker_id": "w1",
        "pool_id": "p1",
        "rule": "golden_set",
        "reason": "control",
        "scope": "PROJECT",
        "created_at": submitted(4, 60.5),
    },
    # recorded after w2's next suite (b4, submitted at 6 min 60 s): late, so it does not agree
    {
        "worker_id": "w2",
        "pool_id": "p1",
        "rule": "fast_responses",
        "reason": "fast",
        "scope": "PROJECT",
        "created_at": submitted(9, 0),
    },
    {
        "worker_id": "w4",
        "pool_id": "p1",
        "rule": "golden_set",
        "reason": "manual",
        "scope": "PROJECT",
        "created_at": submitted(3, 0),
    },
]


def rules_run(rules=(FAST, GOLD), recorded=RECORDED, suites=SUITES):
    rows = []
    for w, a, minute, secs, right, status in suites:
        start = T0 + pd.Timedelta(minutes=minute)
        common = {
            "assignment_id": a,
            "worker_id": w,
            "pool_id": "p1",
            "started_at": start,
            "submitted_at": start + pd.Timedelta(seconds=secs),
            "status": status,
            "reward": REWARD,
        }
        rows.append({**common, "task_id": f"{a}-r", "label": "x", "golden": None})
        rows.append({**common, "task_id": f"ctl-{a}", "label": "x" if right else "y", "golden": "x"})
    meta = RunMeta(pools=(PoolInfo("p1", kind="main", rules=tuple(rules)),))
    pricing = Pricing(fee_rate=FEE_RATE, fee_minimum=FEE_MIN)
    return build_run(
        pd.DataFrame(rows),
        file="toy",
        meta=meta,
        pricing=pricing,
        labels=["x", "y"],
        restrictions=pd.DataFrame(recorded),
    )


def test_replay_by_hand():
    r = replay_rules(rules_run()).set_index("worker_id")
    assert list(r.index) == ["w1", "w2", "w3", "w4"]
    assert r.loc["w1", "rule"] == "golden_set" and r.loc["w1", "at"] == submitted(4, 60)
    assert "1 of the last 3 correct (33 % correct" in r.loc["w1", "evidence"]
    assert (r.loc["w1", "suites_before"], r.loc["w1", "suites_after"]) == (3, 2)
    assert r.loc["w1", "spend_after"] == pytest.approx(2 * SUITE_COST)  # a4 + a5, both paid
    assert r.loc["w2", "rule"] == "fast_responses" and r.loc["w2", "at"] == submitted(4, 12)
    assert "2 of the last 3 task suites submitted in under 15 s (fastest 10.0 s" in r.loc["w2", "evidence"]
    assert r.loc["w2", "suites_after"] == 1 and r.loc["w2", "spend_after"] == 0.0  # b4 was rejected
    # w3: both fire after c3; fast_responses is listed first
    assert r.loc["w3", "rule"] == "fast_responses" and r.loc["w3", "at"] == submitted(4, 10)
    assert pd.isna(r.loc["w4", "rule"]) and r.loc["w4", "recorded_rule"] == "golden_set"
    # against the record: w1 agrees (0.5 s later); w2 was recorded after its next suite; w3 has no
    # record; w4 has a record the rules do not explain
    assert r["agrees"].tolist() == [True, False, False, False]
    assert r.loc["w1", "delay_seconds"] == pytest.approx(0.5)
    assert pd.isna(r.loc["w3", "recorded_rule"])
    assert r.attrs["not_replayed"] == []


def test_rule_order_breaks_a_tie_and_unknown_rules_are_listed():
    skip = {"type": "skipped_in_row", "count": 3}
    r = replay_rules(rules_run(rules=(GOLD, FAST, skip))).set_index("worker_id")
    assert r.loc["w3", "rule"] == "golden_set"
    assert r.attrs["not_replayed"][0]["rule"] == skip
    # a golden_set rule with a key the replay does not understand is listed, not guessed
    odd = {"type": "golden_set", "history_size": 10, "min_answers": 4, "max_correct_percent": 50}
    r = replay_rules(rules_run(rules=(FAST, odd)))
    assert "max_correct_percent" in r.attrs["not_replayed"][0]["why"]
    with pytest.raises(MetricUnavailable):
        replay_rules(rules_run(rules=(skip,)))
    with pytest.raises(ValueError, match="The 'pool_id' parameter of replay_rules must be one of the run's pools"):
        replay_rules(rules_run(), pool_id="nope")


def test_no_bans_and_no_records_give_an_empty_table():
    calm = {"type": "fast_responses", "history_size": 3, "count": 3, "fast_submit_threshold_seconds": 1}
    r = replay_rules(rules_run(rules=(calm,), recorded=[]))
    assert len(r) == 0 and "agrees" in r.columns


def test_ban_evidence_by_hand():
    run = rules_run()
    e = ban_evidence(run, "w1")
    assert e.suites["assignment_id"].tolist() == ["a1", "a2", "a3", "a4", "a5"]
    assert e.suites["after_ban"].tolist() == [False, False, False, True, True]
    assert e.suites["seconds"].tolist() == [60.0] * 5
    assert e.suites["fast"].tolist() == [False] * 5
    assert e.control["correct"].tolist() == [True, False, False, False, True]
    assert e.control["in_control_window"].tolist() == [True, True, True, False, False]
    assert e.recorded["rule"].tolist() == ["golden_set"]
    e2 = ban_evidence(run, "w2")
    assert e2.suites["in_fast_window"].tolist() == [True, True, True, False]
    assert e2.suites["fast"].tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="The 'worker_id' parameter of ban_evidence"):
        ban_evidence(run, "nobody")


# ---- the demo: the replay must reproduce the recorded restrictions exactly


def test_demo_replay_reproduces_the_recorded_restrictions(demo_run):
    r = replay_rules(demo_run)
    rec = demo_run.restrictions.sort_values("worker_id").reset_index(drop=True)
    assert r["worker_id"].tolist() == rec["worker_id"].tolist()
    assert r["rule"].tolist() == rec["rule"].tolist()
    assert r["recorded_rule"].tolist() == r["rule"].tolist()
    # the same moments: the export rounds submit times to the millisecond, the record does not
    gap = (rec["created_at"] - r["at"]).dt.total_seconds().abs()
    assert (gap < 0.001).all()
    assert r["agrees"].all()
    # the rules stopped them: no suite after a ban
    assert (r["suites_after"] == 0).all() and (r["spend_after"] == 0).all()
    # the evidence carries the same numbers as the platform's reason
    for ev, reason in zip(r["evidence"], rec["reason"], strict=True):
        assert (
            re.match(r"\D*(\d+) of the last (\d+)", ev).groups()
            == re.match(r"\D*(\d+) of the last (\d+)", reason).groups()
        )


def test_demo_ban_evidence_shows_the_control_answers(demo_run):
    rec = demo_run.restrictions
    w = rec.loc[rec["rule"] == "golden_set", "worker_id"].iloc[0]
    e = ban_evidence(demo_run, w)
    window = e.control[e.control["in_control_window"]]
    # independently: this worker's control answers in the main pool, in submission order
    a = demo_run.answers
    mine = a[(a["worker_id"] == w) & (a["kind"] == "control")].sort_values("submitted_at")
    right = (mine["label"].astype(str) == mine["golden"].astype(str)).to_numpy()
    assert len(window) == min(len(mine), 10)
    assert window["correct"].sum() == right[-len(window) :].sum()
    assert 100 * window["correct"].mean() < 50
    assert not e.suites["after_ban"].any()


def test_row_order_does_not_matter(demo_run):
    a = demo_run.answers.sample(frac=1, random_state=13).reset_index(drop=True)
    for col in ("assignment_id", "worker_id", "task_id"):
        a[col] = a[col].cat.reorder_categories(list(a[col].cat.categories)[::-1])
    shuffled = dataclasses.replace(demo_run, answers=a)
    pd.testing.assert_frame_equal(replay_rules(demo_run), replay_rules(shuffled))
    w = demo_run.restrictions["worker_id"].iloc[0]
    pd.testing.assert_frame_equal(ban_evidence(demo_run, w).control, ban_evidence(shuffled, w).control)


def test_a_pool_with_only_unknown_rules_beside_a_replayed_one():
    run = rules_run()
    other = dataclasses.replace(run.meta.pools[0], pool_id="p2", rules=({"type": "captcha", "history_size": 5},))
    run = run.with_meta(pools=run.meta.pools + (other,))
    r = replay_rules(run)
    assert set(r["pool_id"]) == {"p1"} and len(r) == 4
    assert [x["pool_id"] for x in r.attrs["not_replayed"]] == ["p2"]


def test_unset_history_means_the_whole_history():
    whole = {"type": "golden_set", "history_size": None, "min_answers": 3, "min_correct_percent": 50}
    r = replay_rules(rules_run(rules=(whole,), recorded=[])).set_index("worker_id")
    # w1: right, wrong, wrong -> 1 of 3 after a3, as with a window of 4
    assert r.loc["w1", "at"] == submitted(4, 60) and "of all)" in r.loc["w1", "evidence"]


def test_unset_history_size_is_the_whole_history_for_both_rules_and_the_evidence():
    # Toloka allows a rule without history_size ("all history"); pool_rules keeps it as None
    fast = {**FAST, "history_size": None}
    gold = {**GOLD, "history_size": None}
    run = rules_run(rules=(fast, gold), recorded=[])
    r = replay_rules(run).set_index("worker_id")
    assert r.attrs["not_replayed"] == []
    # w2: 10 s, 60 s, 12 s -> the second fast suite (b3) trips "at least 2 of all", as with a window of 3
    assert r.loc["w2", "rule"] == "fast_responses" and r.loc["w2", "at"] == submitted(4, 12)
    assert "at least 2 of all)" in r.loc["w2", "evidence"]
    assert r.loc["w1", "rule"] == "golden_set" and r.loc["w1", "at"] == submitted(4, 60)
    # the evidence marks every suite / control answer up to the ban as counted
    e = ban_evidence(run, "w2")
    assert e.suites["in_fast_window"].tolist() == [True, True, True, False]
    e1 = ban_evidence(run, "w1")
    assert e1.control["in_control_window"].tolist() == [True, True, True, False, False]


def test_a_whole_history_differs_from_a_short_window():
    # w5: fast, slow, slow, slow, fast: 2 fast in all 5 suites, never 2 in any 3 in a row
    suites = SUITES + [("w5", f"e{i}", 2 * i, secs, True, "ACCEPTED") for i, secs in enumerate((10, 60, 60, 60, 11))]
    short = replay_rules(rules_run(rules=(FAST,), recorded=[], suites=suites)).set_index("worker_id")
    whole = replay_rules(rules_run(rules=({**FAST, "history_size": None},), recorded=[], suites=suites)).set_index(
        "worker_id"
    )
    assert "w5" not in short.index
    assert whole.loc["w5", "at"] == submitted(8, 11) and whole.loc["w5", "suites_before"] == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, "ten", True])
def test_an_unusable_history_size_is_listed_not_replayed(bad):
    odd = {**GOLD, "history_size": bad}
    r = replay_rules(rules_run(rules=(FAST, odd), recorded=[]))
    (skipped,) = r.attrs["not_replayed"]
    assert skipped["rule"] == odd and "history_size must be a whole number >= 1, or None" in skipped["why"]
    # the fast rule is still replayed; a whole number given as text or float is accepted
    assert set(r["rule"].dropna()) == {"fast_responses"}
    assert replay_rules(rules_run(rules=({**GOLD, "history_size": "4"},), recorded=[])).attrs["not_replayed"] == []
