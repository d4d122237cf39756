"""Sign-in and roles: Streamlit's st.login (OpenID Connect) where [auth] is configured, else single-user local mode.

Roles come from the ``[crowdlens.roles]`` table of ``.streamlit/secrets.toml``: each role
(``stakeholder``, ``lead``, ``qa``, ``admin``) lists e-mail addresses (``ana@example.com``) or
domains (``example.com`` or ``@example.com``). A stakeholder opens Versions, Overview, Cost and
Labels; a lead every page but may not record or apply decisions; a QA reviewer records decisions
under the signed-in e-mail; an admin may do everything. Without ``[auth]`` the dashboard runs in
local mode: one user, every page, the reviewer's name typed in as before.

The rights are checked where things are written (:func:`record_decision`, :func:`require`), not
only by hiding a form: a page of a role without the right never calls the writer successfully.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import streamlit as st

ROLES = ("stakeholder", "lead", "qa", "admin")
STAKEHOLDER_PAGES = frozenset({"versions.py", "overview.py", "cost.py", "labels.py"})
# right -> roles that have it
RIGHTS: dict[str, frozenset[str]] = {
    "record_decision": frozenset({"qa", "admin"}),
    "apply_decision": frozenset({"qa", "admin"}),
    "record_proposal": frozenset({"lead", "qa", "admin"}),
}
WHAT = {
    "record_decision": "record QA decisions",
    "apply_decision": "apply decisions in Toloka",
    "record_proposal": "save QA proposals",
}


class NotAllowed(PermissionError):
    """The signed-in user's roles do not give the right asked for."""


@dataclass(frozen=True)
class User:
    """Who uses the dashboard. ``local``: no [auth] configured (one user, every right)."""

    local: bool
    signed_in: bool = False
    email: str = ""
    name: str = ""
    roles: frozenset[str] = frozenset()

    def may_open(self, page: str) -> bool:
        """Whether this user may open ``page`` (a views/ file name, e.g. "cost.py")."""
        if self.local or self.roles & {"lead", "qa", "admin"}:
            return True
        return "stakeholder" in self.roles and page in STAKEHOLDER_PAGES

    def may(self, right: str) -> bool:
        """Whether this user has ``right`` (a key of RIGHTS)."""
        return self.local or bool(self.roles & RIGHTS[right])

    @property
    def label(self) -> str:
        return self.email or self.name or "signed-in user"


LOCAL = User(local=True)


def _plain(value: Any) -> Any:
    """st.secrets' AttrDicts as plain dicts (so the functions here take any mapping)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def auth_section(secrets: Mapping[str, Any]) -> dict[str, Any] | None:
    """The [auth] table of the secrets, or None where sign-in is not configured."""
    section = _plain(secrets.get("auth")) if isinstance(secrets, Mapping) else None
    return section if isinstance(section, dict) and section else None


def provider(secrets: Mapping[str, Any]) -> str | None:
    """The st.login provider: None for a provider configured in [auth] itself, else the first [auth.NAME]."""
    section = auth_section(secrets) or {}
    if "client_id" in section or "server_metadata_url" in section:
        return None
    named = [k for k, v in section.items() if isinstance(v, dict)]
    return named[0] if named else None


def role_table(secrets: Mapping[str, Any]) -> dict[str, list[str]]:
    """role -> its e-mail addresses and domains, from [crowdlens.roles] (unknown roles are refused)."""
    crowdlens = _plain(secrets.get("crowdlens")) if isinstance(secrets, Mapping) else None
    table = (crowdlens or {}).get("roles") or {}
    if not isinstance(table, dict):
        raise ValueError("[crowdlens.roles] in secrets.toml must be a table: role = [addresses or domains]")
    out: dict[str, list[str]] = {}
    for role, who in table.items():
        if role not in ROLES:
            raise ValueError(f"[crowdlens.roles] names the role {role!r}; the roles are {', '.join(ROLES)}.")
        out[role] = [who] if isinstance(who, str) else [str(w) for w in (who or [])]
    return out


def matches(email: str, entry: str) -> bool:
    """Whether ``email`` is ``entry`` (an address) or in it (a domain: "example.com" or "@example.com")."""
    email, entry = email.strip().lower(), entry.strip().lower()
    if not email or not entry or "@" not in email:
        return False
    if "@" in entry.lstrip("@"):
        return email == entry
    return email.rsplit("@", 1)[1] == entry.lstrip("@")


def roles_for(email: str | None, table: Mapping[str, list[str]]) -> frozenset[str]:
    """The roles whose addresses or domains include ``email``."""
    if not email:
        return frozenset()
    return frozenset(role for role, entries in table.items() if any(matches(email, e) for e in entries))


def user_from(info: Mapping[str, Any], secrets: Mapping[str, Any]) -> User:
    """The user that ``info`` (st.user as a mapping) is, given the secrets ([auth], [crowdlens.roles])."""
    if auth_section(secrets) is None:
        return LOCAL
    if not info.get("is_logged_in"):
        return User(local=False)
    email = str(info.get("email") or "")
    if email and info.get("email_verified") is False:
        email = ""  # an unverified address proves nothing
    name = str(info.get("name") or email)
    return User(local=False, signed_in=True, email=email, name=name, roles=roles_for(email, role_table(secrets)))


def _secrets() -> Mapping[str, Any]:
    try:
        return {k: st.secrets[k] for k in st.secrets}
    except Exception:  # no secrets.toml is local mode
        return {}


def current_user() -> User:
    """The dashboard's user now: from st.user where [auth] is configured, else LOCAL."""
    secrets = _secrets()
    if auth_section(secrets) is None:
        return LOCAL
    try:
        info = st.user.to_dict()
    except Exception:  # no session (bare mode): nobody is signed in
        info = {}
    return user_from(info, secrets)


