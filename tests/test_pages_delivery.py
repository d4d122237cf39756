"""Delivery page: the figures shown are the registry's, the downloads hold every row, the budget moves the plan.

The page is opened the way a pasted link opens it (pages_util.open_page) on the demo workspace,
on Zheng Duck with its truth (and a model's predictions), and on a long table without prices;
every figure is compared with analytics.metrics.registry.compute on the same run, and the
download buttons' payloads are captured from Streamlit's media storage.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import shared
from pages_util import frame_with, ok, open_page, recording_downloads, texts
from streamlit.testing.v1 import AppTest

from analytics.metrics import registry
from analytics.model import build_run
from analytics.sources import read_files
from analytics.sources.predictions import add_predictions
from analytics.sources.workspace import Workspace
from analytics.versions import import_run
from dashboard.nav import plural


@pytest.fixture
def downloads(monkeypatch):
    """file id -> bytes of every download button's payload in this test."""
    return recording_downloads(monkeypatch)


def payload(at: AppTest, files: dict, key: str) -> bytes:
    button = next(b for b in at.download_button if b.key == key)
    return files[Path(button.proto.url).stem]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def label_files(at: AppTest, files: dict) -> dict[str, pd.DataFrame]:
    """The three label downloads read back (task_id as text)."""
    return {
        "csv": pd.read_csv(io.BytesIO(payload(at, files, "labels_csv")), dtype={"task_id": str}),
        "parquet": pd.read_parquet(io.BytesIO(payload(at, files, "labels_parquet"))),
        "jsonl": pd.read_json(io.BytesIO(payload(at, files, "labels_jsonl")), lines=True, dtype={"task_id": str}),
    }


def check_labels(at: AppTest, files: dict, run, method: str = "ds") -> None:
    frame = registry.compute(run, "delivered_labels", method=method)
    assert metrics(at)["Labels delivered"] == f"{len(frame):,} tasks"
    for fmt, got in label_files(at, files).items():
        assert len(got) == len(frame), fmt
        assert list(got["task_id"].astype(str)) == list(frame.index), fmt
        assert list(got["label"].astype(str)) == list(frame["label"].astype(str)), fmt
        np.testing.assert_allclose(got["confidence"].to_numpy(float), frame["confidence"].to_numpy(float))
        assert {"method", "tie_rule", "votes", "agreement", "golden", "truth"} <= set(got.columns), fmt
        assert set(got["method"]) == {method}, fmt


def check_wrong(at: AppTest, run, vid: str, method: str = "ds") -> None:
    ew = registry.compute(run, "expected_wrong", method=method)
    m = metrics(at)
    assert m["Expected wrong labels"] == f"{ew.expected:,.1f} of {ew.tasks:,}"
    assert m["95 % interval"] == f"{ew.low:,}–{ew.high:,} labels"
    text = texts(at)
    for check in ew.checks.values():
        where = "control tasks" if check.reference == "golden" else "truth"
        assert f"the realised count on {where} is {check.realised:,}" in text
        assert f"(95 % interval {check.low:,}–{check.high:,})" in text
        warned = any(f"the realised count on {where} is {check.realised:,}" in str(w.value) for w in at.warning)
        assert warned == (not check.inside), check
    cal = registry.compute(run, "calibration", method=method)
    assert m["Expected calibration error"] == f"{100 * cal.ece:.1f} pp"
    where = "control tasks" if cal.reference == "golden" else "truth"
    assert m[f"Accuracy on {where}"] == f"{100 * cal.accuracy:.1f} %"
    bins = frame_with(at, "bin_low")
    np.testing.assert_allclose(bins["accuracy"].to_numpy(float), cal.table["accuracy"].to_numpy(float))
    lw = registry.compute(run, "likely_wrong", method=method)
    shown = frame_with(at, "wrong_chance")
    assert list(shown["task"]) == list(lw.index[: len(shown)])
    assert "open" not in shown.columns  # a click on the row opens Task detail (same tab)


