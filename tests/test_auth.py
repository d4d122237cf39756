"""Sign-in and roles (dashboard/auth.py): the role logic on user mappings, the page gate and the decision form."""

from __future__ import annotations

import shutil

import pytest
from pages_util import open_page, ran, texts

from analytics import reviews
from analytics.sources.workspace import Workspace
from dashboard import auth

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "not-a-secret-test-value",
    "client_id": "crowdlens-test",
    "client_secret": "not-a-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ROLES = {
    "admin": ["root@corp.test"],
    "qa": ["dana@corp.test"],
    "lead": ["lee@corp.test"],
    "stakeholder": ["@board.test", "sam@corp.test"],
}
SECRETS = {"auth": AUTH, "crowdlens": {"roles": ROLES}}


def signed_in(email: str, **extra) -> auth.User:
    return auth.user_from({"is_logged_in": True, "email": email, "name": email.split("@")[0], **extra}, SECRETS)


# ---- the role logic


def test_addresses_and_domains_match_case_blind():
    assert auth.matches("Dana@Corp.test", "dana@corp.test")
    assert auth.matches("x@board.test", "@board.test") and auth.matches("x@board.test", "board.test")
    assert not auth.matches("x@notboard.test", "board.test")
    assert not auth.matches("x@board.test.evil", "board.test")
    assert not auth.matches("dana@corp.test", "ana@corp.test")
    assert not auth.matches("", "corp.test") and not auth.matches("nobody", "corp.test")


def test_roles_from_the_table():
    table = auth.role_table(SECRETS)
    assert auth.roles_for("dana@corp.test", table) == {"qa"}
    assert auth.roles_for("anyone@board.test", table) == {"stakeholder"}
    assert auth.roles_for("stranger@else.test", table) == frozenset()
    assert auth.roles_for(None, table) == frozenset()
    with pytest.raises(ValueError, match="roles are"):
        auth.role_table({"crowdlens": {"roles": {"boss": ["a@b.c"]}}})
    assert auth.role_table({"crowdlens": {"roles": {"qa": "one@x.test"}}}) == {"qa": ["one@x.test"]}


def test_without_auth_it_is_local_mode_with_every_right():
    user = auth.user_from({"is_logged_in": True, "email": "sam@corp.test"}, {"crowdlens": {"roles": ROLES}})
    assert user is auth.LOCAL and user.local
    assert all(user.may_open(f) for f in ("annotators.py", "exam.py", "import_run.py"))
    assert all(user.may(r) for r in auth.RIGHTS)
    assert auth.reviewer(user, "  Dana QA ") == "Dana QA"


def test_what_each_role_may_do():
    stakeholder, lead, qa, admin = (
        signed_in(e) for e in ("x@board.test", "lee@corp.test", "dana@corp.test", "root@corp.test")
    )
    assert stakeholder.roles == {"stakeholder"}
    assert {p for p in ("versions.py", "overview.py", "cost.py", "labels.py") if stakeholder.may_open(p)} == set(
        auth.STAKEHOLDER_PAGES
    )
    assert not any(
        stakeholder.may_open(p) for p in ("annotators.py", "exam.py", "annotator.py", "qa.py", "import_run.py")
    )
    assert not any(stakeholder.may(r) for r in auth.RIGHTS)
    assert lead.may_open("annotators.py") and lead.may_open("qa.py")
    assert not lead.may("record_decision") and not lead.may("apply_decision") and lead.may("record_proposal")
    assert qa.may("record_decision") and qa.may("apply_decision")
    assert all(admin.may(r) for r in auth.RIGHTS) and admin.may_open("import_run.py")
    nobody = signed_in("stranger@else.test")
    assert nobody.signed_in and not nobody.may_open("versions.py")
    out = auth.user_from({"is_logged_in": False}, SECRETS)
    assert not out.local and not out.signed_in and not out.may_open("versions.py")


def test_an_unverified_address_gives_no_role():
    user = signed_in("root@corp.test", email_verified=False)
    assert user.roles == frozenset() and not user.may("record_decision")


