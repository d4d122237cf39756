"""Label scales (issue #13): the scale check, alpha at each level, weighted kappa, median/mean and their errors."""

from __future__ import annotations

import time

import krippendorff
import numpy as np
import pandas as pd
import pytest
from conftest import shared
from sklearn.metrics import cohen_kappa_score

from analytics.kernels import scales as K
from analytics.metrics import MetricUnavailable, registry
from analytics.metrics.aggregation import pool_codes
from analytics.metrics.scales import scale_section
from analytics.model import RunMeta, ValidationError, build_run
from analytics.model.scales import apply_scale, check_scale, label_values, parse_numbers
from analytics.sources import ReadOptions, read_files

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def long_run(data: np.ndarray, labels=None, golden=None):
    """A run from a coder x unit matrix (NaN = missing): one answer per given cell, labels as text."""
    coder, unit = np.nonzero(~pd.isna(data))
    frame = pd.DataFrame(
        {
            "task_id": [f"t{u}" for u in unit],
            "worker_id": [f"w{c:02d}" for c in coder],
            "label": [f"{v:g}" if isinstance(v, float) else str(v) for v in data[coder, unit]],
        }
    )
    if golden is not None:
        frame["golden"] = [golden.get(f"t{u}") for u in unit]
    return build_run(frame, file="answers.csv", labels=labels)


def random_matrix(rng, coders=7, units=80, values=None, missing=0.4) -> np.ndarray:
    values = np.arange(0, 11) if values is None else np.asarray(values)
    data = rng.choice(values, size=(coders, units)).astype(float)
    data[rng.random((coders, units)) < missing] = np.nan
    return data


# --------------------------------------------------------------------------------------------
# alpha against the krippendorff package


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_equals_the_krippendorff_package_on_random_runs(seed, level):
    rng = np.random.default_rng(seed)
    values = rng.choice(np.arange(0, 40), size=rng.integers(3, 12), replace=False)
    data = random_matrix(rng, coders=int(rng.integers(3, 9)), units=int(rng.integers(20, 120)), values=values)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    scale = "interval" if level == "nominal" else level
    run = apply_scale(long_run(data), scale)
    got = registry.compute(run, "scale_agreement")
    alpha = got.krippendorff_alpha_nominal if level == "nominal" else got.krippendorff_alpha
    assert alpha == pytest.approx(expected, abs=1e-9)
    # the kernel from codes and from a count matrix
    coder, unit = np.nonzero(~np.isnan(data))
    uniq, code = np.unique(data[coder, unit], return_inverse=True)
    assert K.krippendorff_alpha(unit, code, data.shape[1], uniq, level) == pytest.approx(expected, abs=1e-9)
    counts = np.zeros((data.shape[1], len(uniq)))
    np.add.at(counts, (unit, code), 1)
    assert K.scale_alpha_from_counts(counts, uniq, level) == pytest.approx(expected, abs=1e-9)


def test_alpha_merges_labels_standing_for_one_number():
    frame = pd.DataFrame(
        {
            "task_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
            "worker_id": ["w1", "w2", "w3", "w1", "w2", "w1", "w2", "w3"],
            "label": ["1", "01", "2", "3", "3", "1.0", "2", "2"],
        }
    )
    run = apply_scale(build_run(frame, file="x.csv"), "interval")
    data = np.array([[1, 3, 1], [1, 3, 2], [2, np.nan, 2]], dtype=float)
    got = registry.compute(run, "scale_agreement")
    assert got.values == 3
    for level, value in (("nominal", got.krippendorff_alpha_nominal), ("interval", got.krippendorff_alpha)):
        assert value == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement=level), abs=1e-9)


@pytest.fixture(scope="module")
def emotion():
    d = shared("zheng2017-truth-inference", "emotion")
    # read as categories on purpose (an explicit nominal scale), then put on its interval scale
    raw = read_files([str(d / "answer.csv")], ReadOptions(scale="nominal"), truth=str(d / "truth.csv"))
    answers = pd.read_csv(d / "answer.csv")
    matrix = answers.pivot(index="worker", columns="question", values="answer").to_numpy(float)
    return raw, apply_scale(raw, "interval"), matrix


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_on_zheng_emotion_equals_the_package(emotion, level):
    _, run, matrix = emotion
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    if level in ("nominal", "interval"):
        got = registry.compute(run, "scale_agreement")
        alpha = got.krippendorff_alpha if level == "interval" else got.krippendorff_alpha_nominal
    elif level == "ordinal":
        alpha = registry.compute(apply_scale(emotion[0], "ordinal"), "scale_agreement").krippendorff_alpha
    else:  # -100..100 is refused as ratio data; the kernel still computes the package's figure
        _, t, _, lab = pool_codes(run)
        alpha = K.krippendorff_alpha(t, lab, run.codes.n_tasks, label_values(run), "ratio")
    assert alpha == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------------------------
