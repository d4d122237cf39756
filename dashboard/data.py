"""Cached loaders shared by the pages: the workspace, its listing, and a version's run.

Versions are immutable, so a run is cached by (workspace, version id) as a resource (no copy
per rerun; a 10^7-answer run is never pickled). Pages get data only through these functions.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from analytics.model import Run
from analytics.sources.workspace import Listing, VersionInfo, Workspace, default_workspace


def workspace_root() -> Path:
    """The workspace: ``CROWDLENS_WORKSPACE`` in st.secrets or the environment, else the default."""
    try:
        from_secrets = st.secrets.get("CROWDLENS_WORKSPACE")
    except Exception:  # no secrets.toml at all is the normal case
        from_secrets = None
    return Path(from_secrets or os.environ.get("CROWDLENS_WORKSPACE") or default_workspace()).expanduser().resolve()


def workspace() -> Workspace:
    return Workspace(workspace_root())


@st.cache_data(ttl=10, max_entries=8, show_spinner=False)
def listing(root: str) -> Listing:
    """The versions of a workspace (re-read every few seconds so new imports show up)."""
    return Workspace(root).listing()


@st.cache_resource(max_entries=4, show_spinner="Opening the dataset version…")
def run(root: str, version_id: str) -> Run:
    return Workspace(root).open_run(version_id)


def find_version(version_id: str | None) -> VersionInfo | None:
    if not version_id:
        return None
    ls = listing(str(workspace_root()))
    matches = [v for v in ls.versions if v.id == version_id or v.id.startswith(version_id)]
    return matches[0] if len(matches) == 1 else None
