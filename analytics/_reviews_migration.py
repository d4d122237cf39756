"""The one-time migration of the old ``reviews/<id>.jsonl`` decision files into ``reviews.sqlite3``.

Every readable line is kept, also after a torn one; a torn line glued to the next decision (the
old writer appended onto a line a killed writer left unfinished) gives up its complete trailing
decision. Lines that hold no decision (cut short, not UTF-8, JSON that is not an object) are
reported with file and physical line. A file named after a unique id prefix goes to that
version's full id. Each migrated file is recorded in the database (so it runs once) and renamed
``<name>.jsonl.migrated``, never deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.model import Problem
from analytics.reviews import _HEX, DECISIONS, transaction, utc_now
from analytics.sources.store import Listing, describe_versions, matching
from analytics.sources.workspace import Workspace

SUFFIX = ".jsonl"
MIGRATED = ".migrated"
FULL_ID_LENGTH = 32  # a workspace or ClearML version id: 32 hex characters
_FIX_LOST = (
    "nothing to do unless you remember that decision: record it again (`crowdlens review record`). "
    f"The original file is kept beside it, renamed *{SUFFIX}{MIGRATED}."
)
_DECODER = json.JSONDecoder()


@dataclass
class _File:
    path: Path
    name: str  # as recorded: reviews/<file name>
    sha256: str
    version_id: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _problem(file: str, line: int, message: str, fix: str = _FIX_LOST) -> Problem:
    return Problem(file=file, message=message, fix=fix, rows=(line,), count=1, severity="warning")


def _trailing_object(raw: bytes) -> dict | None:
    """The complete JSON object that ends ``raw`` after a torn start, if there is one."""
    start = raw.find(b'{"', 1)
    while start > 0:
        try:
            text = raw[start:].decode("utf-8")
            obj, end = _DECODER.raw_decode(text)
        except ValueError:  # UnicodeDecodeError is a ValueError too
            obj, end, text = None, 0, ""
        if isinstance(obj, dict) and not text[end:].strip():
            return obj
        start = raw.find(b'{"', start + 1)
    return None


def _decode(raw: bytes) -> tuple[Any, str]:
    """(the line's object or None, what was wrong with it or "")."""
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        try:
            obj = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(obj, dict):
                return obj, ""
            shown = text.strip()[:40]
            return None, f"this line is JSON but not a decision (found {shown!r}); it was skipped."
    obj = _trailing_object(raw)
    if obj is not None:
        return obj, (
            "this line holds the start of a decision whose write was interrupted, followed by a complete one: "
            "the complete decision was kept, the interrupted one is lost."
        )
    if text is None:
        return None, "this line is not UTF-8 text (a write was cut inside a character); it was skipped."
    return None, "this line was cut short by an interrupted write and holds no complete decision; it was skipped."


def _when(value: Any) -> str:
    """An old ``decided_at`` in the database's form (UTC, microseconds); kept as text if unparseable."""
    if value is None:
        return ""
    try:
        t = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return str(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _decision(obj: dict) -> tuple[dict[str, str] | None, str]:
    worker, decision = obj.get("worker_id"), obj.get("decision")
    if worker is None or not str(worker).strip():
        return None, "this line is a JSON object without a worker_id, not a decision; it was skipped."
    if decision not in DECISIONS:
        return None, f"this line's decision {decision!r} is not one of {DECISIONS}; it was skipped."
    row = {
        "worker_id": str(worker),
        "decision": decision,
        "reviewer": "" if obj.get("reviewer") is None else str(obj["reviewer"]).strip(),
        "note": "" if obj.get("note") is None else str(obj["note"]),
        "decided_at": _when(obj.get("decided_at")),
    }
    return row, ""


def parse_lines(data: bytes, file: str) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """The decisions in an old file's bytes, with their physical line numbers, and its problems."""
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        obj, what = _decode(raw)
        row, why = _decision(obj) if obj is not None else (None, what)
        if row is None:
            problems.append(_problem(file, number, why))
            continue
        rows.append((number, row))
        if what:
            problems.append(_problem(file, number, what))
    return rows, problems


def _target(listing: Listing, path: Path, root: Path) -> tuple[str | None, Problem | None]:
    """The full version id a file belongs to, or the problem of a name that is no (unique) version."""
    stem = path.name[: -len(SUFFIX)]
    found = matching(listing.versions, stem) if _HEX.fullmatch(stem) else []
    if len(found) == 1:
        return found[0].id, None
    if not found and _HEX.fullmatch(stem) and len(stem) >= FULL_ID_LENGTH:
        return stem, None  # a version this workspace cannot list (say, an unreadable manifest): kept by its id
    what = f"several dataset versions ({describe_versions(found)})" if found else "no dataset version"
    return None, Problem(
        file=str(path),
        message=f"this file of review decisions is named after {stem!r}, which matches {what} in {root}; "
        "it was left in place, not migrated.",
        fix=f"rename it to reviews/<full version id>{SUFFIX} (the ids are in `crowdlens versions`); "
        "it is migrated the next time decisions are opened.",
        severity="warning",
    )


def _recorded(con: sqlite3.Connection) -> set[tuple[str, str]]:
    return {(f, s) for f, s in con.execute("SELECT file, sha256 FROM migrations")}


def _set_aside(path: Path, sha256: str) -> None:
    """Rename a migrated file to ``*.jsonl.migrated`` (never delete it), if it still holds what was migrated."""
    try:
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            return  # written again since: migrated on its own the next time
    except OSError:
        return
    target = path.with_name(path.name + MIGRATED)
    if target.exists():
        target = path.with_name(f"{path.name}.{sha256[:12]}{MIGRATED}")
    with contextlib.suppress(OSError):  # recorded as migrated: renaming again next time is harmless
        os.rename(path, target)


def _write(con: sqlite3.Connection, pending: list[_File]) -> list[_File]:
    """Insert the decisions of the files not migrated yet, in one transaction; those files."""
    with transaction(con):
        done = _recorded(con)
        fresh = [f for f in pending if (f.name, f.sha256) not in done]
        # one version's decisions may come from two files (its id and a prefix): oldest first
        rows = sorted(
            ((r["decided_at"], i, line, f, r) for i, f in enumerate(fresh) for line, r in f.rows),
            key=lambda t: t[:3],
        )
        con.executemany(
            "INSERT INTO decisions (version_id, worker_id, decision, reviewer, note, decided_at, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f.version_id,
                    r["worker_id"],
                    r["decision"],
                    r["reviewer"],
                    r["note"],
                    r["decided_at"],
                    f"{f.name}:{n}",
                )
                for _, _, n, f, r in rows
            ],
        )
        now = utc_now()
        con.executemany(
            "INSERT INTO migrations (file, sha256, version_id, migrated_at, decisions, problems) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (f.name, f.sha256, f.version_id, now, len(f.rows), json.dumps([p.as_dict() for p in f.problems]))
                for f in fresh
            ],
        )
    return fresh


def migrate_files(con: sqlite3.Connection, ws: Workspace) -> list[Problem]:
    """Migrate every ``reviews/*.jsonl`` not migrated yet; the problems of those migrated now and
    of the files left in place."""
    paths = sorted((ws.root / "reviews").glob("*" + SUFFIX))
    if not paths:
        return []
    listing = ws.listing()
    done = _recorded(con)
    pending: list[_File] = []
    left: list[Problem] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # another process migrated it a moment ago
        sha = hashlib.sha256(data).hexdigest()
        name = f"reviews/{path.name}"
        if (name, sha) in done:
            _set_aside(path, sha)  # migrated, but the rename did not happen (a crash in between)
            continue
        version_id, problem = _target(listing, path, ws.root)
        if version_id is None:
            left.append(problem)
            continue
        rows, problems = parse_lines(data, str(path))
        pending.append(_File(path, name, sha, version_id, rows, problems))
    written = _write(con, pending) if pending else []
    for f in pending:
        _set_aside(f.path, f.sha256)
    return [p for f in written for p in f.problems] + left
