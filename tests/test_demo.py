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
    assert exam["worker_id"].nunique() == 105  # 105 candidates
    trap = exam[exam["golden"] == "other"]
    rate = (trap["label"] == "other").mean()
    assert rate == pytest.approx(0.49, abs=0.015), rate  # the trap item: about 49 % right


def test_pass_mark_is_100_percent(demo_run):
    (exam_pool,) = [p for p in demo_run.meta.pools if p.kind == "exam"]
    assert exam_pool.pass_threshold == 1.0
    a = demo_run.answers
    exam = a[a["kind"] == "exam"]
    right = (exam["label"].astype(str) == exam["golden"].astype(str)).groupby(exam["worker_id"], observed=True).mean()
    labeled = set(a.loc[a["pool_id"] == "41000002", "worker_id"])
    passed = set(right.index[right == 1.0])
    # only candidates with every exam item right label the main pool (a few who passed took no suite)
    assert labeled <= passed and len(labeled) >= 0.9 * len(passed)
    assert 30 <= len(labeled) <= 55


def test_main_pool_figures(demo_run):
    a = demo_run.answers
    main = a[a["pool_id"] == "41000002"]
    assert main["task_id"].nunique() == 980  # 980 images
    assert (main["kind"] == "control").sum() * 10 == len(main)  # one control task per nine regular ones
    per_suite = main.groupby("assignment_id", observed=True).size()
    assert set(per_suite) == {10}
    control_per_suite = main[main["kind"] == "control"].groupby("assignment_id", observed=True).size()
    assert set(control_per_suite) == {1} and len(control_per_suite) == len(per_suite)
    regular = main[main["kind"] == "regular"].groupby("task_id", observed=True).size()
    assert len(regular) == 882 and set(regular) == {3}  # overlap 3
    (pool,) = [p for p in demo_run.meta.pools if p.pool_id == "41000002"]
    assert pool.overlap == 3
    assert a["worker_id"].nunique() == 105  # 105 annotators


def test_main_pool_takes_about_30_minutes(demo_run):
    main = demo_run.answers[demo_run.answers["pool_id"] == "41000002"]
    minutes = (main["submitted_at"].max() - main["started_at"].min()).total_seconds() / 60
    assert 20 <= minutes <= 40, minutes


def test_one_wrong_control_answer_removes_the_annotator(demo_run):
    (pool,) = [p for p in demo_run.meta.pools if p.pool_id == "41000002"]
    (rule,) = [r for r in pool.rules if r["type"] == "golden_set"]
    assert rule["min_answers"] == 1 and rule["min_correct_percent"] == 100
    a = demo_run.answers
    control = a[(a["pool_id"] == "41000002") & (a["kind"] == "control")].sort_values("submitted_at")
    wrong = control[control["label"].astype(str) != control["golden"].astype(str)]
    first_wrong = wrong.groupby("worker_id", observed=True)["submitted_at"].min()
    r = demo_run.restrictions
    banned = r[r["rule"] == "golden_set"].set_index("worker_id")["created_at"]
    # everyone with a wrong control answer (and no earlier fast-response ban) is removed at it, and nobody else
    fast = set(r.loc[r["rule"] == "fast_responses", "worker_id"])
    assert set(first_wrong.index) - fast == set(banned.index)
    for w, at in banned.items():
        assert abs((at - first_wrong[w]).total_seconds()) < 0.01  # the export keeps milliseconds
        assert not (a.loc[a["worker_id"] == w, "started_at"] > at).any()  # no work after the ban


def test_rules_banned_careless_annotators(demo_run):
    r = demo_run.restrictions
    assert set(r["rule"]) == {"fast_responses", "golden_set"}
    assert (r["rule"] == "fast_responses").sum() >= 2 and (r["rule"] == "golden_set").sum() >= 3
    assert r["reason"].str.len().min() > 20


def test_total_cost_is_about_6_54_usd(demo_run):
    s = spend(demo_run)
    assert s.currency == "USD"
    assert s.total == pytest.approx(6.54, rel=0.01)


def test_images_are_small_local_pngs(demo_workspace, demo_run):
    paths = demo_run.tasks["image"].astype(str)
    assert len(paths) == 990 and paths.str.startswith("media/food-types-demo/").all()
    for rel in paths.iloc[:: len(paths) // 20]:
        data = (demo_workspace.root / rel).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 8_000


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