@pytest.fixture(scope="module")
def ws(demo_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("auth-ws")
    shutil.copytree(demo_workspace.root, root, dirs_exist_ok=True)
    return Workspace(root)


@pytest.fixture(scope="module")
def v11(ws):
    return next(v for v in ws.versions() if v.version == "1.1.0")


@pytest.fixture(scope="module")
def worker(ws, v11):
    return str(sorted(ws.open_run(v11.id).restrictions["worker_id"].astype(str))[0])


def test_the_writer_refuses_a_role_without_the_right(ws, v11, worker):
    before = len(reviews.decisions(ws, v11.id))
    for email in ("lee@corp.test", "x@board.test", "stranger@else.test"):
        with pytest.raises(auth.NotAllowed, match="may not record"):
            auth.record_decision(signed_in(email), ws, v11.id, worker, "overturn", "n", typed_reviewer="Someone")
    with pytest.raises(auth.NotAllowed):
        auth.record_decision(auth.User(local=False), ws, v11.id, worker, "overturn", "n")
    assert len(reviews.decisions(ws, v11.id)) == before
    saved = auth.record_decision(signed_in("dana@corp.test"), ws, v11.id, worker, "uphold", "n", typed_reviewer="Eve")
    assert saved.reviewer == "dana@corp.test"  # the signed-in identity, never the typed name


# ---- the pages (st.user faked through auth.current_user; AppTest cannot run st.login's redirect)


def as_user(monkeypatch, email: str | None) -> None:
    user = auth.User(local=False) if email is None else signed_in(email)
    monkeypatch.setattr(auth, "current_user", lambda: user)


def test_a_stakeholder_is_told_and_linked_to_the_pages_it_may_open(ws, v11, worker, monkeypatch):
    as_user(monkeypatch, "x@board.test")
    at = ran(open_page(ws.root, "annotators.py", secrets=SECRETS, version=v11.id, annotator=worker))
    assert any("may not open Annotators" in str(w.value) for w in at.warning)
    assert not at.get("form") and "Record decision" not in [b.label for b in at.button]
    links = {p.proto.label for p in at.get("page_link")}
    assert {"Versions", "Overview", "Cost", "Labels"} <= links and "Annotators" not in links
    assert "x@board.test · stakeholder" in texts(at)
    at = ran(open_page(ws.root, "cost.py", secrets=SECRETS, version=v11.id))
    assert not any("may not open" in str(w.value) for w in at.warning)


def test_signed_out_the_sidebar_offers_sign_in_and_pages_ask_for_it(ws, v11, monkeypatch):
    as_user(monkeypatch, None)
    at = ran(open_page(ws.root, "overview.py", secrets=SECRETS, version=v11.id))
    assert "Sign in" in [b.label for b in at.sidebar.button]
    assert any("Sign in to use crowdlens" in str(i.value) for i in at.info)


def test_a_lead_reads_the_evidence_but_gets_no_decision_form(ws, v11, worker, monkeypatch):
    as_user(monkeypatch, "lee@corp.test")
    at = ran(open_page(ws.root, "annotators.py", secrets=SECRETS, version=v11.id, annotator=worker))
    assert "Record decision" not in [b.label for b in at.button]
    assert any("not record decisions" in str(i.value) for i in at.info)
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_a_qa_reviewer_records_under_the_signed_in_email(ws, v11, worker, monkeypatch):
    as_user(monkeypatch, "dana@corp.test")
    at = ran(open_page(ws.root, "annotators.py", secrets=SECRETS, version=v11.id, annotator=worker))
    assert not [t for t in at.text_input if t.key == "reviewer"]  # no free-text reviewer when signed in
    at.radio(key="decision").set_value("overturn")
    at.text_area(key="note").input("checked the golden labels")
    before = len(reviews.decisions(ws, v11.id))
    next(b for b in at.button if b.label == "Record decision").click().run()
    ran(at)
    d = reviews.decisions(ws, v11.id)
    assert len(d) == before + 1 and d.iloc[-1]["reviewer"] == "dana@corp.test"


def test_local_mode_says_so_and_keeps_the_typed_reviewer(ws, v11, worker):
    at = ran(open_page(ws.root, "annotators.py", version=v11.id, annotator=worker))
    assert "Single-user local mode" in texts(at)
    assert [t for t in at.text_input if t.key == "reviewer"]


def test_with_auth_configured_nobody_is_signed_in_until_st_login(ws, v11):
    at = ran(open_page(ws.root, "overview.py", secrets=SECRETS, version=v11.id))  # st.user as Streamlit reads it
    assert "Sign in" in [b.label for b in at.sidebar.button]
    assert "Single-user local mode" not in texts(at)
