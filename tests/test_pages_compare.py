"""The Compare versions page under AppTest on the demo: 1.1.0 against 1.0.0 and 1.2.0 against 1.1.0.

The figures on screen are analytics.versions.compare's; the changed labels' table is the diff's
and a row opens the task's Task detail in the same tab; a bad parent in the link is a message;
the lineage chart is coloured by the figure analytics.versions.lineage_figures gives.
"""

from __future__ import annotations

import pytest
from pages_util import frame_with, ok, open_page, ran, texts

from analytics import versions
from dashboard import charts, widgets


@pytest.fixture(scope="module")
def by_version(demo_versions):
    return {v.version: v for v in demo_versions}


@pytest.fixture(scope="module")
def diff(demo_workspace, by_version):
    return versions.compare(demo_workspace, by_version["1.1.0"].id)


@pytest.fixture(scope="module")
def page(demo_workspace, by_version):
    return ok(open_page(demo_workspace.root, "compare.py", version=by_version["1.1.0"].id))


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _signed(x: float) -> str:
    return f"{x:+,.2f} USD" if round(x, 2) else "0.00 USD"


def test_the_parent_is_picked_by_default(page, by_version):
    assert page.selectbox(key="_compare_child").value == by_version["1.1.0"].id
    assert page.selectbox(key="_compare_parent").value == by_version["1.0.0"].id
    assert "food\\-types 1\\.1\\.0 against food\\-types 1\\.0\\.0" in texts(page)


def test_money_and_labels_are_the_diffs(page, diff):
    assert _metric(page, "Answers added") == (f"{diff.answers_added:+,}" if diff.answers_added else "0")
    assert _metric(page, "Money added") == _signed(diff.money_added)
    for key, name in (("rewards", "Rewards"), ("fees", "Fee"), ("bonuses", "Bonuses")):
        assert _metric(page, f"{name} added") == _signed(diff.spend_added[key]), name
    assert diff.money_added < 0  # review rejected suites counted as paid in 1.0.0
    assert _metric(page, "Labels changed") == f"{diff.labels_changed:,}"
    assert _metric(page, "Tasks compared") == f"{diff.tasks_compared:,}"
    assert _metric(page, "Cost per label, after") == f"{diff.cost_per_label_after:,.4f} USD"
    golden = diff.accuracy["golden"]
    assert _metric(page, "Accuracy vs golden, after") == f"{100 * golden.after.accuracy:.1f} %"
    shown = texts(page)
    assert f"{100 * golden.overall_before.accuracy:.1f} %" in shown  # 1.0.0 overall, with its interval
    assert f"{100 * golden.overall_before.ci_low:.1f} %" in shown


def test_the_drill_down_is_the_changed_labels_and_opens_task_detail(demo_workspace, page, diff, by_version):
    table = frame_with(page, "label_before")
    # a bounded window of the changed labels, in the diff's order (the rest behind the search)
    assert list(table["task_id"]) == list(diff.changed.index[: len(table)])
    assert len(table) == min(diff.labels_changed, widgets.TABLE_ROWS)
    if diff.labels_changed > len(table):
        assert f"of {diff.labels_changed:,}" in texts(page)
    for _, row in table.head(5).iterrows():
        expected = diff.changed.loc[row["task_id"]]
        assert (row["label_before"], row["label_after"]) == (expected["label_before"], expected["label_after"])
    assert "Task detail of food\\-types 1\\.1\\.0" in texts(page)
    # a row opens Task detail with the newer version and the task (what the row's click sends)
    task = str(table["task_id"].iloc[0])
    detail = ok(open_page(demo_workspace.root, "task.py", version=by_version["1.1.0"].id, task=task))
    assert f"Task {task}" in texts(detail).replace("\\", "")


