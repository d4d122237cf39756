"""AppTest of the QA views on the demo: Rules & audit (what-if, ban audit, proposals, Toloka) and the exam review."""

from __future__ import annotations

import shutil

import pytest
from pages_util import frame_with, ok, open_page, ran, texts

from analytics import qa_records, reviews
from analytics.sources.workspace import Workspace
from dashboard import auth


@pytest.fixture(scope="module")
def ws(demo_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("qa-ws")
    shutil.copytree(demo_workspace.root, root, dirs_exist_ok=True)
    return Workspace(root)


@pytest.fixture(scope="module")
def v11(ws):
    return next(v for v in ws.versions() if v.version == "1.1.0")


def test_rules_whatif_with_a_changed_threshold(ws, v11):
    at = ok(open_page(ws.root, "qa.py", version=v11.id))
    banned = frame_with(at, "false_ban_risk")
    assert len(banned) and set(banned["change"]) == {"same"}
    assert "Newly banned: 0" in texts(at)
    at.text_input(key="set_golden_set.min_correct_percent").input("50").run()
    ok(at)
    after = frame_with(at, "false_ban_risk")
    assert len(after) < len(banned)  # a laxer rule bans fewer
    assert "No longer banned" in texts(at)
    at.text_input(key="set_golden_set.min_answers").input("zero").run()
    assert any("whole number" in str(e.value) for e in ran(at).error)


def test_ban_audit_finds_the_suspect_labels_and_saves_a_proposal(ws, v11):
    at = ok(open_page(ws.root, "qa.py", version=v11.id))
    assert len(frame_with(at, "share_correct")) == 2  # the demo's two deliberately wrong golden labels
    assert "Bans lifted: 0" not in texts(at)  # dropping them lifts a ban
    at.text_input(key="golden_prop_who").input("Dana QA")
    next(b for b in at.button if b.label == "Save as a QA proposal").click().run()
    ok(at)
    (p,) = qa_records.proposals(ws, v11.id)
    assert p.kind == "golden_overrides" and p.reviewer == "Dana QA" and set(p.change.values()) == {None}
    assert p.summary["lifted"]


def test_without_a_toloka_token_the_page_says_how_to_configure_it(ws, v11):
    w = str(sorted(ws.open_run(v11.id).restrictions["worker_id"].astype(str))[0])
    reviews.record_decision(ws, v11.id, w, "overturn", "Dana QA", "test")
    at = ok(open_page(ws.root, "qa.py", version=v11.id))
    assert "No Toloka token is configured" in texts(at)
    assert "TOLOKA_TOKEN" in texts(at)


def test_a_lead_cannot_apply_and_a_stakeholder_cannot_open(ws, v11, monkeypatch):
    secrets = {"auth": {"client_id": "x", "server_metadata_url": "http://127.0.0.1:9/x"}}
    lead = auth.User(local=False, signed_in=True, email="lee@corp.test", roles=frozenset({"lead"}))
    monkeypatch.setattr(auth, "current_user", lambda: lead)
    at = ok(open_page(ws.root, "qa.py", secrets=secrets, version=v11.id))
    assert "may not apply decisions" in texts(at)
    stake = auth.User(local=False, signed_in=True, email="s@corp.test", roles=frozenset({"stakeholder"}))
    monkeypatch.setattr(auth, "current_user", lambda: stake)
    at = ran(open_page(ws.root, "qa.py", secrets=secrets, version=v11.id))
    assert any("may not open Rules & audit" in str(w.value) for w in at.warning)


def test_exam_review_with_a_pass_mark_slider(ws, v11):
    at = ok(open_page(ws.root, "exam.py", version=v11.id))
    assert "Does the exam predict quality?" in texts(at)
    at.slider(key="exam_pass_mark").set_value(80).run()
    ok(at)
    moved = frame_with(at, "change")
    assert len(moved) and set(moved["change"]) == {"let in"}


def test_an_overturn_is_previewed_confirmed_and_applied_in_the_loopback_toloka(ws, v11, loopback_only):
    from toloka_stub import TolokaStub

    w = str(sorted(ws.open_run(v11.id).restrictions["worker_id"].astype(str))[-1])
    d = reviews.record_decision(ws, v11.id, w, "overturn", "Dana QA", "wrong golden label").id
    held = {"id": "901", "scope": "POOL", "user_id": w, "pool_id": "41000002", "created": "2024-09-17T10:00:00"}
    with TolokaStub(token="tok-qa-page") as stub:
        stub.restrictions.append(dict(held))
        secrets = {"TOLOKA_TOKEN": "tok-qa-page", "TOLOKA_URL": stub.url}
        at = ok(open_page(ws.root, "qa.py", secrets=secrets, version=v11.id))
        at.selectbox(key="apply_pick").set_value(d).run()
        at.toggle(key=f"prep_{d}").set_value(True).run()
        ok(at)
        assert "/901" in str([j.value for j in at.json])  # exactly the DELETE that will be sent
        assert not stub.requests_to("/api/v1/user-restrictions/901", "DELETE")  # nothing sent before the confirm
        at.text_input(key="apply_who").input("Dana QA")
        next(b for b in at.button if b.label == "Confirm: send to Toloka").click().run()
        ok(at)
        assert any("Applied in Toloka" in str(s.value) for s in at.success)
        assert len(stub.requests_to("/api/v1/user-restrictions/901", "DELETE")) == 1
    assert qa_records.application_state(ws, d) == "applied"


def test_the_golden_labels_are_set_in_one_editable_table(ws, v11):
    """One table with a choice per audited task (not a picker each): suspect labels start dropped;
    keeping them all changes nothing, so no ban is lifted."""
    at = ok(open_page(ws.root, "qa.py", version=v11.id))
    (editor,) = [d for d in at.data_editor if d.key == f"golden_overrides_{v11.id}"]
    choices = editor.value
    assert list(choices.columns) == ["task", "golden", "share_right", "what_if"]
    assert set(choices["what_if"]) <= {"keep", "drop"} and (choices["what_if"] == "drop").sum() == 2
    assert "Bans lifted: 0" not in texts(at)
    kept = {i: {"what_if": "keep"} for i in range(len(choices))}
    at.session_state[f"golden_overrides_{v11.id}"] = {"edited_rows": kept, "added_rows": [], "deleted_rows": []}
    at.run()
    ok(at)
    assert "Bans lifted: 0" in texts(at)
