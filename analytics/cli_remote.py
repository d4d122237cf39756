"""The ``crowdlens`` commands that reach remote services: Toloka (import, live progress) and ClearML (publish, pull, list).

Registered on the main parser by :func:`add_remote_commands`; handlers follow ``analytics.cli``'s
convention (``set_defaults(func=...)``, return the exit status). A problem with the service —
no credentials, a rejected token, an unreachable server, a missing parent — is one message on
stderr and exit status 1; invalid answers from the API are printed all at once (exit 1) by
``analytics.cli.main``, exactly as for a file import.

Settings are read from the environment first, then from Streamlit's secrets files (top-level
keys of ``./.streamlit/secrets.toml``, else ``~/.streamlit/secrets.toml``), the same names the
dashboard uses: ``TOLOKA_TOKEN``, ``TOLOKA_ENVIRONMENT``, ``TOLOKA_URL`` and ClearML's
``CLEARML_API_HOST``, ``CLEARML_API_ACCESS_KEY``, ``CLEARML_API_SECRET_KEY`` (or ClearML's own
``~/clearml.conf``). A token is never taken on the command line (it would be visible to every
user of the machine in the process list), and is never printed, logged or written.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from analytics.sources import toloka_api
from analytics.sources.clearml_store import DEFAULT_PROJECT, ClearMLError, ClearMLStore, clearml_id_of
from analytics.sources.toloka_api import TolokaAPIError, TolokaConfigError
from analytics.sources.workspace import VersionInfo, Workspace, default_workspace, lineage_order

# as analytics.cli (not imported from it: analytics.cli imports this module)
EXIT_PROBLEMS = 1

# Streamlit's secrets files, in the order Streamlit lets them override each other: the project's
# (relative to where the command runs) over the user's
SECRETS_FILES: tuple[str, ...] = (".streamlit/secrets.toml", "~/.streamlit/secrets.toml")
# values that must never be shown, even inside a message that quotes them
SECRET_NAMES = (toloka_api.TOKEN_VARIABLE, "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY")


class SecretsFileError(RuntimeError):
    """A secrets file exists but cannot be read as TOML (the message never quotes its content)."""


def make_clearml_store(project: str) -> ClearMLStore:
    """The ClearML store the commands use; tests replace this factory to inject a stand-in ``Dataset``."""
    return ClearMLStore(project=project)


# --------------------------------------------------------------------------------------------
# settings: the environment, then Streamlit's secrets files


def read_secrets(files: Sequence[str | os.PathLike] | None = None) -> dict[str, str]:
    """Top-level text values of the secrets files that exist; an earlier file wins over a later one.

    Nested tables (``[connections.x]``) are ignored: the settings crowdlens reads are top-level,
    which is also what Streamlit exports as environment variables.
    """
    out: dict[str, str] = {}
    for name in reversed(tuple(SECRETS_FILES if files is None else files)):
        path = Path(name).expanduser()
        if not path.is_file():
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            # the decoder's message gives a position only, never the text around it
            raise SecretsFileError(f"{path} is not valid TOML ({err}); fix the file or move it away.") from None
        except (OSError, UnicodeDecodeError) as err:
            raise SecretsFileError(
                f"{path} cannot be read ({type(err).__name__}); check its permissions and that it is UTF-8 text."
            ) from None
        out.update(
            {
                str(k): str(v).strip()
                for k, v in doc.items()
                if isinstance(v, (str, int, float)) and not isinstance(v, bool)
            }
        )
    return out


def _setting(name: str, secrets: Mapping[str, str]) -> str:
    return (os.environ.get(name) or "").strip() or secrets.get(name, "")


def _secrets_files_text() -> str:
    return " or ".join(str(Path(f)) for f in SECRETS_FILES)


def _scrub(text: str) -> str:
    """``text`` with every known secret value (environment or secrets files) replaced by ***."""
    try:
        secrets = read_secrets()
    except SecretsFileError:
        secrets = {}
    values = {(os.environ.get(n) or "").strip() for n in SECRET_NAMES} | {secrets.get(n, "") for n in SECRET_NAMES}
    for v in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(v, "***")
    return text


def _reports_service_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the services' own errors into one line on stderr and exit status 1.

    ValidationError (invalid answers) and usage errors (an unknown version id, a name/version
    that exists) are left to analytics.cli.main, which reports them as for every command.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (TolokaConfigError, TolokaAPIError, ClearMLError, SecretsFileError) as err:
            print(f"crowdlens {getattr(args, 'command', '')}: {_scrub(str(err))}", file=sys.stderr)
            return EXIT_PROBLEMS

    return run


# --------------------------------------------------------------------------------------------
# Toloka


def toloka_client(url: str | None = None, environment: str | None = None):
    """A toloka-kit client from the command's ``--url`` / ``--environment`` and the settings.

    Precedence: the command line, then ``TOLOKA_URL`` / ``TOLOKA_ENVIRONMENT`` in the
    environment, then in the secrets files; PRODUCTION when nothing is set. The token comes from
    ``TOLOKA_TOKEN`` in the environment, else in the secrets files.
    """
    secrets = read_secrets()
    token = _setting(toloka_api.TOKEN_VARIABLE, secrets)
    if not token:
        raise TolokaConfigError(
            f"No Toloka token: set the {toloka_api.TOKEN_VARIABLE} environment variable, or put "
            f'{toloka_api.TOKEN_VARIABLE} = "..." in {_secrets_files_text()} (never commit that file). '
            "Create the token (an API key) in Toloka under Profile > Integrations; a sandbox key works "
            "with --environment sandbox only."
        )
    if not url and not environment:
        for source in (os.environ, secrets):
            if (source.get(toloka_api.URL_VARIABLE) or "").strip():
                url = source[toloka_api.URL_VARIABLE].strip()
                break
            if (source.get(toloka_api.ENVIRONMENT_VARIABLE) or "").strip():
                environment = source[toloka_api.ENVIRONMENT_VARIABLE].strip()
                break
        else:
            environment = "PRODUCTION"
    return toloka_api.make_client(token, environment=environment or None, url=url or None)


def _check_project(client, pool_ids: Sequence[str], project_id: str) -> None:
    """Every pool must belong to ``project_id``: a mistyped pool id fails before any download."""
    wrong = []
    for pid in pool_ids:
        pool = toloka_api._call(client, f"reading pool {pid}", client.get_pool, str(pid))
        if str(pool.project_id) != str(project_id):
            wrong.append(f"{pid} (project {pool.project_id})")
    if wrong:
        raise TolokaConfigError(
            f"pool{'s' if len(wrong) > 1 else ''} {', '.join(wrong)} {'are' if len(wrong) > 1 else 'is'} not in project "
            f"{project_id}; nothing was downloaded. Check the pool ids, or drop --project."
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


@_reports_service_errors
def cmd_toloka_import(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    # checked before Toloka is asked anything; version ids may be given as printed by `versions` (a prefix)
    parents = [ws.get(p).id for p in (args.parent or [])]
    if any(v.name == args.name.strip() and v.version == args.version.strip() for v in ws.versions()):
        raise ValueError(
            f"a version {args.name} {args.version} already exists in {ws.root}; versions are immutable, choose a new version number."
        )
    client = toloka_client(args.url, args.environment)
    pools, exams = list(args.pool or []), list(args.exam_pool or [])
    if args.project:
        _check_project(client, pools + exams, args.project)
    info = toloka_api.import_from_toloka(
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
        f"imported {info.label} as {info.id} into {ws.root}: {md.get('answers', 0):,} answers, {md.get('tasks', 0):,} tasks, "
        f"{md.get('workers', 0):,} annotators{cost_s} from Toloka pools {where}"
    )
    for note in _stored_notes(info):
        print(f"note: {note}")
    return 0


def _format_progress(p: toloka_api.PoolProgress, fee_rate: float) -> list[str]:
    total = f"{p.total_assignments:,}" if p.total_assignments is not None else "an unknown number of"
    pct = f" ({p.percent_done:.1f} % done)" if p.percent_done is not None else ""
    lines = [
        f"pool {p.pool_id} {p.name!r}: {p.status or 'status unknown'}, as of {p.as_of.isoformat()}",
        f"  task suites submitted: {p.submitted_assignments:,} of {total}{pct}",
        "  by status: " + ", ".join(f"{k} {v:,}" for k, v in p.by_status.items()),
        f"  annotators: {p.workers if p.workers is not None else 'unknown'} submitted; {p.active_workers:,} in the last "
        f"{p.window_hours:g} h, {p.rate_per_hour:.1f} suites/h",
    ]
    if p.spent_rewards is not None:
        lines.append(
            f"  spent: {p.spent_rewards:.2f} {p.currency} in rewards, {p.spent_total:.2f} {p.currency} with a {fee_rate:.0%} fee"
        )
    lines.append(f"  estimated finish: {p.estimated_finish.isoformat() if p.estimated_finish is not None else 'none'}")
    lines.append(
        "  figures from: "
        + ("Toloka's pool analytics" if p.source == "analytics" else "the pool's assignments, counted")
    )
    return lines


@_reports_service_errors
def cmd_toloka_progress(args: argparse.Namespace) -> int:
    client = toloka_client(args.url, args.environment)
    p = toloka_api.pool_progress(client, args.pool, window_hours=args.window_hours, fee_rate=args.fee_rate)
    if args.format == "json":
        print(json.dumps(p.as_dict(), indent=1, default=str))
    else:
        for line in _format_progress(p, args.fee_rate):
            print(line)
        for n in p.notes:
            print(f"note: {n}")
    return 0


# --------------------------------------------------------------------------------------------
# ClearML


@contextlib.contextmanager
def clearml_settings() -> Iterator[None]:
    """ClearML settings (``CLEARML_*``) from the secrets files, as environment variables while the command runs.

    The ClearML SDK reads its credentials from the environment (or ``~/clearml.conf``); this is
    what Streamlit does with top-level secrets. Variables already set win; the environment is
    restored afterwards.
    """
    secrets = read_secrets()
    added = {
        k: v for k, v in secrets.items() if k.startswith("CLEARML_") and v and not (os.environ.get(k) or "").strip()
    }
    previous = {k: os.environ.get(k) for k in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@_reports_service_errors
def cmd_clearml_publish(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    info = ws.get(args.version_id)
    before = {v.id: clearml_id_of(ws, v.id) for v in ws.versions()}
    with clearml_settings():
        store = make_clearml_store(args.project or DEFAULT_PROJECT)
        cid = store.publish(ws, info.id, with_parents=args.with_parents)
    if before.get(info.id):
        print(f"{info.label} ({info.id}) is already published as ClearML dataset {cid}; nothing was uploaded.")
        return 0
    for v in lineage_order(ws.versions()):
        now = clearml_id_of(ws, v.id)
        if now and not before.get(v.id):
            print(f"published {v.label} ({v.id}) as ClearML dataset {now} in project {store.project!r}")
    return 0


@_reports_service_errors
def cmd_clearml_pull(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    before = {v.id for v in ws.versions()}
    with clearml_settings():
        store = make_clearml_store(args.project or DEFAULT_PROJECT)
        info = store.pull(args.clearml_id, ws, with_parents=not args.no_parents)
    new = [v for v in lineage_order(ws.versions()) if v.id not in before]
    if not new:
        print(
            f"ClearML dataset {args.clearml_id} is already in {ws.root} as {info.label} ({info.id}); nothing was copied."
        )
    for v in new:
        print(f"pulled {v.label} as {v.id} into {ws.root}")
    return 0


@_reports_service_errors
def cmd_clearml_list(args: argparse.Namespace) -> int:
    with clearml_settings():
        store = make_clearml_store(args.project or DEFAULT_PROJECT)
        listing = store.listing()
    if args.format == "json":
        print(json.dumps([v.to_manifest() | {"source": v.source} for v in listing.versions], indent=1, default=str))
    else:
        print(f"ClearML project {store.project!r}: {len(listing.versions)} version(s)")
        from analytics.cli import print_lineage  # cli imports this module: import at call time

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


def add_remote_commands(subparsers: Any) -> None:
    """Register toloka-import, toloka-progress, clearml-publish, clearml-pull and clearml-list."""
    ws_help = f"workspace folder (default: $CROWDLENS_WORKSPACE, else ./{default_workspace()})"
    secrets_note = (
        f"The token comes from $TOLOKA_TOKEN or TOLOKA_TOKEN in {_secrets_files_text()}, never from the command line."
    )
    clearml_note = (
        "Credentials: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY in the environment or in "
        f"{_secrets_files_text()}, else ~/clearml.conf."
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
    p.add_argument(
        "--parent", action="append", metavar="VERSION_ID", help="parent version id or its prefix (repeatable)"
    )
    p.add_argument("--workspace", help=ws_help)
    p.add_argument(
        "--label-field", metavar="NAME", help="the output field holding the label, when the project has several"
    )
    p.add_argument(
        "--labels",
        type=_labels,
        metavar="A,B,C",
        help="the label set in tie order (default: the field's allowed values, else those seen)",
    )
    p.add_argument(
        "--fee-rate",
        type=float,
        default=toloka_api.DEFAULT_FEE_RATE,
        metavar="F",
        help=f"platform fee as a fraction of rewards (default {toloka_api.DEFAULT_FEE_RATE:g}; the API does not report it)",
    )
    p.add_argument(
        "--fee-minimum",
        type=float,
        default=toloka_api.DEFAULT_FEE_MINIMUM,
        metavar="X",
        help="minimum platform fee per assignment",
    )
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
        default=toloka_api.DEFAULT_FEE_RATE,
        metavar="F",
        help="platform fee added to the spend",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    _toloka_target(p)
    p.set_defaults(func=cmd_toloka_progress)

    p = subparsers.add_parser(
        "clearml-publish",
        help="publish a workspace version unchanged as a finalized ClearML dataset version",
        description="Publish a workspace version to ClearML Data (its files, its manifest as metadata, its parents as ClearML parents). "
        + clearml_note,
    )
    p.add_argument("version_id", metavar="VERSION_ID", help="the workspace version (id or prefix)")
    p.add_argument("--workspace", help=ws_help)
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
    p.add_argument("--workspace", help=ws_help)
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


__all__ = [
    "SECRETS_FILES",
    "SecretsFileError",
    "add_remote_commands",
    "clearml_settings",
    "make_clearml_store",
    "read_secrets",
    "toloka_client",
]
