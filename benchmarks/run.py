"""`make bench`: seconds and peak memory to import, store, open and report on 10^5..10^7 answers, beside crowd-kit.

For each size and overlap a seeded Toloka results TSV is generated (benchmarks/generate.py:
Pareto annotator activity, 5 % spammers, one control task per suite of 10). Then each stage
runs in a fresh process (benchmarks/stage.py), so each peak-memory figure is that stage's own:

  import     Toloka TSV -> canonical run (analytics.sources.read_files)
  store      analytics.versions.import_run (the manifest figures, then Workspace.add_version)
  open       Workspace.open_run
  report     the full report (every metric + Dawid-Skene, 20 iterations) on the run opened from
             the workspace: analytics.report.build_report, or the metrics called one by one
             while it does not exist (the output says which was timed)
  crowd-kit  the same figures through crowd-kit calls and pandas groupbys (benchmarks/workloads.py),
             one process per call; a call whose estimate (fitted on the smaller sizes) would take
             the crowd-kit side past --crowdkit-limit-seconds is skipped and its estimate shown as ~N

Generation time is printed and counted nowhere. The goals are printed beside the figures, not
asserted. Figures also go to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
STAGE = BENCH_DIR / "stage.py"
DEFAULT_OUT = BENCH_DIR.parent / "bench-out" / "bench.json"  # bench-out/ is git-ignored
SEED = 0
GB = 1e9
MILLION = 1_000_000
SETUP_SLACK_SECONDS = 120  # a crowd-kit process also opens the run before its timed call
# The step names and order of workloads.BASELINE_STEPS, repeated so that this process imports
# neither pandas nor numpy: on Linux a child's ru_maxrss starts from its parent's resident memory
# at the fork (1.6 GB held here shows up as a 1.6 GB peak in a child that allocates nothing).
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
}  # ../shared/DESIGN.md: ~2 s/iteration per 10^6
GOALS = {"report_1e6_seconds": 3.0, "speedup_1e6": 10.0, "report_1e7_seconds": 30.0, "report_1e7_peak_gb": 6.0}


class StageFailed(RuntimeError):
    pass


class StageTimedOut(RuntimeError):
    pass


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", type=parse_sizes, default=parse_sizes("1e5,1e6,1e7"), help="numbers of answers (default 1e5,1e6,1e7)"
    )
    p.add_argument(
        "--overlaps", type=parse_overlaps, default=parse_overlaps("3,5"), help="answers per task (default 3,5)"
    )
    p.add_argument("--skip-crowdkit", action="store_true", help="time crowdlens only")
    p.add_argument(
        "--crowdkit-limit-seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="budget of the crowd-kit side per size and overlap (default 600)",
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        metavar="K",
        help="run import, store, open and report K times each (fresh processes) and keep the fastest (default 1)",
    )
    p.add_argument(
        "--skip-pages", action="store_true", help="do not time the dashboard pages (AppTest) on each version"
    )
    p.add_argument(
        "--profile", action="store_true", help="also run each report once under cProfile and print where its time goes"
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="where generated files and workspaces go (default: a temporary folder, removed afterwards)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"JSON with every figure (default {DEFAULT_OUT.relative_to(BENCH_DIR.parent)})",
    )
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# running stages


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_stage(stage: str, params: dict[str, Any], folder: Path, *, timeout: float | None = None) -> dict[str, Any]:
    """Run one stage of benchmarks/stage.py in a fresh process and return its JSON result."""
    out = folder / f"{stage}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(STAGE), stage, json.dumps(params), str(out)]
    busy = cpu_busy_seconds()
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=BENCH_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StageTimedOut(f"{stage} was stopped after {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise StageFailed(f"stage {stage} {params} exited with {proc.returncode}:\n{tail}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["wall_seconds"] = time.perf_counter() - start
    # cores kept busy by other processes meanwhile: with 2 cores, 1 means the stage had half the machine
    others = cpu_busy_seconds() - busy - result["cpu_seconds"]
    result["other_cores"] = max(0.0, others) / result["wall_seconds"]
    return result


def cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


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


def crowdkit_side(
    answers: int, overlap: int, ws: Path, version: str, folder: Path, args: argparse.Namespace, history: History
) -> dict[str, Any]:
    """Each crowd-kit/pandas step in its own process, within --crowdkit-limit-seconds in total."""
    steps: dict[str, dict[str, Any]] = {}
    if args.skip_crowdkit:
        return {"steps": {s: {"status": "skipped", "why": "--skip-crowdkit"} for s in BASELINE_STEPS}}
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


def crowdkit_total(side: dict[str, Any]) -> tuple[float | None, str]:
    """Seconds of the crowd-kit steps that do the report's work, and a qualifier: "" when all
    were measured, "~" when estimates are included, ">" when one was stopped at the limit."""
    steps = [side["steps"][s] for s in SAME_WORK_AS_REPORT if s in side["steps"]]
    if not steps:
        return None, ""
    if any(s["status"] == "skipped" for s in steps):
        return None, ""
    total = sum(s["seconds"] for s in steps)
    if any(s["status"] == "timeout" for s in steps):
        return total, ">"
    return total, "~" if any(s["status"] == "estimated" for s in steps) else ""


def best_of(repeat: int, run_once: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """The fastest of ``repeat`` fresh-process runs (the least disturbed by other load on the
    machine), with every run's seconds, the highest peak memory and every version stored."""
    runs = [run_once(i) for i in range(repeat)]
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["all_seconds"] = [r["seconds"] for r in runs]
    best["peak_bytes"] = max(r["peak_bytes"] for r in runs)
    best["other_cores"] = max(r["other_cores"] for r in runs)
    if "version" in best:
        best["versions"] = [r["version"] for r in runs]
    return best


