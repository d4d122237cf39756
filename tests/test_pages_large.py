"""On a large run the costliest sections wait for a click, so the page opens at once."""

from __future__ import annotations

import pytest
from pages_util import open_page, texts

from dashboard import widgets


@pytest.fixture
def large(monkeypatch):
    # every run counts as large: the demo takes the path a 10^7-answer version takes
    monkeypatch.setattr(widgets, "LARGE_RUN_ANSWERS", 0)


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_pairs_wait_for_a_click_on_large_runs(large, demo_workspace, demo_versions):
    v = demo_versions[1]
    at = open_page(demo_workspace.root, "agreement.py", version=v.id)
    assert not at.exception
    assert "pairwise κ takes about" in texts(at) and "pairs share ≥" not in texts(at)
    _button(at, "Compute annotator pairs").click().run()
    assert not at.exception and "pairs share ≥ 10 tasks" in texts(at)


def test_cost_curve_waits_for_a_click_on_large_runs(large, demo_workspace, demo_versions):
    v = demo_versions[1]
    at = open_page(demo_workspace.root, "cost.py", version=v.id)
    assert "subsampling every overlap takes about" in texts(at)
    assert "Cost per final label at overlap" not in texts(at)
    _button(at, "Compute the curve").click().run()
    assert not at.exception and "Cost per final label at overlap 3" in texts(at)


@pytest.mark.parametrize("page", ["annotator.py", "task.py", "agreement.py"])
def test_tables_send_only_their_rows(demo_workspace, demo_run, demo_versions, page):
    """A table goes to the browser with its shown rows only, and without a categorical's full list
    of categories (a page of 50 answers would otherwise carry every task id of the run)."""
    v = next(v for v in demo_versions if v.version == "1.1.0")
    busiest = demo_run.answers["worker_id"].value_counts().index[0]
    params = {
        "annotator.py": {"annotator": busiest},
        "task.py": {"task": str(demo_run.answers["task_id"].iloc[0])},
    }.get(page, {})
    at = open_page(demo_workspace.root, page, version=v.id, **params)
    assert not at.exception
    assert len(at.dataframe) > 0
    for table in at.dataframe:
        frame = table.value
        assert len(frame) <= 50
        categorical = [c for c in frame.columns if str(frame[c].dtype) == "category"]
        assert all(len(frame[c].cat.categories) <= len(frame) for c in categorical), (page, categorical)
