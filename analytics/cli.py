"""The ``crowdlens`` command: import, validate, list versions, build the demo, report on a run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from analytics.cli_remote import add_remote_commands
from analytics.model import Run, ValidationError
from analytics.sources import FORMATS, ReadOptions, read_files
from analytics.sources.workspace import Workspace, default_workspace, lineage_order

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def _pairs(text: str | None) -> dict[str, str]:
    """``task=question,worker=annotator`` -> {"task": "question", "worker": "annotator"}."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise argparse.ArgumentTypeError(
                f"--columns takes name=column pairs separated by commas, e.g. task=question,worker=annotator; got {part!r}"
            )
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _list(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",")] if text else None


def _add_read_options(p: argparse.ArgumentParser, format_flag: str = "--format") -> None:
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="results file(s) of the main pool(s): Toloka TSV or a long table"
    )
    p.add_argument(
        "--exam", action="append", default=[], metavar="PATH", help="results TSV of an exam pool (repeatable)"
    )
    p.add_argument("--truth", metavar="CSV", help="truth file: task, label (for evaluation only)")
    p.add_argument(
        format_flag,
        dest="input_format",
        choices=FORMATS,
        default="auto",
        help="file format (default: recognise a Toloka TSV by its header)",
    )
    p.add_argument("--label-field", metavar="NAME", help="the OUTPUT: field holding the label, when there are several")
    p.add_argument(
        "--columns",
        type=_pairs,
        default={},
        metavar="MAP",
        help="long tables: task=COL,worker=COL,label=COL[,golden=COL,truth=COL,started=COL,submitted=COL]",
    )
    p.add_argument(
        "--names", type=_list, metavar="A,B,C", help="column names of a headerless file, e.g. worker,task,label"
    )
    p.add_argument(
        "--labels", type=_list, metavar="A,B,C", help="the label set in tie order (default: the labels seen, sorted)"
    )
    p.add_argument("--dedupe", action="store_true", help="keep only a worker's first answer to a task")
    p.add_argument("--project", default="", help="project name")
    p.add_argument("--currency", default="USD")
    p.add_argument(
        "--reward-per-suite",
        type=float,
        metavar="X",
        help="reward per assignment where the export has no ASSIGNMENT:reward",
    )
    p.add_argument(
        "--fee-rate", type=float, default=0.0, metavar="F", help="platform fee as a fraction of rewards (Toloka: 0.3)"
    )
    p.add_argument("--fee-minimum", type=float, default=0.0, metavar="X", help="minimum platform fee per assignment")
    p.add_argument("--instructions", metavar="FILE", help="a text file with the annotators' instructions")
    p.add_argument("--language", help="language of the tasks, e.g. en")


def _options(args: argparse.Namespace, fmt: str | None = None) -> ReadOptions:
    instructions = None
    if args.instructions:
        instructions = Path(args.instructions).read_text(encoding="utf-8")
    return ReadOptions(
        format=fmt or args.input_format,
        label_field=args.label_field,
        columns=args.columns,
        names=args.names,
        labels=args.labels,
        dedupe=args.dedupe,
        project=args.project,
        instructions=instructions,
        language=args.language,
        currency=args.currency,
        reward_per_assignment=args.reward_per_suite,
        fee_rate=args.fee_rate,
        fee_minimum=args.fee_minimum,
    )


def _read(args: argparse.Namespace) -> Run:
    return read_files(args.paths, _options(args), exam=args.exam, truth=args.truth)


def _print_notes(run: Run, out) -> None:
    for n in run.notes:
        print(f"note: {n}", file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    run = _read(args)
    s = run.summary()
    print(
        f"OK: {s['answers']:,} answers, {s['tasks']:,} tasks, {s['workers']:,} annotators, "
        f"labels {', '.join(s['labels'])}; kinds " + ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items())
    )
    _print_notes(run, sys.stdout)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    run = _read(args)
    info = ws.add_version(run, name=args.name, version=args.version, parents=args.parent or [])
    s = run.summary()
    print(
        f"imported {info.label} as {info.id} into {ws.root}: {s['answers']:,} answers, {s['tasks']:,} tasks, {s['workers']:,} annotators"
    )
    _print_notes(run, sys.stdout)
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    listing = ws.listing()
    if args.format == "json":
        print(json.dumps([v.to_manifest() | {"path": v.path} for v in listing.versions], indent=1, default=str))
    else:
        print(f"workspace {ws.root.resolve()}: {len(listing.versions)} version(s)")
        print_lineage(listing)
    for p in listing.problems:
        print(f"problem: {p}", file=sys.stderr)
    return EXIT_PROBLEMS if listing.problems else 0


