"""Pages on a run's label scale (issue #13): the Zheng Emotion set as interval numbers, a toy ordinal run."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from conftest import shared
from pages_util import ok, open_page, ran, texts

from analytics.metrics import registry
from analytics.sources import ReadOptions, read_files
from analytics.sources.workspace import Workspace
from analytics.versions import import_run
from dashboard import nav, widgets


@pytest.fixture(scope="module")
def emotion(tmp_path_factory):
    """(workspace root, version id, run) of the Emotion set imported with scale interval."""
    d = shared("zheng2017-truth-inference", "emotion")
    root = tmp_path_factory.mktemp("emotion-ws")
    run = read_files([str(d / "answer.csv")], ReadOptions(scale="interval"), truth=str(d / "truth.csv"))
    info = import_run(Workspace(root), run, name="emotion", version="1.0.0")
    return root, info.id, run


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    """(workspace root, version id, run) of 40 tasks graded 0-3 by 6 annotators (w0 grades one high)."""
    rng = np.random.default_rng(3)
    rows = []
    for t in range(40):
        true = t % 4
        for w in range(6):
            g = int(np.clip(true + rng.integers(-1, 2) + (1 if w == 0 else 0), 0, 3))
            rows.append({"task": f"t{t}", "worker": f"w{w}", "label": str(g), "golden": str(true) if t < 8 else ""})
    root = tmp_path_factory.mktemp("grades-ws")
    path = root / "grades.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    run = read_files([str(path)], ReadOptions(scale="ordinal"))
    path.unlink()
    info = import_run(Workspace(root), run, name="grades", version="1.0.0")
    return root, info.id, run


def _plain(x):
    """Plotly's JSON with its binary arrays ({"dtype", "bdata"}) as lists."""
    if isinstance(x, dict) and set(x) >= {"dtype", "bdata"}:
        arr = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"])
        shape = tuple(int(n) for n in str(x.get("shape", len(arr))).split(","))
        return arr.reshape(shape).tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return [_plain(v) for v in x] if isinstance(x, list) else x


def charts(at) -> list:
    """The page's plotly figures, arrays decoded."""
    return [go.Figure(_plain(json.loads(c.proto.spec))) for c in at.get("plotly_chart")]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# every page on both runs (Delivery's re-annotation plan says why it is unavailable on 150 labels)
CASES = [pytest.param(which, s.file) for which in ("emotion", "grades") for s in nav.SPECS]


@pytest.mark.parametrize(("which", "page"), CASES)
def test_every_page_runs_on_the_scale(request, which, page):
    root, vid, _ = request.getfixturevalue(which)
    ran(open_page(root, page, version=vid))


def test_agreement_shows_alpha_at_the_scale_and_nominal(emotion):
    root, vid, run = emotion
    at = ok(open_page(root, "agreement.py", version=vid))
    want = registry.compute(run, "scale_agreement")
    shown = metrics(at)
    assert shown["Krippendorff's α (interval)"] == widgets.num(want.krippendorff_alpha)
    assert shown["Krippendorff's α (nominal)"] == widgets.num(want.krippendorff_alpha_nominal)
    assert want.krippendorff_alpha > want.krippendorff_alpha_nominal


def test_agreement_gives_the_published_emotion_errors_and_spread(emotion):
    root, vid, _ = emotion
    at = ok(open_page(root, "agreement.py", version=vid))
    frames = [d.value for d in at.dataframe]
    errors = next(f for f in frames if "truth_mae" in f.columns).set_index("method")
    assert errors.loc["per-task mean", "truth_mae"] == pytest.approx(12.02, abs=0.005)
    assert errors.loc["per-task mean", "truth_rmse"] == pytest.approx(17.84, abs=0.005)
    assert errors.loc["per-task median", "truth_mae"] == pytest.approx(13.53, abs=0.005)
    assert int(errors.loc["per-task mean", "truth_tasks"]) == 700
    spread = next(f for f in frames if "std" in f.columns)
    assert spread["std"].is_monotonic_decreasing
    assert not any("entropy_bits" in f.columns for f in frames)  # spread instead of entropy


