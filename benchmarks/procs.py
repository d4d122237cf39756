"""Child processes of the bench: stages and CLI commands timed start to exit, with peak memory and machine load.

This module imports neither numpy nor pandas, nor anything that does: on Linux a child's
ru_maxrss starts from its parent's resident memory at the fork, so the bench's own process must
stay small for the children's peaks to be their own.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
STAGE = BENCH_DIR / "stage.py"
MAX_LOAD = 1.5  # above this, figures are reported but goals are not judged
LOAD_WINDOW_SECONDS = 60.0  # the kernel's 1-minute load average is this exponential average


class StageFailed(RuntimeError):
    pass


class StageTimedOut(RuntimeError):
    pass


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The machine's 1-minute load average (/proc/loadavg; 0 where there is none)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class LoadMeter:
    """The load of *other* processes around each stage.

    The 1-minute load average counts the bench's own stage too (a 2-thread report pushes it
    towards 2 by itself), so the meter keeps the same exponential average of the bench's own
    busy cores (each stage's CPU seconds / wall seconds) and subtracts it. ``fake`` replaces
    the machine's load average (a test's way to see the loaded-run warning without spinning CPUs).
    """

    fake: float | None = None
    own: float = 0.0
    last: float = field(default_factory=time.monotonic)

    def _advance(self, cores: float) -> float:
        now = time.monotonic()
        keep = math.exp(-(now - self.last) / LOAD_WINDOW_SECONDS)
        self.own = self.own * keep + cores * (1 - keep)
        self.last = now
        return now

    def others(self) -> float:
        if self.fake is not None:
            return self.fake
        return max(0.0, load_average() - self.own)

    def before(self) -> dict[str, float]:
        now = self._advance(0.0)  # between stages the bench itself is idle
        return {"t": now, "busy": cpu_busy_seconds(), "others": self.others(), "load1": load_average()}

    def after(self, snap: dict[str, float], own_cpu_seconds: float) -> dict[str, float]:
        wall = max(time.monotonic() - snap["t"], 1e-6)
        self._advance(own_cpu_seconds / wall)
        other_cores = max(0.0, cpu_busy_seconds() - snap["busy"] - own_cpu_seconds) / wall
        after = self.others()
        return {
            "load_before": snap["others"],
            "load_after": after,
            "load": max(snap["others"], after),
            "loadavg_before": snap["load1"],
            "loadavg_after": load_average(),
            "other_cores": other_cores,
        }


METER = LoadMeter()


def is_loaded(result: dict[str, Any]) -> bool:
    return max(result.get("load", 0.0), result.get("other_cores", 0.0)) > MAX_LOAD


@dataclass
class Finished:
    wall_seconds: float
    peak_bytes: int
    cpu_seconds: float
    returncode: int


def run_command(
    cmd: Sequence[str], stdout: Path, stderr: Path, *, timeout: float | None = None, env: dict | None = None
) -> Finished:
    """Run ``cmd`` from start to exit; its own peak resident memory and CPU time come from
    wait4 on that child (RUSAGE_CHILDREN would give the largest child so far)."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=BENCH_DIR, env=env)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timeout and wall >= timeout and proc.returncode < 0:
        raise StageTimedOut(f"{Path(cmd[0]).name} was stopped after {timeout:.0f} s")
    return Finished(wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, proc.returncode)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_stage(stage: str, params: dict[str, Any], folder: Path, *, timeout: float | None = None) -> dict[str, Any]:
    """Run one stage of benchmarks/stage.py in a fresh process: its JSON result (``seconds`` =
    the timed work inside it) plus ``wall_seconds`` (the process from start to exit) and the load."""
    stem = folder / f"{stage}-{time.monotonic_ns()}"
    out = stem.with_suffix(".json")
    snap = METER.before()
    done = run_command(
        [sys.executable, str(STAGE), stage, json.dumps(params), str(out)],
        stem.with_suffix(".out"),
        stem.with_suffix(".err"),
        timeout=timeout,
    )
    load = METER.after(snap, done.cpu_seconds)
    if done.returncode != 0:
        raise StageFailed(f"stage {stage} {params} exited with {done.returncode}:\n{tail(stem.with_suffix('.err'))}")
    result = json.loads(out.read_text(encoding="utf-8"))
    return result | load | {"wall_seconds": done.wall_seconds, "process_peak_bytes": done.peak_bytes}


def crowdlens_command() -> list[str]:
    """The crowdlens console script beside this Python, else ``python -m analytics.cli``."""
    script = Path(sys.executable).with_name("crowdlens")
    if script.exists():
        return [str(script)]
    found = shutil.which("crowdlens")
    return [found] if found else [sys.executable, "-m", "analytics.cli"]


def run_cli(
    name: str, args: Sequence[str], folder: Path, *, timeout: float | None = None
) -> tuple[dict[str, Any], Path]:
    """``crowdlens ARGS`` as a user runs it, start to exit: seconds, the child's peak memory,
    CPU seconds and the load; returns the figures and the file holding its standard output."""
    stem = folder / f"cli-{name}-{time.monotonic_ns()}"
    stdout, stderr = stem.with_suffix(".out"), stem.with_suffix(".err")
    snap = METER.before()
    done = run_command([*crowdlens_command(), *args], stdout, stderr, timeout=timeout)
    load = METER.after(snap, done.cpu_seconds)
    if done.returncode != 0:
        raise StageFailed(f"crowdlens {' '.join(args)} exited with {done.returncode}:\n{tail(stderr)}")
    figures = {
        "seconds": done.wall_seconds,
        "wall_seconds": done.wall_seconds,
        "peak_bytes": done.peak_bytes,
        "cpu_seconds": done.cpu_seconds,
        "command": "crowdlens " + " ".join(args),
    }
    return figures | load, stdout


def best_of(repeat: int, run_once: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """The fastest of ``repeat`` fresh-process runs (the least disturbed by other load on the
    machine), with every run's seconds, the highest peak memory and load, every version stored."""
    return fastest([run_once(i) for i in range(repeat)])


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`best_of` of runs made already (the stages of a round taken by turns)."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["all_seconds"] = [r["seconds"] for r in runs]
    for key in ("peak_bytes", "other_cores", "load"):
        best[key] = max(r.get(key, 0.0) for r in runs)
    if "version" in best:
        best["versions"] = [r["version"] for r in runs]
    return best


def memory_total_bytes() -> int:
    """The machine's memory (Linux /proc/meminfo; 0 elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
