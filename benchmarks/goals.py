"""The goals of the bench (issue #16 and before), each with its figures, how they were measured and a verdict.

A verdict is given only when no stage of the run ran with the load of other processes above
procs.MAX_LOAD; otherwise each goal shows its figure and "not judged (LOADED)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import crowdkit_side as ck
from procs import MAX_LOAD, is_loaded

GB = 1e9
MILLION = 1_000_000
GOALS = {
    "report_1e6_seconds": 3.0,
    "speedup_1e6": 10.0,
    "report_1e7_seconds": 30.0,
    "report_1e7_peak_gb": 6.0,
    "import_1e7_peak_gb": 1.5,
    "import_1e7_vs_duckdb_copy": 1.3,
    "cli_report_1e7_vs_floor": 1.5,
    "cli_report_1e7_peak_gb": 2.0,
    "cli_report_tsv_1e7_vs_floor": 1.5,
    "pages_1e7_first_seconds": 5.0,
    "pages_1e7_rerun_seconds": 0.5,
    "run_1e8_peak_gb": 24.0,
}
IN, WHOLE = "in-process", "whole-process"
STAGE_NAMES = {
    "generate": "generate the TSV",
    "cli_import": "crowdlens import",
    "duckdb_copy": "DuckDB COPY",
    "duckdb_sql": "DuckDB SQL",
    "floor_ws": "floor",
    "floor_tsv": "TSV floor",
    "cli_report": "crowdlens report",
    "cli_report_tsv": "crowdlens report TSV",
    "crowdkit_whole": ck.WHOLE,
    "import": "import (read_files)",
    "store": "store (import_run)",
    "open": "open (open_run)",
    "report": "report (build_report)",
    "pages": "pages (AppTest, cold open)",
}


def stages(case: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every stage result of a case (the crowd-kit calls included), as (name, figures)."""
    for key, value in case.items():
        if isinstance(value, dict) and "wall_seconds" in value:
            yield key, value
    for step, s in case.get("crowdkit", {}).get("steps", {}).items():
        if s.get("status") == "measured":
            yield f"crowd-kit {step}", s
    probe = case.get("crowdkit_need", {}).get("probe")
    if probe:
        yield "pandas memory probe", probe


def loaded_stages(cases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    return [(c, name, s) for c in cases for name, s in stages(c) if is_loaded(s)]


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "wall_seconds") -> float | None:
    if not a or not b or not b.get(key):
        return None
    return a[key] / b[key]


def speedup(case: dict[str, Any]) -> tuple[float | None, str]:
    """crowd-kit's in-process calls (the report's work) / crowdlens' in-process report."""
    total, q = ck.crowdkit_total(case.get("crowdkit", {"steps": {}}))
    if total is None or "report" not in case:
        return None, ""
    return total / case["report"]["seconds"], q


def whole_speedup(case: dict[str, Any]) -> tuple[float | None, str]:
    """The crowd-kit script from the TSV / `crowdlens report TSV`, both start to exit."""
    whole = case.get("crowdkit_whole")
    if not whole or "cli_report_tsv" not in case:
        return None, ""
    return whole["seconds"] / case["cli_report_tsv"]["wall_seconds"], ck.qualifier(whole)


@dataclass
class Goal:
    text: str
    scope: str
    answers: int
    check: Callable[[dict[str, Any]], tuple[str, bool | None]]
    needs: tuple[str, ...]


def _seconds(stage: str, limit: float, key: str = "seconds") -> Callable[[dict[str, Any]], tuple[str, bool]]:
    return lambda c: (f"{c[stage][key]:.2f} s", c[stage][key] < limit)


def _peak(stage: str, limit_gb: float) -> Callable[[dict[str, Any]], tuple[str, bool]]:
    return lambda c: (f"{c[stage]['peak_bytes'] / GB:.2f} GB", c[stage]["peak_bytes"] < limit_gb * GB)


def _within(stage: str, floor: str, times: float) -> Callable[[dict[str, Any]], tuple[str, bool]]:
    def check(c: dict[str, Any]) -> tuple[str, bool]:
        r = ratio(c[stage], c[floor])
        return f"{c[stage]['wall_seconds']:.2f} s / {c[floor]['wall_seconds']:.2f} s = {r:.2f}x", r <= times

    return check


def _speedup_goal(c: dict[str, Any]) -> tuple[str, bool | None]:
    r, q = speedup(c)
    if r is None:
        return "crowd-kit not run", None
    return f"{q}{r:.1f}x", r >= GOALS["speedup_1e6"]


def _pages(key: str, limit: float) -> Callable[[dict[str, Any]], tuple[str, bool]]:
    def check(c: dict[str, Any]) -> tuple[str, bool]:
        worst_title, worst = max(((t, p[key]) for t, p in c["pages"]["pages"].items()), key=lambda tp: tp[1])
        return f"slowest {worst:.2f} s ({worst_title})", worst < limit

    return check


def _hundred_million(c: dict[str, Any]) -> tuple[str, bool]:
    peak = max(s.get("peak_bytes", 0) for _, s in stages(c))
    done = "error" not in c and all(k in c for k in ("cli_import", "cli_report"))
    return f"{'completed' if done else 'did not complete'}, largest peak {peak / GB:.1f} GB", done and peak < (
        GOALS["run_1e8_peak_gb"] * GB
    )


