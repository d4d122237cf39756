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
from analytics.versions import import_run
from dashboard.nav import PAGES_DIR, SPECS

# every page the router lists (dashboard/nav.py SPECS): a page whose file is gone fails below
PAGES = [s.file for s in SPECS]


def test_every_listed_page_has_its_file():
    missing = [s.path for s in SPECS if not (PAGES_DIR / s.file).is_file()]
    assert not missing, f"pages listed in dashboard/nav.py without a file: {missing}"


def test_every_page_file_is_listed():
    files = {p.name for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_")}
    assert files == set(PAGES), f"page files not in SPECS: {sorted(files - set(PAGES))}"


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
    a = import_run(ws, run, name="adultcontent2", version="1.0.0")
    rte = read_files([shared("snow2008-rte-temp", "rte.standardized.csv")])
    b = import_run(ws, rte, name="rte", version="1.0.0")
    return ws, [a.id, b.id]


@pytest.mark.shared_data
@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_real_data(real_workspace, page):
    ws, ids = real_workspace
    for vid in ids:
        _check(ws, vid, page)


# what a page may not do: it is UI on dashboard.data, never analytics around the cached loaders
FORBIDDEN_CALLS = {
    ("aggregation", "on_request"): "data.on_request(version_id, method)",
    ("aggregation", "estimate_seconds"): 'data.estimate_seconds(version_id, "aggregate", method=m)',
    ("aggregation", "pool_rows"): "a figure of the registry (data.metric)",
    ("data", "run"): "data.current_run(version_id)",
    ("widgets", "unavailable"): "widgets.available(result)",
}


def _page_problems(path) -> list[str]:
    import ast

    tree = ast.parse(path.read_text())
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            private = [a.name for a in node.names if a.name.startswith("_")]
            if module != "__future__" and (any(p.startswith("_") for p in module.split(".")) or private):
                problems.append(f"line {node.lineno}: imports a private name ({module} {private})")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            fix = FORBIDDEN_CALLS.get((node.func.value.id, node.func.attr))
            if fix:
                problems.append(f"line {node.lineno}: calls {node.func.value.id}.{node.func.attr}; use {fix}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
            kind = ast.unparse(node.args[1])
            if "MetricUnavailable" in kind or kind == "Exception":
                problems.append(f"line {node.lineno}: isinstance(..., {kind}); use widgets.available(result)")
    return problems


@pytest.mark.parametrize("page", [p for p in PAGES if p != "import_run.py"])  # the Import page reads files
def test_pages_are_ui_on_the_data_layer(page):
    path = PAGES_DIR / page
    assert len(path.read_text().splitlines()) <= 500, f"{page} is over 500 lines"
    assert not _page_problems(path), f"{page}: {_page_problems(path)}"