def test_labels_show_a_histogram_and_the_shift_not_chi2(emotion):
    root, vid, run = emotion
    at = ok(open_page(root, "labels.py", version=vid))
    figs = charts(at)
    bars = figs[0].data[0]
    assert len(bars.x) < len(run.labels) == 150  # bins, never one bar per distinct value
    assert figs[0].layout.xaxis.type == "linear"
    assert sum(bars.y) == 7000
    shift = figs[1].data[0]
    assert list(shift.y) == sorted(shift.y)  # sorted by bias
    assert figs[1].layout.xaxis.type == "category"
    page = texts(at)
    assert "Shift per annotator" in page and "χ²" not in page
    assert "delivery" in str([p.proto for p in at.get("page_link")]).lower()


def test_labels_keep_ordinal_bars_in_scale_order(grades):
    root, vid, _ = grades
    at = ok(open_page(root, "labels.py", version=vid))
    figs = charts(at)
    assert list(figs[0].data[0].x) == ["0", "1", "2", "3"]
    assert "Shift per annotator" in texts(at)
    shift = figs[1].data[0]
    assert list(shift.y) == sorted(shift.y) and shift.x[-1] == "w0"  # w0 grades high


def test_agreement_on_an_ordinal_run_gives_weighted_kappa(grades):
    root, vid, run = grades
    at = ok(open_page(root, "agreement.py", version=vid))
    shown = metrics(at)
    assert shown["Krippendorff's α (ordinal)"] == widgets.num(
        registry.compute(run, "scale_agreement").krippendorff_alpha
    )
    wk = registry.compute(run, "weighted_kappa")
    assert shown["Median quadratic κ"] == widgets.num(float(wk["kappa_quadratic"].median()))
    assert shown["Median linear κ"] == widgets.num(float(wk["kappa_linear"].median()))


def test_task_detail_shows_the_spread(emotion):
    root, vid, run = emotion
    task = str(run.codes.task_names[0])
    at = ok(open_page(root, "task.py", version=vid, task=task))
    spread = registry.compute(run, "item_spread").loc[task]
    shown = metrics(at)
    assert shown["Mean"] == widgets.num(float(spread["mean"]), 2)
    assert shown["Std"] == widgets.num(float(spread["std"]), 2)
    assert shown["Answers"] == f"{int(spread['answers']):,}"


def test_annotator_detail_shows_mae_and_bias(grades):
    root, vid, run = grades
    at = ok(open_page(root, "annotator.py", version=vid, annotator="w0"))
    errors = registry.compute(run, "annotator_scale_error", method="median").loc["w0"]
    shown = metrics(at)
    assert shown["MAE vs control (golden)"] == widgets.num(float(errors["golden_mae"]), 2)
    assert shown["MAE vs task median"] == widgets.num(float(errors["aggregate_mae"]), 2)
    assert errors["aggregate_bias"] > 0


def test_import_page_offers_the_scale(tmp_path):
    at = ok(open_page(tmp_path, "import_run.py"))
    picker = at.selectbox(key="scale")
    assert picker.value is None
    assert len(picker.options) == 5 and "say nothing" in picker.options[0]
    assert [o.split(":")[0] for o in picker.options[1:]] == ["nominal", "ordinal", "interval", "ratio"]


def test_a_nominal_run_keeps_its_pages(demo_workspace, demo_versions):
    root, vid = demo_workspace.root, demo_versions[0].id
    at = ok(open_page(root, "agreement.py", version=vid))
    assert not any("(interval)" in k or "(ordinal)" in k for k in metrics(at))
    assert "Median and mean on the scale" not in texts(at)
    at = ok(open_page(root, "labels.py", version=vid))
    assert "Shift per annotator" not in texts(at)
