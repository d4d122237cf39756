"""The bench's printed output: the tables of figures with the load beside each, the ratios, and the goals."""

from __future__ import annotations

from typing import Any, Sequence

import crowdkit_side as ck
import goals
from procs import MAX_LOAD

GB = 1e9
STAGE_NAMES = goals.STAGE_NAMES
WHOLE_STAGES = ("cli_import", "duckdb_copy", "duckdb_sql", "floor_ws", "floor_tsv", "cli_report", "cli_report_tsv")
WHOLE_TIMED = set(WHOLE_STAGES) | {"crowdkit_whole", "generate"}  # their figure is the process, start to exit


def fmt_s(x: float | None, qualifier: str = "") -> str:
    if x is None:
        return "-"
    return f"{qualifier}{x:.0f}" if x >= 100 else f"{qualifier}{x:.2f}" if x < 10 else f"{qualifier}{x:.1f}"


def fmt_gb(b: float | None) -> str:
    return "-" if b is None else f"{b / GB:.2f}"


def fmt_ratio(r: float | None, q: str = "") -> str:
    if r is None:
        return "-"
    return f"{q}{r:.0f}x" if r >= 10 else f"{q}{r:.2f}x"


def render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def answers_of(case: dict[str, Any]) -> str:
    n = case.get("import", {}).get("answers") or case["answers_requested"]
    return f"{n:,}"


def case_load(case: dict[str, Any]) -> float:
    return max((max(s.get("load", 0.0), s.get("other_cores", 0.0)) for _, s in goals.stages(case)), default=0.0)


def fmt_load(x: float) -> str:
    return f"{x:.1f}" + ("!" if x > MAX_LOAD else "")


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
    "load",
)


def main_row(case: dict[str, Any]) -> list[str]:
    get = lambda stage, key: case.get(stage, {}).get(key)  # noqa: E731
    if "error" in case and "report" not in case:
        return [answers_of(case), str(case["overlap"]), "failed"] + [""] * (len(MAIN_COLUMNS) - 3)
    total, q = ck.crowdkit_total(case.get("crowdkit", {"steps": {}}))
    ratio, rq = goals.speedup(case)
    ck_steps = [s for s in case.get("crowdkit", {}).get("steps", {}).values() if s["status"] == "measured"]
    ck_peak = max((s["peak_bytes"] for s in ck_steps), default=None)
    return [
        answers_of(case),
        str(case["overlap"]),
        fmt_s(get("generate", "seconds")),
        fmt_s(get("import", "seconds")) if "import" in case else "not run",
        fmt_s(get("store", "seconds")) if "store" in case else "not run",
        fmt_s(get("open", "seconds")),
        fmt_s(get("report", "seconds")),
        "skipped" if total is None else fmt_s(total, q),
        fmt_ratio(ratio, rq),
        fmt_gb(get("import", "peak_bytes")),
        fmt_gb(get("store", "peak_bytes")),
        fmt_gb(get("open", "peak_bytes")),
        fmt_gb(get("report", "peak_bytes")),
        fmt_gb(ck_peak) + ("" if len(ck_steps) == len(ck.BASELINE_STEPS) or ck_peak is None else "*"),
        fmt_load(case_load(case)),
    ]


STAGE_COLUMNS = ("answers", "overlap", "stage", "figure", "work s", "process s", "peak GB", "load", "others")


