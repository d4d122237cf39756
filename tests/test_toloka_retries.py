"""The Toloka client under throttling, outages and malformed answers (loopback stub, real toloka-kit HTTP).

Every wait goes through the injected ``sleep`` (it only records), so no test sleeps.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import toloka_payloads as P

from analytics.sources.toloka import RetryPolicy, TolokaAPIError, call, make_client, pool_progress, read_pool
from analytics.sources.toloka.client import retry_after_seconds

pytestmark = pytest.mark.usefixtures("loopback_only")

NOW = pd.Timestamp("2024-05-01 12:00", tz="UTC")
POOL_PATH = f"/api/v1/pools/{P.POOL_ID}"
LIVE_PATH = f"/api/v1/pools/{P.LIVE_POOL_ID}"
ASSIGNMENTS = "/api/v1/assignments"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(stub, waits):
    P.live_pool(stub)
    policy = RetryPolicy(attempts=4, backoff=0.5, max_wait=30.0, budget=60.0, sleep=waits.append)
    return make_client(P.TOKEN, url=stub.url, retry=policy)


def _read_pool(c):
    return read_pool(c, P.POOL_ID)


def _live(c):
    return pool_progress(c, P.LIVE_POOL_ID, now=NOW)


# (what is read, the request that is made to fail, the endpoint the message names)
CASES = {
    "pool": (_read_pool, POOL_PATH, f"GET {POOL_PATH}"),
    "assignments": (_read_pool, ASSIGNMENTS, f"GET {ASSIGNMENTS}"),
    "live": (_live, LIVE_PATH, f"GET {LIVE_PATH}"),
    "live assignments": (_live, ASSIGNMENTS, f"GET {ASSIGNMENTS}"),
}


def _check_result(case: str, result) -> None:
    if case.startswith("live"):
        assert result.submitted_assignments == 9 and result.source == "analytics"
    else:
        assert len(result.answers) == 9


# --------------------------------------------------------------------------------------------
# 429 with Retry-After


@pytest.mark.parametrize("case", list(CASES))
def test_a_429_with_retry_after_is_retried_after_the_asked_wait(case, stub, client, waits):
    read, path, _ = CASES[case]
    stub.answer_with(path, 429, {"code": "TOO_MANY_REQUESTS", "message": "slow down"}, headers={"Retry-After": "7"})
    _check_result(case, read(client))
    assert waits == [7.0]  # the header's seconds, not toloka-kit's backoff, and no TypeError
    assert len([r for r in stub.requests_to(path) if r.authorised]) >= 2


@pytest.mark.parametrize("case", list(CASES))
def test_always_429_gives_up_within_the_budget_with_a_clear_message(case, stub, client, waits):
    read, path, endpoint = CASES[case]
    stub.answer_with(path, 429, {"code": "TOO_MANY_REQUESTS"}, headers={"Retry-After": "120"}, times=None)
    with pytest.raises(TolokaAPIError) as err:
        read(client)
    text = str(err.value)
    assert "HTTP 429" in text and "gave up after 3 attempt(s)" in text and endpoint in text
    assert "asked to wait 120 s (Retry-After)" in text and "capped at 30 s" in text
    assert waits == [30.0, 30.0] and sum(waits) <= 60.0  # capped, and within the total budget
    assert P.TOKEN not in text and err.value.__cause__ is None and err.value.__context__ is None


# --------------------------------------------------------------------------------------------
# 503


@pytest.mark.parametrize("case", list(CASES))
def test_a_503_is_retried_with_backoff(case, stub, client, waits):
    read, path, _ = CASES[case]
    stub.answer_with(path, 503, b"<html>Service Unavailable</html>", times=2)
    _check_result(case, read(client))
    assert waits == [0.5, 1.0]


@pytest.mark.parametrize("case", list(CASES))
def test_always_503_is_a_clear_message(case, stub, client, waits):
    read, path, endpoint = CASES[case]
    stub.answer_with(path, 503, {"code": "REMOTE_SERVICE_UNAVAILABLE", "message": "down"}, times=None)
    with pytest.raises(TolokaAPIError) as err:
        read(client)
    text = str(err.value)
    assert "kept failing (HTTP 503 Service Unavailable)" in text and endpoint in text
    assert "gave up after 4 attempt(s)" in text and "try again later" in text
    assert waits == [0.5, 1.0, 2.0]


# --------------------------------------------------------------------------------------------
# a 200 with a body of the wrong shape


WRONG_SHAPES = {
    "pool": [
        ({"id": P.POOL_ID}, "the pool has no 'project_id'"),
        (b"<html>login</html>", "the body is not JSON"),
        (
            {"id": P.POOL_ID, "project_id": "77", "quality_control": {"configs": [{"collector_config": {}}]}},
            "in QualityControlConfig[0]: the field 'type' is missing",
        ),
    ],
    "assignments": [
        ({"results": []}, "the search result has no 'items' list"),
        (b"not json", "the body is not JSON"),
        ({"items": [{"id": "a1", "created": "yesterday"}], "has_more": False}, "in Assignment[0]:"),
    ],
    "live": [
        ({"private_name": "no ids"}, "the pool has no 'id', 'project_id'"),
        (b"", "the body is not JSON"),
    ],
    "live assignments": [({"items": None, "has_more": False}, "the search result has no 'items' list")],
}


@pytest.mark.parametrize(
    "case,body,expected", [(c, b, e) for c, shapes in WRONG_SHAPES.items() for b, e in shapes], ids=repr
)
def test_a_200_of_the_wrong_shape_names_the_endpoint_and_what_is_wrong(case, body, expected, stub, client, waits):
    read, path, endpoint = CASES[case]
    stub.answer_with(path, 200, body)
    with pytest.raises(TolokaAPIError) as err:
        read(client)
    text = str(err.value)
    assert "cannot read" in text and endpoint in text and expected in text, text
    assert waits == []  # a malformed answer is not retried
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_unreadable_analytics_fall_back_to_counting(stub, client):
    stub.answer_with("/api/staging/analytics-2", 202, {"type": "ANALYTICS", "status": "PENDING"})
    p = pool_progress(client, P.LIVE_POOL_ID, now=NOW)
    assert p.source == "assignments" and "the operation has no 'id'" in p.notes[0]
    assert "POST /api/staging/analytics-2" in p.notes[0]
    assert p.submitted_assignments == 2


def test_a_503_on_the_analytics_post_is_not_repeated(stub, client, waits):
    # a POST is retried only when throttled (a 429 was not processed); a 503 may have been
    stub.answer_with("/api/staging/analytics-2", 503, {"code": "REMOTE_SERVICE_UNAVAILABLE"}, times=None)
    p = pool_progress(client, P.LIVE_POOL_ID, now=NOW)
    assert p.source == "assignments" and "503" in p.notes[0]
    assert len(stub.requests_to("/api/staging/analytics-2")) == 1 and waits == []


# --------------------------------------------------------------------------------------------
# toloka-kit's own retries, and the policy


def test_toloka_kits_retry_after_bug_is_a_clear_error_for_a_client_made_elsewhere(stub):
    from toloka.client import TolokaClient

    plain = TolokaClient(P.TOKEN, url=stub.url)  # toloka-kit's own retries, as shipped
    stub.answer_with(POOL_PATH, 429, {"code": "TOO_MANY_REQUESTS"}, headers={"Retry-After": "1"})
    with pytest.raises(TolokaAPIError, match="Retry-After.*make_client") as err:
        call(plain, f"reading pool {P.POOL_ID}", plain.get_pool, P.POOL_ID)
    assert "RetryCallState" not in str(err.value)


def test_make_client_switches_toloka_kits_retries_off(stub):
    c = make_client(P.TOKEN, url=stub.url)
    retry = c.retryer_factory()
    assert retry.total == 0 and not retry.status_forcelist and not retry.respect_retry_after_header
    assert c.retry_policy == RetryPolicy()


def test_retry_policy_rejects_bad_parameters():
    with pytest.raises(ValueError, match="'attempts' parameter of RetryPolicy must be an int >= 1. Got 0"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="'max_wait' parameter"):
        RetryPolicy(max_wait=-1)
    assert RetryPolicy(max_wait=5).wait(1, 120.0) == 5.0 and RetryPolicy(backoff=1).wait(3, None) == 4.0


def test_retry_after_in_seconds_or_as_an_http_date():
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds("12") == 12.0 and retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
