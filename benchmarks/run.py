"""`make bench`: seconds, peak memory and ratios of crowdlens on 10^5..10^8 answers, beside DuckDB and crowd-kit.

For each size and overlap a seeded Toloka results TSV is generated in chunks (benchmarks/generate.py:
Pareto annotator activity, 5 % spammers, one control task per suite of 10). Then every stage runs
in a fresh process, so each peak-memory figure is that process's own, and the machine's load
is sampled before and after each (benchmarks/procs.py).

Whole processes, timed from start to exit as a user runs them:
  crowdlens import     `crowdlens import TSV --workspace W` (the workspace every later stage uses)
  crowdlens report     `crowdlens report VERSION --method ds --iterations 20 --format json`
  report from TSV      `crowdlens report TSV --method ds --iterations 20 --format json`
  DuckDB COPY          TSV -> Parquet, all columns as text (benchmarks/baselines.py)
  DuckDB SQL           majority vote, golden accuracy per annotator, Fleiss' kappa from that Parquet
  floor / TSV floor    the least work of any report on this machine: the coded columns read (from
                       the workspace's Parquet, or the TSV with pyarrow), the sparse task x
                       (annotator, label) matrix, 20 Dawid-Skene iterations of sparse products
  crowd-kit script     pandas reads the TSV, then crowd-kit and pandas groupbys (benchmarks/workloads.py)

In-process stages (benchmarks/stage.py; the timed work only, imports and loading off the clock):
  import / store       analytics.sources.read_files / analytics.versions.import_run (sizes up to
                       --in-process-max: the run is pickled between the two)
  open / report        Workspace.open_run / analytics.report.build_report(method='ds', n_iter=20)
  pages                every dashboard page through Streamlit's AppTest
  crowd-kit calls      each crowd-kit/pandas call in its own process; a call whose estimate would
                       take the side past --crowdkit-limit-seconds is skipped and shown as ~N

Above --in-process-max the crowd-kit side is not run: what it would need is printed, from pandas'
memory per answer measured on a smaller run. Generation time is printed and counted nowhere.
The goals are printed with verdicts, not asserted; none is judged when a stage ran with the load
of other processes above 1.5. Figures also go to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import crowdkit_side as ck
import procs
import report_table
from procs import StageFailed, best_of, fastest, log, run_cli, run_stage

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR.parent / "bench-out" / "bench.json"  # bench-out/ is git-ignored
SEED = 0
N_ITER = 20
REPORT_ARGS = ("--method", "ds", "--iterations", str(N_ITER), "--format", "json")
BASELINE_STEPS, SAME_WORK_AS_REPORT = ck.BASELINE_STEPS, ck.SAME_WORK_AS_REPORT


# --------------------------------------------------------------------------------------------
# command line


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(float(x)) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes takes numbers of answers separated by commas, e.g. 1e5,1e6; got {text!r}"
        ) from None
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError(f"--sizes must name at least one size of 100 answers or more; got {text!r}")
    return sizes


def parse_overlaps(text: str) -> list[int]:
    try:
        overlaps = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--overlaps takes integers separated by commas, e.g. 3,5; got {text!r}"
        ) from None
    if not overlaps or overlaps[0] < 1 or overlaps[-1] > 9:
        raise argparse.ArgumentTypeError(
            f"--overlaps must be integers in [1, 9] (a suite holds 9 regular tasks); got {text!r}"
        )
    return overlaps


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return int(text)


def answers_count(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of answers, e.g. 2e7; got {text!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = p.add_argument
    add(
        "--sizes", type=parse_sizes, default=parse_sizes("1e5,1e6,1e7"), help="numbers of answers (default 1e5,1e6,1e7)"
    )
    add("--overlaps", type=parse_overlaps, default=parse_overlaps("3,5"), help="answers per task (default 3,5)")
    add("--skip-crowdkit", action="store_true", help="time crowdlens and DuckDB only")
    add(
        "--crowdkit-limit-seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="budget of the crowd-kit side per size and overlap (default 600)",
    )
    add(
        "--repeat",
        type=positive_int,
        default=1,
        metavar="K",
        help="run each crowdlens, DuckDB and floor stage K times (fresh processes) and keep the fastest (default 1)",
    )
    add("--skip-pages", action="store_true", help="do not time the dashboard pages (AppTest) on each version")
    add("--profile", action="store_true", help="also run each report once under cProfile and print where its time goes")
    add(
        "--in-process-max",
        type=answers_count,
        default=2 * 10**7,
        metavar="N",
        help="largest size for the in-process import + store (which pickle the run) and crowd-kit (default 2e7)",
    )
    add(
        "--memory-probe-answers",
        type=answers_count,
        default=ck.MEMORY_PROBE_ANSWERS,
        metavar="N",
        help="where pandas' memory per answer is measured for sizes whose crowd-kit side is not run (default 1e6)",
    )
    add("--fake-load", type=float, metavar="L", help=argparse.SUPPRESS)  # tests: pretend others keep the load at L
    add(
        "--workdir",
        type=Path,
        help="where generated files and workspaces go (default: a temporary folder, removed afterwards)",
    )
    add(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"JSON with every figure (default {DEFAULT_OUT.relative_to(BENCH_DIR.parent)})",
    )
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# one case: a size and an overlap


def version_of(ws: Path) -> str:
    """The id of the (one) version in a workspace, from `crowdlens versions --format json` (untimed)."""
    cmd = [*procs.crowdlens_command(), "versions", "--workspace", str(ws), "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=BENCH_DIR)
    if proc.returncode != 0:
        raise StageFailed(f"crowdlens versions exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout)[-1]["id"]


def whole_process_stages(case: dict[str, Any], tsv: Path, ws: Path, folder: Path, args: argparse.Namespace) -> str:
    """crowdlens import and report as a user runs them, DuckDB's COPY and SQL, the two floors;
    returns the id of the version imported into ``ws``."""
    rep = args.repeat

    def cli(name: str, cli_args: list[str]) -> dict[str, Any]:
        figures, out = run_cli(name, cli_args, folder)
        figures["output_bytes"] = out.stat().st_size
        out.unlink()
        return figures

    def imported(i: int) -> dict[str, Any]:
        target = ws if i == 0 else Path(f"{ws}-cli{i}")
        return cli("import", ["import", str(tsv), "--workspace", str(target), "--name", "bench", "--version", "1"])

    parquet = folder / "duckdb.parquet"
    runs: dict[str, list[dict[str, Any]]] = {}
    version = ""
    # round by round, each crowdlens stage right beside the baseline it is compared with: this machine's
    # speed drifts by 10-20 % over minutes, and a ratio of stages taken minutes apart carries the drift
    for i in range(rep):
        runs.setdefault("cli_import", []).append(imported(i))
        version = version or version_of(ws)
        runs.setdefault("duckdb_copy", []).append(
            run_stage("duckdb_copy", {"tsv": str(tsv), "parquet": str(parquet)}, folder)
        )
        runs.setdefault("duckdb_sql", []).append(run_stage("duckdb_sql", {"parquet": str(parquet)}, folder))
        runs.setdefault("floor_ws", []).append(run_stage("floor_ws", {"workspace": str(ws)}, folder))
        report = ["report", version, "--workspace", str(ws), *REPORT_ARGS]
        runs.setdefault("cli_report", []).append(cli("report", report))
        runs.setdefault("floor_tsv", []).append(run_stage("floor_tsv", {"tsv": str(tsv)}, folder))
        runs.setdefault("cli_report_tsv", []).append(cli("report-tsv", ["report", str(tsv), *REPORT_ARGS]))
    parquet.unlink(missing_ok=True)
    case.update({stage: fastest(stage_runs) for stage, stage_runs in runs.items()})
    log(
        "    "
        + ", ".join(f"{report_table.STAGE_NAMES[s]} {case[s]['wall_seconds']:.2f} s" for s in report_table.WHOLE_STAGES)
    )
    return version


def in_process_stages(
    case: dict[str, Any], tsv: Path, ws: Path, version: str, folder: Path, args: argparse.Namespace
) -> None:
    """read_files + import_run (pickled between them; not above --in-process-max), open_run,
    build_report, the dashboard pages and the optional profile, each in a fresh process."""
    rep = args.repeat
    if case["answers_requested"] <= args.in_process_max:
        pickled = folder / "run.pickle"
        case["import"] = best_of(rep, lambda i: run_stage("import", {"tsv": str(tsv), "pickled": str(pickled)}, folder))
        # a version is immutable: each repeat stores into a workspace of its own
        case["store"] = best_of(
            rep, lambda i: run_stage("store", {"pickled": str(pickled), "workspace": f"{ws}-store{i}"}, folder)
        )
        pickled.unlink(missing_ok=True)
    params = {"workspace": str(ws), "version": version}
    case["open"] = best_of(rep, lambda i: run_stage("open", params, folder))
    case["report"] = best_of(rep, lambda i: run_stage("report", params, folder))
    log(
        "    in-process: "
        + ", ".join(f"{s} {case[s]['seconds']:.2f} s" for s in ("import", "store", "open", "report") if s in case)
    )
    if not args.skip_pages:
        case["pages"] = run_stage("pages", params, folder)
        pages = case["pages"]["pages"].values()
        first, rerun = max(p["first_seconds"] for p in pages), max(p["rerun_seconds"] for p in pages)
        cold = case["pages"]["cold_open_seconds"]
        log(f"    dashboard: cold open {cold:.2f} s, slowest first open {first:.2f} s, slowest rerun {rerun:.2f} s")
    if args.profile:
        case["profile"] = run_stage("report", params | {"profile": True}, folder).get("profile", [])


def crowdkit_stages(
    case: dict[str, Any], tsv: Path, ws: Path, version: str, folder: Path, args: argparse.Namespace, state: dict
) -> None:
    answers, overlap = case["answers_requested"], case["overlap"]
    if args.skip_crowdkit:
        case["crowdkit"] = ck.skipped("--skip-crowdkit")
        return
    if answers > args.in_process_max:
        case["crowdkit"] = ck.skipped(f"{answers:,} answers > --in-process-max {args.in_process_max:,}")
        if overlap not in state["probes"]:
            log(f"    crowd-kit not run: measuring pandas' memory per answer at {args.memory_probe_answers:,}")
            ck.MEMORY_PROBE_ANSWERS = args.memory_probe_answers
            state["probes"][overlap] = ck.probe_memory(overlap, SEED, folder / "probe")
        probe = state["probes"][overlap]
        case["crowdkit_need"] = (
            {"error": probe["error"]} if "error" in probe else ck.memory_need(answers, probe, state["cases"])
        )
        return
    case["crowdkit"] = ck.crowdkit_side(answers, overlap, ws, version, folder, args, state["history"])
    case["crowdkit_whole"] = ck.crowdkit_whole(answers, overlap, tsv, folder, args, state["history"])


def bench_case(answers: int, overlap: int, workdir: Path, args: argparse.Namespace, state: dict) -> dict[str, Any]:
    """Generate one run, then time every stage on it; the case's files are removed afterwards."""
    folder = workdir / f"n{answers}-o{overlap}"
    folder.mkdir(parents=True, exist_ok=True)
    tsv, ws = folder / "run.tsv", folder / "workspace"
    case: dict[str, Any] = {"answers_requested": answers, "overlap": overlap}
    try:
        log(f"{answers:,} answers, overlap {overlap}")
        case["generate"] = run_stage(
            "generate", {"answers": answers, "overlap": overlap, "seed": SEED, "tsv": str(tsv)}, folder
        )
        version = whole_process_stages(case, tsv, ws, folder, args)
        in_process_stages(case, tsv, ws, version, folder, args)
        crowdkit_stages(case, tsv, ws, version, folder, args, state)
    except StageFailed as err:
        case["error"] = str(err)
        log(f"    FAILED: {err}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return case


# --------------------------------------------------------------------------------------------
# main


def environment() -> dict[str, Any]:
    versions = {}
    for dist in ("numpy", "pandas", "pyarrow", "scipy", "duckdb", "crowd-kit", "crowdlens"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_bytes": procs.memory_total_bytes(),
        "versions": versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    procs.METER.fake = args.fake_load
    own = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="crowdlens-bench-")) if own else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"history": ck.History(), "probes": {}, "cases": []}
    try:
        for answers in args.sizes:
            for overlap in args.overlaps:
                state["cases"].append(bench_case(answers, overlap, workdir, args, state))
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    cases = state["cases"]
    env = environment()
    report_table.print_results(cases, env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "environment": env,
        "report_path": report_table.report_path_of(cases),
        "goals": report_table.goals.GOALS,
        "verdicts": report_table.goals.verdicts(cases),
        "cases": cases,
    }
    args.out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(f"\nfigures written to {args.out}")
    return 1 if any("error" in c for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