def bench_case(answers: int, overlap: int, workdir: Path, args: argparse.Namespace, history: History) -> dict[str, Any]:
    """Generate one run, then time every stage on it; the case's files are removed afterwards."""
    folder = workdir / f"n{answers}-o{overlap}"
    folder.mkdir(parents=True, exist_ok=True)
    tsv, pickled, ws = folder / "run.tsv", folder / "run.pickle", folder / "workspace"
    case: dict[str, Any] = {"answers_requested": answers, "overlap": overlap}
    try:
        log(f"{answers:,} answers, overlap {overlap}")
        case["generate"] = run_stage(
            "generate", {"answers": answers, "overlap": overlap, "seed": SEED, "tsv": str(tsv)}, folder
        )
        case["import"] = best_of(
            args.repeat, lambda i: run_stage("import", {"tsv": str(tsv), "pickled": str(pickled)}, folder)
        )
        # a version is immutable: each repeat stores into a workspace of its own
        case["store"] = best_of(
            args.repeat, lambda i: run_stage("store", {"pickled": str(pickled), "workspace": f"{ws}-{i}"}, folder)
        )
        ws = Path(f"{ws}-0")
        version = case["store"]["version"] = case["store"]["versions"][0]
        case["open"] = best_of(
            args.repeat, lambda i: run_stage("open", {"workspace": str(ws), "version": version}, folder)
        )
        case["report"] = best_of(
            args.repeat, lambda i: run_stage("report", {"workspace": str(ws), "version": version}, folder)
        )
        log(
            "    "
            + ", ".join(f"{s} {case[s]['seconds']:.2f} s" for s in ("generate", "import", "store", "open", "report"))
        )
        if not args.skip_pages:
            case["pages"] = run_stage("pages", {"workspace": str(ws), "version": version}, folder)
            log(
                "    dashboard: cold open {:.2f} s, slowest first open {:.2f} s, slowest rerun {:.2f} s".format(
                    case["pages"]["cold_open_seconds"],
                    max(p["first_seconds"] for p in case["pages"]["pages"].values()),
                    max(p["rerun_seconds"] for p in case["pages"]["pages"].values()),
                )
            )
        if args.profile:
            case["profile"] = run_stage(
                "report", {"workspace": str(ws), "version": version, "profile": True}, folder
            ).get("profile", [])
        case["crowdkit"] = crowdkit_side(answers, overlap, ws, version, folder, args, history)
    except StageFailed as err:
        case["error"] = str(err)
        log(f"    FAILED: {err}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return case


# --------------------------------------------------------------------------------------------
# printing


def fmt_s(x: float | None, qualifier: str = "") -> str:
    if x is None:
        return "-"
    return f"{qualifier}{x:.0f}" if x >= 100 else f"{qualifier}{x:.2f}" if x < 10 else f"{qualifier}{x:.1f}"


def fmt_gb(b: float | None) -> str:
    return "-" if b is None else f"{b / GB:.2f}"


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


MAIN_COLUMNS = (
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
)


def speedup(case: dict[str, Any]) -> tuple[float | None, str]:
    total, q = crowdkit_total(case.get("crowdkit", {"steps": {}}))
    if total is None or "report" not in case or not case.get("crowdkit", {}).get("steps"):
        return None, ""
    return total / case["report"]["seconds"], q


def main_row(case: dict[str, Any]) -> list[str]:
    get = lambda stage, key: case.get(stage, {}).get(key)  # noqa: E731
    n = get("import", "answers") or case["answers_requested"]
    if "error" in case and "report" not in case:
        return [f"{n:,}", str(case["overlap"]), "failed"] + [""] * (len(MAIN_COLUMNS) - 3)
    total, q = crowdkit_total(case.get("crowdkit", {"steps": {}})) if case.get("crowdkit") else (None, "")
    ratio, rq = speedup(case)
    ck_steps = [s for s in case.get("crowdkit", {}).get("steps", {}).values() if s["status"] == "measured"]
    ck_peak = max((s["peak_bytes"] for s in ck_steps), default=None)
    return [
        f"{n:,}",
        str(case["overlap"]),
        fmt_s(get("generate", "seconds")),
        fmt_s(get("import", "seconds")),
        fmt_s(get("store", "seconds")),
        fmt_s(get("open", "seconds")),
        fmt_s(get("report", "seconds")),
        "skipped" if total is None else fmt_s(total, q),
        "-" if ratio is None else f"{rq}{ratio:.0f}x" if ratio >= 10 else f"{rq}{ratio:.1f}x",
        fmt_gb(get("import", "peak_bytes")),
        fmt_gb(get("store", "peak_bytes")),
        fmt_gb(get("open", "peak_bytes")),
        fmt_gb(get("report", "peak_bytes")),
        fmt_gb(ck_peak) + ("" if len(ck_steps) == len(BASELINE_STEPS) or ck_peak is None else "*"),
    ]


def step_cell(s: dict[str, Any]) -> str:
    if s["status"] == "measured":
        return fmt_s(s["seconds"])
    if s["status"] == "estimated":
        return fmt_s(s["seconds"], "~") + " est"
    if s["status"] == "timeout":
        return fmt_s(s["seconds"], ">")
    return "skipped"


def crowdkit_table(cases: list[dict[str, Any]]) -> str:
    rows = [
        [f"{c['import']['answers']:,}", str(c["overlap"])]
        + [step_cell(c["crowdkit"]["steps"][s]) for s in BASELINE_STEPS]
        for c in cases
        if c.get("crowdkit")
    ]
    return render(["answers", "overlap", *BASELINE_STEPS], rows)


def where_time_goes(case: dict[str, Any], top: int = 8) -> list[str]:
    """The report's largest parts: its own per-section seconds, or the cProfile summary."""
    n = f"{case['import']['answers']:,} answers, overlap {case['overlap']}"
    total = case["report"]["seconds"]
    parts = dict(case["report"].get("parts") or {})
    lines = []
    if parts:
        parts["(outside the timed sections)"] = max(0.0, total - sum(parts.values()))
        items = sorted(parts.items(), key=lambda kv: -kv[1])[:top]
        lines += [f"  report on {n} ({total:.2f} s), largest parts:"] + [f"    {v:7.2f} s  {k}" for k, v in items]
    if case.get("profile"):
        lines += [f"  report on {n}, cumulative seconds under cProfile (threads' work shows as lock waits):"] + [
            f"    {p['seconds']:7.2f} s  {p['function']} ({p['calls']} calls)" for p in case["profile"][:top]
        ]
    return lines


def pandas_parts(case: dict[str, Any]) -> list[str]:
    step = case.get("crowdkit", {}).get("steps", {}).get("pandas (rest)", {})
    parts = step.get("parts")
    if not parts:
        return []
    n = f"{case['import']['answers']:,} answers, overlap {case['overlap']}"
    items = sorted(parts.items(), key=lambda kv: -kv[1])
    return [f"  pandas (rest) on {n}: " + ", ".join(f"{k} {v:.2f} s" for k, v in items)]


def goal_lines(cases: list[dict[str, Any]]) -> list[str]:
    """Each goal with the figures that bear on it, met or missed (printed, never asserted)."""

    def at(n: int) -> list[dict[str, Any]]:
        return [c for c in cases if "report" in c and abs(c["import"]["answers"] - n) <= n // 100]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = []
    specs = [
        (
            f"full report on 10^6 answers opened from the workspace < {GOALS['report_1e6_seconds']:g} s",
            MILLION,
            lambda c: (f"{c['report']['seconds']:.2f} s", c["report"]["seconds"] < GOALS["report_1e6_seconds"]),
        ),
        (f"full report on 10^6 answers >= {GOALS['speedup_1e6']:g}x faster than crowd-kit", MILLION, speedup_goal),
        (
            f"full report on 10^7 answers < {GOALS['report_1e7_seconds']:g} s",
            10 * MILLION,
            lambda c: (f"{c['report']['seconds']:.1f} s", c["report"]["seconds"] < GOALS["report_1e7_seconds"]),
        ),
        (
            f"peak memory of the report on 10^7 answers < {GOALS['report_1e7_peak_gb']:g} GB",
            10 * MILLION,
            lambda c: (
                f"{c['report']['peak_bytes'] / GB:.2f} GB",
                c["report"]["peak_bytes"] < GOALS["report_1e7_peak_gb"] * GB,
            ),
        ),
    ]
    for text, n, check in specs:
        found = at(n)
        if not found:
            lines.append(f"  {text}: not measured (add {n:.0e} to --sizes)".replace("e+0", "e"))
            continue
        results = []
        for c in found:
            shown, ok = check(c)
            results.append(f"overlap {c['overlap']}: {shown} " + ("" if ok is None else verdict(ok)))
        lines.append(f"  {text}: " + "; ".join(r.strip() for r in results))
    return lines


def speedup_goal(case: dict[str, Any]) -> tuple[str, bool | None]:
    ratio, q = speedup(case)
    if ratio is None:
        return "crowd-kit not run", None
    return f"{q}{ratio:.1f}x", ratio >= GOALS["speedup_1e6"]


def print_results(cases: list[dict[str, Any]], report_path: str) -> None:
    done = [c for c in cases if "report" in c]
    print()
    print(render(MAIN_COLUMNS, [main_row(c) for c in cases]))
    print()
    print("seconds of wall time; mem = peak resident memory of the stage's own process, GB (10^9 bytes).")
    print("gen = writing the TSV (counted nowhere). crowd-kit s = " + " + ".join(SAME_WORK_AS_REPORT) + ",")
    print("the report's own work; ratio = crowd-kit s / report s; ~ = includes estimates of calls skipped")
    print("to stay within --crowdkit-limit-seconds; * = peak of the crowd-kit calls that ran.")
    print(f"report timed: {report_path}")
    busy = [c[s]["other_cores"] for c in done for s in ("import", "store", "open", "report")]
    busy += [
        s["other_cores"]
        for c in done
        for s in c.get("crowdkit", {}).get("steps", {}).values()
        if s["status"] == "measured"
    ]
    if busy:
        print(
            f"other processes kept {min(busy):.1f} to {max(busy):.1f} of the {os.cpu_count()} cores busy "
            "during the stages" + (" (figures slower than on a quiet machine)" if max(busy) > 0.3 else "")
        )
    if any(s["status"] != "skipped" for c in done for s in c.get("crowdkit", {}).get("steps", {}).values()):
        print()
        others = ", ".join(s for s in BASELINE_STEPS if s not in SAME_WORK_AS_REPORT)
        print(
            "crowd-kit side, seconds per call (each in its own process; crowd-kit on int64 codes; "
            f"{others} not in the ratio):"
        )
        print(crowdkit_table(done))
        for c in done:
            for line in pandas_parts(c):
                print(line)
    lines = [line for c in done for line in where_time_goes(c)]
    if lines:
        print()
        print("where the report's time goes:")
        print("\n".join(lines))
    paged = [c for c in done if "pages" in c]
    if paged:
        print()
        print("dashboard (AppTest, one process as one server): cold = the version opened and the Overview drawn;")
        print("first = a page's first open once the version is cached; rerun = the same page again (a filter or click)")
        titles = list(paged[0]["pages"]["pages"])
        header = ["answers", "overlap", "cold s"] + [f"{t} first/rerun s" for t in titles]
        rows = []
        for c in paged:
            pg = c["pages"]
            rows.append(
                [f"{c['answers_requested']:,}", str(c["overlap"]), f"{pg['cold_open_seconds']:.2f}"]
                + [f"{pg['pages'][t]['first_seconds']:.2f}/{pg['pages'][t]['rerun_seconds']:.2f}" for t in titles]
            )
        print(render(header, rows))
        big = [c for c in paged if c["answers_requested"] >= 10 * MILLION]
        for c in big:
            first = max(p["first_seconds"] for p in c["pages"]["pages"].values())
            rerun = max(p["rerun_seconds"] for p in c["pages"]["pages"].values())
            print(
                f"dashboard on {c['answers_requested']:,} answers, overlap {c['overlap']}: "
                f"slowest first open {first:.1f} s (goal < 10 s: "
                f"{'met' if first < 10 else 'NOT met'}), slowest rerun {rerun:.2f} s "
                f"(goal < 1 s: {'met' if rerun < 1 else 'NOT met'})"
            )
    print()
    print("goals (printed, not asserted):")
    print("\n".join(goal_lines(done)))
    for c in cases:
        if "error" in c:
            print(f"\n{c['answers_requested']:,} answers, overlap {c['overlap']} failed: {c['error']}")


def environment() -> dict[str, Any]:
    versions = {}
    for dist in ("numpy", "pandas", "pyarrow", "scipy", "crowd-kit", "crowdlens"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def report_path_of(cases: list[dict[str, Any]]) -> str:
    paths = {c["report"]["path"] for c in cases if "report" in c}
    return " | ".join(sorted(paths)) or "(no report ran)"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    own = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="crowdlens-bench-")) if own else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    history = History()
    cases = []
    try:
        for answers in args.sizes:
            for overlap in args.overlaps:
                cases.append(bench_case(answers, overlap, workdir, args, history))
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    path = report_path_of(cases)
    print_results(cases, path)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "environment": environment(),
        "report_path": path,
        "goals": GOALS,
        "cases": cases,
    }
    args.out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(f"\nfigures written to {args.out}")
    return 1 if any("error" in c for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