G = GOALS
# fmt: off
SPECS = (
    Goal(f"full report on 10^6 answers opened from the workspace < {G['report_1e6_seconds']:g} s", IN, MILLION, _seconds("report", G["report_1e6_seconds"]), ("report",)),  # noqa: E501
    Goal(f"full report on 10^6 answers >= {G['speedup_1e6']:g}x faster than crowd-kit's calls", IN, MILLION, _speedup_goal, ("report",)),  # noqa: E501
    Goal(f"full report on 10^7 answers < {G['report_1e7_seconds']:g} s", IN, 10 * MILLION, _seconds("report", G["report_1e7_seconds"]), ("report",)),  # noqa: E501
    Goal(f"peak memory of the report on 10^7 answers < {G['report_1e7_peak_gb']:g} GB", IN, 10 * MILLION, _peak("report", G["report_1e7_peak_gb"]), ("report",)),  # noqa: E501
    Goal(f"crowdlens import of the 10^7 TSV: peak < {G['import_1e7_peak_gb']:g} GB", WHOLE, 10 * MILLION, _peak("cli_import", G["import_1e7_peak_gb"]), ("cli_import",)),  # noqa: E501
    Goal(f"crowdlens import of the 10^7 TSV within {G['import_1e7_vs_duckdb_copy']:g}x of DuckDB's COPY to Parquet", WHOLE, 10 * MILLION, _within("cli_import", "duckdb_copy", G["import_1e7_vs_duckdb_copy"]), ("cli_import", "duckdb_copy")),  # noqa: E501
    Goal(f"crowdlens report on 10^7 from the workspace within {G['cli_report_1e7_vs_floor']:g}x of the floor", WHOLE, 10 * MILLION, _within("cli_report", "floor_ws", G["cli_report_1e7_vs_floor"]), ("cli_report", "floor_ws")),  # noqa: E501
    Goal(f"crowdlens report on 10^7 from the workspace: peak < {G['cli_report_1e7_peak_gb']:g} GB", WHOLE, 10 * MILLION, _peak("cli_report", G["cli_report_1e7_peak_gb"]), ("cli_report",)),  # noqa: E501
    Goal(f"crowdlens report on the 10^7 TSV within {G['cli_report_tsv_1e7_vs_floor']:g}x of the TSV floor", WHOLE, 10 * MILLION, _within("cli_report_tsv", "floor_tsv", G["cli_report_tsv_1e7_vs_floor"]), ("cli_report_tsv", "floor_tsv")),  # noqa: E501
    Goal(f"dashboard on 10^7: every page's first open (version cached) < {G['pages_1e7_first_seconds']:g} s", IN, 10 * MILLION, _pages("first_seconds", G["pages_1e7_first_seconds"]), ("pages",)),  # noqa: E501
    Goal(f"dashboard on 10^7: every page's rerun < {G['pages_1e7_rerun_seconds']:g} s", IN, 10 * MILLION, _pages("rerun_seconds", G["pages_1e7_rerun_seconds"]), ("pages",)),  # noqa: E501
    Goal(f"10^8 answers generated, imported, reported and browsed, every process < {G['run_1e8_peak_gb']:g} GB", WHOLE, 100 * MILLION, _hundred_million, ()),  # noqa: E501
)
# fmt: on


def at(cases: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return [c for c in cases if abs(c["answers_requested"] - n) <= n // 100]


def verdicts(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each goal at each overlap measured: the figure, the load it ran with, and met (True),
    missed (False), None (not measurable) or "not judged" when the run was loaded."""
    loaded = bool(loaded_stages(cases))
    out = []
    for goal in SPECS:
        found = [c for c in at(cases, goal.answers) if all(k in c for k in goal.needs)]
        entry = {"goal": goal.text, "scope": goal.scope, "answers": goal.answers, "results": []}
        for c in found:
            shown, ok = goal.check(c)
            names = goal.needs or tuple(name for name, _ in stages(c))
            load = max((dict(stages(c))[k].get("load", 0.0) for k in names if k in dict(stages(c))), default=0.0)
            judged = "not judged" if loaded and ok is not None else ok
            entry["results"].append({"overlap": c["overlap"], "figure": shown, "load": load, "verdict": judged})
        out.append(entry)
    return out


def verdict_word(v: bool | str | None) -> str:
    return {True: "met", False: "MISSED", None: "", "not judged": "not judged (LOADED)"}[v]


def goal_lines(cases: list[dict[str, Any]]) -> list[str]:
    lines = []
    for entry in verdicts(cases):
        head = f"  [{entry['scope']}] {entry['goal']}: "
        if not entry["results"]:
            lines.append(head + f"not measured (add {entry['answers']:.0e} to --sizes)".replace("e+0", "e"))
            continue
        parts = [
            f"overlap {r['overlap']}: {r['figure']} (load {r['load']:.1f}) {verdict_word(r['verdict'])}".strip()
            for r in entry["results"]
        ]
        lines.append(head + "; ".join(parts))
    return lines


def loaded_lines(cases: list[dict[str, Any]]) -> list[str]:
    """The plain-words warning when any stage ran with other processes' load above MAX_LOAD."""
    hit = loaded_stages(cases)
    if not hit:
        return []
    worst = max(max(s.get("load", 0.0), s.get("other_cores", 0.0)) for _, _, s in hit)
    names = sorted(
        {f"{STAGE_NAMES.get(name, name)} ({c['answers_requested']:,}/o{c['overlap']})" for c, name, _ in hit}
    )
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return [
        f"LOADED: {len(hit)} stage(s) ran while other processes kept the load above {MAX_LOAD:g} "
        f"(up to {worst:.1f}): {shown}.",
        "LOADED: the figures above are slower than on a quiet machine; goals not judged. Rerun on a quiet machine.",
    ]
