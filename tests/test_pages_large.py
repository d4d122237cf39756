"""On a large run the costliest sections wait for a click, so the page opens at once."""

from __future__ import annotations

import pytest
from pages_util import open_page, texts

from analytics.metrics import aggregation
from dashboard import widgets


@pytest.fixture
def large(monkeypatch):
    # every run counts as large: the demo takes the path a 10^7-answer version takes
    monkeypatch.setattr(widgets, "LARGE_RUN_ANSWERS", 0)
    monkeypatch.setattr(aggregation, "LARGE_RUN_ANSWERS", 0)  # where the aggregators' rule reads it


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


def test_a_long_table_searches_on_the_server_and_stays_bounded(demo_workspace, demo_run, demo_versions):
    """The least-agreed tasks: a search box filters the whole table before anything is sent; the
    window shows the first rows of the matches, and "show more" adds rows up to a bound."""
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = open_page(demo_workspace.root, "agreement.py", version=v.id)
    least = next(d for d in at.dataframe if "entropy_bits" in d.value.columns).value
    assert len(least) == 20 and "Showing the first 20 of" in texts(at)
    assert "page" not in " ".join(n.label.lower() for n in at.number_input)  # no page-number box
    wanted = str(least["task"].iloc[7])
    at.text_input(key="least_agreed_search").input(wanted[:12]).run()
    found = next(d for d in at.dataframe if "entropy_bits" in d.value.columns).value
    assert not at.exception and wanted in list(found["task"]) and len(found) <= 20
    assert all(
        wanted[:12].lower() in t.lower() or wanted[:12].lower() in str(lab).lower()
        for t, lab in zip(found["task"], found["label"], strict=True)
    )
    at.text_input(key="least_agreed_search").input("").run()
    next(b for b in at.button if b.key == "least_agreed_more_button").click().run()
    more = next(d for d in at.dataframe if "entropy_bits" in d.value.columns).value
    assert len(more) == 40 and len(more) <= widgets.TABLE_MAX_ROWS


def test_search_rows_matches_categories_and_text():
    import pandas as pd

    frame = pd.DataFrame(
        {"task": pd.Categorical(["a1", "b2", "A3"]), "note": ["x", "Y here", None], "n": [1, 2, 3]}
    ).set_index(pd.Index(["i1", "i2", "i3"], name="id"))
    assert list(widgets.search_rows(frame, "a")["n"]) == [1, 3]  # case-insensitive, in categories
    assert list(widgets.search_rows(frame, "here")["n"]) == [2]
    assert list(widgets.search_rows(frame, "i3")["n"]) == [3]  # a named index is searched too
    assert widgets.search_rows(frame, " ").equals(frame)


def test_aggregators_but_majority_vote_wait_for_a_click_on_large_runs(large, demo_workspace, tmp_path):
    # a copy of the workspace: its runs are opened afresh, so no other test has aggregated them yet
    import shutil

    from analytics.sources.workspace import Workspace

    shutil.copytree(demo_workspace.root, tmp_path, dirs_exist_ok=True)
    v = next(v for v in Workspace(tmp_path).versions() if v.version == "1.1.0")
    at = open_page(tmp_path, "agreement.py", version=v.id)
    assert not at.exception
    shown = texts(at)
    assert "Wawa on" in shown and "only majority vote runs on open" in shown
    assert "Start another method picked above" in shown  # no second method to compare with yet
    methods = next(d for d in at.dataframe if "method" in d.value.columns).value
    assert list(methods["method"]) == ["majority vote"]
    _button(at, "Run Wawa").click().run()
    assert not at.exception
    methods = next(d for d in at.dataframe if "method" in d.value.columns).value
    assert list(methods["method"]) == ["majority vote", "Wawa"]
    assert "get different labels from" in texts(at)


def test_task_detail_lists_the_computed_aggregators_on_large_runs(large, demo_workspace, tmp_path):
    """Task detail runs no aggregator but majority vote on a large run; it lists what was run, and its
    rows equal the registry's task_votes once every method is computed."""
    import shutil

    from analytics.metrics import registry
    from analytics.sources.workspace import Workspace
    from dashboard import data

    shutil.copytree(demo_workspace.root, tmp_path, dirs_exist_ok=True)
    v = next(v for v in Workspace(tmp_path).versions() if v.version == "1.1.0")
    run = Workspace(tmp_path).open_run(v.id)
    task = str(run.answers.loc[run.answers["kind"] == "regular", "task_id"].iloc[0])
    at = open_page(tmp_path, "task.py", version=v.id, task=task)
    assert not at.exception
    votes = next(d for d in at.dataframe if "confidence" in d.value.columns).value
    assert list(votes["method"]) == ["majority vote"]
    assert "listed here once run on the Agreement page" in texts(at)
    # its majority-vote row is the registry's; with every aggregation there, all rows are
    run = data.run(str(tmp_path), v.id)
    want = registry.compute(run, "task_votes", task_id=task).reset_index()  # runs the other methods
    for col in ("method", "confidence", "tied", "truth_check"):
        assert votes[col].iloc[0] == want[col].iloc[0], col
    assert str(votes["label"].iloc[0]) == str(want["label"].iloc[0])
    at.run()
    votes = next(d for d in at.dataframe if "confidence" in d.value.columns).value
    assert list(votes["method"]) == list(want["method"])
    assert list(votes["label"].astype(str)) == list(want["label"].astype(str))
    assert votes["confidence"].tolist() == want["confidence"].tolist()


def test_dawid_skene_waits_with_its_estimate_stated_as_a_bound(large, demo_workspace, demo_run, demo_versions):
    # Dawid-Skene stops once converged (27 of 100 iterations at 10^7 answers): its estimate is for
    # every iteration and the page says so; Wawa's is a plain estimate
    import streamlit as st

    st.cache_data.clear()  # a Dawid-Skene another test ran on this version would be shown at once
    st.cache_resource.clear()
    v = demo_versions[1]
    at = open_page(demo_workspace.root, "agreement.py", version=v.id)
    assert not at.exception
    n = aggregation.pool_answers(demo_run)
    bound = max(aggregation.estimate_seconds(demo_run, "ds"), 1)
    said = f"Dawid-Skene on {n:,} answers takes up to about {bound:,.0f} s (estimated for all 100 iterations; "
    assert said in texts(at)
    assert f"Wawa on {n:,} answers takes about" in texts(at) and f"Wawa on {n:,} answers takes up to" not in texts(at)
    # started, it says how long it took against its bound
    _button(at, "Run Dawid-Skene").click().run()
    assert not at.exception
    done = [s.label for s in at.status]
    assert any("— done in" in label and label.endswith(f"(estimated up to {bound:,.0f} s)") for label in done), done
