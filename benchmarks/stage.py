"""One bench stage in a fresh process, so that its peak memory is its own.

Usage: ``python benchmarks/stage.py STAGE PARAMS_JSON RESULT_JSON``. The stage does its
untimed setup (loading the run it works on), times its work with ``time.perf_counter``, and
writes a JSON object to RESULT_JSON with ``seconds``, ``rss_before_bytes`` (resident memory just
before the timed work: interpreter, libraries and the loaded run), ``peak_bytes`` (the
process's peak resident memory, ``ru_maxrss``), ``cpu_seconds`` (its user + system time) and
what the stage adds.
"""

from __future__ import annotations

import cProfile
import importlib
import json
import pickle
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

PROFILE_TOP = 15


def rss_now() -> int:
    """Current resident set size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0
    return pages * resource.getpagesize()


def warm_up(*modules: str) -> None:
    """Import what the timed call would import on first use: module imports (1-2 s for scipy.stats
    and friends) are a one-time cost of a process, not of the data, and stay off the clock."""
    for name in modules:
        importlib.import_module(name)


def timed(work: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    before = rss_now()
    start = time.perf_counter()
    out = work()
    return out, {"seconds": time.perf_counter() - start, "rss_before_bytes": before}


def open_run(workspace: str, version: str):
    from analytics.sources.workspace import Workspace

    return Workspace(workspace).open_run(version)


ANALYTICS = ("analytics.sources", "analytics.sources.workspace")


# --------------------------------------------------------------------------------------------
# stages (each imports only what it needs, so its peak memory is not inflated by the others')


def stage_generate(answers: int, overlap: int, seed: int, tsv: str) -> dict[str, Any]:
    import generate as gen

    _, result = timed(lambda: gen.write_run(answers, Path(tsv), overlap, seed))
    return result | {"tsv_bytes": Path(tsv).stat().st_size}


def measured(work: Callable[[], dict[str, Any]], *modules: str) -> dict[str, Any]:
    """A yardstick of benchmarks/baselines.py: its modules imported first (off the clock, as in
    the other stages), ``seconds`` = the sum of its timed parts."""
    warm_up(*modules)
    out, result = timed(work)
    return result | out | {"seconds": sum(out["parts"].values())}


NUMERIC = ("numpy", "scipy.sparse", "pyarrow", "pyarrow.compute")


def stage_duckdb_copy(tsv: str, parquet: str) -> dict[str, Any]:
    import baselines

    return measured(lambda: baselines.duckdb_copy(tsv, parquet), "duckdb")


def stage_duckdb_sql(parquet: str) -> dict[str, Any]:
    import baselines

    return measured(lambda: baselines.duckdb_sql(parquet), "duckdb")


def stage_floor_ws(workspace: str) -> dict[str, Any]:
    import baselines

    return measured(lambda: baselines.floor_workspace(workspace), *NUMERIC, "pyarrow.parquet")


def stage_floor_tsv(tsv: str) -> dict[str, Any]:
    import baselines

    return measured(lambda: baselines.floor_tsv(tsv), *NUMERIC, "pyarrow.csv")


def stage_crowdkit_tsv(tsv: str) -> dict[str, Any]:
    """The crowd-kit path as one user script; ``seconds`` = its parts (the reading included)."""
    import warnings

    import workloads

    warnings.filterwarnings("ignore")  # crowd-kit and pandas deprecation noise
    out, result = timed(lambda: workloads.crowdkit_from_tsv(tsv))
    return result | out


def stage_pandas_memory(tsv: str) -> dict[str, Any]:
    import workloads

    out, result = timed(lambda: workloads.pandas_memory(tsv))
    return result | out


def stage_import(tsv: str, pickled: str) -> dict[str, Any]:
    from analytics.sources import read_files

    warm_up(*ANALYTICS)
    run, result = timed(lambda: read_files([tsv]))
    with open(pickled, "wb") as f:
        pickle.dump(run, f, protocol=pickle.HIGHEST_PROTOCOL)
    a = run.answers
    return result | {
        "answers": len(a),
        "tasks": int(a["task_id"].nunique()),
        "annotators": int(a["worker_id"].nunique()),
        "assignments": int(a["assignment_id"].nunique()),
    }


def stage_store(pickled: str, workspace: str) -> dict[str, Any]:
    from analytics.sources.workspace import Workspace
    from analytics.versions import import_run

    with open(pickled, "rb") as f:
        run = pickle.load(f)
    warm_up(*ANALYTICS, "analytics.metrics")  # the manifest's summary figures come from there
    info, result = timed(lambda: import_run(Workspace(workspace), run, name="bench", version="1"))
    files = Path(info.path) / "files"
    return result | {"version": info.id, "stored_bytes": sum(p.stat().st_size for p in files.iterdir())}


def stage_open(workspace: str, version: str) -> dict[str, Any]:
    warm_up(*ANALYTICS)
    run, result = timed(lambda: open_run(workspace, version))
    return result | {"answers": len(run.answers)}


def stage_report(workspace: str, version: str, profile: bool = False) -> dict[str, Any]:
    import workloads

    warm_up("analytics.metrics")
    run = open_run(workspace, version)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    out, result = timed(lambda: workloads.report(run))
    if profiler:
        profiler.disable()
        result["profile"] = top_calls(profiler)
    result["path"] = workloads.REPORT
    result["parts"] = out.get("seconds", {})  # each section's seconds (timings=True)
    return result


def stage_baseline(workspace: str, version: str, step: str) -> dict[str, Any]:
    import warnings

    import workloads

    warnings.filterwarnings("ignore")  # crowd-kit and pandas deprecation noise
    workloads.warm_up()
    run = open_run(workspace, version)
    out, result = timed(lambda: workloads.BASELINE_STEPS[step](run))
    if isinstance(out, dict):
        result["parts"] = out  # pandas_rest: seconds per figure
    return result


def stage_pages(workspace: str, version: str) -> dict[str, Any]:
    """The dashboard on this version, through Streamlit's AppTest in one process (as one server):
    the cold open (the run loaded and the Overview drawn), then every page's first open with the
    version cached, then a rerun of each (what a filter or a click costs once figures are cached)."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["CROWDLENS_WORKSPACE"] = workspace
    warm_up(*ANALYTICS, "analytics.metrics", "plotly.graph_objects")
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    run = open_run(workspace, version)
    pool = run.answers[run.answers["kind"].isin(["regular", "control"])]
    params = {
        "annotator.py": {"annotator": str(pool["worker_id"].value_counts().index[0])},
        "task.py": {"task": str(pool["task_id"].iloc[0])},
    }
    del run, pool
    from dashboard.nav import PAGES_DIR, SPECS

    at = AppTest.from_file(app, default_timeout=900)

    def show(page: str) -> tuple[float, float]:
        at.switch_page(f"views/{page}")
        at.query_params.clear()
        at.query_params["version"] = version
        for k, v in params.get(page, {}).items():
            at.query_params[k] = v
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
        start = time.perf_counter()
        at.run()
        return first, time.perf_counter() - start

    at.run()
    cold, _ = show("overview.py")
    pages = {}
    for spec in SPECS:
        if spec.file in ("overview.py", "import_run.py") or not (PAGES_DIR / spec.file).exists():
            continue
        first, rerun = show(spec.file)
        pages[spec.title] = {"first_seconds": first, "rerun_seconds": rerun}
    return {"seconds": cold, "cold_open_seconds": cold, "pages": pages}