# the published Emotion figures


def test_zheng_emotion_figures(emotion):
    _, run, _ = emotion
    mean = registry.compute(run, "scale_error", reference="truth", method="mean")
    median = registry.compute(run, "scale_error", reference="truth", method="median")
    assert (mean.tasks, median.tasks) == (700, 700)
    assert round(mean.mae, 2) == 12.02 and round(mean.rmse, 2) == 17.84
    assert round(median.mae, 2) == 13.53 and median.method == "median"
    workers = registry.compute(run, "annotator_scale_error")
    assert len(workers) == 38 and workers["truth_answers"].sum() == 7000
    assert round(float(workers["truth_mae"].median()), 2) == 17.09
    assert round(float(workers["truth_mae"].quantile(0.1)), 2) == 14.68
    assert round(float(workers["truth_mae"].quantile(0.9)), 2) == 24.15
    # the aggregate's bias per annotator: mean answer minus the task's median, by hand for one
    w = workers.index[0]
    a = run.answers.assign(x=parse_numbers(run.answers["label"].astype(str)))
    med = a.groupby("task_id", observed=True)["x"].median()
    mine = a[a["worker_id"] == w]
    assert workers.loc[w, "aggregate_bias"] == pytest.approx((mine["x"] - mine["task_id"].map(med)).mean())
    assert workers["golden_answers"].sum() == 0 and workers["golden_mae"].isna().all()


def test_emotion_is_refused_as_nominal_by_default(emotion):
    raw, _, _ = emotion
    with pytest.raises(ValidationError) as err:
        apply_scale(raw)
    text = str(err.value)
    assert "94 distinct numbers" in text and "--scale interval" in text and "column answer" in text
    assert apply_scale(raw, "nominal").meta.scale == "nominal"  # said explicitly: kept as categories


# --------------------------------------------------------------------------------------------
# weighted kappa against scikit-learn


def test_weighted_kappa_equals_sklearn():
    rng = np.random.default_rng(3)
    grades = ["bad", "poor", "fair", "good", "great"]
    data = rng.choice(np.array(grades, dtype=object), size=(6, 150))
    data[rng.random(data.shape) < 0.3] = None
    run = apply_scale(long_run(data), "ordinal", labels=grades)
    assert run.labels == tuple(grades)
    pairs = registry.compute(run, "weighted_kappa", min_shared=5)
    assert len(pairs) == 15
    for row in pairs.itertuples():
        a, b = int(row.worker_a[1:]), int(row.worker_b[1:])
        both = ~pd.isna(data[a]) & ~pd.isna(data[b])
        ya, yb = list(data[a][both]), list(data[b][both])
        assert row.shared == len(ya)
        assert row.kappa == pytest.approx(cohen_kappa_score(ya, yb, labels=grades), abs=1e-9)
        for weights in ("linear", "quadratic"):
            ref = cohen_kappa_score(ya, yb, labels=grades, weights=weights)
            assert getattr(row, f"kappa_{weights}") == pytest.approx(ref, abs=1e-9)
        pos = {g: i for i, g in enumerate(grades)}
        assert row.mean_abs_difference == pytest.approx(
            np.mean([abs(pos[x] - pos[y]) for x, y in zip(ya, yb, strict=True)])
        )


def test_weighted_kappa_with_many_grades_and_repeated_answers():
    rng = np.random.default_rng(4)
    task = np.repeat(np.arange(300), 4)
    worker = np.tile(np.arange(4), 300)
    label = rng.integers(0, 40, len(task))
    wp = K.weighted_pairwise_kappa(task, worker, label, 4, 40, min_shared=5)
    grid = label.reshape(300, 4)
    for a, b, lin, quad in zip(wp.worker_a, wp.worker_b, wp.kappa_linear, wp.kappa_quadratic, strict=True):
        ref = cohen_kappa_score(grid[:, a], grid[:, b], labels=range(40), weights="linear")
        assert lin == pytest.approx(ref, abs=1e-9)
        ref = cohen_kappa_score(grid[:, a], grid[:, b], labels=range(40), weights="quadratic")
        assert quad == pytest.approx(ref, abs=1e-9)
    # a worker answering a task twice counts with their most frequent grade (lowest on a tie)
    twice = K.weighted_pairwise_kappa(np.r_[task, 0, 0], np.r_[worker, 0, 0], np.r_[label, 39, 39], 4, 40, min_shared=5)
    assert twice.n_shared.tolist() == wp.n_shared.tolist()


