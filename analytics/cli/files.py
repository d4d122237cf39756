"""The ``crowdlens`` commands on files and the workspace: validate, import, report, versions, demo.

Also what the other command modules share: the exit statuses, the ``--workspace`` option, the
``--parent`` resolution (an id or the unique prefix ``versions`` prints) and the lineage printer
that ``versions`` and ``clearml-list`` use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from analytics import settings, versions
from analytics.model import Pricing, Run
from analytics.model._deferred import replace_run
from analytics.model.scales import NOMINAL_NUMBER_LIMIT, SCALES
from analytics.sources import FORMATS, ReadOptions, read_files
from analytics.sources import store as stores
from analytics.sources.long_table import COLUMN_KEYS
from analytics.sources.store import Listing, VersionInfo, VersionLookupError
from analytics.sources.workspace import Workspace

EXIT_PROBLEMS = 1  # the input or a service has a problem (every validation problem is printed)
EXIT_USAGE = 2  # the command cannot be done as asked (argparse's status for a usage error too)

WORKSPACE_HELP = (
    f"workspace folder (default: ${settings.WORKSPACE_VARIABLE}, else {settings.WORKSPACE_VARIABLE} in "
    f"{settings.secrets_files_text()}, else ./{settings.DEFAULT_WORKSPACE})"
)
PARENT_HELP = "parent version id, or its first characters as `crowdlens versions` prints them (repeatable)"
FEE_RATE_HELP = (
    f"platform fee as a fraction of rewards and bonuses (default {Pricing.DEFAULT_FEE_RATE:g}: Toloka's published "
    "30 %%, which neither the API nor an export states; the cost figures then say it is assumed)"
)
TOLOKA_FILE_HELP = "toloka-kit {cls} objects as {what}.to_json() writes them, one per line or a JSON array (repeatable)"


# ---- shared with the other command modules


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The workspace of ``--workspace``, else of the settings (environment, secrets files, ./workspace)."""
    return Workspace(settings.workspace_root(getattr(args, "workspace", None)))


def parent_ids(ws: Workspace, parents: Sequence[str] | None) -> list[str]:
    """The full ids of ``--parent`` ids or unique prefixes, checked before anything is read or downloaded."""
    if not parents:
        return []
    listing = ws.listing()
    out = []
    for p in parents:
        try:
            out.append(stores.resolve(listing, p, where=f"the workspace {ws.root}").id)
        except VersionLookupError as err:
            raise VersionLookupError(f"parent version {p!r}: {err}") from None
    return out


def refuse_existing(ws: Workspace, name: str, version: str) -> None:
    """A usage error when ``name version`` is in the workspace already (versions are immutable)."""
    if any(v.name == name.strip() and v.version == version.strip() for v in ws.versions()):
        raise ValueError(
            f"a version {name} {version} already exists in {ws.root}; versions are immutable, "
            "choose a new version number."
        )


def add_workspace_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", help=WORKSPACE_HELP)


def lineage_rows(vs: Iterable[VersionInfo]) -> list[tuple[VersionInfo, int]]:
    """(version, depth) in drawing order: data set by data set (oldest root first), each version
    right under its own parent (its deepest parent of the same data set), siblings oldest first."""
    ordered = stores.lineage_order(vs)
    roots, depth = stores.lineage_roots(ordered), stores.lineage_depth(ordered)
    known = {v.id for v in ordered}
    children: dict[str | None, list[VersionInfo]] = {}
    for v in ordered:
        same = [p for p in v.parents if p in known and p != v.id and roots.get(p) == roots.get(v.id)]
        children.setdefault(max(same, key=lambda p: depth[p]) if same else None, []).append(v)
    out: list[VersionInfo] = []
    seen: set[str] = set()
    for start in children.get(None, []) + ordered:  # the roots; then whatever a cycle left out
        stack = [start]
        while stack:
            v = stack.pop()
            if v.id in seen:
                continue
            seen.add(v.id)
            out.append(v)
            stack.extend(reversed(children.get(v.id, [])))
    return [(v, depth.get(v.id, 0)) for v in out]


