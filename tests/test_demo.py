"""The demo workspace reproduces the food-labeling project's stated figures, deterministically."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.metrics.cost import spend
from analytics.sources.demo import build_demo
from analytics.sources.workspace import Workspace


def test_three_versions_with_lineage(demo_workspace, demo_versions):
    assert [v.version for v in demo_versions] == ["1.0.0", "1.1.0", "1.2.0"]
    v1, v2, v3 = demo_versions
    assert v1.parents == () and v2.parents == (v1.id,) and v3.parents == (v2.id,)
    assert all(v.simulated for v in demo_versions)
    assert all("simulat" in v.project.lower() for v in demo_versions)


def test_exam_figures(demo_run):
    a = demo_run.answers
    exam = a[a["kind"] == "exam"]
    assert exam["task_id"].nunique() == 10
    golden = exam.drop_duplicates("task_id")["golden"].astype(str).value_counts().to_dict()
    assert golden == {"solid": 5, "liquid": 4, "other": 1}
    trap = exam[exam["golden"] == "other"]
    rate = (trap["label"] == "other").mean()
    assert 0.4 <= rate <= 0.6, rate  # "only about half of the candidates get right"
    assert exam["worker_id"].nunique() == 105


def test_main_pool_figures(demo_run):
    a = demo_run.answers
    main = a[a["pool_id"] == "41000002"]
    assert main["task_id"].nunique() == 980
    assert (main["kind"] == "control").sum() * 10 == len(main)  # one control task in every ten
    per_suite = main.groupby("assignment_id", observed=True).size()
    assert set(per_suite) == {10}
    regular = main[main["kind"] == "regular"].groupby("task_id", observed=True).size()
    assert len(regular) == 882 and set(regular) == {3}  # overlap 3
    assert 100 <= a["worker_id"].nunique() <= 110  # about 105 annotators


def test_rules_banned_careless_annotators(demo_run):
    r = demo_run.restrictions
    assert set(r["rule"]) == {"fast_responses", "golden_set"}
    assert (r["rule"] == "fast_responses").sum() >= 3 and (r["rule"] == "golden_set").sum() >= 2
    assert r["reason"].str.len().min() > 20


def test_total_cost_is_about_6_54_usd(demo_run):
    s = spend(demo_run)
    assert s.currency == "USD"
    assert s.total == pytest.approx(6.54, rel=0.01)


def test_deterministic(tmp_path, demo_workspace, demo_versions):
    ws = Workspace(tmp_path / "again")
    build_demo(ws)
    again = ws.versions()
    assert [v.id for v in again] == [v.id for v in demo_versions]
    for a, b in zip(again, demo_versions, strict=True):
        pd.testing.assert_frame_equal(ws.open_run(a.id).answers, demo_workspace.open_run(b.id).answers)


def test_reannotation_adds_answers_to_low_agreement_items(demo_workspace, demo_versions):
    v2 = demo_workspace.open_run(demo_versions[1].id)
    v3 = demo_workspace.open_run(demo_versions[2].id)
    extra = len(v3.answers) - len(v2.answers)
    assert extra == 90
    re = v3.answers[v3.answers["pool_id"] == "41000003"]
    assert re["task_id"].nunique() == 45