def stage_rows(cases: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for c in cases:
        for key, s in goals.stages(c):
            whole = key in WHOLE_TIMED
            work = (
                s.get("work_seconds", s.get("seconds"))
                if key not in ("cli_import", "cli_report", "cli_report_tsv")
                else None
            )  # noqa: E501
            rows.append(
                [
                    answers_of(c),
                    str(c["overlap"]),
                    STAGE_NAMES.get(key, key),
                    "whole" if whole else "in-process",
                    fmt_s(work),
                    fmt_s(s.get("wall_seconds")),
                    fmt_gb(s.get("peak_bytes")),
                    f"{fmt_load(s.get('load_before', 0.0))}/{fmt_load(s.get('load_after', 0.0))}",
                    f"{s.get('other_cores', 0.0):.2f}",
                ]
            )
    return rows


RATIO_COLUMNS = (
    "answers",
    "overlap",
    "import/COPY",
    "report/floor",
    "(work)",
    "TSV report/TSV floor",
    "report/SQL",
    "(work)",
    "crowd-kit/crowdlens in-process",
    "whole-process",
    "load",
)


def ratio_row(c: dict[str, Any]) -> list[str]:
    r = goals.ratio
    work = None
    if all(k in c for k in ("open", "report", "floor_ws")):
        work = (c["open"]["seconds"] + c["report"]["seconds"]) / c["floor_ws"]["seconds"]
    sql_work = None
    if all(k in c for k in ("open", "report", "duckdb_sql")):
        sql_work = (c["open"]["seconds"] + c["report"]["seconds"]) / c["duckdb_sql"]["seconds"]
    return [
        answers_of(c),
        str(c["overlap"]),
        fmt_ratio(r(c.get("cli_import"), c.get("duckdb_copy"))),
        fmt_ratio(r(c.get("cli_report"), c.get("floor_ws"))),
        fmt_ratio(work),
        fmt_ratio(r(c.get("cli_report_tsv"), c.get("floor_tsv"))),
        fmt_ratio(r(c.get("cli_report"), c.get("duckdb_sql"))),
        fmt_ratio(sql_work),
        fmt_ratio(*goals.speedup(c)),
        fmt_ratio(*goals.whole_speedup(c)),
        fmt_load(case_load(c)),
    ]


def print_ratios(cases: list[dict[str, Any]]) -> None:
    print()
    print("ratios (same run, same machine; whole processes unless marked (work)):")
    print(render(RATIO_COLUMNS, [ratio_row(c) for c in cases]))
    print("import/COPY = `crowdlens import` / DuckDB's COPY of the TSV to Parquet; report/floor = `crowdlens report`")
    print("of the version / the floor process; TSV report/TSV floor = `crowdlens report TSV` / the TSV floor process;")
    print(
        "report/SQL = `crowdlens report` (every figure + Dawid-Skene) / DuckDB's SQL (majority vote, golden accuracy,"
    )
    print("Fleiss' kappa; no Dawid-Skene); (work) = open_run + build_report in-process / the other side's timed work;")
    print(f"crowd-kit/crowdlens: in-process = the calls ({' + '.join(ck.SAME_WORK_AS_REPORT)})")
    print("/ build_report,", end=" ")
    print(f"whole-process = the {ck.WHOLE} / `crowdlens report TSV`, both start to exit. ~ estimate, > stopped.")


def step_cell(s: dict[str, Any]) -> str:
    if s["status"] == "measured":
        return fmt_s(s["seconds"])
    if s["status"] == "estimated":
        return fmt_s(s["seconds"], "~") + " est"
    if s["status"] == "timeout":
        return fmt_s(s["seconds"], ">")
    return "skipped"


def print_crowdkit(cases: list[dict[str, Any]]) -> None:
    ran = [c for c in cases if any(s["status"] != "skipped" for s in c.get("crowdkit", {}).get("steps", {}).values())]
    if ran:
        print()
        others = ", ".join(s for s in ck.BASELINE_STEPS if s not in ck.SAME_WORK_AS_REPORT)
        print(
            f"crowd-kit side, seconds per call (each in its own process, in-process timing; {others} not in the ratio):"
        )  # noqa: E501
        rows = [
            [answers_of(c), str(c["overlap"])] + [step_cell(c["crowdkit"]["steps"][s]) for s in ck.BASELINE_STEPS]
            for c in ran
        ]  # noqa: E501
        print(render(["answers", "overlap", *ck.BASELINE_STEPS], rows))
        for c in ran:
            parts = c["crowdkit"]["steps"].get("pandas (rest)", {}).get("parts")
            if parts:
                items = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
                print(f"  pandas (rest) on {answers_of(c)}/o{c['overlap']}: {items}")
            whole = c.get("crowdkit_whole", {})
            if whole.get("status") == "measured":
                parts = ", ".join(f"{k} {v:.2f} s" for k, v in whole["parts"].items())
                print(
                    f"  {ck.WHOLE} on {answers_of(c)}/o{c['overlap']}: {whole['wall_seconds']:.2f} s start to exit, "
                    f"peak {fmt_gb(whole['peak_bytes'])} GB ({parts})"
                )
            elif whole:
                print(f"  {ck.WHOLE} on {answers_of(c)}/o{c['overlap']}: {step_cell(whole)} ({whole.get('why', '')})")
    for c in cases:
        need = c.get("crowdkit_need")
        if need:
            print()
            print("\n".join(need_lines(c, need)))


def need_lines(c: dict[str, Any], need: dict[str, Any]) -> list[str]:
    """What the pandas/crowd-kit path would need where it was not run (extrapolated, and said so)."""
    head = f"crowd-kit/pandas path on {c['answers_requested']:,} answers: not run"
    if "error" in need:
        return [f"{head}; pandas' memory probe failed: {need['error']}"]
    p, n = need["probe"], need["probe_answers"]
    lines = [
        f"{head}. What it would need, extrapolated linearly from pandas measured on {n:,} answers "
        f"(load {fmt_load(p.get('load', 0.0))}):",
        f"  the frames it holds: {p['answers_frame_bytes_per_answer']:.0f} B/answer (the answers, categoricals) + "
        f"{p['crowdkit_frame_bytes_per_answer']:.0f} B/answer (crowd-kit's int64 task, worker, label) "
        f"= {need['frames_bytes'] / GB:.1f} GB;",
        f"  reading the TSV into them peaks at {p['peak_bytes'] / n:.0f} B/answer: "
        f"~{need['read_peak_bytes'] / GB:.1f} GB",
    ]
    for key, what in (("ds", "crowd-kit's DawidSkene(20)"), ("script", f"the {ck.WHOLE}")):
        if f"{key}_peak_bytes" in need:
            lines.append(
                f"  {what} would peak at ~{need[f'{key}_peak_bytes'] / GB:.1f} GB "
                f"(its peak on {need[f'{key}_probe_answers']:,} answers, scaled)"
            )
    return lines


def where_time_goes(case: dict[str, Any], top: int = 8) -> list[str]:
    """The report's largest parts (its own per-section seconds or cProfile), and the yardsticks' parts."""
    n = f"{answers_of(case)} answers, overlap {case['overlap']}"
    lines = []
    if "report" in case:
        total = case["report"]["seconds"]
        parts = dict(case["report"].get("parts") or {})
        if parts:
            parts["(outside the timed sections)"] = max(0.0, total - sum(parts.values()))
            items = sorted(parts.items(), key=lambda kv: -kv[1])[:top]
            lines += [f"  report on {n} ({total:.2f} s), largest parts:"] + [f"    {v:7.2f} s  {k}" for k, v in items]
    if case.get("profile"):
        lines += [f"  report on {n}, cumulative seconds under cProfile (threads' work shows as lock waits):"] + [
            f"    {p['seconds']:7.2f} s  {p['function']} ({p['calls']} calls)" for p in case["profile"][:top]
        ]
    for key in ("duckdb_copy", "duckdb_sql", "floor_ws", "floor_tsv"):
        if key in case:
            s = case[key]
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in s.get("parts", {}).items())
            lines.append(f"  {STAGE_NAMES[key]} on {n}: {parts} (process {s['wall_seconds']:.2f} s)")
    return lines


