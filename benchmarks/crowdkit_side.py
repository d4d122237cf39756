"""The crowd-kit/pandas side: its calls in-process, its whole script from the TSV, and its needs where not run.

No numpy or pandas here (see benchmarks/procs.py): every call runs in a stage process.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import StageFailed, StageTimedOut, log, run_stage

MILLION = 1_000_000
SETUP_SLACK_SECONDS = 120  # a crowd-kit process also opens the run before its timed call
WHOLE = "crowd-kit script (TSV -> figures)"
# The step names and order of workloads.BASELINE_STEPS, repeated so that the bench's process
# imports neither pandas nor numpy (tests/test_bench_smoke.py checks that they agree).
BASELINE_STEPS = (
    "MajorityVote",
    "pandas (rest)",
    "DawidSkene(20)",
    "alpha_krippendorff",
    "Wawa",
    "OneCoinDawidSkene(20)",
)
SAME_WORK_AS_REPORT = BASELINE_STEPS[:4]  # the report has no Wawa and no one-coin DS
PRIOR_SECONDS_PER_MILLION = {
    "DawidSkene(20)": 40.0,
    "OneCoinDawidSkene(20)": 40.0,
    WHOLE: 60.0,
}  # ../shared/DESIGN.md: ~2 s/iteration per 10^6
MEMORY_PROBE_ANSWERS = MILLION  # where pandas' memory per answer is measured for sizes not run


@dataclass
class History:
    """Seconds each crowd-kit step took at the sizes measured so far, for estimating the next."""

    points: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)

    def add(self, step: str, answers: int, overlap: int, seconds: float) -> None:
        self.points.setdefault(step, []).append((answers, overlap, seconds))

    def estimate(self, step: str, answers: int, overlap: int) -> float | None:
        """Seconds at ``answers``: a power law through the two largest smaller sizes measured
        (same overlap preferred; exponent clamped to [1, 2]), linear from one, else the prior."""
        smaller = [p for p in self.points.get(step, []) if p[0] < answers]
        same = [p for p in smaller if p[1] == overlap]
        pts = sorted(same or smaller)
        if not pts:
            prior = PRIOR_SECONDS_PER_MILLION.get(step)
            return None if prior is None else prior * answers / MILLION
        n2, _, t2 = pts[-1]
        exponent = 1.0
        lower = [p for p in pts if p[0] < n2]
        if lower:
            n1, _, t1 = lower[-1]
            if t1 > 0 and t2 > 0:
                exponent = min(2.0, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
        return t2 * (answers / n2) ** exponent


def skipped(why: str) -> dict[str, Any]:
    return {"steps": {s: {"status": "skipped", "why": why} for s in BASELINE_STEPS}}


def crowdkit_side(
    answers: int, overlap: int, ws: Path, version: str, folder: Path, args: argparse.Namespace, history: History
) -> dict[str, Any]:
    """Each crowd-kit/pandas step in its own process, within --crowdkit-limit-seconds in total."""
    steps: dict[str, dict[str, Any]] = {}
    limit = args.crowdkit_limit_seconds
    spent = 0.0
    for step in BASELINE_STEPS:
        est = history.estimate(step, answers, overlap)
        remaining = limit - spent
        if est is not None and est > remaining:
            steps[step] = {
                "status": "estimated",
                "seconds": est,
                "why": f"estimate {est:.0f} s > {remaining:.0f} s left of the {limit:.0f} s limit",
            }
            log(f"    crowd-kit {step}: skipped, estimated {est:.0f} s")
            continue
        params = {"workspace": str(ws), "version": version, "step": step}
        try:
            r = run_stage("baseline", params, folder, timeout=max(remaining, 1.0) + SETUP_SLACK_SECONDS)
        except StageTimedOut as err:
            steps[step] = {"status": "timeout", "seconds": remaining, "why": str(err)}
            spent = limit
            log(f"    crowd-kit {step}: {err}")
            continue
        steps[step] = {"status": "measured"} | r
        spent += r["seconds"]
        history.add(step, answers, overlap, r["seconds"])
        log(f"    crowd-kit {step}: {r['seconds']:.2f} s")
    return {"steps": steps}


def crowdkit_whole(
    answers: int, overlap: int, tsv: Path, folder: Path, args: argparse.Namespace, history: History
) -> dict[str, Any]:
    """The crowd-kit path as one script a user runs (pandas reads the TSV, then the calls),
    timed start to exit; skipped with its estimate when that exceeds --crowdkit-limit-seconds."""
    limit = args.crowdkit_limit_seconds
    est = history.estimate(WHOLE, answers, overlap)
    if est is not None and est > limit:
        log(f"    {WHOLE}: skipped, estimated {est:.0f} s")
        return {"status": "estimated", "seconds": est, "why": f"estimate {est:.0f} s > the {limit:.0f} s limit"}
    try:
        r = run_stage("crowdkit_tsv", {"tsv": str(tsv)}, folder, timeout=limit)
    except StageTimedOut as err:
        log(f"    {WHOLE}: {err}")
        return {"status": "timeout", "seconds": limit, "why": str(err)}
    history.add(WHOLE, answers, overlap, r["wall_seconds"])
    log(f"    {WHOLE}: {r['wall_seconds']:.2f} s start to exit")
    return {"status": "measured"} | r | {"seconds": r["wall_seconds"], "work_seconds": r["seconds"]}


def crowdkit_total(side: dict[str, Any]) -> tuple[float | None, str]:
    """Seconds of the crowd-kit steps that do the report's work, and a qualifier: "" when all
    were measured, "~" when estimates are included, ">" when one was stopped at the limit."""
    steps = [side["steps"][s] for s in SAME_WORK_AS_REPORT if s in side.get("steps", {})]
    if not steps or any(s["status"] == "skipped" for s in steps):
        return None, ""
    total = sum(s["seconds"] for s in steps)
    if any(s["status"] == "timeout" for s in steps):
        return total, ">"
    return total, "~" if any(s["status"] == "estimated" for s in steps) else ""


def qualifier(entry: dict[str, Any]) -> str:
    return {"estimated": "~", "timeout": ">"}.get(entry.get("status", ""), "")


def memory_need(answers: int, probe: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """What the pandas/crowd-kit path would need at ``answers``: pandas' bytes per answer
    measured on a smaller run (the frames and the reading process's peak), and the peak per
    answer of crowd-kit's Dawid-Skene where this run measured it, each scaled linearly."""
    n = probe["answers"]
    need = {
        "answers": answers,
        "probe_answers": n,
        "frames_bytes": (probe["answers_frame_bytes_per_answer"] + probe["crowdkit_frame_bytes_per_answer"]) * answers,
        "read_peak_bytes": probe["peak_bytes"] * answers / n,
        "probe": probe,
    }
    ds = [
        (c["answers_requested"], c["crowdkit"]["steps"]["DawidSkene(20)"]["peak_bytes"])
        for c in cases
        if c.get("crowdkit", {}).get("steps", {}).get("DawidSkene(20)", {}).get("status") == "measured"
    ]
    if ds:
        size, peak = max(ds)
        need["ds_peak_bytes"] = peak * answers / size
        need["ds_probe_answers"] = size
    whole = [
        (c["answers_requested"], c["crowdkit_whole"]["peak_bytes"])
        for c in cases
        if c.get("crowdkit_whole", {}).get("status") == "measured"
    ]
    if whole:
        size, peak = max(whole)
        need["script_peak_bytes"] = peak * answers / size
        need["script_probe_answers"] = size
    return need


def probe_memory(overlap: int, seed: int, folder: Path) -> dict[str, Any]:
    """pandas' memory per answer at :data:`MEMORY_PROBE_ANSWERS` (a run generated for it)."""
    folder.mkdir(parents=True, exist_ok=True)
    tsv = folder / "probe.tsv"
    params = {"answers": MEMORY_PROBE_ANSWERS, "overlap": overlap, "seed": seed, "tsv": str(tsv)}
    run_stage("generate", params, folder)
    try:
        return run_stage("pandas_memory", {"tsv": str(tsv)}, folder)
    except StageFailed as err:
        return {"error": str(err)}
    finally:
        tsv.unlink(missing_ok=True)