def require(user: User, right: str) -> None:
    """Raise NotAllowed unless ``user`` has ``right``."""
    if not user.may(right):
        has = ", ".join(sorted(user.roles)) or "no role"
        raise NotAllowed(
            f"{user.label} ({has}) may not {WHAT[right]}: that needs the role "
            f"{' or '.join(sorted(RIGHTS[right]))} in [crowdlens.roles]."
        )


def reviewer(user: User, typed: str | None) -> str:
    """The name stored with a record: the signed-in e-mail, or in local mode the name typed in."""
    if user.local:
        return (typed or "").strip()
    if not user.signed_in or not user.email:
        raise NotAllowed("Sign in with an account that has a verified e-mail address to record anything.")
    return user.email


def record_decision(user: User, workspace, version_id: str, worker: str, decision: str, note: str, **kw: Any):
    """reviews.record_decision under ``user``: refused (NotAllowed) without the right; the reviewer is
    the signed-in e-mail (``typed_reviewer`` counts in local mode only)."""
    from analytics import reviews

    require(user, "record_decision")
    name = reviewer(user, kw.pop("typed_reviewer", None))
    return reviews.record_decision(workspace, version_id, worker, decision, name, note, **kw)


def record_proposal(user: User, workspace, version_id: str, kind: str, change, note: str = "", **kw: Any):
    """qa_records.record_proposal under ``user`` (refused without the right; signed in: their e-mail)."""
    from analytics import qa_records

    require(user, "record_proposal")
    name = reviewer(user, kw.pop("typed_reviewer", None))
    return qa_records.record_proposal(workspace, version_id, kind, change, name, note, **kw)


def apply_decision(user: User, workspace, decision_id: int, client, **kw: Any):
    """toloka_actions.apply_decision under ``user`` (refused without the right; signed in: their e-mail)."""
    from analytics.versions import toloka_actions

    require(user, "apply_decision")
    name = reviewer(user, kw.pop("typed_reviewer", None))
    return toloka_actions.apply_decision(workspace, decision_id, client, applied_by=name, **kw)


def allowed_pages(user: User, specs) -> list:
    """The page specs ``user`` may open (in their order)."""
    return [s for s in specs if user.may_open(s.file)]


def gate(user: User, page: str, specs) -> None:
    """Stop a page ``user`` may not open, saying so and linking to the pages they may (app.py's router)."""
    if user.may_open(page):
        return
    if not user.signed_in:
        st.info("Sign in to use crowdlens (the button is in the sidebar).", icon=":material/login:")
        st.stop()
    title = next((s.title for s in specs if s.file == page), page)
    has = ", ".join(sorted(user.roles)) or "no role"
    st.warning(f"Your account ({user.label}, {has}) may not open {title}.", icon=":material/lock:")
    pages = allowed_pages(user, specs)
    if pages:
        st.markdown("You may open:")
        qp = {"version": st.query_params["version"]} if st.query_params.get("version") else None
        for s in pages:
            st.page_link(s.path, label=s.title, icon=s.icon, query_params=qp)
    else:
        st.caption("Ask an admin to add your address or domain to [crowdlens.roles] in secrets.toml.")
    st.stop()


def sidebar(user: User) -> None:
    """The sidebar's account line with sign-in / sign-out, or the local-mode note."""
    if user.local:
        st.caption(
            ":material/person: Single-user local mode: no sign-in configured ([auth] in secrets.toml); "
            "decisions take the reviewer's name as typed."
        )
        return
    if not user.signed_in:
        if st.button("Sign in", icon=":material/login:", key="_sign_in"):
            name = provider(_secrets())
            st.login(name) if name else st.login()
        return
    roles = ", ".join(sorted(user.roles)) or "no role"
    st.caption(f":material/account_circle: {user.label} · {roles}")
    if st.button("Sign out", icon=":material/logout:", key="_sign_out"):
        st.logout()