# --------------------------------------------------------------------------------------------
# the scale check and apply_scale


def test_check_scale_names_bad_numbers_with_lines():
    labels = pd.Series(["1", "2", "x", "3", "n/a", "x"])
    found = check_scale(labels, "interval", file="a.csv", lines=np.arange(6) + 2)
    assert len(found) == 1 and found[0].rows == (4, 6, 7) and set(found[0].values) == {"x", "n/a"}
    assert "interval labels must be numbers" in str(found[0]) and "a.csv, lines 4, 6, 7" in str(found[0])
    negative = check_scale(["1", "-2"], "ratio", file="a.csv")
    assert "negative" in str(negative[0]) and "--scale interval" in str(negative[0]) and negative[0].count == 1
    assert check_scale([str(i) for i in range(12)], None, file="a.csv") == []  # 12 numbers: still nominal
    assert "13 distinct numbers" in str(check_scale([str(i) for i in range(13)], None, file="a.csv")[0])
    assert check_scale(["a", "b"], "ordinal", file="a.csv")[0].message.startswith("ordinal labels that are not numbers")
    outside = check_scale(["a", "b", "c"], "ordinal", file="a.csv", order=["a", "b"])
    assert "not in the ordinal label order" in outside[0].message and outside[0].values == ("c",)
    assert "unknown scale" in check_scale(["1"], "metric", file="a.csv")[0].message
    np.testing.assert_equal(parse_numbers(["1_000", "inf", " 2 ", "+.5"]), [np.nan, np.nan, 2, 0.5])


def test_apply_scale_orders_grades_and_keeps_codes_consistent():
    data = np.array([["3", "1", "10"], ["3", "2", "10"], ["1", "2", "3"]], dtype=object)
    run = long_run(data, golden={"t0": "3"})
    assert run.labels == ("1", "2", "3", "10")
    numeric = apply_scale(run, "ordinal")
    assert numeric.labels == ("1", "2", "3", "10") and numeric.meta.scale == "ordinal"
    ordered = apply_scale(run, "ordinal", labels=["10", "3", "2", "1"])  # a declared order wins
    assert ordered.labels == ("10", "3", "2", "1")
    assert list(ordered.answers["label"].astype(str)) == list(run.answers["label"].astype(str))
    assert label_values(ordered).tolist() == [0.0, 1.0, 2.0, 3.0]  # numbers against the order: positions
    assert label_values(numeric).tolist() == [1.0, 2.0, 3.0, 10.0]
    with pytest.raises(ValidationError, match="not in the ordinal label order"):
        apply_scale(run, "ordinal", labels=["1", "2", "10"])


def test_scale_round_trips_and_old_runs_load_as_nominal():
    meta = RunMeta(labels=("1", "2"), scale="ordinal")
    assert RunMeta.from_dict(meta.to_dict()).scale == "ordinal"
    old = meta.to_dict()
    del old["scale"]
    assert RunMeta.from_dict(old).scale == "nominal"


# --------------------------------------------------------------------------------------------
# aggregation, spread, error against golden, nominal runs, the report section