def test_a_search_narrows_the_changed_labels(demo_workspace, by_version, diff):
    at = ok(open_page(demo_workspace.root, "compare.py", version=by_version["1.1.0"].id))
    task = str(diff.changed.index[-1])  # beyond the first window
    at.text_input(key="compare_changed_search").set_value(task).run()
    assert list(frame_with(at, "label_before")["task_id"]) == [task]


def test_an_unknown_parent_is_a_message_not_a_traceback(demo_workspace, by_version):
    at = ran(open_page(demo_workspace.root, "compare.py", version=by_version["1.1.0"].id, parent="deadbeef"))
    assert any("deadbeef" in str(e.value) and "parent" in str(e.value) for e in at.error), [e.value for e in at.error]
    assert not at.metric  # nothing compared
    at.button(key="_compare_default").click().run()  # the offered default compares with the parent
    ok(at)
    assert _metric(at, "Labels changed")


def test_another_parent_from_the_link_and_the_first_version(demo_workspace, by_version):
    v = by_version
    at = ok(open_page(demo_workspace.root, "compare.py", version=v["1.2.0"].id, parent=v["1.0.0"].id[:8]))
    other = versions.compare(demo_workspace, v["1.2.0"].id, v["1.0.0"].id)
    assert _metric(at, "Labels changed") == f"{other.labels_changed:,}"
    assert _metric(at, "Answers added") == f"{other.answers_added:+,}"
    assert "not this version's parent" in texts(at)
    first = ok(open_page(demo_workspace.root, "compare.py", version=v["1.0.0"].id))
    assert "first of its data set" in texts(first) and not first.metric
    assert first.selectbox(key="_compare_parent").value is None


def test_the_lineage_is_coloured_by_the_figure_picked(demo_workspace, by_version):
    at = ok(open_page(demo_workspace.root, "compare.py", version=by_version["1.2.0"].id, figure="cost_per_label"))
    table = versions.lineage_figures(demo_workspace, "cost_per_label")
    chart = at.get("plotly_chart")[-1]
    import json

    fig = json.loads(chart.proto.spec)
    nodes = [t for t in fig["data"] if t.get("customdata")]
    shown = dict(zip(nodes[0]["customdata"], nodes[0]["marker"]["color"], strict=True))
    assert shown == pytest.approx(table["value"].to_dict())
    assert any("USD" in t for t in nodes[0]["text"])


def test_the_lineage_chart_lays_a_tree_out_without_crossings():
    import pandas as pd

    table = pd.DataFrame(
        {
            "name": ["d"] * 5,
            "version": ["1", "2a", "2b", "3a", "3b"],
            "parents": [[], ["r"], ["r"], ["a"], ["b"]],
            "value": [0.5, float("nan"), 0.7, 0.8, 0.9],
            "text": ["50 %", "n/a", "70 %", "80 %", "<b>90 %</b>"],
            "source": "manifest",
            "reason": [None, "the run cannot give it", None, None, None],
        },
        index=pd.Index(["r", "a", "b", "aa", "bb"], name="version_id"),
    )
    fig = charts.lineage_by_figure(table, "accuracy <i>x</i>")
    xy = {}
    for t in fig.data:
        xy.update({c: (x, y) for c, x, y in zip(t.customdata, t.x, t.y, strict=True)})
    assert xy["r"][0] < xy["a"][0] < xy["aa"][0] and xy["b"][0] < xy["bb"][0]  # parents left of children
    assert (xy["a"][1] > xy["b"][1]) == (xy["aa"][1] > xy["bb"][1])  # the two branches never cross
    grey = next(t for t in fig.data if t.name == "figure unknown")
    assert list(grey.customdata) == ["a"] and "the run cannot give it" in grey.hovertext[0]
    coloured = next(t for t in fig.data if t.name == "versions")
    assert "&lt;b&gt;90 %&lt;/b&gt;" in coloured.text[-1] and "id bb" in coloured.hovertext[-1]
    assert len(fig.layout.annotations) == 4  # one arrow per edge
