"""``crowdlens review record|list``: QA decisions on annotators' bans, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from analytics import reviews
from analytics.settings import workspace_root
from analytics.sources.workspace import Workspace

EXIT_OK = 0
EXIT_PROBLEMS = 1
FORMATS = ("text", "json", "csv")
_NOTE_WIDTH = 60  # characters of a note the text listing shows


def _workspace_flag(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: a --workspace given before the command (if the main parser has one) is not overwritten
    p.add_argument(
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the workspace folder (default: CROWDLENS_WORKSPACE, the secrets files, else ./workspace)",
    )


def add_review_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``review record`` and ``review list`` to the ``crowdlens`` command's subparsers."""
    review = subparsers.add_parser(
        "review",
        help="record and list QA decisions on annotators' bans",
        description="QA decisions on annotators' bans, kept append-only in <workspace>/reviews.sqlite3.",
    )
    sub = review.add_subparsers(dest="review_command", required=True, metavar="{record,list}")

    rec = sub.add_parser(
        "record",
        help="record a decision on an annotator's ban (prints the decision's id)",
        description="Record a decision; a changed mind is a new decision, the latest one counts.",
    )
    rec.add_argument("version", metavar="VERSION", help="the dataset version's id, or a unique prefix of it")
    rec.add_argument("annotator", metavar="ANNOTATOR", help="the annotator's (worker's) id")
    rec.add_argument("--decision", required=True, choices=tuple(reviews.CLI_DECISIONS), help="the decision")
    rec.add_argument("--reviewer", required=True, metavar="NAME", help="who decided")
    rec.add_argument("--note", default="", metavar="TEXT", help="what you checked and what it showed")
    _workspace_flag(rec)
    rec.set_defaults(func=cmd_review_record)

    lst = sub.add_parser("list", help="every decision on a version, oldest first")
    lst.add_argument("version", metavar="VERSION", help="the dataset version's id, or a unique prefix of it")
    lst.add_argument("--annotator", metavar="ID", help="only this annotator's decisions")
    lst.add_argument("--format", dest="output_format", choices=FORMATS, default="text", help="output format")
    _workspace_flag(lst)
    lst.set_defaults(func=cmd_review_list)
    return review


def _open(args: argparse.Namespace) -> Workspace:
    return Workspace(workspace_root(getattr(args, "workspace", None)))


def _fail(command: str, err: Exception) -> int:
    print(f"crowdlens review {command}: {err}", file=sys.stderr)
    return EXIT_PROBLEMS


def _print_notes(ws: Workspace) -> None:
    """The problems found migrating old reviews/*.jsonl files (only when that happens now)."""
    for problem in reviews.migrate(ws):
        print(f"note: {problem}", file=sys.stderr)


def cmd_review_record(args: argparse.Namespace) -> int:
    ws = _open(args)
    try:
        _print_notes(ws)
        decision = reviews.record_decision(
            ws, args.version, args.annotator, reviews.CLI_DECISIONS[args.decision], args.reviewer, args.note
        )
    except (ValueError, reviews.ReviewsError) as err:  # VersionLookupError is a ValueError
        return _fail("record", err)
    print(decision.id)
    print(
        f"Recorded {decision.decision!r} on annotator {decision.worker_id} in version {decision.version_id} "
        f"by {decision.reviewer} (decision {decision.id}).",
        file=sys.stderr,
    )
    return EXIT_OK


def _text(frame: pd.DataFrame, version_id: str) -> str:
    if frame.empty:
        return f"No decision recorded on version {version_id}."
    shown = frame.assign(
        note=[n if len(n) <= _NOTE_WIDTH else n[: _NOTE_WIDTH - 1] + "…" for n in frame["note"].str.replace("\n", " ")]
    )
    cols = ["id", "decided_at", "worker_id", "decision", "reviewer", "note"]
    return f"Decisions on version {version_id} (oldest first):\n" + shown[cols].to_string(index=False)


def cmd_review_list(args: argparse.Namespace) -> int:
    ws = _open(args)
    try:
        _print_notes(ws)
        version_id = reviews.full_version_id(ws, args.version)
        frame = reviews.decisions(ws, version_id, args.annotator)
    except (ValueError, reviews.ReviewsError) as err:
        return _fail("list", err)
    if args.output_format == "json":
        records = frame.assign(version_id=version_id).to_dict("records")
        print(json.dumps(records, ensure_ascii=False, indent=1, default=str))
    elif args.output_format == "csv":
        frame.assign(version_id=version_id).to_csv(sys.stdout, index=False)
    else:
        print(_text(frame, version_id))
    return EXIT_OK
