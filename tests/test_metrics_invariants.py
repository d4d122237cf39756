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

from analytics.metrics import REGISTRY, MetricUnavailable, compute
from analytics.metrics.aggregation import Aggregation
from analytics.model import ValidationError, build_run


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
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
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
        except MetricUnavailable as err:
            assert len(str(err)) > 20, f"{name} on {what}: the reason is too terse: {err}"


def test_registry_names_every_concern():
    modules = {m.compute.__module__.rsplit(".", 1)[-1] for m in REGISTRY.values()}
    assert {"exam", "control", "agreement", "aggregation", "cost", "labels", "speed", "rules"} <= modules


def test_empty_input_is_refused_clearly():
    empty = pd.DataFrame(columns=["task_id", "worker_id", "label"])
    with pytest.raises(ValidationError, match="there are no answers"):
        build_run(empty, file="empty.tsv")


def test_unknown_metric_name_lists_the_known_ones(demo_run):
    with pytest.raises(ValueError, match="known metrics: exam_item_pass_rate"):
        compute(demo_run, "alpha")
