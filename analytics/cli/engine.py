"""The data-engine commands: ``labels`` (the delivered label file) and ``plan`` (a budgeted re-annotation task file).

``crowdlens labels VERSION [--method M] [--format csv|parquet|jsonl] --out FILE`` writes one row
per task (inputs, label, confidence, method, tie rule, votes, agreement, golden, truth) and prints
how many labels are expected to be wrong. ``crowdlens plan VERSION --budget X
[--answers-per-task K] [--control-share S] --out tasks.tsv [--format tsv|json]`` writes a Toloka
task upload (``INPUT:`` columns, control tasks with ``GOLDEN:``) or the plan as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.cli.files import add_workspace_option, open_workspace
from analytics.metrics import aggregation, registry
from analytics.model import Run
from analytics.sources import store as stores
from analytics.sources.store import VersionLookupError
from analytics.sources.toloka_tasks import task_upload_frame, write_task_file

LABEL_FORMATS = ("csv", "parquet", "jsonl")
DEFAULT_METHOD = "ds"  # its posteriors are what the expected wrong count and the plan rest on


def open_version(args: argparse.Namespace) -> Run:
    """The run of ``args.version`` (an id or unique prefix) in the workspace."""
    ws = open_workspace(args)
    try:
        info = stores.resolve(ws.listing(), args.version, where=f"the workspace {ws.root}")
    except VersionLookupError as err:
        raise VersionLookupError(f"version {args.version!r}: {err}") from None
    return ws.open_run(info.id)


def write_labels(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """The delivered labels as CSV, Parquet or JSON lines (task_id the first column)."""
    out = frame.reset_index()
    if fmt == "parquet":
        out.to_parquet(path, index=False)
    elif fmt == "jsonl":
        out.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        out.to_csv(path, index=False, lineterminator="\n")
    return path


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    return {"parquet": "parquet", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "csv")


def cmd_labels(args: argparse.Namespace) -> int:
    run = open_version(args)
    params = {"method": args.method, "n_iter": args.iterations}
    frame = registry.compute(run, "delivered_labels", **params)
    path = Path(args.out)
    write_labels(frame, path, _format_of(path, args.format))
    ew = registry.compute(run, "expected_wrong", **params)
    print(
        f"wrote {len(frame):,} labels ({aggregation.METHODS[args.method]}) to {path}; "
        f"expected wrong {ew.expected:.1f} ({ew.share:.1%}), {ew.level:.0%} interval {ew.low}-{ew.high}"
    )
    for name, check in ew.checks.items():
        print(
            f"  on {check.tasks:,} tasks with {name}: expected wrong {check.expected:.1f} "
            f"({check.low}-{check.high}), found {check.realised}"
        )
    return 0


def plan_summary(plan: Any) -> str:
    c = plan.cost
    money = "cost unknown" if plan.total_cost is None else f"{plan.total_cost:.2f} {c.currency}"
    return (
        f"{len(plan.tasks):,} tasks x {plan.answers_per_task} answers + {len(plan.control):,} control tasks, "
        f"{money} -> ~{plan.expected_fixes:.1f} expected fixes "
        f"({plan.level:.0%} interval {plan.fixes_low:.1f}-{plan.fixes_high:.1f}); "
        f"pool accuracy {plan.pool_accuracy:.3f}"
    )


def cmd_plan(args: argparse.Namespace) -> int:
    run = open_version(args)
    plan = registry.compute(
        run,
        "reannotation_plan",
        method=args.method,
        n_iter=args.iterations,
        budget=args.budget,
        answers_per_task=args.answers_per_task,
        control_share=args.control_share,
        cost_per_answer=args.cost_per_answer,
        seed=args.seed,
    )
    path = Path(args.out)
    doc = {"version": args.version, **plan.as_dict()}
    if args.format == "json":
        path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    else:
        write_task_file(task_upload_frame(run, plan.tasks.index, plan.control["golden"]), path)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    print(f"wrote {path}: {plan_summary(plan)}")
    for note in plan.notes:
        print(f"note: {note}")
    return 0


def _method_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "version", metavar="VERSION", help="version id, or its first characters as `crowdlens versions` prints"
    )
    add_workspace_option(p)
    p.add_argument(
        "--method",
        choices=tuple(aggregation.METHODS),
        default=DEFAULT_METHOD,
        help=f"aggregator (default {DEFAULT_METHOD}: its posteriors give the expected wrong count; mv: vote shares)",
    )
    p.add_argument("--iterations", type=int, default=aggregation.DEFAULT_ITERATIONS, metavar="N", help="EM iterations")


def add_engine_commands(sub: Any) -> None:
    """Register labels and plan."""
    p = sub.add_parser("labels", help="write the delivered labels (one row per task) with confidence and references")
    _method_options(p)
    p.add_argument("--format", choices=LABEL_FORMATS, help="file format (default: from --out's suffix, else csv)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the labels")
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("plan", help="a budgeted re-annotation plan as a Toloka task upload (or JSON)")
    _method_options(p)
    p.add_argument(
        "--budget", type=float, metavar="X", help="money to spend, in the run's currency (default: no limit)"
    )
    p.add_argument("--answers-per-task", type=int, default=3, metavar="K", help="new answers per task (default 3)")
    p.add_argument(
        "--control-share", type=float, default=0.0, metavar="S", help="share of control tasks in the upload (0..1)"
    )
    p.add_argument(
        "--cost-per-answer",
        type=float,
        metavar="X",
        help="what one answer costs, reward and fee (default: from the run's suites and pricing)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the control tasks' draw")
    p.add_argument("--format", choices=("tsv", "json"), default="tsv", help="tsv: Toloka task upload; json: the plan")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the task file (or the JSON)")
    p.add_argument("--json", metavar="FILE", help="also write the plan as JSON here")
    p.set_defaults(func=cmd_plan)


__all__ = ["LABEL_FORMATS", "add_engine_commands", "open_version", "plan_summary", "write_labels"]
