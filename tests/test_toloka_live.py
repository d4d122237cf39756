"""Live progress of a running pool (analytics.sources.toloka.live) against the loopback Toloka stub."""

from __future__ import annotations

import pandas as pd
import pytest
import toloka_payloads as P

from analytics.sources.toloka import make_client, pool_progress

pytestmark = pytest.mark.usefixtures("loopback_only")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def client(stub):
    return make_client(P.TOKEN, url=stub.url)


# --------------------------------------------------------------------------------------------
# live progress


def _running_pool(stub, analytics: bool = False) -> str:
    # 20 general tasks, 2 control tasks; suites in every state
    return P.live_pool(
        stub,
        tasks=20,
        controls=2,
        analytics=analytics,
        assignments=[
            ("p1", "w1", "ACCEPTED", {"created": "2024-05-01T10:25:00", "submitted": "2024-05-01T10:30:00"}),
            ("p2", "w1", "SUBMITTED", {"created": "2024-05-01T11:05:00", "submitted": "2024-05-01T11:10:00"}),
            ("p3", "w2", "REJECTED", {"created": "2024-05-01T11:25:00", "submitted": "2024-05-01T11:30:00"}),
            ("p4", "w1", "SUBMITTED", {"created": "2024-05-01T11:45:00", "submitted": "2024-05-01T11:50:00"}),
            ("p5", "w3", "SKIPPED", {"created": "2024-05-01T11:40:00", "skipped": "2024-05-01T11:41:00"}),
            ("p6", "w4", "ACTIVE", {"created": "2024-05-01T11:55:00"}),
        ],
    )


def test_pool_progress_from_analytics(stub, client):
    pid = _running_pool(stub, analytics=True)  # submitted 9 = SUBMITTED + ACCEPTED + REJECTED
    p = pool_progress(client, pid, now=ts("2024-05-01 12:00"))
    assert (p.status, p.source, p.name) == ("OPEN", "analytics", "Cats — live")
    assert (p.submitted_assignments, p.total_assignments, p.percent_done) == (9, 30, 30.0)
    assert dict(p.by_status) == {"SUBMITTED": 5, "ACCEPTED": 3, "REJECTED": 1, "SKIPPED": 2}
    # submitted in the last hour: p2 (w1, 11:10), p3 (w2, 11:30), p4 (w1, 11:50)
    assert (p.workers, p.active_workers, p.rate_per_hour) == (4, 2, 3.0)
    assert p.spent_rewards == pytest.approx(0.12) and p.spent_total == pytest.approx(0.156) and p.currency == "USD"
    # 21 suites left at 3 an hour
    assert p.estimated_finish == ts("2024-05-01 19:00")
    posted = stub.requests_to("/api/staging/analytics-2", "POST")
    assert len(posted) == 1 and len(posted[0].body) == 9 and all(r["subject_id"] == pid for r in posted[0].body)
    recent = [r.query for r in stub.requests_to("/api/v1/assignments")]
    assert recent == [{"pool_id": pid, "submitted_gte": "2024-05-01T11:00:00", "sort": "id", "limit": "2000"}]


def test_pool_progress_counts_assignments_without_analytics(stub, client):
    pid = _running_pool(stub)
    stub.analytics_error = (403, "ACCESS_DENIED")
    p = pool_progress(client, pid, now=ts("2024-05-01 12:00"), fee_rate=0.2)
    assert p.source == "assignments" and "analytics unavailable" in p.notes[0] and "denied" in p.notes[0]
    assert dict(p.by_status) == {"ACTIVE": 1, "SUBMITTED": 2, "ACCEPTED": 1, "REJECTED": 1, "SKIPPED": 1, "EXPIRED": 0}
    # ceil(20 general tasks / 2 per suite) x overlap 3
    assert (p.submitted_assignments, p.total_assignments) == (4, 30)
    assert p.percent_done == pytest.approx(100 * 4 / 30)
    assert (p.workers, p.active_workers, p.rate_per_hour) == (2, 2, 3.0)
    # paid = ACCEPTED + SUBMITTED
    assert p.spent_rewards == pytest.approx(0.06) and p.spent_total == pytest.approx(0.072)
    assert p.estimated_finish == ts("2024-05-01 12:00") + pd.Timedelta(hours=26 / 3)


def test_pool_progress_of_a_closed_pool_has_no_finish(stub, client):
    pid = _running_pool(stub)
    stub.pools[pid]["status"] = "CLOSED"
    p = pool_progress(client, pid, now=ts("2024-05-01 12:00"))
    assert p.estimated_finish is None and any("closed" in n for n in p.notes)
    assert p.submitted_assignments == 4  # computed by the stub from its assignments
    with pytest.raises(ValueError, match="'window_hours' parameter"):
        pool_progress(client, pid, window_hours=0)


def test_pool_progress_prices_the_fee_minimum_per_paid_suite(stub, client):
    pid = _running_pool(stub, analytics=True)
    p = pool_progress(client, pid, now=ts("2024-05-01 12:00"), fee_rate=0.3, fee_minimum=0.05)
    # 8 paid suites (SUBMITTED 5 + ACCEPTED 3): the minimum, 8 x 0.05 = 0.40, beats 0.3 x 0.12
    assert p.spent_fees == pytest.approx(0.40) and p.spent_total == pytest.approx(0.52)
    # 21 suites left at the pool's 0.02 + max(0.006, 0.05)
    assert p.remaining_assignments == 21 and p.cost_to_finish == pytest.approx(21 * 0.07)
    old_keys = {
        "pool_id", "name", "status", "submitted_assignments", "total_assignments", "percent_done", "by_status",
        "workers", "active_workers", "window_hours", "rate_per_hour", "spent_rewards", "spent_total", "currency",
        "estimated_finish", "as_of", "source", "notes",
    }  # fmt: skip
    d = p.as_dict()
    assert old_keys <= set(d) and d["fee_minimum"] == 0.05 and d["estimated_finish"] == "2024-05-01T19:00:00+00:00"
