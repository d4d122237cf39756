"""Where the pages' versions come from: the local workspace or a ClearML project (``?source=clearml&project=NAME``).

A page asks :func:`current_store` for a :class:`~analytics.sources.store.RunStore` of the chosen
source: its ``listing()`` is the workspace's or the ClearML project's versions with their
lineage, and its ``open_run(id)`` returns the same :class:`~analytics.model.Run` the local pages
use, cached by id as a resource (versions are immutable; a ClearML version is pulled once into
crowdlens' cache by :class:`~analytics.sources.clearml_store.ClearMLStore` and opened from there
afterwards). ClearML's credentials come from :mod:`analytics.settings` (environment, then the
secrets files) and are never shown: every message from the SDK goes through the one scrubber.
:func:`source_picker` is the widget that chooses; :func:`clearml_link` is a version's page in
the ClearML web app (the SDK's own shape, ``<web host>/datasets/simple/<project>/experiments/<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from analytics import settings
from analytics.model import Problem, Run
from analytics.sources.clearml_store import DEFAULT_PROJECT, ClearMLError, ClearMLStore
from analytics.sources.store import Listing, VersionInfo, matching
from analytics.sources.workspace import Workspace
from dashboard import data, widgets

LOCAL, CLEARML = "local", "clearml"
SOURCE_PARAM, PROJECT_PARAM = "source", "project"
_SESSION_KEY = "_source"
LISTING_TTL = 30  # seconds: a ClearML project's listing is asked of the server again after this
WEB_HOST = "CLEARML_WEB_HOST"
API_HOST = "CLEARML_API_HOST"
# the SDK's own dataset page (clearml/datasets/dataset.py, Dataset._log_dataset_page): "*" stands for
# the project id, which the SDK itself uses when it does not know it
DATASET_PAGE = "{web}/datasets/simple/*/experiments/{id}"


@dataclass(frozen=True)
class Source:
    """A place the pages read versions from: ``kind`` ``local`` (``where`` is the workspace folder)
    or ``clearml`` (``where`` is the ClearML project's name)."""

    kind: str
    where: str

    @property
    def key(self) -> str:
        """One text naming the source, for cache keys: ``local:/path/to/ws``, ``clearml:crowdlens``."""
        return f"{self.kind}:{self.where}"

    @property
    def label(self) -> str:
        return f"workspace {self.where}" if self.kind == LOCAL else f"ClearML project {self.where}"

    def params(self) -> dict[str, str]:
        """The query parameters that name this source in a link ({} for the local workspace)."""
        return {} if self.kind == LOCAL else {SOURCE_PARAM: CLEARML, PROJECT_PARAM: self.where}


def local() -> Source:
    return Source(LOCAL, str(data.workspace_root()))


def of_key(key: str) -> Source:
    kind, _, where = str(key).partition(":")
    if kind not in (LOCAL, CLEARML) or not where:
        raise ValueError(f"The 'key' parameter must be 'local:PATH' or 'clearml:PROJECT'. Got {key!r} instead.")
    return Source(kind, where)


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return str(value).strip() if value not in (None, "") else None


def current() -> Source:
    """The source the URL names (``?source=clearml&project=NAME``; ``?source=local``), else the one
    picked earlier in this session, else the local workspace. A ClearML source stays in the URL
    (a page link that drops it gets it back), so the link someone copies opens the same versions."""
    wanted = _param(SOURCE_PARAM)
    before = st.session_state.get(_SESSION_KEY)
    if wanted == CLEARML:
        earlier = before.where if isinstance(before, Source) and before.kind == CLEARML else None
        chosen = Source(CLEARML, _param(PROJECT_PARAM) or earlier or DEFAULT_PROJECT)
    elif wanted is None and isinstance(before, Source) and before.kind == CLEARML:
        chosen = before
    else:
        chosen = local()
    st.session_state[_SESSION_KEY] = chosen
    for k, v in chosen.params().items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    return chosen


# ---- ClearML


def _api_host() -> str:
    return settings.setting(API_HOST).value or ""


@st.cache_resource(max_entries=4, show_spinner=False)
def _clearml_store(project: str, api_host: str) -> ClearMLStore:
    """One store per (project, server): the SDK's session is the process's, the cache is by id."""
    return ClearMLStore(project=project)


@st.cache_data(ttl=LISTING_TTL, max_entries=8, show_spinner="Listing the ClearML project's versions…")
def _clearml_listing(project: str, api_host: str) -> Listing:
    return _clearml_store(project, api_host).listing()


@st.cache_resource(max_entries=4, show_spinner="Pulling the dataset version from ClearML (once)…")
def _clearml_run(project: str, api_host: str, version_id: str) -> Run:
    return _clearml_store(project, api_host).open_run(version_id)


def scrub(text: object) -> str:
    """``text`` without any secret value (ClearML's keys included), for the page."""
    return data.scrub(str(text))


def _unlisted(source: Source, err: Exception) -> Listing:
    return Listing(
        (),
        (
            Problem(
                file=source.label,
                message=f"The versions of {source.label} cannot be listed: {scrub(err)}",
                fix="check the ClearML settings (CLEARML_API_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY "
                f"in the environment or {settings.secrets_files_text()}) and the project's name.",
            ),
        ),
    )


# ---- the store the pages read


def listing(source: Source | None = None) -> Listing:
    """The source's versions, oldest first, with their lineage. A ClearML project that cannot be
    listed (not configured, refused, unreachable) is an empty listing whose problem says why."""
    source = source or current()
    if source.kind == LOCAL:
        return data.listing(source.where)
    try:
        return _clearml_listing(source.where, _api_host())
    except (ClearMLError, ValueError, OSError) as err:
        return _unlisted(source, err)


def full_id(version_id: str, source: Source | None = None) -> str:
    """The full id of a version given by id or unique prefix (the prefix itself where none or several match)."""
    found = matching(listing(source).versions, version_id)
    return found[0].id if len(found) == 1 else str(version_id)


def open_run(version_id: str, source: Source | None = None) -> Run:
    """The run of a version (id or unique prefix), cached by full id: the Run every page shares."""
    source = source or current()
    vid = full_id(version_id, source)
    if source.kind == LOCAL:
        return data.run(source.where, vid)
    return _clearml_run(source.where, _api_host(), vid)


class CachedStore:
    """A :class:`~analytics.sources.store.RunStore` over a source whose runs are the pages' cached ones."""

    def __init__(self, source: Source):
        self.source = source

    @property
    def inner(self) -> Workspace | ClearMLStore:
        """The store itself (a Workspace or a ClearMLStore), for what the protocol does not cover."""
        if self.source.kind == LOCAL:
            return Workspace(self.source.where)
        return _clearml_store(self.source.where, _api_host())

    def listing(self) -> Listing:
        return listing(self.source)

    def versions(self) -> list[VersionInfo]:
        return list(self.listing().versions)

    def get(self, version_id: str) -> VersionInfo:
        found = matching(self.listing().versions, version_id)
        return found[0] if len(found) == 1 else self.inner.get(version_id)

    def open_run(self, version_id: str) -> Run:
        return open_run(version_id, self.source)


def current_store() -> CachedStore:
    """The chosen source (:func:`current`) as a RunStore whose runs are cached by id."""
    return CachedStore(current())


def store_of(key: str) -> CachedStore:
    """The store of a :attr:`Source.key` (for functions cached by the key)."""
    return CachedStore(of_key(key))


# ---- what the pages compute across versions (cached: versions are immutable)


@st.cache_resource(max_entries=16, show_spinner="Comparing the two versions…")
def _diff(source_key: str, child_id: str, parent_id: str, method: str):
    from analytics.versions import compare

    return compare(store_of(source_key), child_id, parent_id, method=method)


def version_diff(child_id: str, parent_id: str, method: str = "mv", source: Source | None = None):
    """:func:`analytics.versions.compare` of ``child_id`` against ``parent_id`` (full ids), cached by
    (source, child, parent, method). Raises what compare raises (VersionLookupError, ValueError)."""
    return _diff((source or current()).key, child_id, parent_id, method)


@st.cache_data(ttl=LISTING_TTL, max_entries=32, show_spinner="Reading each version's figure…")
def _figures(source_key: str, figure: str, ids: tuple[str, ...]) -> pd.DataFrame:
    from analytics.versions import lineage_figures as figures_of

    store = store_of(source_key)
    # a ClearML project's versions are not downloaded for the graph: the manifests' figures only
    compute = store.source.kind == LOCAL
    return figures_of(store, figure, compute=compute, open_run=store.open_run if compute else None)


def lineage_figures(figure: str, source: Source | None = None) -> pd.DataFrame:
    """:func:`analytics.versions.lineage_figures` of the source (one row per version, parents first)."""
    source = source or current()
    return _figures(source.key, figure, tuple(v.id for v in listing(source).versions))


# ---- links and the picker


def web_host() -> str | None:
    """The ClearML web app's address: CLEARML_WEB_HOST, else derived from CLEARML_API_HOST as the SDK
    does (``api.`` -> ``app.``, port 8008 -> 8080); None when neither says."""
    from urllib.parse import urlsplit, urlunsplit

    host = settings.setting(WEB_HOST).value
    if not host:
        api = _api_host().rstrip("/")
        if "://api." in api or "://demoapi." in api:
            host = api.replace("://demoapi.", "://demoapp.", 1).replace("://api.", "://app.", 1)
        elif urlsplit(api).port == 8008:
            host = api.replace(":8008", ":8080", 1)
    if not host:
        return None
    parts = urlsplit(host.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc.rpartition("@")[2]  # never a user name or password in a link
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def clearml_id(version: VersionInfo, source: Source | None = None) -> str | None:
    """The ClearML dataset id of a version: its own on a ClearML source, else the one recorded when a
    local version was published to (or pulled from) ClearML; None if it has none."""
    if version.source == CLEARML:
        return version.id
    recorded = (version.metadata.get("clearml") or {}) if isinstance(version.metadata.get("clearml"), dict) else {}
    if recorded.get("id"):
        return str(recorded["id"])
    source = source or current()
    return Workspace(source.where).remote_id(version.id, CLEARML) if source.kind == LOCAL else None


def clearml_link(version: VersionInfo, source: Source | None = None) -> str | None:
    """The version's page in the ClearML web app, or None (not on ClearML, or no web host known)."""
    cid, web = clearml_id(version, source), web_host()
    if not cid or not web:
        return None
    return DATASET_PAGE.format(web=web, id=cid)


def _configured_text() -> str:
    """Where ClearML's settings come from, by name (never a value but the server's address)."""
    found = settings.clearml()
    if not found:
        return (
            "ClearML is not configured: set CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY "
            f"in the environment or {settings.secrets_files_text()} (or keep a ~/clearml.conf)."
        )
    host = found.get(API_HOST)
    keys = [n for n in settings.CLEARML_CREDENTIALS if n in found]
    wheres = sorted({found[n].where for n in keys})
    return (
        f"Server {scrub(host.value) if host else 'from ~/clearml.conf'}"
        + (f" · credentials from {', '.join(wheres)}" if wheres else " · credentials from ~/clearml.conf")
        + " (never shown)"
    )


def _choose(kind: str, project: str | None) -> None:
    """Write a choice into the session and the URL; the version shown belongs to the source left."""
    chosen = local() if kind == LOCAL else Source(CLEARML, (project or "").strip() or DEFAULT_PROJECT)
    st.session_state[_SESSION_KEY] = chosen
    st.query_params.clear()
    st.query_params.update(chosen.params() or {SOURCE_PARAM: LOCAL})


def source_picker(container: Any = None) -> Source:
    """Where the versions come from: the local workspace or a ClearML project (its name typed), in
    ``container`` (the sidebar by default). Writes the choice into the URL; returns the source."""
    box: Any = container if container is not None else st.sidebar
    source = current()
    names = {LOCAL: "Local workspace", CLEARML: "ClearML project"}
    st.session_state["_source_kind"] = source.kind
    if source.kind == CLEARML:
        st.session_state["_source_project"] = source.where
    kind = box.radio(
        "Versions from",
        list(names),
        format_func=names.get,
        key="_source_kind",
        horizontal=True,
        on_change=lambda: _choose(st.session_state["_source_kind"], st.session_state.get("_source_project")),
    )
    if kind == CLEARML:
        box.text_input(
            "ClearML project",
            key="_source_project",
            placeholder=DEFAULT_PROJECT,
            help="The ClearML project the versions were published to (crowdlens clearml-publish --project NAME).",
            on_change=lambda: _choose(CLEARML, st.session_state.get("_source_project")),
        )
        box.caption(widgets.md_escape(_configured_text()))
    return source


def describe(source: Source | None = None) -> str:
    """One line for the sidebar: the source and how many versions it holds (Markdown-safe)."""
    source = source or current()
    ls = listing(source)
    where = (
        f"Workspace {widgets.md_code(source.where)}"
        if source.kind == LOCAL
        else (f"ClearML project {widgets.md_code(source.where)}")
    )
    damaged = f" · {len(ls.damaged)} damaged" if ls.damaged else ""
    return f"{where} · {len(ls.versions)} version(s){damaged}"
