"""Agreement: alpha against `krippendorff`, kappa against statsmodels and sklearn, toy frames by hand."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from conftest import shared
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from analytics.metrics import aggregation as A
from analytics.metrics import agreement as G
from analytics.metrics._base import MetricUnavailable
from analytics.model import build_run
from analytics.sources import read_files


def toy_run(rows, labels=("x", "y", "z")):
    frame = pd.DataFrame(rows, columns=["worker_id", "task_id", "label"])
    return build_run(frame, file="toy", labels=list(labels))


ROWS = [
    ("w1", "t1", "x"),
    ("w2", "t1", "x"),
    ("w3", "t1", "y"),
    ("w1", "t2", "z"),
    ("w2", "t2", "z"),
    ("w3", "t2", "z"),
    ("w1", "t3", "y"),
    ("w2", "t3", "x"),
    ("w1", "t4", "x"),  # a single answer: not pairable
]


def reliability(run) -> np.ndarray:
    """Coder x unit matrix with NaN for missing, the `krippendorff` package's input."""
    a = run.answers
    m = a.pivot(index="worker_id", columns="task_id", values="label")
    codes = {lab: i for i, lab in enumerate(run.labels)}
    return m.apply(lambda col: col.map(lambda v: codes.get(v, np.nan) if isinstance(v, str) else np.nan)).to_numpy(
        dtype=float
    )


def test_alpha_and_kappa_on_a_toy_frame_against_the_references():
    run = toy_run(ROWS)
    s = G.run_agreement(run)
    expected = krippendorff.alpha(reliability_data=reliability(run), level_of_measurement="nominal")
    assert s.krippendorff_alpha == pytest.approx(expected, abs=1e-9)
    assert (s.items, s.answers, s.overlap_min, s.overlap_max) == (3, 8, 1, 3)
    assert s.overlap_mean == pytest.approx(9 / 4) and s.overlap_varies


def test_item_agreement_by_hand():
    t = G.item_agreement(toy_run(ROWS))
    assert (
        t.loc["t1", "label"] == "x" and t.loc["t1", "agree"] == 2 and t.loc["t1", "agreement"] == pytest.approx(2 / 3)
    )
    # entropy of (2/3, 1/3) in bits
    assert t.loc["t1", "entropy_bits"] == pytest.approx(-(2 / 3) * np.log2(2 / 3) - (1 / 3) * np.log2(1 / 3))
    assert t.loc["t2", "entropy_bits"] == 0 and t.loc["t2", "pairwise_agreement"] == 1
    # t3 ties x/y: the tie goes to x (listed first); one answer agrees
    assert t.loc["t3", "label"] == "x" and t.loc["t3", "agreement"] == 0.5 and t.loc["t3", "pairwise_agreement"] == 0
    assert np.isnan(t.loc["t4", "pairwise_agreement"]) and t.loc["t4", "agreement"] == 1


def test_worker_agreement_with_the_aggregate_by_hand():
    w = G.worker_agreement(toy_run(ROWS))
    # w1: t1 x=x, t2 z=z, t3 y!=x, t4 x=x -> 3/4; w2: x, z, x -> 3/3; w3: y!=x, z -> 1/2
    assert w["answers"].to_dict() == {"w1": 4, "w2": 3, "w3": 2}
    assert w["agree"].to_dict() == {"w1": 3, "w2": 3, "w3": 1}
    assert w.loc["w1", "ci_low"] < 0.75 < w.loc["w1", "ci_high"]


def test_pairwise_kappa_equals_sklearn_on_shared_items():
    run = toy_run(ROWS)
    p = G.pairwise_kappa(run, min_shared=2)
    row = p[(p.worker_a == "w1") & (p.worker_b == "w2")].iloc[0]
    assert row["shared"] == 3 and row["agreement"] == pytest.approx(2 / 3)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(["x", "z", "y"], ["x", "z", "x"]), abs=1e-12)
    assert len(G.pairwise_kappa(run, min_shared=4)) == 0
    m = G.agreement_matrix(p)
    assert m.loc["w1", "w2"] == m.loc["w2", "w1"] == row["kappa"]


def test_one_annotator_per_task_gives_a_clear_message():
    run = toy_run([("w1", "t1", "x"), ("w2", "t2", "y")])
    with pytest.raises(MetricUnavailable, match="at least two annotators"):
        G.run_agreement(run)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["dog", "face"])
def test_real_data_against_krippendorff_and_statsmodels(name):
    folder = shared("zheng2017-truth-inference", name)
    run = read_files([folder / "answer.csv"])
    s = G.run_agreement(run)
    ref = krippendorff.alpha(reliability_data=reliability(run), level_of_measurement="nominal")
    assert s.krippendorff_alpha == pytest.approx(ref, abs=1e-9)
    if not s.overlap_varies:  # dog: 10 answers on every item, Fleiss' own setting
        counts = pd.crosstab(run.answers["task_id"].astype(str), run.answers["label"].astype(str)).to_numpy()
        assert s.fleiss_kappa == pytest.approx(fleiss_kappa(counts, method="fleiss"), abs=1e-9)
    else:  # face: 7-9 answers; the generalisation's P_i uses each item's own n_i
        assert name == "face" and (s.overlap_min, s.overlap_max) == (7, 9)


def test_demo_agreement_uses_only_the_labeling_pool(demo_run):
    s = G.run_agreement(demo_run)
    pool = A.pool_rows(demo_run)
    a = demo_run.answers.iloc[pool]
    # the exam (every candidate answers the same 10 items) would swamp the pool's agreement, and
    # rejected suites (the control-rule bans in 1.1.0) are work thrown out
    assert set(a["kind"]) <= {"regular", "control"} and not (a["status"] == "REJECTED").any()
    per_task = a["task_id"].value_counts()
    assert s.items == int((per_task >= 2).sum()) and s.answers == int(per_task[per_task >= 2].sum())
    assert s.overlap_max == 3 and s.overlap_varies == (per_task.min() < 3)


def test_least_agreed_order_by_hand():
    items = pd.DataFrame(
        {
            "answers": [3, 3, 1, 4, 3],
            "agreement": [2 / 3, 1 / 3, 1.0, 0.5, 1 / 3],
            "entropy_bits": [0.92, 1.58, 0.0, 1.0, 0.92],
        },
        index=pd.Index(["a", "b", "single", "d", "e"], name="task_id"),
    )
    # lowest agreement first; among equal agreement the higher entropy; single answers left out
    assert list(G.least_agreed(items).index) == ["b", "e", "d", "a"]


def test_a_size_limit_leaves_pairwise_kappa_out_not_the_report(demo_run, monkeypatch):
    """Beyond the pair budget pairwise kappa is unavailable with its reason, and the report goes on."""
    import dataclasses

    from analytics.report import build_report

    run = dataclasses.replace(demo_run)  # a run object of its own: nothing cached for it yet
    monkeypatch.setattr(G, "MAX_TASK_PAIRS", 2)  # a task answered 3 times has 3 pairs
    with pytest.raises(MetricUnavailable, match="within-task answer pairs"):
        G.pairwise_kappa(run)
    rep = build_report(run)
    assert "agreement.pairwise" in rep["unavailable"] and rep["agreement"]["krippendorff_alpha"] is not None
