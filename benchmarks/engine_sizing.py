"""Sizing figures for the engine SQL: each expression on DuckDB and its numpy kernel, one process per step.

``python benchmarks/engine_sizing.py ANSWERS.parquet [--threads 2] [--steps a,b] [--tmp DIR]`` runs
every step in a fresh subprocess (so that each peak RSS is its own), one after the other, and
prints one JSON line per step and a summary table: wall seconds, CPU seconds per 10^7 answers
(the cost per core, robust to what else runs on the machine), per EM iteration the same, peak
RSS, and the 1-minute load average before and after. ``bytes`` reports what the answers take in
Parquet: the workspace file's code columns and the engine table written as Parquet (zstd),
unsorted and sorted by task. The figures measured with it are in README.md ("Large runs").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics import kernels
from analytics.engine.duckdb_runner import DuckDBRunner, answer_table
from analytics.engine.schema import AnswerTable

SQL_STEPS = ("vote_counts", "majority_vote", "worker_counts", "pairs", "ds")
STEPS = ("bytes", "stage") + tuple(f"sql:{s}" for s in SQL_STEPS) + tuple(f"np:{s}" for s in SQL_STEPS)
CODE_COLUMNS = ("task_code", "task_id", "worker_id", "label", "golden", "kind")  # task_code, or older task_id


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _arrays(a: AnswerTable) -> dict[str, np.ndarray]:
    t = a.table
    golden = t.column("golden").combine_chunks().fill_null(-1).to_numpy()
    kind = t.column("kind").combine_chunks()
    control = kind.indices.to_numpy() == 1 if pa.types.is_dictionary(kind.type) else kind.to_numpy() == "control"
    return {
        "task": t.column("task").to_numpy(),
        "worker": t.column("worker").to_numpy(),
        "label": t.column("label").to_numpy(),
        "golden": golden,
        "control": control,
    }


def _cpu() -> float:
    """CPU seconds this process has used (every DuckDB and numpy thread): robust to other load."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn, *args, **kw) -> dict[str, float]:
    cpu, start = _cpu(), time.perf_counter()
    fn(*args, **kw)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": _cpu() - cpu}


def _iterations(one: dict[str, float], three: dict[str, float]) -> dict[str, float]:
    """A 3-iteration EM run's figures, per iteration from its difference to a 1-iteration run."""
    out = dict(three)
    out["seconds_1_iter"] = one["seconds"]
    out["per_iteration"] = (three["seconds"] - one["seconds"]) / 2
    out["cpu_per_iteration"] = (three["cpu_seconds"] - one["cpu_seconds"]) / 2
    out["setup"] = one["seconds"] - out["per_iteration"]
    return out


def _np_step(a: AnswerTable, name: str, min_shared: int) -> dict[str, float]:
    x = _arrays(a)
    t, w, lab = x["task"], x["worker"], x["label"]
    nt, nw, nl = a.n_tasks, a.n_workers, a.n_labels
    if name == "vote_counts":
        return _timed(kernels.vote_counts, t, lab, nt, nl)
    if name == "majority_vote":
        return _timed(kernels.majority_vote, t, lab, nt, nl)
    if name == "worker_counts":

        def counts():
            rows = x["control"] & (x["golden"] >= 0)
            np.bincount(w, minlength=nw)
            kernels.worker_accuracy(w[rows], lab[rows] == x["golden"][rows], nw)

        return _timed(counts)
    if name == "pairs":
        return _timed(kernels.pairwise_agreement, t, w, lab, nw, nl, min_shared=min_shared)
    one = _timed(kernels.dawid_skene, t, w, lab, nt, nw, nl, n_iter=1, tol=-np.inf)
    three = _timed(kernels.dawid_skene, t, w, lab, nt, nw, nl, n_iter=3, tol=-np.inf)
    return _iterations(one, three)


def _sql_step(a: AnswerTable, name: str, min_shared: int, threads: int, tmp: str, memory: str) -> dict[str, float]:
    config = {"temp_directory": tmp, "memory_limit": memory}
    with DuckDBRunner(a, threads=threads, config=config) as r:
        if name == "vote_counts":
            return _timed(r.vote_counts)
        if name == "majority_vote":
            return _timed(r.majority_vote, counts=np.zeros((a.n_tasks, a.n_labels)))  # the SQL, not the shares
        if name == "worker_counts":
            return _timed(r.worker_counts)
        if name == "pairs":
            return _timed(r.pairwise_agreement, min_shared)
        one = _timed(r.dawid_skene, 1)
        three = _timed(r.dawid_skene, 3)
        steps = {f"{k}_total": v for k, v in r.seconds.items() if k.startswith("ds_")}  # of the 3-iteration run
        return {**_iterations(one, three), **steps}