def print_lineage(listing: Listing, *, full_ids: bool = False) -> None:
    """One line per version, each data set's own tree, children indented under their parents, with counts and cost."""
    for v, depth in lineage_rows(listing.versions):
        md = v.metadata
        cost = md.get("annotation_cost")
        cost_s = f"{cost:.2f} {md.get('currency', '')}" if isinstance(cost, (int, float)) else "cost n/a"
        sim = "  [simulated]" if v.simulated else ""
        parents = ", ".join(stores.short_id(p) for p in v.parents) or "-"
        print(
            f"{'  ' * depth}{'└─ ' if depth else ''}{v.id if full_ids else stores.short_id(v.id)}  {v.label:<24} "
            f"created {v.created}  parents {parents}  "
            f"{md.get('answers', 0):,} answers  {md.get('workers', 0):,} annotators  {cost_s}{sim}"
        )


# ---- reading files


def _pairs(text: str | None) -> dict[str, str]:
    """``task=question,worker=annotator`` -> {"task": "question", "worker": "annotator"}."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise argparse.ArgumentTypeError(
                "--columns takes name=column pairs separated by commas, e.g. task=question,worker=annotator; "
                f"got {part!r}"
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
        help="long tables: KEY=COLUMN pairs, e.g. task=question,worker=annotator,label=answer; the keys: "
        + "; ".join(f"{k} = {v}" for k, v in COLUMN_KEYS.items()),
    )
    p.add_argument(
        "--names", type=_list, metavar="A,B,C", help="column names of a headerless file, e.g. worker,task,label"
    )
    p.add_argument(
        "--labels", type=_list, metavar="A,B,C", help="the label set in tie order (default: the labels seen, sorted)"
    )
    p.add_argument("--dedupe", action="store_true", help="keep only a worker's first answer to a task")
    p.add_argument(
        "--scale",
        choices=SCALES,
        default=None,
        help="the labels' scale: nominal (categories; the default), ordinal (ordered grades: their order from "
        "--labels or numeric order), interval or ratio (numbers); answers that are all numbers with more than "
        f"{NOMINAL_NUMBER_LIMIT} distinct values need --scale interval (or ratio, ordinal) to be read",
    )
    p.add_argument("--project", default="", help="project name")
    p.add_argument("--currency", default="USD")
    p.add_argument(
        "--reward-per-suite",
        type=float,
        metavar="X",
        help="reward per task suite (assignment) where the export has no ASSIGNMENT:reward; a long table needs "
        "an assignment column for it (--columns assignment=COL)",
    )
    p.add_argument(
        "--reward-per-answer",
        type=float,
        metavar="X",
        help="long tables: what one answer paid; a suite (--columns assignment=COL) is paid X per answer, and "
        "without an assignment column every answer row is its own suite",
    )
    p.add_argument("--fee-rate", type=float, default=None, metavar="F", help=FEE_RATE_HELP)
    p.add_argument("--fee-minimum", type=float, default=0.0, metavar="X", help="minimum platform fee per assignment")
    _add_toloka_file_options(p)
    p.add_argument("--instructions", metavar="FILE", help="a text file with the annotators' instructions")
    p.add_argument("--language", help="language of the tasks, e.g. en")


def _add_toloka_file_options(p: argparse.ArgumentParser) -> None:
    """What the Toloka API import reads beside the answers, from files (analytics.sources.toloka.files)."""
    p.add_argument(
        "--pool-config",
        action="append",
        default=[],
        metavar="FILE",
        help="the pools' configs: reward per suite, overlap, suite size, quality-control rules, and the exam "
        "pass mark of the main pool's skill filter; "
        + TOLOKA_FILE_HELP.format(cls="Pool", what="toloka_client.get_pool(ID)"),
    )
    p.add_argument(
        "--restrictions",
        action="append",
        default=[],
        metavar="FILE",
        help="the bans (user restrictions) of the pools, their project and all projects; "
        + TOLOKA_FILE_HELP.format(cls="UserRestriction", what="each of toloka_client.get_user_restrictions(...)"),
    )
    p.add_argument(
        "--bonuses",
        action="append",
        default=[],
        metavar="FILE",
        help="bonuses paid (counted with the spend); "
        + TOLOKA_FILE_HELP.format(cls="UserBonus", what="each of toloka_client.get_user_bonuses(...)"),
    )
    p.add_argument(
        "--exam-threshold",
        type=float,
        metavar="PERCENT",
        help="the exam pass mark: the share of exam items to get right, in percent (default: the main pool's "
        "skill filter in --pool-config)",
    )


def _options(args: argparse.Namespace) -> ReadOptions:
    instructions = None
    if args.instructions:
        instructions = Path(args.instructions).read_text(encoding="utf-8")
    return ReadOptions(
        format=args.input_format,
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
        reward_per_answer=args.reward_per_answer,
        fee_rate=args.fee_rate,
        fee_minimum=args.fee_minimum,
        pool_config=list(args.pool_config),
        restrictions=list(args.restrictions),
        bonuses=list(args.bonuses),
        exam_threshold=args.exam_threshold,
        scale=args.scale,
    )


def _read(args: argparse.Namespace) -> Run:
    return read_files(args.paths, _options(args), exam=args.exam, truth=args.truth)


def _print_notes(run: Run) -> None:
    for n in run.notes:
        print(f"note: {n}")
    fee = run.pricing.fee_note()
    if fee:
        print(f"note: {fee}")


# ---- the commands


def cmd_validate(args: argparse.Namespace) -> int:
    run = _read(args)
    s = run.summary()
    print(
        f"OK: {s['answers']:,} answers, {s['tasks']:,} tasks, {s['workers']:,} annotators, "
        f"labels {', '.join(s['labels'])}; kinds " + ", ".join(f"{k} {v:,}" for k, v in s["kinds"].items())
    )
    _print_notes(run)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    parents = parent_ids(ws, args.parent)  # before the files are read
    run = _read(args)
    if args.predictions:
        from analytics.sources.predictions import add_predictions

        run = add_predictions(run, args.predictions, name=args.model_name)
    if (args.merge_parent or args.plan) and not parents:
        raise ValueError("--merge-parent and --plan need the parent version: give it with --parent ID")
    info = versions.import_run(
        ws, run, name=args.name, version=args.version, parents=parents, merge_parent=args.merge_parent, plan=args.plan
    )
    md = info.metadata
    print(
        f"imported {info.label} as {info.id} into {ws.root}: {md.get('answers', 0):,} answers, "
        f"{md.get('tasks', 0):,} tasks, {md.get('workers', 0):,} annotators"
    )
    if args.merge_parent:
        m = md["merge"]
        print(
            f"merged with the parent {m['parent'][:8]}: {m['parent_answers']:,} + {m['new_answers']:,} new answers; "
            f"{m['tasks_matched_by_inputs']:,} tasks matched by their inputs, {m['new_tasks']:,} new tasks"
        )
    _print_notes(run)
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    listing = ws.listing()
    if args.format == "json":
        print(json.dumps([v.to_manifest() | {"path": v.path} for v in listing.versions], indent=1, default=str))
    else:
        print(f"workspace {ws.root.resolve()}: {len(listing.versions)} version(s)")
        print_lineage(listing)
    for p in listing.problems:
        print(f"problem: {p}", file=sys.stderr)
    return EXIT_PROBLEMS if listing.problems else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from analytics.sources.demo import build_demo

    ws = open_workspace(args)
    infos = build_demo(ws, keep_exports=Path(args.exports) if args.exports else None)
    print(f"demo workspace (simulated data) written to {ws.root}:")
    for v in infos:
        md = v.metadata
        print(f"  {stores.short_id(v.id)}  {v.label}  {md.get('answers', 0):,} answers  {md.get('description', '')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report import build_report, report_text
    from analytics.sources.long_table import read_truth
    from analytics.sources.memory import keep_freed_memory

    keep_freed_memory()  # a report's temporaries reuse memory instead of faulting it in anew (see there)

    truth = read_truth(args.truth) if args.truth else None
    run, info, versions = _report_run(args)
    if args.format in ("html", "pdf"):
        return _report_document(args, run, info, versions, truth)
    rep = build_report(run, method=args.method, truth=truth, n_iter=args.iterations)
    if args.format == "json":
        print(json.dumps(rep, indent=1))
    else:
        print(report_text(rep))
        _print_notes(run)
    return 0


def _report_document(args: argparse.Namespace, run: Run, info, versions, truth) -> int:
    """``report --format html|pdf --out FILE``: the stakeholder document, written atomically."""

    from analytics.report_documents import ChartRenderError, ancestors, write_report

    if not args.out:
        raise ValueError(
            f"--format {args.format} writes a file: give it with --out FILE (e.g. --out report.{args.format})"
        )
    if truth is not None:
        run = replace_run(run, truth=truth)
    lineage = ancestors(versions, info.id) if info is not None else []
    try:
        path = write_report(args.out, run, info, format=args.format, method=args.method, lineage=lineage)
    except ChartRenderError as err:
        print(f"crowdlens report: {err}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"wrote {path}")
    return 0


def _report_run(args: argparse.Namespace) -> tuple[Run, object, list]:
    """PATH is a results file when it exists, else a version id (or unique prefix) of the workspace.
    Returns the run, the version (None for files) and the workspace's versions (for its lineage;
    the documents' module, with its PDF library, is imported only for a document)."""
    paths = [Path(p) for p in args.paths]
    if all(p.exists() for p in paths):
        return read_files(args.paths, _options(args), exam=args.exam), None, []
    wanted = args.paths[0]
    if len(paths) == 1 and not any(sep in wanted for sep in "/\\") and "." not in wanted:
        ws = open_workspace(args)
        try:
            info = stores.resolve(ws.listing(), wanted, where=f"the workspace {ws.root}")
        except VersionLookupError as err:
            raise VersionLookupError(f"{wanted!r} is neither a file nor a version id: {err}") from None
        listing = ws.listing()
        run = ws.open_run(info.id)
        if args.scale and args.scale != run.meta.scale:
            from analytics.model.scales import apply_scale

            run = apply_scale(run, args.scale, labels=args.labels or list(run.labels))
        return run, info, listing.versions
    missing = [str(p) for p in paths if not p.exists()]
    raise ValueError(
        f"file not found: {', '.join(missing)} (give a Toloka TSV, a long table, or a workspace version id)"
    )


