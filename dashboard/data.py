"""Cached loaders shared by the pages: the workspace, its listing, and a version's run.

Versions are immutable, so a run is cached by (workspace, version id) as a resource (no copy
per rerun; a 10^7-answer run is never pickled). Pages get data only through these functions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
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


def _or_unavailable(figure, *args) -> object:
    """``figure(*args)``, or the MetricUnavailable it raised: returned (and so cached) like a
    result, since a run that cannot give a figure will not give it on the next rerun either."""
    from analytics.metrics import MetricUnavailable

    try:
        return figure(*args)
    except MetricUnavailable as err:
        return err


def _metric_figure(root: str, version_id: str, name: str, params: dict) -> object:
    from analytics.metrics import REGISTRY

    the_run = run(root, version_id)
    if not params and name in REGISTRY:
        return REGISTRY[name].compute(the_run)
    if not _PARAMETRIZED:
        _PARAMETRIZED.update(_parametrized())
    return _PARAMETRIZED[name](the_run, **params)


@st.cache_resource(max_entries=256, show_spinner=False)
def _metric(root: str, version_id: str, name: str, params: tuple) -> object:
    return _or_unavailable(_metric_figure, root, version_id, name, dict(params))


def _parametrized() -> dict:
    from analytics.metrics import aggregation, agreement, control, labels, progress, speed

    return {
        "aggregate": aggregation.aggregate,
        "disagreements": aggregation.disagreements,
        "item_agreement": lambda r, method="mv": agreement.item_agreement(r, aggregation.aggregate(r, method)),
        "worker_agreement": lambda r, method="mv": agreement.worker_agreement(r, aggregation.aggregate(r, method)),
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
    if params and name in _PARAMETRIZED:
        # a parameter at the function's own default is left out: one cache entry (and one
        # computation) for metric(v, name) and metric(v, name, param=<its default>)
        import inspect

        defaults = {
            k: p.default
            for k, p in inspect.signature(_PARAMETRIZED[name]).parameters.items()
            if p.default is not p.empty
        }
        params = {k: v for k, v in params.items() if not (k in defaults and defaults[k] == v)}
    return _metric(str(workspace_root()), version_id, name, tuple(sorted(params.items())))


# ---- people pages (Exam, Annotators, Annotator detail, Task detail): analytics.metrics.people


def _people_figure(root: str, version_id: str, name: str, params: dict) -> object:
    from analytics.metrics import aggregation, people

    the_run = run(root, version_id)
    if name == "annotator_table":
        return people.annotator_table(
            the_run,
            control_acc=metric(version_id, "control_accuracy"),
            worker_agreement=metric(version_id, "worker_agreement"),
            worker_speed=metric(version_id, "worker_speed"),
            exam_scores=metric(version_id, "exam_scores"),
            replayed=metric(version_id, "replay_rules"),
            label_use=metric(version_id, "annotator_label_use"),
        )
    if name == "annotator_answers":
        # the converged aggregations (n_iter 100), the same ones task_votes shows on Task detail
        # DS only where it is cheap here or already computed (see aggregation.on_request)
        aggs = {
            m: metric(version_id, "aggregate", method=m)
            for m in ("mv", "ds")
            if m == "mv" or not aggregation.on_request(the_run, m)
        }
        return people.annotator_answers(
            the_run, params["worker_id"], {m: a for m, a in aggs.items() if not isinstance(a, Exception)}
        )
    if name == "speed_vs_pool":
        suites = metric(version_id, "assignment_speed")
        if isinstance(suites, Exception):
            raise suites
        return people.speed_vs_pool(the_run, params["worker_id"], suites)
    if name == "exam_item_answers":
        scores = metric(version_id, "exam_scores")
        if isinstance(scores, Exception):
            raise scores
        return people.exam_item_answers(the_run, params["task_id"], scores)
    if name == "task_answers":
        return people.task_answers(the_run, params["task_id"])
    if name == "task_votes":
        return aggregation.task_votes(the_run, params["task_id"])
    if name == "ban_evidence":
        from analytics.metrics.rules import ban_evidence

        return ban_evidence(the_run, params["worker_id"])
    raise ValueError(f"Unknown people figure {name!r}")


@st.cache_resource(max_entries=256, show_spinner=False)
def _people(root: str, version_id: str, name: str, params: tuple) -> object:
    return _or_unavailable(_people_figure, root, version_id, name, dict(params))


def people(version_id: str, name: str, **params) -> object:
    """A figure of analytics.metrics.people (or task_votes, ban_evidence) for the people pages,
    built on the cached metrics of :func:`metric` and cached per (version, name, params).
    Returns the result or the MetricUnavailable saying why there is none; never modify it."""
    if name in ("annotator_answers", "task_votes"):
        # part of the key: a figure drawn before Dawid-Skene was computed is redrawn after it
        from analytics.metrics import aggregation

        the_run = run(str(workspace_root()), version_id)
        params["_ready"] = tuple(m for m in aggregation.METHODS if aggregation.cached(the_run, m) is not None)
    return _people(str(workspace_root()), version_id, name, tuple(sorted(params.items())))


# ---- quality and cost pages (Agreement, Labels, Cost, Live monitor, Versions)


def _quality_figure(root: str, version_id: str, name: str, params: dict) -> object:
    from analytics.metrics import aggregation, curve

    the_run = run(root, version_id)
    if name == "accuracy":
        agg = metric(version_id, "aggregate", method=params["method"])
        if isinstance(agg, Exception):
            raise agg
        if params["reference"] == "golden":
            return aggregation.accuracy_vs_golden(the_run, agg)
        return aggregation.accuracy_vs_truth(the_run, agg)
    if name == "cost_quality_curve":
        return curve.cost_quality_curve(the_run, **params)
    if name == "headline":
        from analytics.report import headline_figures

        return headline_figures(the_run)
    raise ValueError(f"Unknown quality figure {name!r}")


@st.cache_resource(max_entries=128, show_spinner=False)
def _quality(root: str, version_id: str, name: str, params: tuple) -> object:
    return _or_unavailable(_quality_figure, root, version_id, name, dict(params))


def quality(version_id: str, name: str, **params) -> object:
    """A figure for the quality and cost pages, cached per (version, name, params): ``accuracy``
    (method, reference "golden"/"truth": the aggregate of data.metric("aggregate") against it),
    ``cost_quality_curve`` (its parameters), ``headline`` (analytics.report.headline_figures, the
    figures a version stores at import). Returns the result or the
    MetricUnavailable saying why there is none; never modify it."""
    return _quality(str(workspace_root()), version_id, name, tuple(sorted(params.items())))


def versions_cost(version_ids) -> object:
    """metrics.cost.compare_versions_cost over the given versions, one row per version named
    "label · id prefix", in the order given: from each version's cached cost_breakdown, so the
    runs are opened one at a time (and only once per server), never all held together."""
    from analytics.metrics.cost import compare_breakdowns

    by_id = listing(str(workspace_root())).by_id()
    breakdowns = {}
    for i in version_ids:
        b = metric(i, "cost_breakdown")
        if isinstance(b, Exception):
            raise b
        breakdowns[f"{by_id[i].label} · {i[:8]}" if i in by_id else i] = b
    return compare_breakdowns(breakdowns)


TOLOKA_SETTINGS = ("TOLOKA_TOKEN", "TOLOKA_URL", "TOLOKA_ENVIRONMENT")


def toloka_settings() -> dict[str, tuple[str, str]]:
    """The Toloka settings that are configured, name -> (value, where: "secrets" or "environment").
    st.secrets wins over the environment. The token's value is for make_client only: never show it."""
    out: dict[str, tuple[str, str]] = {}
    for name in TOLOKA_SETTINGS:
        try:
            value = st.secrets.get(name)
        except Exception:  # no secrets.toml at all is the normal case
            value = None
        where = "secrets"
        if not value:
            value, where = os.environ.get(name), "environment"
        if value and str(value).strip():
            out[name] = (str(value).strip(), where)
    return out


