"""Invariants of every registered metric at once (scikit-learn's test_common idea).

* row order does not change any result (shuffled answers, re-coded from scratch);
* a run with one annotator, or without a labeling pool, gives a result or a MetricUnavailable
  with a reason — never another exception;
* an empty export is refused with a clear message.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import analytics.people  # noqa: F401  (registers the QA tables)
from analytics.metrics import REGISTRY, MetricUnavailable, aggregation, declaration, registry
from analytics.metrics.aggregation import Aggregation
from analytics.model import ValidationError, build_run


def sample_params(run, name: str) -> dict:
    """Values for a metric's required parameters: its first annotator or task with a labeling answer."""
    a = run.answers[run.answers["kind"].isin(["regular", "control", "exam"]) & run.answers["label"].notna()]
    a = a.sort_values(["worker_id", "task_id"], key=lambda s: s.astype(str), kind="stable")
    known = {"worker_id": str(a["worker_id"].iloc[0]), "task_id": str(a["task_id"].iloc[0])}
    if name == "exam_item_answers":
        known["task_id"] = str(a.loc[a["kind"] == "exam", "task_id"].iloc[0])
    return {p: known[p] for p in REGISTRY[name].required}


def compute(run, name: str):
    return registry.compute(run, name, **sample_params(run, name))


def rebuild(run, answers: pd.DataFrame):
    """A run from plain-string answers: categories (and so integer codes) are built anew."""
    a = answers.copy()
    for c in ("assignment_id", "task_id", "worker_id", "pool_id", "label", "golden", "kind", "status"):
        a[c] = a[c].astype(object).where(a[c].notna(), None)
    return build_run(
        a,
        file="rebuilt",
        tasks=run.tasks,
        restrictions=run.restrictions,
        pricing=run.pricing,
        meta=run.meta,
        truth=run.truth,
        labels=run.labels,
    )