def print_pages(cases: list[dict[str, Any]]) -> None:
    paged = [c for c in cases if "pages" in c]
    if not paged:
        return
    print()
    print("dashboard (AppTest, one process as one server, in-process timing): cold = the version opened and the")
    print("Overview drawn; first = a page's first open once the version is cached; rerun = the same page again")
    titles = list(paged[0]["pages"]["pages"])
    header = ["answers", "overlap", "cold s"] + [f"{t} first/rerun s" for t in titles] + ["load"]
    rows = []
    for c in paged:
        pg = c["pages"]
        rows.append(
            [answers_of(c), str(c["overlap"]), f"{pg['cold_open_seconds']:.2f}"]
            + [f"{pg['pages'][t]['first_seconds']:.2f}/{pg['pages'][t]['rerun_seconds']:.2f}" for t in titles]
            + [fmt_load(max(pg.get("load", 0.0), pg.get("other_cores", 0.0)))]
        )
    print(render(header, rows))


def report_path_of(cases: list[dict[str, Any]]) -> str:
    paths = {c["report"]["path"] for c in cases if "report" in c}
    return " | ".join(sorted(paths)) or "(no report ran)"


def print_results(cases: list[dict[str, Any]], env: dict[str, Any]) -> None:
    print()
    print(render(MAIN_COLUMNS, [main_row(c) for c in cases]))
    print()
    print("in-process seconds of wall time (the timed work inside a fresh process); mem = peak resident memory of")
    print("the stage's own process, GB (10^9 bytes). gen = writing the TSV (counted nowhere). crowd-kit s =")
    print(" + ".join(ck.SAME_WORK_AS_REPORT) + ", the report's own work; ratio = crowd-kit s / report s; ~ = includes")
    print(
        "estimates of calls skipped to stay within --crowdkit-limit-seconds; * = peak of the crowd-kit calls that ran."
    )
    print(f"load = the highest load of other processes around the case's stages (! = above {MAX_LOAD:g}).")
    print(f"report timed: {report_path_of(cases)}")
    print()
    print("every stage, with the load it ran with:")
    print(render(STAGE_COLUMNS, stage_rows(cases)))
    print("figure: whole = the process from start to exit is the figure (process s), in-process = the timed work")
    print("(work s) is; peak = the process's peak resident memory (wait4/ru_maxrss); load = the 1-minute load")
    print("average of other processes (the machine's minus the bench's own share) before/after the stage;")
    print(f"others = cores kept busy by other processes during it (of {env.get('cpus')}); ! = above {MAX_LOAD:g}.")
    print_ratios(cases)
    print_crowdkit(cases)
    lines = [line for c in cases for line in where_time_goes(c)]
    if lines:
        print()
        print("where the time goes:")
        print("\n".join(lines))
    print_pages(cases)
    print()
    print("goals (printed, not asserted; [in-process] or [whole-process] says how the figure was timed):")
    print("\n".join(goals.goal_lines(cases)))
    loaded = goals.loaded_lines(cases)
    if loaded:
        print("\n".join(loaded))
    for c in cases:
        if "error" in c:
            print(f"\n{c['answers_requested']:,} answers, overlap {c['overlap']} failed: {c['error']}")