def live_pool_progress(pool_id: str, window_hours: float = 1.0, fee_rate: float | None = None):
    """Toloka's live progress of a pool (analytics.sources.toloka_api.pool_progress), with a client
    made from :func:`toloka_settings`. Not cached: the page refreshes it on demand. Raises
    TolokaConfigError / TolokaAPIError (their messages never hold the token)."""
    from analytics.sources import toloka_api

    s = toloka_settings()
    token = s.get("TOLOKA_TOKEN", ("", ""))[0]
    url = s.get("TOLOKA_URL", (None, ""))[0]
    env = None if url else s.get("TOLOKA_ENVIRONMENT", (None, ""))[0]
    client = (
        toloka_api.make_client(token, environment=env, url=url)
        if (url or env)
        else toloka_api.make_client(token, environment="PRODUCTION")
    )
    kw = {} if fee_rate is None else {"fee_rate": fee_rate}
    return toloka_api.pool_progress(client, pool_id, window_hours=window_hours, **kw)


@st.cache_resource(max_entries=16, show_spinner=False)
def _least_agreed(root: str, version_id: str) -> object:
    items = metric(version_id, "item_agreement")
    if not isinstance(items, pd.DataFrame):
        return items
    from analytics.metrics.agreement import least_agreed as order_least_agreed

    return order_least_agreed(items)


def pool_votes(version_id: str, task_id: str):
    """A task's votes per label (in run.labels order) as the aggregators count them (labeling
    pool, rejected suites left out), or None where it has none; from the run's cached count."""
    from analytics.metrics import MetricUnavailable, aggregation

    the_run = run(str(workspace_root()), version_id)
    try:
        counts = aggregation.pool_vote_counts(the_run)
    except MetricUnavailable:
        return None
    code = the_run.codes.task_names.get_indexer([str(task_id)])[0]
    return None if code < 0 else counts[code]


def least_agreed(version_id: str) -> object:
    """Tasks with two or more answers, least agreement with the majority first (then the most
    spread answers): sorted once per version, not on every rerun."""
    return _least_agreed(str(workspace_root()), version_id)


@st.cache_resource(max_entries=16, show_spinner=False)
def _pairs_by_kappa(root: str, version_id: str, min_shared: int) -> object:
    pairs = metric(version_id, "pairwise_kappa", min_shared=min_shared)
    if not isinstance(pairs, pd.DataFrame):
        return pairs
    return pairs.sort_values(["kappa", "shared"], ascending=[True, False], kind="stable", na_position="last")


def pairs_by_kappa(version_id: str, min_shared: int) -> object:
    """Annotator pairs sharing >= min_shared tasks, lowest Cohen's kappa first (sorted once)."""
    return _pairs_by_kappa(str(workspace_root()), version_id, int(min_shared))


@st.cache_resource(max_entries=32, show_spinner=False)
def _aggregated_distribution(root: str, version_id: str, method: str) -> object:
    from analytics.metrics import MetricUnavailable
    from analytics.metrics.labels import distribution_of

    agg = metric(version_id, "aggregate", method=method)
    if isinstance(agg, MetricUnavailable):
        return agg
    return distribution_of(agg.labels["label"], run(root, version_id).labels)


def aggregated_distribution(version_id: str, method: str = "mv") -> object:
    """Counts and shares of the aggregated labels of a version (cached: 10^6 labels each rerun
    would cost seconds)."""
    return _aggregated_distribution(str(workspace_root()), version_id, method)
