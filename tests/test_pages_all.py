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


# ---- scope follows the data set


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory, demo_workspace):
    """The demo's three versions and, imported after them, an unrelated data set."""
    import shutil

    import pandas as pd

    from analytics.model import build_run

    root = tmp_path_factory.mktemp("two-datasets")
    shutil.copytree(demo_workspace.root, root, dirs_exist_ok=True)
    ws = Workspace(root)
    frame = pd.DataFrame(
        {"worker_id": ["a", "b", "a", "b"], "task_id": ["t1", "t1", "t2", "t2"], "label": ["x", "y", "x", "x"]}
    )
    other = import_run(ws, build_run(frame, file="toy", labels=["x", "y"]), name="unrelated", version="1.0.0")
    return ws, [v for v in ws.versions() if v.name == "food-types"], other


def test_labels_compares_within_the_lineage_by_default(two_datasets):
    ws, demo, other = two_datasets
    first = next(v for v in demo if v.version == "1.0.0")
    at = open_page(ws.root, "labels.py", version=first.id)
    pick = at.selectbox(key="compare_pick")
    assert pick.value in {v.id for v in demo} - {first.id}  # not the newer, unrelated data set
    assert other.id not in pick.options and at.query_params["compare"] in (pick.value, [pick.value])
    # other data sets on request (and from a link naming one)
    at.toggle(key="compare_everywhere").set_value(True).run()
    assert any(other.id[:8] in o for o in at.selectbox(key="compare_pick").options)
    at = open_page(ws.root, "labels.py", version=first.id, compare=other.id)
    assert at.selectbox(key="compare_pick").value == other.id and at.toggle(key="compare_everywhere").value


def test_cost_per_version_within_the_lineage_by_default(two_datasets):
    ws, demo, other = two_datasets
    at = open_page(ws.root, "cost.py", version=demo[0].id)
    table = next(d.value for d in at.dataframe if "cost_per_final_label" in d.value.columns and len(d.value) > 1)
    assert len(table) == 3 and not any("unrelated" in str(i) for i in table.iloc[:, 0])
    at.toggle(key="cost_everywhere").set_value(True).run()
    table = next(d.value for d in at.dataframe if "cost_per_final_label" in d.value.columns and len(d.value) > 1)
    assert len(table) == 4


def test_versions_groups_by_data_set_and_draws_one_lineage(two_datasets):
    ws, demo, other = two_datasets
    at = open_page(ws.root, "versions.py", version=demo[-1].id)
    heads = [h.value for h in at.subheader]
    assert "food\\-types · 3 versions" in heads and "unrelated · 1 version" in heads
    tables = [d.value for d in at.dataframe if "version id" in d.value.columns or "id" in d.value.columns]
    assert sorted(len(t) for t in tables) == [1, 3]  # every row of each data set, no 10-row window
    pick = at.selectbox(key="lineage_dataset")
    assert pick.value == demo[0].id  # the data set of the version in the URL


def test_tab_title_and_plural():
    from analytics.sources.store import VersionInfo
    from dashboard.nav import plural, tab_title

    v = VersionInfo(id="c00b4ca8", name="food-types", version="1.1.0")
    assert tab_title("Annotators", v) == "Annotators · food-types 1.1.0 · crowdlens"
    assert tab_title("Versions", None) == "Versions · crowdlens"
    assert (plural(1, "annotator"), plural(105, "annotator"), plural(2, "banned annotator")) == (
        "1 annotator",
        "105 annotators",
        "2 banned annotators",
    )


def test_overview_leads_with_quality(demo_workspace, demo_versions):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = open_page(demo_workspace.root, "overview.py", version=v.id)
    assert [s.value for s in at.subheader][:2] == ["Quality", "The run"]
    labels = [m.label for m in at.metric]
    assert labels[:4] == [
        "Krippendorff's α",
        "Accuracy vs golden",
        "Accuracy vs truth",
        "Answers from banned annotators",
    ]
    captions = " ".join(c.value for c in at.caption)
    assert "tasks with two or more answers (measured)" in captions and "95 % CI" in captions