def check_plan(at: AppTest, files: dict, run, **params) -> object:
    """The plan shown equals the registry's at the page's budget; the task file holds its tasks."""
    budget = at.slider(key="plan_budget").value
    plan = registry.compute(run, "reannotation_plan", method="ds", budget=budget, **params)
    m = metrics(at)
    assert m[f"Tasks to re-annotate (× {plan.answers_per_task} answers)"] == plural(len(plan.tasks), "task")
    assert m["Control tasks mixed in"] == plural(len(plan.control), "task")
    fixes = f"{plan.expected_fixes:,.0f}" if abs(plan.expected_fixes) >= 10 else f"{plan.expected_fixes:,.1f}"
    assert m["Expected fixes"] == f"~{fixes} labels"
    assert any(f"→ ~{fixes} expected fixes" in str(x.value) for x in at.markdown)
    if len(plan.tasks):
        tsv = pd.read_csv(io.BytesIO(payload(at, files, "plan_tsv")), sep="\t", dtype=str)
        assert len(tsv) == len(plan.tasks) + len(plan.control)
        doc = json.loads(payload(at, files, "plan_json"))
        assert [t["task_id"] for t in doc["tasks"]] == list(plan.tasks.index)
        assert doc["total_cost"] == pytest.approx(plan.total_cost)
    return plan


# ---- the demo


def test_delivery_page_on_every_demo_version(demo_workspace, demo_versions, downloads):
    for v in demo_versions:
        run = demo_workspace.open_run(v.id)
        at = ok(open_page(demo_workspace.root, "delivery.py", version=v.id))
        check_labels(at, downloads, run)
        check_wrong(at, run, v.id)
        check_plan(at, downloads, run)
        price = registry.compute(run, "answer_cost")
        assert metrics(at)["One answer costs"] == f"{price.per_answer:,.4f} USD"
        assert "carries no model predictions" in texts(at) and "--predictions" in texts(at)


def test_budget_slider_changes_the_expected_fixes(demo_workspace, demo_run, demo_versions, downloads):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = ok(open_page(demo_workspace.root, "delivery.py", version=v.id))
    seen = []
    for budget in (0.5, 1.5, 3.0):
        at.slider(key="plan_budget").set_value(budget).run()
        ok(at)
        plan = check_plan(at, downloads, demo_run)
        assert plan.total_cost <= budget + 1e-9
        seen.append(plan.expected_fixes)
    assert seen[0] < seen[1] < seen[2]
    # more answers per task and a control share: still the registry's plan
    at.number_input(key="plan_answers").set_value(5).run()
    at.slider(key="plan_control").set_value(20).run()
    ok(at)
    plan = check_plan(at, downloads, demo_run, answers_per_task=5, control_share=0.2)
    assert len(plan.control) > 0


def test_other_methods_and_slow_ones_on_request(demo_workspace, demo_run, demo_versions, downloads):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    at = ok(open_page(demo_workspace.root, "delivery.py", version=v.id, method="mv"))
    check_labels(at, downloads, demo_run, "mv")
    check_wrong(at, demo_run, v.id, "mv")
    assert "vote" in texts(at)
    # a GLAD another test ran on this version in this process would be shown at once: start cold
    st.cache_data.clear()
    st.cache_resource.clear()
    at = ok(open_page(demo_workspace.root, "delivery.py", version=v.id, method="glad"))
    assert any(b.key == "delivery_start_glad" for b in at.button) and "Labels delivered" not in metrics(at)


# ---- Zheng Duck: ground truth, no prices, a model's predictions


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    folder = shared("zheng2017-truth-inference", "duck")
    root = tmp_path_factory.mktemp("duck-ws")
    run = read_files([folder / "answer.csv"], truth=folder / "truth.csv")
    truth = pd.read_csv(folder / "truth.csv", dtype=str)
    rng = np.random.default_rng(7)
    right = truth["truth"].to_numpy() == "1"
    p1 = np.clip(np.where(right, rng.beta(6, 2, len(truth)), rng.beta(2, 6, len(truth))), 0.01, 0.99)
    preds = root / "model.csv"
    pd.DataFrame(
        {"task_id": truth["question"], "label": np.where(p1 >= 0.5, "1", "0"), "p_0": 1 - p1, "p_1": p1}
    ).to_csv(preds, index=False)
    ws = Workspace(root / "ws")
    plain = import_run(ws, run, name="duck", version="1.0.0")
    with_model = import_run(ws, add_predictions(run, preds, name="resnet"), name="duck", version="1.1.0")
    return ws, plain.id, with_model.id


