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


@st.cache_resource(max_entries=256, show_spinner=False)
def _metric(root: str, version_id: str, name: str, params: tuple) -> object:
    from analytics.metrics import REGISTRY, MetricUnavailable

    the_run = run(root, version_id)
    try:
        if params:
            return _PARAMETRIZED[name](the_run, **dict(params))
        return REGISTRY[name].compute(the_run)
    except MetricUnavailable as err:
        # cached too: a run that cannot give a figure will not give it on the next rerun either
        return err


def _parametrized() -> dict:
    from analytics.metrics import aggregation, agreement, control, labels, progress, speed

    return {
        "aggregate": aggregation.aggregate,
        "disagreements": aggregation.disagreements,
        "item_agreement": lambda r, method="mv": agreement.item_agreement(r, aggregation.aggregate(r, method, n_iter=20)),
        "worker_agreement": lambda r, method="mv": agreement.worker_agreement(r, aggregation.aggregate(r, method, n_iter=20)),
        "pairwise_kappa": agreement.pairwise_kappa,
        "control_accuracy": control.control_accuracy,
        "label_distribution": labels.label_distribution,
        "annotator_label_use": labels.annotator_label_use,
        "throughput": progress.throughput,
        "fast_responders": speed.fast_responders,
    }


_PARAMETRIZED: dict = {}


def metric(version_id: str, name: str, **params) -> object:
    """A metric of a version's run (analytics.metrics.REGISTRY name, or a parametrized one with
    ``params``), computed once per (version, name, params) and shared by every page and session.
    Returns the result, or the MetricUnavailable explaining why there is none (pages show it with
    widgets.unavailable). Results are shared: never modify them in place."""
    if params and not _PARAMETRIZED:
        _PARAMETRIZED.update(_parametrized())
    return _metric(str(workspace_root()), version_id, name, tuple(sorted(params.items())))
