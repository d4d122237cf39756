"""The ``crowdlens`` command: its parser, its entry point and the error handling every command shares.

The commands live beside this module: :mod:`analytics.cli.files` (validate, import, report,
versions, demo), :mod:`analytics.cli.remote` (toloka-*, clearml-*) and
:mod:`analytics.cli.review` (review record / list). Each handler returns its exit status;
:func:`main` turns the errors they let through into one message on stderr:

- invalid input (``ValidationError``): every problem at once, exit status 1;
- a service's or a secrets file's problem (:data:`analytics.cli.remote.SERVICE_ERRORS`): one
  line with every known secret scrubbed, exit status 1;
- a command that cannot be done as asked (an unknown or ambiguous version id, a version that
  exists already, a file that is not there): one line, exit status 2, as argparse's usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from analytics import settings
from analytics.cli.engine import add_engine_commands
from analytics.cli.files import EXIT_PROBLEMS, EXIT_USAGE, add_file_commands
from analytics.cli.lineage import add_lineage_commands
from analytics.cli.qa import add_qa_commands
from analytics.cli.remote import SERVICE_ERRORS, add_remote_commands
from analytics.cli.review import add_review_commands
from analytics.model import ValidationError
from analytics.sources.memory import without_huge_pages
from analytics.sources.store import VersionLookupError

__all__ = ["EXIT_PROBLEMS", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crowdlens",
        description="Quality and cost of crowdsourced labeling runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_file_commands(sub)
    add_remote_commands(sub)
    add_review_commands(sub)
    add_engine_commands(sub)
    add_qa_commands(sub)  # rules, audit, exam-review (issue 17)
    add_lineage_commands(sub)
    return parser


HUGE_PAGE_COMMANDS = {"import"}  # faster with transparent huge pages (see without_huge_pages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in HUGE_PAGE_COMMANDS:
        without_huge_pages()  # a large report runs faster on small pages (see its docstring)
    try:
        return int(args.func(args) or 0)
    except ValidationError as err:
        print(str(err), file=sys.stderr)
        return EXIT_PROBLEMS
    except SERVICE_ERRORS as err:
        print(f"crowdlens {args.command}: {settings.scrub(str(err))}", file=sys.stderr)
        return EXIT_PROBLEMS
    except (VersionLookupError, ValueError, OSError) as err:
        print(f"crowdlens {args.command}: {settings.scrub(str(err))}", file=sys.stderr)
        return EXIT_USAGE