def top_calls(profiler: cProfile.Profile) -> list[dict[str, Any]]:
    """The analytics functions with the most cumulative time (the report, its sections and the
    registry's dispatch left out: they hold everything)."""
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    rows = []
    for (file, _line, name), (_cc, calls, _tt, cum, _callers) in stats.items():
        module = file.split("/analytics/", 1)[-1].removesuffix(".py").replace("/", ".")
        holders = {("report", "figure"), ("metrics.registry", "compute"), ("metrics.registry", "outcome")}
        holders |= {("metrics.registry", "_evaluate")}
        if "/analytics/" in file and name not in ("build_report", "<lambda>") and (module, name) not in holders:
            if module == "report" and name.endswith("_section"):
                continue
            rows.append({"function": f"{module}.{name}", "calls": calls, "seconds": cum})
    rows.sort(key=lambda r: -r["seconds"])
    return rows[:PROFILE_TOP]


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "generate": stage_generate,
    "import": stage_import,
    "store": stage_store,
    "open": stage_open,
    "report": stage_report,
    "baseline": stage_baseline,
    "pages": stage_pages,
    "duckdb_copy": stage_duckdb_copy,
    "duckdb_sql": stage_duckdb_sql,
    "floor_ws": stage_floor_ws,
    "floor_tsv": stage_floor_tsv,
    "crowdkit_tsv": stage_crowdkit_tsv,
    "pandas_memory": stage_pandas_memory,
}


def main() -> None:
    stage, params, out = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    result = STAGES[stage](**params)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_bytes"] = usage.ru_maxrss * 1024  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