def print_lineage(listing, *, full_ids: bool = False) -> None:
    """One line per version, children indented under their parents, with counts and cost."""
    by_id = listing.by_id()
    for v in lineage_order(listing.versions):
        md = v.metadata
        depth = _depth(v, by_id)
        cost = md.get("annotation_cost")
        cost_s = f"{cost:.2f} {md.get('currency', '')}" if isinstance(cost, (int, float)) else "cost n/a"
        sim = "  [simulated]" if v.simulated else ""
        parents = ", ".join(p[:8] for p in v.parents) or "-"
        print(
            f"{'  ' * depth}{'└─ ' if depth else ''}{v.id if full_ids else v.id[:8]}  {v.label:<24} created {v.created}  parents {parents}  "
            f"{md.get('answers', 0):,} answers  {md.get('workers', 0):,} annotators  {cost_s}{sim}"
        )


def _depth(v, by_id, seen=()) -> int:
    parents = [p for p in v.parents if p in by_id and p not in seen]
    return 0 if not parents else 1 + max(_depth(by_id[p], by_id, seen + (v.id,)) for p in parents)


def cmd_demo(args: argparse.Namespace) -> int:
    from analytics.sources.demo import build_demo

    ws = Workspace(args.workspace)
    infos = build_demo(ws, keep_exports=Path(args.exports) if args.exports else None)
    print(f"demo workspace (simulated data) written to {ws.root}:")
    for v in infos:
        print(f"  {v.id[:8]}  {v.label}  {v.metadata.get('answers'):,} answers  {v.metadata.get('description', '')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report import build_report, report_text
    from analytics.sources.long_table import read_truth

    truth = read_truth(args.truth) if args.truth else None
    run = _report_run(args)
    rep = build_report(run, method=args.method, truth=truth, n_iter=args.iterations)
    if args.format == "json":
        print(json.dumps(rep, indent=1))
    else:
        print(report_text(rep))
        _print_notes(run, sys.stdout)
    return 0


def _report_run(args: argparse.Namespace) -> Run:
    """PATH is a results file when it exists, else a version id (or unique prefix) of the workspace."""
    paths = [Path(p) for p in args.paths]
    if all(p.exists() for p in paths):
        return read_files(args.paths, _options(args, fmt=args.input_format), exam=args.exam)
    if len(paths) == 1 and not any(sep in args.paths[0] for sep in "/\\") and "." not in args.paths[0]:
        ws = Workspace(args.workspace)
        wanted = args.paths[0]
        matches = [v for v in ws.listing().versions if v.id == wanted or v.id.startswith(wanted)]
        if len(matches) == 1:
            return ws.open_run(matches[0].id)
        what = "no dataset version" if not matches else f"{len(matches)} dataset versions"
        raise ValueError(
            f"{wanted!r} is neither a file nor a version id: {what} in workspace {ws.root} match it (see `crowdlens versions`)"
        )
    missing = [str(p) for p in paths if not p.exists()]
    raise ValueError(
        f"file not found: {', '.join(missing)} (give a Toloka TSV, a long table, or a workspace version id)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crowdlens",
        description="Quality and cost of crowdsourced labeling runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ws_help = f"workspace folder (default: $CROWDLENS_WORKSPACE, else ./{default_workspace()})"

    p = sub.add_parser("validate", help="check an export without importing it; prints every problem")
    _add_read_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("import", help="import an export as a new dataset version")
    _add_read_options(p)
    p.add_argument("--workspace", help=ws_help)
    p.add_argument("--name", required=True, help="dataset name, e.g. food-types")
    p.add_argument("--version", required=True, help="version, e.g. 1.0.0")
    p.add_argument("--parent", action="append", metavar="ID", help="parent version id (repeatable)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("versions", help="list the workspace's versions with their lineage")
    p.add_argument("--workspace", help=ws_help)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("report", help="every quality and cost figure of a run (a results file or a workspace version)")
    _add_read_options(p, format_flag="--input-format")
    p.add_argument("--workspace", help=ws_help)
    p.add_argument(
        "--method",
        choices=("mv", "wawa", "ds", "onecoin", "glad", "mace"),
        default="mv",
        help="aggregator (default mv; glad and mace run through crowd-kit and are slow)",
    )
    p.add_argument(
        "--iterations", type=int, default=100, metavar="N", help="EM iterations for ds/onecoin/glad (default 100)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="write the simulated food-labeling demo (three versions) into a workspace")
    p.add_argument("--workspace", help=ws_help)
    p.add_argument("--exports", metavar="DIR", help="also keep the generated Toloka TSV exports in DIR")
    p.set_defaults(func=cmd_demo)

    add_remote_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValidationError as err:
        print(str(err), file=sys.stderr)
        return EXIT_PROBLEMS
    except (KeyError, ValueError, OSError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"crowdlens {args.command}: {msg}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
