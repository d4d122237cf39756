"""analytics.metrics.live: what a running pool's counts imply, against figures computed by hand."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from analytics.metrics.live import LiveEstimate, fee, live_estimate
from analytics.sources.toloka.live import LiveSnapshot

AS_OF = pd.Timestamp("2024-05-01 12:00", tz="UTC")


def snapshot(**kw) -> LiveSnapshot:
    base = dict(
        pool_id="3000",
        name="Cats — live",
        status="OPEN",
        submitted_assignments=9,
        total_assignments=30,
        percent_done=None,
        by_status={"SUBMITTED": 5, "ACCEPTED": 3, "REJECTED": 1, "SKIPPED": 2},
        workers=4,
        active_workers=2,
        recent_assignments=3,
        window_hours=1.0,
        reward_per_assignment=0.02,
        spent_rewards=0.16,
        rewards_by_status={},
        currency="USD",
        as_of=AS_OF,
        source="analytics",
    )
    base.update(kw)
    return LiveSnapshot(**base)


def test_the_fee_minimum_wins_over_the_rate_by_hand():
    # 8 paid suites (5 SUBMITTED + 3 ACCEPTED) at 0.02: 0.3 x 0.02 = 0.006 < 0.01 a suite, so the
    # fee is 8 x 0.01 = 0.08, not 0.3 x 0.16 = 0.048; 21 suites left cost 21 x (0.02 + 0.01) = 0.63
    e = live_estimate(snapshot(), fee_rate=0.3, fee_minimum=0.01)
    assert e.paid_assignments == 8
    assert e.spent_rewards == pytest.approx(0.16)
    assert e.spent_fees == pytest.approx(0.08)
    assert e.spent_total == pytest.approx(0.24)
    assert e.remaining_assignments == 21 and e.cost_to_finish == pytest.approx(0.63)
    assert e.projected_total == pytest.approx(0.87)
    assert fee(0.02, fee_rate=0.3, fee_minimum=0.01) == 0.01


def test_without_a_minimum_the_fee_is_the_rate():
    e = live_estimate(snapshot(), fee_rate=0.3, fee_minimum=0.0)
    assert e.spent_fees == pytest.approx(0.048) and e.spent_total == pytest.approx(0.208)
    assert e.cost_to_finish == pytest.approx(21 * 0.026)
    # a minimum below the rate's fee changes nothing
    assert live_estimate(snapshot(), fee_rate=0.3, fee_minimum=0.005) == e


def test_rate_percent_and_finish_by_hand():
    e = live_estimate(snapshot(), fee_rate=0.3)
    assert e.rate_per_hour == 3.0 and e.percent_done == pytest.approx(30.0)
    assert e.estimated_finish == AS_OF + pd.Timedelta(hours=7)  # 21 suites at 3 an hour
    assert e.notes == ()
    # Toloka's own completion figure wins over submitted / total
    assert live_estimate(snapshot(percent_done=42.0), fee_rate=0.3).percent_done == 42.0


def test_spend_counted_from_the_assignments_uses_the_paid_statuses_only():
    s = snapshot(spent_rewards=None, rewards_by_status={"ACCEPTED": 0.06, "SUBMITTED": 0.04, "REJECTED": 0.02})
    e = live_estimate(s, fee_rate=0.2, fee_minimum=0.0)
    assert e.spent_rewards == pytest.approx(0.10) and e.spent_total == pytest.approx(0.12)


def test_what_cannot_be_estimated_says_why():
    closed = live_estimate(snapshot(status="CLOSED"), fee_rate=0.3)
    assert closed.estimated_finish is None and "closed" in closed.notes[0]
    unknown = live_estimate(snapshot(total_assignments=None), fee_rate=0.3)
    assert unknown.estimated_finish is None and unknown.cost_to_finish is None and unknown.percent_done is None
    assert "unknown" in unknown.notes[0]
    idle = live_estimate(snapshot(recent_assignments=0), fee_rate=0.3)
    assert idle.estimated_finish is None and "No suite was submitted in the last 1 h" in idle.notes[0]
    done = live_estimate(snapshot(submitted_assignments=30), fee_rate=0.3)
    assert done.estimated_finish == AS_OF and done.remaining_assignments == 0 and done.cost_to_finish == 0
    no_price = live_estimate(snapshot(reward_per_assignment=None, spent_rewards=None), fee_rate=0.3)
    assert no_price.cost_to_finish is None and no_price.spent_total is None and no_price.projected_total is None


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="'fee_minimum' parameter of live_estimate must be a number >= 0. Got -1"):
        live_estimate(snapshot(), fee_rate=0.3, fee_minimum=-1)
    with pytest.raises(ValueError, match="'fee_rate' parameter"):
        live_estimate(snapshot(), fee_rate=float("nan"))


def test_as_dict_is_json_ready():
    d = live_estimate(snapshot(), fee_rate=0.3).as_dict()
    assert d["estimated_finish"] == "2024-05-01T19:00:00+00:00"
    assert set(d) == {f.name for f in dataclasses.fields(LiveEstimate)}