def _bytes_step(path: Path, a: AnswerTable, tmp: str) -> dict[str, float]:
    meta = pq.ParquetFile(path).metadata
    names = pq.read_schema(path).names
    per_column = {
        names[i]: sum(meta.row_group(g).column(i).total_compressed_size for g in range(meta.num_row_groups))
        for i in range(len(names))
    }
    rows = meta.num_rows
    out = {"file_bytes_per_answer": path.stat().st_size / rows}
    out["code_columns_bytes_per_answer"] = sum(per_column.get(c, 0) for c in CODE_COLUMNS) / rows
    for label, table in (("unsorted", a.table), ("sorted_by_task", a.table.sort_by("task"))):
        target = Path(tmp) / f"engine_answers_{label}.parquet"
        pq.write_table(table, target, compression="zstd")
        out[f"engine_table_{label}_bytes_per_answer"] = target.stat().st_size / a.table.num_rows
        target.unlink()
    out["engine_rows"] = a.table.num_rows
    out["control_rows"] = int(pc.sum(pc.equal(a.table.column("kind").cast(pa.string()), "control")).as_py() or 0)
    return out


def measure(path: Path, step: str, threads: int, min_shared: int, tmp: str, memory: str = "8GB") -> dict:
    """One step in this process: its figures, the answers' size, peak RSS before and after."""
    start = time.perf_counter()
    a = answer_table(path)
    result: dict = {"step": step, "answers": a.table.num_rows, "n_tasks": a.n_tasks, "n_workers": a.n_workers}
    result["stage_seconds"] = time.perf_counter() - start
    result["peak_mib_before"] = _peak_mib()
    result["load_before"] = os.getloadavg()[0]
    kind, _, name = step.partition(":")
    if step == "bytes":
        result.update(_bytes_step(path, a, tmp))
    elif kind == "sql":
        result.update(_sql_step(a, name, min_shared, threads, tmp, memory))
    elif kind == "np":
        result.update(_np_step(a, name, min_shared))
    result["peak_mib"] = _peak_mib()
    result["load_after"] = os.getloadavg()[0]
    result["threads"] = threads if kind == "sql" else 1  # numpy: one core, DS E-step: a thread per core
    return result


def _per_1e7(r: dict, key: str) -> str:
    """CPU seconds per 10^7 answers: the cost per core, whatever else the machine was doing."""
    return f"{r[key] * 1e7 / r['answers']:.2f}" if key in r else ""


def _summary(results: list[dict]) -> str:
    head = ("step", "wall s", "cpu s/1e7", "iter wall", "iter cpu/1e7", "peak MiB", "load")
    lines = [f"{head[0]:<20}" + "".join(f"{h:>13}" for h in head[1:])]
    for r in results:
        secs = f"{r['seconds']:.2f}" if "seconds" in r else f"{r['stage_seconds']:.2f}"
        it = f"{r['per_iteration']:.2f}" if "per_iteration" in r else ""
        load = f"{r['load_before']:.1f}->{r['load_after']:.1f}"
        cells = (secs, _per_1e7(r, "cpu_seconds"), it, _per_1e7(r, "cpu_per_iteration"), f"{r['peak_mib']:.0f}", load)
        lines.append(f"{r['step']:<20}" + "".join(f"{c:>13}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/engine_sizing.py", description=__doc__.splitlines()[0])
    p.add_argument("answers", type=Path, help="a workspace answers.parquet or an engine-shaped Parquet file")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    p.add_argument("--min-shared", type=int, default=10)
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of: {', '.join(STEPS)}")
    p.add_argument("--tmp", default=None, help="scratch folder (DuckDB spill files, Parquet size probes)")
    p.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit (default 8GB; it spills beyond)")
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)  # one step, in this process
    args = p.parse_args(argv)
    tmp = args.tmp or tempfile.mkdtemp(prefix="crowdlens-sizing-")
    if args.only:
        print(
            json.dumps(measure(args.answers, args.only, args.threads, args.min_shared, tmp, args.memory_limit)),
            flush=True,
        )
        return 0
    results = []
    for step in [s for s in args.steps.split(",") if s]:
        if step not in STEPS:
            p.error(f"unknown step {step!r}")
        cmd = [sys.executable, str(Path(__file__).resolve()), str(args.answers), "--only", step]
        cmd += ["--threads", str(args.threads), "--min-shared", str(args.min_shared), "--tmp", tmp]
        cmd += ["--memory-limit", args.memory_limit]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{step} failed:\n{done.stderr}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print(_summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
