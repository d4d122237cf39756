"""The ``crowdlens`` commands that reach remote services: Toloka (import, progress), ClearML (publish, pull, list).

Registered on the main parser by :func:`add_remote_commands`; handlers follow the package's
convention (``set_defaults(func=...)``, return the exit status). A problem with a service — no
credentials, a rejected token, an unreachable server, a missing parent — is one of
:data:`SERVICE_ERRORS`: ``analytics.cli.main`` prints it on one line (secrets scrubbed) with exit
status 1; invalid answers from the API are printed all at once (exit 1), exactly as for a file.

Every setting is read through :mod:`analytics.settings` (the command line, then the environment,
then ``./.streamlit/secrets.toml``, then ``~/.streamlit/secrets.toml``): ``TOLOKA_TOKEN``,
``TOLOKA_ENVIRONMENT``, ``TOLOKA_URL`` and ClearML's ``CLEARML_API_HOST``,
``CLEARML_API_ACCESS_KEY``, ``CLEARML_API_SECRET_KEY`` (or ClearML's own ``~/clearml.conf``). A
token is never taken on the command line (it would be visible to every user of the machine in
the process list), and is never printed, logged or written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from analytics import settings, versions
from analytics.cli.files import (
    EXIT_PROBLEMS,
    FEE_RATE_HELP,
    PARENT_HELP,
    add_workspace_option,
    open_workspace,
    parent_ids,
    print_lineage,
    refuse_existing,
)
from analytics.sources import toloka
from analytics.sources.clearml_store import DEFAULT_PROJECT, ClearMLError, ClearMLStore
from analytics.sources.store import VersionInfo, lineage_order

# what a service answered, or how it is set up: one message and EXIT_PROBLEMS (see analytics.cli.main)
SERVICE_ERRORS = (toloka.TolokaConfigError, toloka.TolokaAPIError, ClearMLError, settings.SecretsFileError)


def make_clearml_store(project: str) -> ClearMLStore:
    """The ClearML store the commands use; tests replace this factory to inject a stand-in ``Dataset``."""
    return ClearMLStore(project=project)


# --------------------------------------------------------------------------------------------
# Toloka


def missing_token_message() -> str:
    return (
        f"No Toloka token: set the {settings.TOKEN_VARIABLE} environment variable, or put "
        f'{settings.TOKEN_VARIABLE} = "..." in {settings.secrets_files_text()} (never commit that file). '
        "Create the token (an API key) in Toloka under Profile > Integrations; a sandbox key works "
        "with --environment sandbox only."
    )


def toloka_client(url: str | None = None, environment: str | None = None):
    """A toloka-kit client from the command's ``--url`` / ``--environment`` and the settings
    (:func:`analytics.settings.toloka`: the command line, the environment, the secrets files; a
    URL wins over an environment name at the same level; PRODUCTION when nothing is set)."""
    chosen = settings.toloka(url=url, environment=environment)
    if not chosen.token:
        raise toloka.TolokaConfigError(missing_token_message())
    return toloka.make_client(chosen.token.value, environment=chosen.environment.value, url=chosen.url.value)


def _check_project(client, pool_ids: Sequence[str], project_id: str) -> None:
    """Every pool must belong to ``project_id``: a mistyped pool id fails before any download."""
    wrong = []
    for pid in pool_ids:
        pool = toloka.get_pool(client, pid)
        if str(pool.project_id) != str(project_id):
            wrong.append(f"{pid} (project {pool.project_id})")
    if wrong:
        pools, are = ("pools", "are") if len(wrong) > 1 else ("pool", "is")
        raise toloka.TolokaConfigError(
            f"{pools} {', '.join(wrong)} {are} not in project {project_id}; nothing was downloaded. "
            "Check the pool ids, or drop --project."
        )


def _progress(pool_id: str, n: int) -> None:
    print(f"pool {pool_id}: {n:,} assignments read", file=sys.stderr, flush=True)


def _stored_notes(info: VersionInfo) -> list[str]:
    """The warnings a stored run carries (kept in its run.json), without opening its answers."""
    try:
        doc = json.loads((Path(info.path) / "files" / "run.json").read_text(encoding="utf-8"))
        return [f"{n.get('file')}: {n.get('message')} Fix: {n.get('fix')}" for n in doc.get("notes", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def cmd_toloka_import(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    # checked before Toloka is asked anything; version ids may be given as printed by `versions` (a prefix)
    parents = parent_ids(ws, args.parent)
    refuse_existing(ws, args.name, args.version)
    client = toloka_client(args.url, args.environment)
    pools, exams = list(args.pool or []), list(args.exam_pool or [])
    if args.project:
        _check_project(client, pools + exams, args.project)
    info = versions.import_from_toloka(
        ws,
        pools,
        exams,
        name=args.name,
        version=args.version,
        parents=parents,
        client=client,
        label_field=args.label_field,
        fee_rate=args.fee_rate,
        fee_minimum=args.fee_minimum,
        labels=args.labels,
        progress=_progress,
    )
    md = info.metadata
    cost = md.get("annotation_cost")
    cost_s = f", {cost:.2f} {md.get('currency', '')} spent" if isinstance(cost, (int, float)) else ""
    where = ", ".join([f"{p} (main)" for p in pools] + [f"{p} (exam)" for p in exams])
    print(
        f"imported {info.label} as {info.id} into {ws.root}: {md.get('answers', 0):,} answers, "
        f"{md.get('tasks', 0):,} tasks, {md.get('workers', 0):,} annotators{cost_s} from Toloka pools {where}"
    )
    for note in _stored_notes(info):
        print(f"note: {note}")
    return 0


def _format_progress(p: toloka.PoolProgress, fee_rate: float) -> list[str]:
    total = f"{p.total_assignments:,}" if p.total_assignments is not None else "an unknown number of"
    pct = f" ({p.percent_done:.1f} % done)" if p.percent_done is not None else ""
    lines = [
        f"pool {p.pool_id} {p.name!r}: {p.status or 'status unknown'}, as of {p.as_of.isoformat()}",
        f"  task suites submitted: {p.submitted_assignments:,} of {total}{pct}",
        "  by status: " + ", ".join(f"{k} {v:,}" for k, v in p.by_status.items()),
        f"  annotators: {p.workers if p.workers is not None else 'unknown'} submitted; "
        f"{p.active_workers:,} in the last {p.window_hours:g} h, {p.rate_per_hour:.1f} suites/h",
    ]
    if p.spent_rewards is not None:
        lines.append(
            f"  spent: {p.spent_rewards:.2f} {p.currency} in rewards, "
            f"{p.spent_total:.2f} {p.currency} with a {fee_rate:.0%} fee"
        )
    lines.append(f"  estimated finish: {p.estimated_finish.isoformat() if p.estimated_finish is not None else 'none'}")
    lines.append(
        "  figures from: "
        + ("Toloka's pool analytics" if p.source == "analytics" else "the pool's assignments, counted")
    )
    return lines


def cmd_toloka_progress(args: argparse.Namespace) -> int:
    client = toloka_client(args.url, args.environment)
    p = toloka.pool_progress(client, args.pool, window_hours=args.window_hours, fee_rate=args.fee_rate)
    if args.format == "json":
        print(json.dumps(p.as_dict(), indent=1, default=str))
    else:
        for line in _format_progress(p, args.fee_rate):
            print(line)
        for n in p.notes:
            print(f"note: {n}")
    return 0


# --------------------------------------------------------------------------------------------
# ClearML (its settings from the secrets files join the environment while a command runs)


def cmd_clearml_publish(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    info = ws.get(args.version_id)
    before = {v.id: versions.clearml_id_of(ws, v.id) for v in ws.versions()}
    with settings.clearml_environment():
        clearml = make_clearml_store(args.project or DEFAULT_PROJECT)
        cid = versions.publish(ws, clearml, info.id, with_parents=args.with_parents)
    if before.get(info.id):
        print(f"{info.label} ({info.id}) is already published as ClearML dataset {cid}; nothing was uploaded.")
        return 0
    for v in lineage_order(ws.versions()):
        now = versions.clearml_id_of(ws, v.id)
        if now and not before.get(v.id):
            print(f"published {v.label} ({v.id}) as ClearML dataset {now} in project {clearml.project!r}")
    return 0


def cmd_clearml_pull(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    before = {v.id for v in ws.versions()}
    with settings.clearml_environment():
        clearml = make_clearml_store(args.project or DEFAULT_PROJECT)
        info = versions.pull(clearml, args.clearml_id, ws, with_parents=not args.no_parents)
    new = [v for v in lineage_order(ws.versions()) if v.id not in before]
    if not new:
        print(
            f"ClearML dataset {args.clearml_id} is already in {ws.root} as {info.label} ({info.id}); "
            "nothing was copied."
        )
    for v in new:
        print(f"pulled {v.label} as {v.id} into {ws.root}")
    return 0


def cmd_clearml_list(args: argparse.Namespace) -> int:
    with settings.clearml_environment():
        clearml = make_clearml_store(args.project or DEFAULT_PROJECT)
        listing = clearml.listing()
    if args.format == "json":
        print(json.dumps([v.to_manifest() | {"source": v.source} for v in listing.versions], indent=1, default=str))
    else:
        print(f"ClearML project {clearml.project!r}: {len(listing.versions)} version(s)")
        print_lineage(listing, full_ids=True)  # the full ids are what clearml-pull takes
    errors = [p for p in listing.problems if p.severity == "error"]
    for p in listing.problems:
        print(f"{'problem' if p.severity == 'error' else 'warning'}: {p}", file=sys.stderr)
    return EXIT_PROBLEMS if errors else 0


# --------------------------------------------------------------------------------------------
# the parser


def _labels(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _toloka_target(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="a Toloka API endpoint (default: $TOLOKA_URL, else the --environment's)")
    where.add_argument(
        "--environment",
        type=str.lower,
        choices=("production", "sandbox"),
        help="Toloka environment (default: $TOLOKA_ENVIRONMENT, else production); the token must be of the same one",
    )


def _fee_options(p: argparse.ArgumentParser) -> None:
    # None: Pricing's one fee default, marked on the run as assumed
    p.add_argument("--fee-rate", type=float, default=None, metavar="F", help=FEE_RATE_HELP)
    p.add_argument(
        "--fee-minimum",
        type=float,
        default=None,
        metavar="X",
        help=f"minimum platform fee per assignment (default {toloka.DEFAULT_FEE_MINIMUM:g})",
    )


def _add_toloka_commands(subparsers: Any) -> None:
    secrets_note = (
        f"The token comes from ${settings.TOKEN_VARIABLE} or {settings.TOKEN_VARIABLE} in "
        f"{settings.secrets_files_text()}, never from the command line."
    )
    p = subparsers.add_parser(
        "toloka-import",
        help="read pools from the Toloka API and store them as a new dataset version",
        description="Read main and exam pools from the Toloka API and store them as a new workspace version. "
        + secrets_note,
    )
    p.add_argument("--pool", action="append", required=True, metavar="ID", help="a main pool (repeatable)")
    p.add_argument(
        "--exam-pool", action="append", default=[], metavar="ID", help="an exam (qualification) pool (repeatable)"
    )
    p.add_argument(
        "--project",
        metavar="ID",
        help="the Toloka project id: every pool must belong to it (checked before downloading)",
    )
    p.add_argument("--name", required=True, help="dataset name, e.g. food-types")
    p.add_argument("--version", required=True, help="version, e.g. 1.0.0")
    p.add_argument("--parent", action="append", metavar="VERSION_ID", help=PARENT_HELP)
    add_workspace_option(p)
    p.add_argument(
        "--label-field", metavar="NAME", help="the output field holding the label, when the project has several"
    )
    p.add_argument(
        "--labels",
        type=_labels,
        metavar="A,B,C",
        help="the label set in tie order (default: the field's allowed values, else those seen)",
    )
    _fee_options(p)
    _toloka_target(p)
    p.set_defaults(func=cmd_toloka_import)

    p = subparsers.add_parser(
        "toloka-progress",
        help="live progress of a running Toloka pool: suites done, annotators, spend, estimated finish",
        description="Where a Toloka pool stands now. " + secrets_note,
    )
    p.add_argument("--pool", required=True, metavar="ID", help="the pool")
    p.add_argument(
        "--window-hours",
        type=float,
        default=1.0,
        metavar="H",
        help="the recent window for active annotators and the rate (default 1)",
    )
    p.add_argument(
        "--fee-rate",
        type=float,
        default=toloka.DEFAULT_FEE_RATE,
        metavar="F",
        help="platform fee added to the spend",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    _toloka_target(p)
    p.set_defaults(func=cmd_toloka_progress)


def _add_clearml_commands(subparsers: Any) -> None:
    clearml_note = (
        "Credentials: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY in the environment or in "
        f"{settings.secrets_files_text()}, else ~/clearml.conf."
    )
    p = subparsers.add_parser(
        "clearml-publish",
        help="publish a workspace version unchanged as a finalized ClearML dataset version",
        description="Publish a workspace version to ClearML Data (its files, its manifest as metadata, "
        "its parents as ClearML parents). " + clearml_note,
    )
    p.add_argument("version_id", metavar="VERSION_ID", help="the workspace version (id or prefix)")
    add_workspace_option(p)
    p.add_argument("--project", metavar="NAME", help=f"ClearML project (default {DEFAULT_PROJECT})")
    p.add_argument("--with-parents", action="store_true", help="publish unpublished ancestors first, oldest first")
    p.set_defaults(func=cmd_clearml_publish)

    p = subparsers.add_parser(
        "clearml-pull",
        help="copy a finalized ClearML version (and its parents) into the workspace",
        description="Copy a ClearML dataset version into the workspace under the same id, to open it offline. "
        + clearml_note,
    )
    p.add_argument("clearml_id", metavar="CLEARML_ID", help="the ClearML dataset id (as clearml-list prints it)")
    add_workspace_option(p)
    p.add_argument(
        "--project",
        metavar="NAME",
        help=f"ClearML project recorded for the version when its metadata has none (default {DEFAULT_PROJECT})",
    )
    p.add_argument(
        "--no-parents", action="store_true", help="fail instead of pulling parents that are not in the workspace"
    )
    p.set_defaults(func=cmd_clearml_pull)

    p = subparsers.add_parser(
        "clearml-list",
        help="list the crowdlens versions of a ClearML project with their lineage",
        description="List the finalized crowdlens runs of a ClearML project. " + clearml_note,
    )
    p.add_argument("--project", metavar="NAME", help=f"ClearML project (default {DEFAULT_PROJECT})")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_clearml_list)


def add_remote_commands(subparsers: Any) -> None:
    """Register toloka-import, toloka-progress, clearml-publish, clearml-pull and clearml-list."""
    _add_toloka_commands(subparsers)
    _add_clearml_commands(subparsers)