# ---- the parser


def add_file_commands(sub: Any) -> None:
    """Register validate, import, versions, report and demo."""
    p = sub.add_parser("validate", help="check an export without importing it; prints every problem")
    _add_read_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("import", help="import an export as a new dataset version")
    _add_read_options(p)
    add_workspace_option(p)
    p.add_argument("--name", required=True, help="dataset name, e.g. food-types")
    p.add_argument("--version", required=True, help="version, e.g. 1.0.0")
    p.add_argument("--parent", action="append", metavar="ID", help=PARENT_HELP)
    p.add_argument(
        "--predictions",
        metavar="FILE",
        help="a model's predictions (task, label[, a probability column per label]), kept as the annotator "
        "model:<name>, apart from the crowd's figures",
    )
    p.add_argument("--model-name", metavar="NAME", help="the model's name (default: the predictions file's name)")
    p.add_argument(
        "--merge-parent",
        action="store_true",
        help="the files hold a re-annotation's new answers: store them merged with the (one) --parent's answers",
    )
    p.add_argument(
        "--plan", metavar="JSON", help="the plan the new answers answer (`crowdlens plan --format json`), kept for diff"
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("versions", help="list the workspace's versions, each data set's lineage as a tree")
    add_workspace_option(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("report", help="every quality and cost figure of a run (a results file or a workspace version)")
    _add_read_options(p, format_flag="--input-format")
    add_workspace_option(p)
    p.add_argument(
        "--method",
        choices=("mv", "wawa", "ds", "onecoin", "glad", "mace"),
        default="mv",
        help="aggregator (default mv; glad and mace run through crowd-kit and are slow)",
    )
    p.add_argument(
        "--iterations", type=int, default=100, metavar="N", help="EM iterations for ds/onecoin/glad (default 100)"
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "html", "pdf"),
        default="text",
        help="output format: text or json on stdout; html (self-contained) or pdf written to --out",
    )
    p.add_argument("--out", metavar="FILE", help="where --format html|pdf writes the document")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="write the simulated food-labeling demo (three versions) into a workspace")
    add_workspace_option(p)
    p.add_argument("--exports", metavar="DIR", help="also keep the generated Toloka TSV exports in DIR")
    p.set_defaults(func=cmd_demo)