@pytest.mark.shared_data
def test_delivery_page_on_zheng_duck_with_truth(duck, downloads):
    ws, vid, _ = duck
    run = ws.open_run(vid)
    at = ok(open_page(ws.root, "delivery.py", version=vid))
    check_labels(at, downloads, run)
    check_wrong(at, run, vid)
    ew = registry.compute(run, "expected_wrong", method="ds")
    assert not ew.checks["truth"].inside and "overconfident" in " ".join(str(w.value) for w in at.warning)
    assert registry.compute(run, "calibration", method="ds").reference == "truth"
    # no prices: the page asks what an answer costs and plans with it
    assert "carries no prices" in texts(at)
    at.number_input(key="plan_cost_per_answer").set_value(0.02).run()
    at.slider(key="plan_budget").set_value(0.12).run()
    ok(at)
    check_plan(at, downloads, run, cost_per_answer=0.02)


@pytest.mark.shared_data
def test_model_predictions_and_crowdlab_on_zheng_duck(duck):
    ws, _, vid = duck
    run = ws.open_run(vid)
    at = ok(open_page(ws.root, "delivery.py", version=vid))
    ma = registry.compute(run, "model_agreement", method="ds", model="resnet")
    assert metrics(at)["Agrees with Dawid-Skene"] == f"{100 * ma.agreement:.1f} %"
    assert f"on {100 * ma.agreement:.1f} % ({ma.agree:,} of {ma.tasks:,} tasks" in texts(at)
    assert metrics(at)["Cohen's κ with the crowd"] == f"{ma.kappa:.3f}"
    cl = registry.compute(run, "crowdlab", model="resnet")
    assert metrics(at)["Tasks scored"] == f"{len(cl.tasks):,}"
    shown = frame_with(at, "consensus_quality_score")
    worst = cl.tasks.sort_values("consensus_quality_score", kind="stable")
    assert list(shown["task"]) == list(worst.index[: len(shown)])
    al = registry.compute(run, "active_learning_scores", model="resnet")
    assert list(frame_with(at, "rank")["task"]) == list(al.index[: len(frame_with(at, "rank"))])


# ---- a long table without prices


def test_long_table_without_prices(tmp_path, downloads):
    rng = np.random.default_rng(3)
    n_tasks, labels = 3_000, ["cat", "dog", "bird"]
    truth = rng.integers(0, 3, n_tasks)
    rows = []
    for t in range(n_tasks):
        for w in rng.choice(40, size=3, replace=False):
            lab = truth[t] if rng.random() < 0.75 else rng.integers(0, 3)
            rows.append((f"w{w}", f"t{t:05d}", labels[lab]))
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label"])
    ws = Workspace(tmp_path / "ws")
    info = import_run(ws, build_run(frame, file="long.csv", labels=labels), name="long", version="1.0.0")
    run = ws.open_run(info.id)
    at = ok(open_page(ws.root, "delivery.py", version=info.id))
    assert "Showing the first 20 of 3,000 tasks" in texts(at) and "carries no prices" in texts(at)
    check_labels(at, downloads, run)
    at.number_input(key="plan_cost_per_answer").set_value(0.005).run()
    at.slider(key="plan_budget").set_value(1.0).run()
    ok(at)
    plan = check_plan(at, downloads, run, cost_per_answer=0.005)
    assert len(plan.tasks) == int(1.0 / (3 * 0.005) + 1e-9)
    tsv = pd.read_csv(io.BytesIO(payload(at, downloads, "plan_tsv")), sep="\t", dtype=str)
    assert list(tsv.columns) == ["INPUT:task_id"] and list(tsv["INPUT:task_id"]) == list(plan.tasks.index)


# ---- the reliability diagram


def test_reliability_diagram_shows_the_table_and_escapes_data(demo_run):
    from dashboard import charts

    cal = registry.compute(demo_run, "calibration", method="ds")
    fig = charts.reliability_diagram(cal.table, cal.ece, "control tasks", "<b>ds</b>")
    bars, diagonal, points = fig.data
    assert list(bars.y) == list(cal.table["tasks"]) and list(diagonal.x) == [0, 100]
    np.testing.assert_allclose(points.y, 100 * cal.table["accuracy"].to_numpy(float))
    np.testing.assert_allclose(points.x, 100 * cal.table["confidence"].to_numpy(float))
    assert "&lt;b&gt;ds&lt;/b&gt;" in points.name and "<b>" not in points.name
    assert f"ECE {100 * cal.ece:.1f}" in fig.layout.annotations[0].text
