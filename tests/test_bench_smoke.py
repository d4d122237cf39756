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
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bench_prints_every_column_at_a_tiny_size(tmp_path):
    out = tmp_path / "bench.json"
    # crowd-kit's calls each start a process that imports it (about 3 s each): they are
    # exercised in-process below, so that this test stays well under 20 s
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--sizes",
            "2e3",
            "--overlaps",
            "3",
            "--skip-crowdkit",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.lstrip().startswith("answers"))
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
    ):
        assert column in header
    row = next(line for line in proc.stdout.splitlines() if line.lstrip().startswith("2,000"))
    assert "skipped" in row and "failed" not in row
    assert "report timed:" in proc.stdout
    assert proc.stdout.count("not measured") == 4  # the four goals need 10^6 and 10^7 answers
    doc = json.loads(out.read_text())
    case = doc["cases"][0]
    assert case["import"]["answers"] == 2000
    assert all(case[s]["seconds"] > 0 and case[s]["peak_bytes"] > 0 for s in ("import", "store", "open", "report"))


@pytest.mark.filterwarnings("ignore")  # crowd-kit's pandas deprecation warnings
def test_crowdkit_side_runs_and_matches_the_bench_step_list(tmp_path):
    pytest.importorskip("crowdkit")
    from analytics.sources import read_files

    generate, bench, workloads = _load("generate"), _load("run"), _load("workloads")
    # run.py repeats the step list so that it need not import pandas (see its comment)
    assert tuple(workloads.BASELINE_STEPS) == bench.BASELINE_STEPS
    assert workloads.SAME_WORK_AS_REPORT == bench.SAME_WORK_AS_REPORT
    tsv = generate.write(generate.generate(2000, 3), tmp_path / "run.tsv")
    run = read_files([tsv])
    for call in workloads.BASELINE_STEPS.values():
        call(run)
    assert {"aggregation", "agreement.pairwise"} <= set(workloads.report(run)["seconds"])
