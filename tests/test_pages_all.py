"""Every page opens without an exception on the demo workspace and on workspaces made from real data.

Page-specific numbers are checked in test_pages_people.py and test_pages_quality.py; this one
makes sure no page breaks on data shaped differently from the demo (no exam, no times, no
prices, no control tasks, repeated answers, ground truth only).
"""

from __future__ import annotations

import pytest
from conftest import shared
from pages_util import open_page

from analytics.sources import ReadOptions, read_files
from analytics.sources.workspace import Workspace
from dashboard.nav import PAGES_DIR, SPECS

PAGES = [s.file for s in SPECS if (PAGES_DIR / s.file).exists()]


def _params(ws: Workspace, version_id: str, page: str) -> dict:
    params = {"version": version_id}
    if page in ("annotator.py", "task.py"):
        run = ws.open_run(version_id)
        a = run.answers[run.answers["kind"].isin(["regular", "control"])]
        if page == "annotator.py":
            params["annotator"] = str(a["worker_id"].value_counts().index[0])
        else:
            params["task"] = str(a["task_id"].iloc[0])
    return params


def _check(ws: Workspace, version_id: str, page: str) -> None:
    at = open_page(ws.root, page, **_params(ws, version_id, page))
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    # the page got past the version check: no "No dataset version" error
    assert not any("No dataset version" in str(e.value) for e in at.error), page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_every_demo_version(demo_workspace, demo_versions, page):
    for v in demo_versions:
        _check(demo_workspace, v.id, page)


@pytest.fixture(scope="module")
def real_workspace(tmp_path_factory):
    shared("gal-adultcontent2")
    ws = Workspace(tmp_path_factory.mktemp("real-ws"))
    adult = shared("gal-adultcontent2")
    run = read_files([adult / "labels.txt"], ReadOptions(names=["worker", "task", "label"]), truth=adult / "gold.txt")
    a = ws.add_version(run, name="adultcontent2", version="1.0.0")
    rte = read_files([shared("snow2008-rte-temp", "rte.standardized.csv")])
    b = ws.add_version(rte, name="rte", version="1.0.0")
    return ws, [a.id, b.id]


@pytest.mark.shared_data
@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_real_data(real_workspace, page):
    ws, ids = real_workspace
    for vid in ids:
        _check(ws, vid, page)