def canonical(x):
    """A comparable form of any metric result."""
    if isinstance(x, Aggregation):
        return canonical(x.labels), canonical(x.probas), None if x.worker_skill is None else canonical(x.worker_skill)
    if isinstance(x, pd.DataFrame):
        df = x.copy()
        for c in df.columns:
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                df[c] = df[c].astype(object)
        if isinstance(df.index, pd.RangeIndex):
            df = df.sort_values(list(df.columns)[: min(3, len(df.columns))], kind="stable").reset_index(drop=True)
        else:
            df = df.sort_index(kind="stable")
        return df
    if isinstance(x, pd.Series):
        return x.sort_index()
    if dataclasses.is_dataclass(x):
        return {f.name: canonical(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {k: canonical(v) for k, v in x.items()}
    return x


def assert_same(a, b, where: str):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(
            a,
            b,
            check_dtype=False,
            check_categorical=False,
            check_index_type=False,
            check_column_type=False,
            rtol=1e-9,
            atol=1e-12,
            obj=where,
        )
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(
            a, b, check_dtype=False, check_categorical=False, check_index_type=False, rtol=1e-9, atol=1e-12, obj=where
        )
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (tuple, list)) and a and isinstance(a[0], (pd.DataFrame, pd.Series, dict)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def runs(demo_run):
    shuffled = demo_run.answers.sample(frac=1.0, random_state=7).reset_index(drop=True)
    return rebuild(demo_run, demo_run.answers), rebuild(demo_run, shuffled)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_row_order_does_not_matter(runs, name):
    ordered, shuffled = runs
    try:
        a = compute(ordered, name)
    except MetricUnavailable:
        with pytest.raises(MetricUnavailable):
            compute(shuffled, name)
        return
    b = compute(shuffled, name)
    assert_same(canonical(a), canonical(b), name)


def _degenerate_runs(demo_run):
    a = demo_run.answers
    one = a[a["worker_id"] == a["worker_id"].iloc[0]].reset_index(drop=True)
    exam_only = a[a["kind"] == "exam"].reset_index(drop=True)
    return {"one annotator": rebuild(demo_run, one), "exam only": rebuild(demo_run, exam_only)}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_degenerate_runs_give_a_result_or_a_reason(demo_run, name):
    for what, run in _degenerate_runs(demo_run).items():
        try:
            compute(run, name)
        except (MetricUnavailable, IndexError) as err:
            if isinstance(err, IndexError):  # no annotator or task of the kind the metric is about
                continue
            assert len(str(err)) > 20, f"{name} on {what}: the reason is too terse: {err}"


def test_registry_names_every_concern():
    modules = {m.function.__module__.rsplit(".", 1)[-1] for m in REGISTRY.values()}
    assert {"exam", "control", "agreement", "aggregation", "cost", "labels", "speed", "rules"} <= modules


def test_empty_input_is_refused_clearly():
    empty = pd.DataFrame(columns=["task_id", "worker_id", "label"])
    with pytest.raises(ValidationError, match="there are no answers"):
        build_run(empty, file="empty.tsv")


def test_unknown_metric_name_lists_the_known_ones(demo_run):
    with pytest.raises(ValueError, match="known metrics: aggregate, exam_threshold, exam_item_pass_rate"):
        registry.compute(demo_run, "alpha")


def test_every_public_metric_of_a_run_is_registered():
    """The guard (scikit-learn's test_common idea): a public function of a run in a metric module
    is either a registered figure or a declared building block, so no figure escapes the cache,
    the report's loop and the invariant tests above."""
    import importlib
    import inspect
    import pkgutil

    import analytics.metrics as pkg

    registered = {(m.function.__module__, m.function.__name__) for m in REGISTRY.values()}
    missing = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "registry":
            continue
        module = importlib.import_module(f"analytics.metrics.{info.name}")
        for fname, func in inspect.getmembers(module, inspect.isfunction):
            if fname.startswith("_") or func.__module__ != module.__name__:
                continue
            params = list(inspect.signature(func).parameters)
            if not params or params[0] != "run":
                continue
            if (module.__name__, fname) not in registered and f"{info.name}.{fname}" not in registry.BUILDING_BLOCKS:
                missing.append(f"{info.name}.{fname}")
    assert not missing, f"public metrics of a run missing from the registry: {missing}"


def test_every_metric_declares_what_it_needs_and_gives(demo_run):
    for m in REGISTRY.values():
        assert m.needs in declaration.NEEDS and m.result in declaration.RESULTS, m.name
        assert m.about and len(m.about) > 10, m.name
        for dep in m.depends.values():
            assert dep.metric in REGISTRY and set(dep.params.values()) <= set(m.params), m.name


def test_compute_caches_per_run_and_parameters(demo_run):
    first = registry.compute(demo_run, "control_accuracy")
    assert registry.compute(demo_run, "control_accuracy", min_answers=5) is first  # a default is the same key
    assert registry.compute(demo_run, "control_accuracy", min_answers=3) is not first
    with pytest.raises(ValueError, match="takes the parameters"):
        registry.compute(demo_run, "control_accuracy", min_answer=3)
    with pytest.raises(ValueError, match="needs the parameter"):
        registry.compute(demo_run, "ban_evidence")


def test_figures_on_an_aggregate_follow_its_method(demo_run):
    ds = registry.compute(demo_run, "aggregate", method="ds")
    mine = registry.compute(demo_run, "worker_agreement", method="ds")
    from analytics.metrics.agreement import worker_agreement

    pd.testing.assert_frame_equal(mine, worker_agreement(demo_run, ds))


def test_slow_aggregators_declare_their_cost(demo_run):
    glad = registry.estimate_seconds(demo_run, "aggregate", method="glad")
    mv = registry.estimate_seconds(demo_run, "aggregate", method="mv")
    assert glad > 100 * mv > 0


def test_pair_and_curve_costs_scale_with_the_labeling_pool_not_every_answer(demo_run):
    a = demo_run.answers
    by_hand = int((a["kind"].isin(["regular", "control"]) & a["label"].notna() & (a["status"] != "REJECTED")).sum())
    assert 0 < by_hand < len(a)  # the demo's exam answers are not the pool's
    assert aggregation.pool_answers(demo_run) == by_hand
    assert registry.estimate_seconds(demo_run, "pairwise_kappa") == pytest.approx(by_hand / 4e6)
    # the curve: shared work, then each subsampling repeat (5 by default)
    assert registry.estimate_seconds(demo_run, "cost_quality_curve") == pytest.approx(by_hand * (4.4e-7 + 5 * 6e-8))
    more = registry.estimate_seconds(demo_run, "cost_quality_curve", repeats=10)
    assert more == pytest.approx(by_hand * (4.4e-7 + 10 * 6e-8))
