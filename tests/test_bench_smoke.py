"""`make bench` end to end at a tiny size: every column and goal is printed and the JSON is written."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _load(name: str):
    """A benchmarks/ script as a module under a name of its own (benchmarks/ is no package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the scripts import each other by name
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory) -> tuple[str, dict]:
    """One bench run at 2,000 answers, shared by the tests below (it takes 20-40 s)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    # crowd-kit's calls each start a process that imports it (about 3 s each), the pages take
    # 10 s: both are exercised elsewhere (below, and tests/test_pages_*.py)
    cmd = [sys.executable, str(BENCH / "run.py"), "--sizes", "2e3", "--overlaps", "3", "--out", str(out)]
    proc = subprocess.run(
        [*cmd, "--skip-crowdkit", "--skip-pages"], capture_output=True, text=True, timeout=150, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


IN_PROCESS = ("import", "store", "open", "report")
WHOLE = ("cli_import", "cli_report", "cli_report_tsv", "duckdb_copy", "duckdb_sql", "floor_ws", "floor_tsv")


def test_bench_prints_every_column_at_a_tiny_size(tiny_bench):
    stdout, doc = tiny_bench
    header = next(line for line in stdout.splitlines() if line.lstrip().startswith("answers"))
    for column in (
        "answers",
        "overlap",
        "gen s",
        "import s",
        "store s",
        "open s",
        "report s",
        "crowd-kit s",
        "ratio",
        "mem import",
        "mem store",
        "mem open",
        "mem report",
        "mem crowd-kit",
        "load",
    ):
        assert column in header
    row = next(line for line in stdout.splitlines() if line.lstrip().startswith("2,000"))
    assert "skipped" in row and "failed" not in row
    assert "report timed:" in stdout
    assert stdout.count("not measured") == 12  # the goals need 10^6, 10^7 and 10^8 answers
    assert "[in-process]" in stdout and "[whole-process]" in stdout
    case = doc["cases"][0]
    assert case["import"]["answers"] == 2000
    for s in IN_PROCESS + WHOLE:
        assert case[s]["seconds"] > 0 and case[s]["peak_bytes"] > 0 and case[s]["wall_seconds"] > 0, s
        assert {"load_before", "load_after", "other_cores"} <= set(case[s]), s


def test_bench_runs_the_yardsticks_and_prints_load_and_ratios(tiny_bench):
    stdout, doc = tiny_bench
    case = doc["cases"][0]
    assert case["duckdb_sql"]["tasks"] == case["floor_ws"]["tasks"]  # both saw every task of the pool
    assert case["floor_tsv"]["pool_answers"] == case["floor_ws"]["pool_answers"] == 2000
    assert -1 <= case["duckdb_sql"]["kappa"] <= 1
    assert case["cli_report"]["output_bytes"] > 1000 and case["cli_report_tsv"]["output_bytes"] > 1000
    # every stage's row carries its load before/after
    for name in ("crowdlens import", "DuckDB COPY", "DuckDB SQL", "floor", "TSV floor", "crowdlens report TSV"):
        line = next(x for x in stdout.splitlines() if f"  {name}  " in x)
        assert "/" in line.split()[-2], line
    ratio_row = next(x for x in stdout.split("ratios (same run")[1].splitlines() if x.lstrip().startswith("2,000"))
    assert ratio_row.count("x") >= 6, ratio_row
    quiet = all(case[s]["load"] <= 1.5 and case[s]["other_cores"] <= 1.5 for s in IN_PROCESS + WHOLE)
    assert ("LOADED:" in stdout) == (not quiet)


def test_a_loaded_run_says_so_and_judges_no_goal(tiny_bench, tmp_path, capsys):
    """The load injected (no CPUs spun): through --fake-load's meter, and into a stage's figures."""
    procs, report_table = _load("procs"), _load("report_table")
    assert procs.LoadMeter(fake=3.0).before()["others"] == 3.0
    _, doc = tiny_bench
    case = json.loads(json.dumps(doc["cases"][0]))
    case["cli_report"]["load"] = 3.0
    case["answers_requested"] = 10**7  # so that the 10^7 goals have a figure to (not) judge
    report_table.print_results([case], doc["environment"])
    out = capsys.readouterr().out
    assert "LOADED:" in out and "goals not judged" in out and "crowdlens report (10,000,000/o3)" in out
    verdicts = out.split("goals (printed")[1]
    assert "not judged (LOADED)" in verdicts and " met" not in verdicts and "MISSED" not in verdicts


def test_above_in_process_max_crowdkit_is_not_run_but_its_memory_is_extrapolated(tmp_path):
    run, report_table = _load("run"), _load("report_table")
    args = run.parse_args(["--in-process-max", "1e3", "--memory-probe-answers", "2e3"])
    case = {"answers_requested": 10**8, "overlap": 3}
    state = {"history": None, "probes": {}, "cases": []}
    run.crowdkit_stages(case, tmp_path / "no.tsv", tmp_path / "no-ws", "v", tmp_path, args, state)
    assert case["crowdkit"]["steps"]["DawidSkene(20)"]["status"] == "skipped"
    need = case["crowdkit_need"]
    assert need["probe_answers"] == 2000 and need["frames_bytes"] > 70 * 10**8 * 0.9
    text = "\n".join(report_table.need_lines(case, need))
    assert "100,000,000 answers: not run" in text and "extrapolated linearly" in text and "B/answer" in text


@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecation warnings
def test_crowdkit_side_runs_and_matches_the_bench_step_list(tmp_path):
    pytest.importorskip("crowdkit")
    from analytics.sources import read_files

    generate, bench, workloads = _load("generate"), _load("crowdkit_side"), _load("workloads")
    # run.py repeats the step list so that it need not import pandas (see its comment)
    assert tuple(workloads.BASELINE_STEPS) == bench.BASELINE_STEPS
    assert workloads.SAME_WORK_AS_REPORT == bench.SAME_WORK_AS_REPORT
    tsv = generate.write(generate.generate(2000, 3), tmp_path / "run.tsv")
    run = read_files([tsv])
    for call in workloads.BASELINE_STEPS.values():
        call(run)
    whole = workloads.crowdkit_from_tsv(str(tsv))  # the crowd-kit script of the whole-process stage
    assert set(bench.SAME_WORK_AS_REPORT) <= set(whole["parts"]) and whole["answers"] == 2000
    assert workloads.pandas_memory(str(tsv))["crowdkit_frame_bytes_per_answer"] >= 24
    assert {"aggregation", "agreement.pairwise"} <= set(workloads.report(run)["seconds"])
