"""The report drops the large tables it computed for a section, keeps what was cached before, and its figures stay."""

import pandas as pd

from analytics import report
from analytics.metrics import registry


def tables(run) -> set[tuple]:
    return {k for k, v in registry.cached(run).items() if isinstance(v, pd.DataFrame)}


def fresh(demo_workspace, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    return demo_workspace.open_run(v.id)  # a run of its own: an empty cache


def test_no_large_table_outlives_its_section(demo_workspace, demo_versions, monkeypatch):
    kept = report.build_report(fresh(demo_workspace, demo_versions), method="ds")
    monkeypatch.setattr(report, "LARGE_TABLE_BYTES", 0)  # every table counts as large
    run = fresh(demo_workspace, demo_versions)
    dropped = report.build_report(run, method="ds")
    assert tables(run) == set(), "a table the report computed stayed cached"
    assert dropped == kept
    assert registry.computed(run, "aggregate", method="ds")  # the aggregations are kept


def test_a_table_cached_before_the_report_stays(demo_workspace, demo_versions, monkeypatch):
    monkeypatch.setattr(report, "LARGE_TABLE_BYTES", 0)
    run = fresh(demo_workspace, demo_versions)
    items = registry.compute(run, "item_agreement", method="mv")
    key = registry.cache_key("item_agreement", method="mv")
    report.build_report(run, method="mv")
    assert registry.cached(run)[key] is items
