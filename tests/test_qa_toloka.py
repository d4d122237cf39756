"""QA decisions applied in Toloka, against the loopback stub: the preview is what is sent (bodies read
back with toloka-kit's models), every change is recorded with its decision, never sent twice, and
a 4xx, a 5xx and a timeout leave the right record."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from test_qa_whatif import FAST, GOLD, toy_run
from toloka_stub import TolokaStub, restriction_problem

from analytics import qa_records, reviews
from analytics.model import PoolInfo
from analytics.sources.toloka.client import RetryPolicy, make_client
from analytics.sources.workspace import Workspace
from analytics.versions.files import import_run
from analytics.versions.toloka_actions import apply_decision, marker, preview_application

TOKEN = "stub-token-qa-0123456789"
PUT = "/api/v1/user-restrictions"
FAST_RULE = {**FAST, "scope": "PROJECT", "ban_days": 2, "reason": "Fast responses"}
W1_POOL = {
    "id": "501",
    "scope": "POOL",
    "user_id": "w1",
    "pool_id": "p1",
    "private_comment": "control",
    "created": "2024-05-01T10:05:00",
}
W1_ELSEWHERE = {
    "id": "502",
    "scope": "PROJECT",
    "user_id": "w1",
    "project_id": "88",
    "private_comment": "x",
    "created": "2024-05-01T10:05:00",
}


@pytest.fixture
def ws(tmp_path):
    run = toy_run()
    meta = dataclasses.replace(
        run.meta, pools=(PoolInfo("p1", kind="main", rules=(FAST_RULE, GOLD)),), extra={"toloka": {"project_id": "77"}}
    )
    w = Workspace(tmp_path / "ws")
    info = import_run(w, dataclasses.replace(run, meta=meta), name="toy", version="1.0.0")
    w.version_id = info.id  # for the tests
    return w


@pytest.fixture
def stub(loopback_only):
    with TolokaStub(token=TOKEN) as s:
        s.restrictions += [dict(W1_POOL), dict(W1_ELSEWHERE)]
        yield s


def client_of(stub, timeout: float = 5.0, attempts: int = 3):
    return make_client(TOKEN, url=stub.url, timeout=timeout, retry=RetryPolicy(attempts=attempts, sleep=lambda s: None))


def decide(ws, worker, decision):
    return reviews.record_decision(ws, ws.version_id, worker, decision, "ana", "checked").id


def puts(stub):
    return stub.requests_to(PUT, "PUT")


def test_an_uphold_sends_exactly_the_preview_once(ws, stub):
    d = decide(ws, "w2", "uphold")  # banned by the replayed fast rule, no restriction recorded
    client = client_of(stub)
    preview = preview_application(ws, d, client)
    assert preview["action"] == "set_restriction" and preview["state"] == "not applied"
    (req,) = preview["requests"]
    body = req["body"]
    assert (req["method"], req["path"]) == ("PUT", PUT)
    assert body["scope"] == "PROJECT" and body["project_id"] == "77" and body["user_id"] == "w2"
    assert body["private_comment"] == f"Fast responses {marker(d)}"
    assert "will_expire" in body and preview["rule"]["duration_days"] == 2
    assert restriction_problem(body) == ""  # toloka-kit reads it as a ProjectUserRestriction, nothing unknown
    assert not puts(stub)  # a preview sends nothing

    out = apply_decision(ws, d, client, applied_by="ana@example.org", preview=preview)
    assert out["status"] == "applied" and out["reason"] == ""
    assert stub.restriction_bodies == [body]  # exactly what the preview showed
    rows = qa_records.applications(ws, d)
    assert [r.status for r in rows] == ["sending", "applied"]
    assert rows[-1].applied_by == "ana@example.org" and rows[-1].request == [req]
    assert rows[-1].response[0]["answer"]["id"] and rows[-1].at

    with pytest.raises(qa_records.AlreadyApplied):
        apply_decision(ws, d, client, applied_by="ana@example.org", preview=preview)
    again = preview_application(ws, d, client)
    assert again["action"] == "none" and "never sent twice" in again["why"]
    assert len(puts(stub)) == 1 and qa_records.application_state(ws, d) == "applied"


def test_an_overturn_lifts_the_restrictions_on_the_versions_pools(ws, stub):
    d = decide(ws, "w1", "overturn")
    client = client_of(stub)
    preview = preview_application(ws, d, client)
    assert preview["action"] == "delete_restriction"
    assert preview["requests"] == [{"method": "DELETE", "path": f"{PUT}/501", "body": None}]  # not project 88's
    out = apply_decision(ws, d, client, applied_by="ana", preview=preview)
    assert out["status"] == "applied"
    assert [r["id"] for r in stub.restrictions] == ["502"]
    assert len(stub.requests_to(f"{PUT}/501", "DELETE")) == 1


def test_nothing_is_sent_where_nothing_is_to_be_done(ws, stub):
    client = client_of(stub)
    recorded = decide(ws, "w1", "uphold")  # its restriction is recorded already
    assert preview_application(ws, recorded, client)["action"] == "none"
    out = apply_decision(ws, decide(ws, "w4", "needs more evidence"), client, applied_by="ana")
    assert out["status"] == "not sent" and "sends nothing" in out["reason"]
    assert not puts(stub)


def test_a_4xx_leaves_the_decision_not_applied_with_the_reason(ws, stub):
    d = decide(ws, "w2", "uphold")
    client = client_of(stub)
    stub.answer_with(PUT, 403, {"code": "ACCESS_DENIED", "message": "no access to project 77"}, method="PUT")
    out = apply_decision(ws, d, client, applied_by="ana")
    assert out["status"] == "failed" and "denied access" in out["reason"] and "refused" in out["reason"]
    assert len(puts(stub)) == 1  # a refusal is final: not retried
    assert qa_records.application_state(ws, d) == "failed"
    assert not any(marker(d) in str(r.get("private_comment")) for r in stub.restrictions)
    # not applied, so it may be applied again: this time Toloka takes it
    assert apply_decision(ws, d, client, applied_by="ana")["status"] == "applied"
    assert [r.status for r in qa_records.applications(ws, d)] == ["sending", "failed", "sending", "applied"]


def test_a_5xx_is_looked_up_and_retried_then_recorded_as_failed(ws, stub):
    d = decide(ws, "w2", "uphold")
    client = client_of(stub, attempts=3)
    stub.answer_with(PUT, 503, {"code": "SERVICE_UNAVAILABLE", "message": "down"}, method="PUT", times=None)
    out = apply_decision(ws, d, client, applied_by="ana")
    assert out["status"] == "failed" and "503" in out["reason"] and "gave up after 3" in out["reason"]
    assert len(puts(stub)) == 3
    lookups = [r for r in stub.requests_to(PUT, "GET") if r.query.get("user_id") == "w2"]
    assert len(lookups) >= 3 + 1  # the preview's, and one after each unclear failure
    assert qa_records.application_state(ws, d) == "failed"


def test_a_timeout_whose_request_was_carried_out_is_not_sent_again(ws, stub):
    d = decide(ws, "w2", "uphold")
    client = client_of(stub, timeout=0.3)
    stub.answer_with(PUT, None, method="PUT", delay=1.0)  # carried out, the answer comes too late
    out = apply_decision(ws, d, client, applied_by="ana")
    assert out["status"] == "applied"
    assert out["response"][0]["confirmed_by_lookup"] and "answer was lost" in out["response"][0]["reason"]
    assert len(puts(stub)) == 1
    assert sum(marker(d) in str(r.get("private_comment")) for r in stub.restrictions) == 1


def test_a_timeout_before_it_was_carried_out_is_retried_once(ws, stub):
    d = decide(ws, "w2", "uphold")
    client = client_of(stub, timeout=0.3)
    stub.answer_with(PUT, 500, {"code": "INTERNAL_ERROR", "message": "late"}, method="PUT", delay=1.0)
    out = apply_decision(ws, d, client, applied_by="ana")
    assert out["status"] == "applied" and out["response"][0]["attempts"] == 2
    assert len(puts(stub)) == 2
    assert sum(marker(d) in str(r.get("private_comment")) for r in stub.restrictions) == 1


def test_an_unknown_earlier_outcome_is_looked_up_before_sending(ws, stub):
    d = decide(ws, "w2", "uphold")
    client = client_of(stub)
    preview = preview_application(ws, d, client)
    # an earlier attempt got as far as Toloka and then the process died: "sending", no outcome
    qa_records.begin_application(ws, d, "set_restriction", preview["requests"], "ana")
    stub.restrictions.append({**preview["requests"][0]["body"], "id": "900", "created": "2024-05-01T11:00:00"})
    out = apply_decision(ws, d, client, applied_by="ana", preview=preview)
    assert out["status"] == "applied" and out["response"][0]["confirmed_by_lookup"]
    assert not puts(stub)


def test_the_stub_reads_bodies_with_toloka_kits_model(stub):
    ok = {"scope": "POOL", "user_id": "w2", "pool_id": "p1", "private_comment": "c"}
    assert restriction_problem(ok) == ""
    assert "unknown fields" in restriction_problem({**ok, "duration": 3})
    assert "read-only" in restriction_problem({**ok, "id": "1"})
    assert "pool_id" in restriction_problem({k: v for k, v in ok.items() if k != "pool_id"})
    assert "SYSTEM" in restriction_problem({"scope": "SYSTEM", "user_id": "w2", "private_comment": "c"})


def test_applications_are_append_only_and_keyed_to_decisions(ws, stub):
    d = decide(ws, "w2", "uphold")
    apply_decision(ws, d, client_of(stub), applied_by="ana")
    con = sqlite3.connect(reviews.database_path(ws))
    for sql in ("UPDATE applications SET reason = 'x'", "DELETE FROM applications"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    with pytest.raises(sqlite3.IntegrityError):  # applied once only, whatever writes the table
        con.execute(
            "INSERT INTO applications (decision_id, action, status, request, applied_by, at) "
            "VALUES (?, 'set_restriction', 'applied', '[]', 'x', 'now')",
            (d,),
        )
    con.close()
    with pytest.raises(ValueError, match="no decision"):
        qa_records.begin_application(ws, 999, "none", [], "ana")
