"""The stakeholder report from the dashboard: built on request on Overview and Cost, then downloaded."""

from __future__ import annotations

import pytest
from pages_util import ok, open_page, texts

from analytics.report_documents import charts_missing


@pytest.mark.parametrize("page", ["overview.py", "cost.py"])
def test_the_report_is_prepared_then_downloaded(demo_workspace, demo_versions, page):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = ok(open_page(demo_workspace.root, page, version=v.id))
    key = "overview_report" if page == "overview.py" else "cost_report"
    at.button(key=f"{key}_html_{v.id}_prepare").click().run(timeout=120)
    ok(at)
    assert not any(b.key == f"{key}_html_{v.id}_prepare" for b in at.button)
    if page == "overview.py":
        assert "Expected wrong labels" in texts(at)


def test_the_overview_says_the_fee_is_assumed(tmp_path, demo_workspace, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = ok(open_page(demo_workspace.root, "overview.py", version=v.id))
    from analytics.sources.workspace import Workspace

    run = Workspace(demo_workspace.root).open_run(v.id)
    assert ("platform fee" in texts(at).lower()) == bool(run.pricing.fee_assumed)
    assert charts_missing() is None or "chromium" in charts_missing().lower()
