"""`crowdlens report`: the JSON keys, values equal to the metrics, nulls where a figure cannot be had."""

from __future__ import annotations

import json

import pytest
from conftest import shared

from analytics.cli import main
from analytics.metrics import aggregation as A
from analytics.metrics import agreement as G
from analytics.metrics import control as C
from analytics.metrics import cost
from analytics.report import build_report
from analytics.sources import read_files

REQUIRED = [
    "answers",
    "tasks",
    "workers",
    "overlap.mean",
    "agreement.krippendorff_alpha",
    "agreement.fleiss_kappa",
    "aggregation.method",
    "aggregation.tie_rule",
    "aggregation.accuracy_vs_golden",
    "aggregation.accuracy_vs_truth",
    "control.answers",
    "control.workers",
    "workers_vs_truth",
    "cost.total",
    "cost.per_label",
    "labels.raw",
    "labels.aggregated",
    "speed.median_seconds_per_task",
]


def dig(d: dict, dotted: str):
    for part in dotted.split("."):
        assert part in d, f"report lacks {dotted!r}"
        d = d[part]
    return d


def run_json(capsys, argv) -> dict:
    code = main(argv + ["--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.fixture(scope="module")
def demo_exports(tmp_path_factory):
    from analytics.sources.demo import build_demo
    from analytics.sources.workspace import Workspace

    root = tmp_path_factory.mktemp("demo-exports")
    build_demo(Workspace(root / "ws"), keep_exports=root / "exports")
    return root


def test_report_of_a_toloka_export_has_every_key_and_the_metrics_values(demo_exports, capsys):
    tsvs = sorted((demo_exports / "exports").glob("*.tsv"))
    assert tsvs, "the demo keeps its Toloka exports"
    main_pool = [p for p in tsvs if p.name == "assignments_from_pool_41000002.tsv"]
    exam = [p for p in tsvs if "41000001" in p.name]
    rep = run_json(capsys, ["report", *map(str, main_pool), "--exam", str(exam[0]), "--method", "ds"])
    for key in REQUIRED:
        dig(rep, key)
    run = read_files(main_pool, exam=exam)
    s = G.run_agreement(run)
    assert rep["agreement"]["krippendorff_alpha"] == pytest.approx(s.krippendorff_alpha, abs=1e-12)
    assert rep["agreement"]["fleiss_kappa"] == pytest.approx(s.fleiss_kappa, abs=1e-12)
    # overlap 3, less where a rejected suite's answers were thrown out
    assert rep["overlap"]["max"] == 3 and 2.3 < rep["overlap"]["mean"] <= 3.0
    assert (rep["overlap"]["min"], rep["overlap"]["max"]) == (s.overlap_min, s.overlap_max) and rep["overlap"][
        "mean"
    ] == pytest.approx(s.overlap_mean)
    agg = A.aggregate(run, "ds", n_iter=100)
    assert rep["aggregation"]["method"] == "ds" and rep["aggregation"]["tie_rule"] == A.TIE_RULE
    assert rep["aggregation"]["accuracy_vs_golden"] == pytest.approx(A.accuracy_vs_golden(run, agg).accuracy)
    assert rep["aggregation"]["accuracy_vs_truth"] is None and "aggregation.accuracy_vs_truth" in rep["unavailable"]
    ca = C.control_accuracy(run)
    assert rep["control"]["answers"] == int(ca["answers"].sum())
    w = {r["worker_id"]: r for r in rep["control"]["workers"]}
    some = ca[ca["answers"] > 0].index[0]
    assert set(w[some]) == {"worker_id", "answers", "correct", "accuracy", "ci_low", "ci_high"}
    assert w[some]["correct"] == ca.loc[some, "correct"] and w[some]["ci_low"] == pytest.approx(ca.loc[some, "ci_low"])
    cb = cost.cost_breakdown(run)
    # regular tasks with an accepted answer (a few lost every answer to rejected suites); the 98 control
    # tasks are not delivered labels
    assert 870 <= cb.final_labels <= 882
    regular = run.answers[run.answers["kind"] == "regular"]
    assert cb.final_labels == regular.loc[regular["status"] != "REJECTED", "task_id"].nunique()
    assert rep["cost"]["total"] == pytest.approx(cb.total) and rep["cost"]["per_label"] == pytest.approx(
        cb.cost_per_final_label
    )
    assert sum(rep["labels"]["aggregated"].values()) == len(agg.labels)
    assert rep["labels"]["raw"] == {
        k: int(v)
        for k, v in run.answers[run.answers["kind"].isin(["regular", "control"])]["label"].value_counts().items()
    }
    assert rep["speed"]["median_seconds_per_task"] > 0
    assert rep["workers_vs_truth"] is None


def test_report_of_a_workspace_version_text_and_json(demo_workspace, demo_versions, capsys):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    rep = run_json(capsys, ["report", v.id[:8], "--workspace", str(demo_workspace.root)])
    assert rep["answers"] == v.metadata["answers"] and rep["aggregation"]["method"] == "mv"
    assert rep["exam"]["candidates"] == 105
    assert main(["report", v.id, "--workspace", str(demo_workspace.root)]) == 0
    text = capsys.readouterr().out
    assert "Krippendorff's alpha" in text and "accuracy vs golden" in text and "tie rule" in text


@pytest.mark.shared_data
def test_report_of_a_long_table_with_truth(capsys):
    folder = shared("zheng2017-truth-inference", "dog")
    rep = run_json(capsys, ["report", str(folder / "answer.csv"), "--truth", str(folder / "truth.csv")])
    for key in REQUIRED:
        dig(rep, key)
    assert (rep["answers"], rep["tasks"], rep["workers"]) == (8070, 807, 109)
    assert round(rep["aggregation"]["accuracy_vs_truth"], 4) == 0.8178  # the README's "MV low"
    assert round(rep["aggregation"]["truth"]["strict"], 4) == 0.7918 and rep["aggregation"]["truth"]["tied"] == 50
    workers = {r["worker_id"]: r for r in rep["workers_vs_truth"]}
    assert len(workers) == 109
    assert set(next(iter(workers.values()))) == {"worker_id", "answers", "correct", "accuracy", "ci_low", "ci_high"}
    # no rewards in a long table: cost is null with a reason, never a made-up 0
    assert rep["cost"]["total"] is None and rep["cost"]["per_label"] is None
    assert any(k.startswith("cost") for k in rep["unavailable"])
    # no control tasks, no times: nulls with reasons
    assert rep["aggregation"]["accuracy_vs_golden"] is None and rep["control"]["answers"] is None
    assert rep["speed"]["median_seconds_per_task"] is None


def test_bad_arguments_are_clear(tmp_path, capsys, demo_workspace):
    assert main(["report", str(tmp_path / "nope.tsv")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["report", "deadbeef", "--workspace", str(demo_workspace.root)]) == 2
    assert "neither a file nor a version id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "x", "--method", "vote"])


def test_build_report_rejects_unknown_method(demo_run):
    with pytest.raises(ValueError, match="'method' parameter of build_report"):
        build_report(demo_run, method="vote")


def test_report_carries_spend_on_banned_and_explains_its_nulls(demo_workspace, demo_versions, capsys):
    v = next(v for v in demo_versions if v.version == "1.1.0")
    rep = run_json(capsys, ["report", v.id[:8], "--workspace", str(demo_workspace.root)])
    sb = rep["cost"]["spend_on_banned"]
    assert sb["banned_workers"] == len(sb["per_worker"]) > 0 and 0 < sb["share_of_spend"] < 1
    assert sb["spend_on_banned"] == pytest.approx(
        sb["spend_before_ban"] + sb["spend_after_ban"] + sb["bonuses_to_banned"]
    )
    assert rep["suites_without_answer"] == {} and rep["answers"] == v.metadata["answers"]
    # the demo has no truth file: both truth figures are null and say why, with the flag that gives them
    assert rep["workers_vs_truth"] is None and "--truth FILE" in rep["unavailable"]["workers_vs_truth"]
    assert rep["aggregation"]["iterations"] is None and "aggregation.iterations" in rep["unavailable"]
    rep = run_json(capsys, ["report", v.id[:8], "--workspace", str(demo_workspace.root), "--method", "wawa"])
    assert rep["aggregation"]["start_tied"] == A.aggregate(demo_workspace.open_run(v.id), "mv").n_tied > 0