def test_median_mean_spread_and_golden_error_by_hand():
    data = np.array([[1.0, 4.0, 2.0], [2.0, 4.0, 2.0], [4.0, np.nan, 3.0], [5.0, np.nan, np.nan]])
    run = apply_scale(long_run(data, golden={"t1": "4", "t2": "3"}), "interval")
    med = registry.compute(run, "scale_aggregate", method="median")
    assert med.loc["t0", "value"] == 3.0 and bool(med.loc["t0", "tied"]) and med.loc["t0", "label"] == "3"
    assert med.loc["t2", "value"] == 2.0 and med.loc["t2", "label"] == "2"
    mean = registry.compute(run, "scale_aggregate", method="mean")
    assert mean.loc["t2", "value"] == pytest.approx(7 / 3) and pd.isna(mean.loc["t2", "label"])
    spread = registry.compute(run, "item_spread")
    assert spread.loc["t0", "range"] == 4 and spread.loc["t1", "std"] == 0
    assert spread.loc["t0", "std"] == pytest.approx(np.std([1, 2, 4, 5], ddof=1))
    err = registry.compute(run, "scale_error", reference="golden", method="median")
    assert (err.tasks, err.mae, err.bias) == (2, 0.5, -0.5) and err.rmse == pytest.approx(np.sqrt(0.5))
    workers = registry.compute(run, "annotator_scale_error")
    assert workers.loc["w02", "golden_answers"] == 1 and workers.loc["w02", "golden_bias"] == 0.0
    assert workers.loc["w00", "golden_mae"] == pytest.approx(0.5) and workers.loc["w00", "golden_bias"] == -0.5
    hist = registry.compute(run, "scale_histogram", bins=4)
    assert hist["answers"].sum() == 9 and hist["low"].iloc[0] == 1 and hist["high"].iloc[-1] == 5
    # ordinal medians are the lower middle grade, always a label
    grades = apply_scale(long_run(data), "ordinal")
    med = registry.compute(grades, "scale_aggregate", method="median")
    assert med.loc["t0", "value"] == 2.0 and med.loc["t0", "label"] == "2" and bool(med.loc["t0", "tied"])


def test_nominal_runs_refuse_the_scale_figures_with_a_reason(demo_run):
    assert demo_run.meta.scale == "nominal"
    for name in ("weighted_kappa", "item_spread", "scale_aggregate", "scale_error", "annotator_scale_error"):
        with pytest.raises(MetricUnavailable, match="--scale"):
            registry.compute(demo_run, name)
    sa = registry.compute(demo_run, "scale_agreement")
    nominal = registry.compute(demo_run, "run_agreement").krippendorff_alpha
    assert sa.krippendorff_alpha == pytest.approx(nominal, abs=1e-12) == sa.krippendorff_alpha_nominal


class _Section:
    """The report's state as scale_section uses it."""

    def __init__(self, run):
        self.run, self.unavailable, self.lists = run, {}, {}

    def figure(self, key, name, **params):
        value = registry.outcome(self.run, name, **params)
        if isinstance(value, MetricUnavailable):
            self.unavailable[key] = str(value)
            return None
        return value


def test_scale_section(demo_run, emotion):
    rep = {"agreement": {"krippendorff_alpha": 0.5, "fleiss_kappa": 0.4}}
    scale_section(_Section(demo_run), rep)
    assert rep == {"agreement": {"krippendorff_alpha": 0.5, "fleiss_kappa": 0.4, "scale": "nominal",
                                 "krippendorff_alpha_nominal": 0.5}}  # fmt: skip
    _, run, matrix = emotion
    rep, r = {"agreement": {"krippendorff_alpha": 0.1}}, _Section(run)
    scale_section(r, rep)
    g, s = rep["agreement"], rep["scale"]
    assert g["scale"] == "interval"
    assert g["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(reliability_data=matrix), abs=1e-9)
    assert g["krippendorff_alpha_nominal"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-9
    )
    assert round(s["error"]["truth"]["mean"]["mae"], 2) == 12.02 and s["error"]["golden"]["median"] is None
    assert "scale.error.golden.median" in r.unavailable and s["items"]["tasks"] == 700
    assert round(s["annotators"]["median_truth_mae"], 2) == 17.09


# --------------------------------------------------------------------------------------------
# size


def test_a_million_answers_in_seconds():
    rng = np.random.default_rng(5)
    n, n_tasks, n_workers = 1_000_000, 250_000, 2_000
    task = np.repeat(np.arange(n_tasks), 4)
    worker = rng.integers(0, n_workers, n)
    values = np.arange(-100, 101, dtype=np.float64)
    code = np.clip(rng.normal(100, 30, n).astype(np.int64), 0, 200)
    start = time.perf_counter()
    for level in LEVELS:
        assert np.isfinite(K.krippendorff_alpha(task, code, n_tasks, values, level))
    tv = K.task_values(task, values[code], n_tasks)
    grades = np.clip(code // 40, 0, 4)
    wp = K.weighted_pairwise_kappa(task, worker, grades, n_workers, 5, min_shared=1)
    seconds = time.perf_counter() - start
    assert tv.n.sum() == n and len(wp.worker_a) > 0
    assert seconds < 20, f"{seconds:.1f} s"
