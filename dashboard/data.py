"""The pages' only way to data: the workspace, its listing, a version's run, and a thin cache over the metric registry.

Versions are immutable, so a run is cached by (workspace, version id) as a resource (no copy
per rerun; a 10^7-answer run is never pickled). Every figure comes from
:func:`analytics.metrics.registry.outcome` on that cached run: the registry keeps one cache per
run, shared by every page and session, so nothing here caches figures again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import streamlit as st

from analytics import people as _people  # noqa: F401  (registers the QA tables)
from analytics import settings
from analytics.metrics import MetricUnavailable, aggregation, registry
from analytics.model import Run
from analytics.sources.store import Listing, VersionInfo, matching
from analytics.sources.workspace import Workspace


def secrets() -> Mapping[str, Any]:
    """st.secrets (Streamlit's reading of the secrets files), or {} where there is none."""
    try:
        return {k: st.secrets[k] for k in st.secrets}
    except Exception:  # no secrets.toml at all is the normal case
        return {}


def workspace_root() -> Path:
    """The workspace, in analytics.settings' order (environment, then secrets.toml, then ./workspace)."""
    return settings.workspace_root(secrets=secrets()).resolve()


def workspace() -> Workspace:
    return Workspace(workspace_root())


@st.cache_data(ttl=10, max_entries=8, show_spinner=False)
def listing(root: str) -> Listing:
    """The versions of a workspace (re-read every few seconds so new imports show up)."""
    return Workspace(root).listing()


@st.cache_resource(max_entries=4, show_spinner="Opening the dataset version…")
def run(root: str, version_id: str) -> Run:
    return Workspace(root).open_run(version_id)


def current_listing() -> Listing:
    """The versions of the source the dashboard shows: the local workspace, or the ClearML project
    picked on Versions (dashboard.sources; its versions are pulled once and cached by id)."""
    from dashboard import sources

    return sources.listing()


def current_run(version_id: str) -> Run:
    """A version's run from the source the dashboard shows (the local workspace by default)."""
    from dashboard import sources

    return sources.open_run(version_id)


def find_version(version_id: str | None) -> VersionInfo | None:
    """The version with this id or unique prefix, or None."""
    if not version_id:
        return None
    found = matching(current_listing().versions, version_id)
    return found[0] if len(found) == 1 else None


def metric(version_id: str, name: str, **params: Any) -> Any:
    """A registered figure (analytics.metrics.registry) of a version's run: the result, or the
    MetricUnavailable saying why there is none (widgets.available shows it). Computed once per
    (version, name, parameters) and shared; never modify a result in place."""
    return registry.outcome(current_run(version_id), name, **params)


def computed(version_id: str, name: str, **params: Any) -> bool:
    """Whether the figure is computed already (a page may then show it without a button)."""
    return registry.computed(current_run(version_id), name, **params)


def estimate_seconds(version_id: str, name: str, **params: Any) -> float | None:
    """The registry's cost model for a slow figure (GLAD, MACE), in seconds."""
    return registry.estimate_seconds(current_run(version_id), name, **params)


def on_request(version_id: str, method: str) -> bool:
    """Whether an aggregation should wait for someone to ask (slow on this run, not computed yet)."""
    return aggregation.on_request(current_run(version_id), method)


def waits_on_large_run(version_id: str, method: str) -> bool:
    """Whether ``method`` waits for a click only because the run is large (aggregation.waits_on_size)."""
    return aggregation.waits_on_size(current_run(version_id), method)


def ready_methods(version_id: str, methods: tuple[str, ...] = ("mv", "ds")) -> tuple[str, ...]:
    """The aggregation methods among ``methods`` that are cheap here or computed already."""
    return tuple(m for m in methods if m == "mv" or not on_request(version_id, m))


def headline(version_id: str) -> Any:
    """The figures a version listing shows (analytics.report.headline_figures), for versions
    stored without them."""
    from analytics.report import headline_figures

    try:
        return headline_figures(current_run(version_id))
    except MetricUnavailable as err:
        return err


def versions_cost(version_ids) -> Any:
    """Cost per version, one row per version named "label · id prefix", in the order given: from each
    version's cached cost_breakdown, so runs are opened one at a time, never all held together."""
    from analytics.metrics.cost import compare_breakdowns

    by_id = current_listing().by_id()
    breakdowns = {}
    for i in version_ids:
        b = metric(i, "cost_breakdown")
        if isinstance(b, MetricUnavailable):
            return b
        breakdowns[f"{by_id[i].label} · {i[:8]}" if i in by_id else i] = b
    return compare_breakdowns(breakdowns)


def toloka_settings() -> settings.TolokaSettings:
    """Toloka's settings in analytics.settings' order. The token is for make_client only: never show it."""
    return settings.toloka(secrets=secrets())


def scrub(text: str) -> str:
    """``text`` without any secret value (the one scrubber, with the dashboard's secrets)."""
    return settings.scrub(text, *settings.secret_values(secrets=secrets()))


def live_pool_progress(pool_id: str, window_hours: float = 1.0, fee_rate: float | None = None):
    """Toloka's live progress of a pool, with a client made from :func:`toloka_settings`. Not cached:
    the page refreshes it on demand. Raises TolokaConfigError / TolokaAPIError (their messages
    never hold the token)."""
    from analytics.sources import toloka

    s = toloka_settings()
    client = toloka.make_client(s.token.value or "", environment=s.environment.value, url=s.url.value)
    kw = {} if fee_rate is None else {"fee_rate": fee_rate}
    return toloka.pool_progress(client, pool_id, window_hours=window_hours, **kw)


def default(name: str, param: str) -> Any:
    """A registered metric's default for ``param`` (e.g. control_accuracy's min_answers), for a
    page's widget that starts at it."""
    return registry.metric(name).params[param]


def datasets(versions) -> dict[str, list[VersionInfo]]:
    """The versions grouped by data set (analytics.sources.store.lineage_roots: a version belongs to
    its oldest known ancestor's data set), each group in lineage order, groups by their first version."""
    from analytics.sources.store import lineage_order, lineage_roots

    roots = lineage_roots(versions)
    out: dict[str, list[VersionInfo]] = {}
    for v in lineage_order(versions):
        out.setdefault(roots[v.id], []).append(v)
    return out


def lineage_of(version_id: str) -> list[VersionInfo]:
    """The versions of ``version_id``'s data set (its lineage), in lineage order; [] where unknown."""
    for group in datasets(current_listing().versions).values():
        if any(v.id == version_id for v in group):
            return group
    return []


@st.cache_data(max_entries=6, show_spinner=False)
def label_file(version_id: str, method: str, fmt: str) -> bytes:
    """A version's delivered labels by ``method`` as the file ``crowdlens labels --format fmt`` writes
    (analytics.cli.engine.write_labels: csv, parquet or jsonl), as bytes; built once per (version,
    method, format), versions being immutable (the Delivery page's downloads)."""
    import tempfile

    from analytics.cli.engine import write_labels

    frame = registry.compute(current_run(version_id), "delivered_labels", method=method)
    with tempfile.TemporaryDirectory() as tmp:
        return write_labels(frame, Path(tmp) / f"labels.{fmt}", fmt).read_bytes()
