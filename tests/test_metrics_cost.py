"""Cost: the hand-written Toloka export priced by hand, spend on banned annotators, the demo versions."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from toloka_fixtures import write_tsv

from analytics.metrics._base import MetricUnavailable
from analytics.metrics.cost import (
    assignment_cost,
    compare_versions_cost,
    cost_breakdown,
    cost_by_pool,
    spend,
    spend_on_banned,
)
from analytics.model import Pricing, build_run, restrictions_frame
from analytics.sources.toloka_tsv import read_toloka_tsv

# the fixture: a1 (w1, APPROVED), a2 (w2, SUBMITTED), a3 (w3, REJECTED); 3 tasks each at 0.030;
# t3 is a control task. Fee 30 %, at least 0.01 a suite; one bonus of 0.10 to w3.
BONUS = pd.DataFrame(
    {"worker_id": ["w3"], "amount": [0.10], "reason": ["thanks"], "created_at": [pd.Timestamp("2024-05-02", tz="UTC")]}
)
PRICING = Pricing(currency="USD", fee_rate=0.3, fee_minimum=0.01, bonuses=BONUS)


def fixture_run(tmp_path, **kw):
    return read_toloka_tsv(write_tsv(tmp_path / "r.tsv", **kw), pricing=PRICING)


def test_cost_breakdown_by_hand(tmp_path):
    b = cost_breakdown(fixture_run(tmp_path))
    # paid: a1 + a2 -> rewards 0.06; fee max(0.3 * 0.03, 0.01) = 0.01 each -> 0.02;
    # bonus 0.10 with fee 0.03 -> fees 0.02 + 0.03 = 0.05, total 0.06 + 0.05 + 0.10 = 0.21
    assert (b.rewards, b.fees, b.bonuses, b.total) == pytest.approx((0.06, 0.05, 0.10, 0.21))
    assert (b.answers, b.paid_assignments, b.accepted_assignments) == (6, 2, 1)
    # final labels: regular tasks t1, t2 (t3 is a control task)
    assert b.final_labels == 2
    assert b.cost_per_answer == pytest.approx(0.21 / 6)
    assert b.cost_per_accepted_assignment == pytest.approx(0.21)
    assert b.cost_per_final_label == pytest.approx(0.21 / 2)
    assert b.reasons == {}
    assert cost_breakdown(fixture_run(tmp_path), final_labels=7).cost_per_final_label == pytest.approx(0.03)
    with pytest.raises(
        ValueError, match=r"^The 'final_labels' parameter of cost_breakdown must be an int >= 0\. Got -1 instead\.$"
    ):
        cost_breakdown(fixture_run(tmp_path), final_labels=-1)


def test_undefined_unit_costs_are_none_with_a_reason(tmp_path):
    b = cost_breakdown(fixture_run(tmp_path, drop=("ASSIGNMENT:reward",)))
    assert b.total is None and b.cost_per_answer is None and b.cost_per_final_label is None
    assert "ASSIGNMENT:reward" in b.reasons["cost_per_answer"]
    # nothing accepted yet (every suite SUBMITTED): no cost per accepted suite
    run = build_run(
        pd.DataFrame(
            {
                "assignment_id": ["a"],
                "task_id": ["t"],
                "worker_id": ["w"],
                "label": ["x"],
                "status": ["SUBMITTED"],
                "reward": [0.02],
            }
        ),
        file="toy",
    )
    b = cost_breakdown(run)
    assert b.total == pytest.approx(0.02) and b.cost_per_accepted_assignment is None
    assert "no accepted task suites" in b.reasons["cost_per_accepted_assignment"]


def test_cost_by_pool_by_hand(tmp_path):
    run = fixture_run(tmp_path)
    t = cost_by_pool(run)
    assert list(t.index) == ["777"]
    row = t.loc["777"]
    assert (row["assignments"], row["paid_assignments"], row["answers"]) == (3, 2, 6)
    assert (row["rewards"], row["fees"], row["total"]) == pytest.approx((0.06, 0.02, 0.08))
    assert row["cost_per_answer"] == pytest.approx(0.08 / 6)
    # pools + bonuses with their fee = spend()
    assert t["total"].sum() + 0.10 * 1.3 == pytest.approx(spend(run).total)
    long = build_run(pd.DataFrame({"task_id": ["t"], "worker_id": ["w"], "label": ["x"]}), file="toy")
    with pytest.raises(MetricUnavailable):
        cost_by_pool(long)


def test_assignment_cost_by_hand(tmp_path):
    t = assignment_cost(fixture_run(tmp_path)).set_index("assignment_id")
    assert t["fee"].tolist() == pytest.approx([0.01, 0.01, 0.01])
    assert t["cost"].tolist() == pytest.approx([0.04, 0.04, 0.0])  # a3 rejected: not paid
    assert t["value"].tolist() == pytest.approx([0.04, 0.04, 0.04])


def test_spend_on_banned_by_hand(tmp_path):
    run = fixture_run(tmp_path)
    restr = pd.DataFrame(
        {
            "worker_id": ["w2", "w3"],
            "rule": ["fast_responses", "golden_set"],
            "scope": ["PROJECT", "PROJECT"],
            # w2 banned at 11:00:05, before a2 was submitted (11:00:09); w3 after a3 (10:01 UTC)
            "created_at": [
                pd.Timestamp("2024-05-01T11:00:05", tz="UTC"),
                pd.Timestamp("2024-05-01T13:00:00", tz="UTC"),
            ],
        }
    )
    run = dataclasses.replace(run, restrictions=restrictions_frame(restr))
    s = spend_on_banned(run)
    assert s.banned_workers == 2
    assert (s.suites_before_ban, s.spend_before_ban) == (0, 0.0)  # a3 is before w3's ban but rejected
    assert s.suites_after_ban == 1 and s.spend_after_ban == pytest.approx(0.04)  # a2 = 0.03 + 0.01
    assert s.bonuses_to_banned == pytest.approx(0.13)  # 0.10 + 30 % fee
    assert s.rejected_suites == 1 and s.rejected_value == pytest.approx(0.04)
    assert s.share_of_spend == pytest.approx((0.04 + 0.13) / 0.21)
    per = s.per_worker
    assert list(per.index) == ["w2", "w3"]
    assert per["suites"].tolist() == [1, 1] and per["paid_suites"].tolist() == [1, 0]
    assert per["suites_after_ban"].tolist() == [1, 0] and per["rejected_suites"].tolist() == [0, 1]


def test_spend_on_banned_without_restrictions(tmp_path):
    s = spend_on_banned(fixture_run(tmp_path))
    assert (s.banned_workers, s.suites_before_ban, s.spend_before_ban, s.bonuses_to_banned) == (0, 0, 0.0, 0.0)
    assert s.rejected_suites == 1 and s.share_of_spend == 0.0 and len(s.per_worker) == 0
    long = build_run(pd.DataFrame({"task_id": ["t"], "worker_id": ["w"], "label": ["x"]}), file="toy")
    assert spend_on_banned(long).rejected_suites == 0


def test_demo_spend_on_banned(demo_run):
    s = spend_on_banned(demo_run)
    rec = demo_run.restrictions
    assert s.banned_workers == rec["worker_id"].nunique() == len(s.per_worker)
    assert s.suites_after_ban == 0  # the rules stopped them
    # v1.1.0 rejected exactly the suites of the annotators banned by the control-task rule
    a = demo_run.answers
    rejected = a.loc[a["status"] == "REJECTED", "assignment_id"].nunique()
    assert s.rejected_suites == rejected
    banned_by_control = set(rec.loc[rec["rule"] == "golden_set", "worker_id"])
    assert set(s.per_worker.index[s.per_worker["rejected_suites"] > 0]) == banned_by_control
    assert 0 < s.share_of_spend < 0.1


def test_compare_versions_cost_on_the_demo(demo_workspace, demo_versions):
    runs = {v.version: demo_workspace.open_run(v.id) for v in reversed(demo_versions)}
    t = compare_versions_cost(runs)
    assert list(t.index) == ["1.2.0", "1.1.0", "1.0.0"]  # the order given
    for name, run in runs.items():
        total = spend(run).total
        assert t.loc[name, "total"] == pytest.approx(total)
        # 882 regular images: all labeled in the raw version; after review a few lose every answer to
        # rejected suites (the control rule removes an annotator on one wrong control answer)
        labels = t.loc[name, "final_labels"]
        assert labels == 882 if name == "1.0.0" else 870 <= labels <= 882
        assert t.loc[name, "cost_per_final_label"] == pytest.approx(total / labels)
    assert t.loc["1.1.0", "total"] == pytest.approx(6.54, rel=0.01)
    # reviewing (v1.1.0) rejected the banned annotators' suites: cheaper than the raw v1.0.0
    assert t.loc["1.1.0", "total"] < t.loc["1.0.0", "total"]
    assert (t["missing"] == "").all()
    with pytest.raises(ValueError, match="The 'runs' parameter of compare_versions_cost"):
        compare_versions_cost({})
