"""QA decisions on annotators' bans, kept in an append-only SQLite database beside the versions.

The database is ``<workspace>/reviews.sqlite3`` (WAL, ``synchronous=FULL``, one transaction per
decision), so a decision is either confirmed and on disk or not saved at all: a crash, a killed
process or a full disk never leaves half a decision, and never costs one that was confirmed.
Rows are never updated or deleted (SQLite triggers refuse it); a changed mind is a new row, and
the latest row per annotator is the current decision. Every row carries the FULL version id and
the SHA-256 of the evidence the reviewer was shown.

The first time the database is opened, the old ``reviews/<id>.jsonl`` files are migrated into it
(:mod:`analytics._reviews_migration`). Schema 2 adds two append-only tables kept by
:mod:`analytics.qa_records`: ``proposals`` (QA what-ifs on a version) and ``applications``
(decisions sent to Toloka, keyed to the decision id, applied at most once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import pandas as pd

from analytics.model import Problem
from analytics.sources.store import RunStore, resolve
from analytics.sources.workspace import Workspace

DECISIONS = ("uphold", "overturn", "needs more evidence")
# the command line's spelling of each decision (no spaces)
CLI_DECISIONS = {"uphold": "uphold", "overturn": "overturn", "more-evidence": "needs more evidence"}
DATABASE = "reviews.sqlite3"
COLUMNS = ("worker_id", "decision", "reviewer", "note", "decided_at", "evidence_sha256", "id")
BUSY_TIMEOUT_MS = 30_000
SCHEMA_VERSION = 2  # 2: proposals and applications (issue 17)
FULL_BELOW = 1 << 16  # bytes free under which a failed write is put down to a full disk

_T = TypeVar("_T")
_HEX = re.compile(r"[0-9a-f]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("id", "version_id", "worker_id", "decision", "reviewer", "note", "decided_at", "evidence_sha256")
_DAMAGED = ("not a database", "malformed", "corrupt")
_APPEND_ONLY = "decisions are append-only: record a new decision instead of changing or removing one"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        version_id TEXT NOT NULL CHECK (length(version_id) > 0 AND version_id NOT GLOB '*[^0-9a-f]*'),
        worker_id TEXT NOT NULL CHECK (length(worker_id) > 0),
        decision TEXT NOT NULL CHECK (decision IN ('uphold', 'overturn', 'needs more evidence')),
        reviewer TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL,
        evidence_sha256 TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS decisions_by_version ON decisions (version_id, worker_id, id)",
    """CREATE TABLE IF NOT EXISTS migrations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        version_id TEXT NOT NULL,
        migrated_at TEXT NOT NULL,
        decisions INTEGER NOT NULL,
        problems TEXT NOT NULL,
        UNIQUE (file, sha256)
    )""",
    # schema 2 (issue 17): QA proposals (what-ifs on a version) and decisions applied in Toloka
    """CREATE TABLE IF NOT EXISTS proposals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        version_id TEXT NOT NULL CHECK (length(version_id) > 0 AND version_id NOT GLOB '*[^0-9a-f]*'),
        kind TEXT NOT NULL CHECK (kind IN ('golden_overrides', 'rule_settings')),
        change TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '{}',
        reviewer TEXT NOT NULL CHECK (length(reviewer) > 0),
        note TEXT NOT NULL DEFAULT '',
        proposed_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS applications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        decision_id INTEGER NOT NULL REFERENCES decisions (id),
        action TEXT NOT NULL CHECK (action IN ('set_restriction', 'delete_restriction', 'none')),
        status TEXT NOT NULL CHECK (status IN ('sending', 'applied', 'failed')),
        request TEXT NOT NULL,
        response TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        applied_by TEXT NOT NULL CHECK (length(applied_by) > 0),
        at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS proposals_by_version ON proposals (version_id, id)",
    "CREATE INDEX IF NOT EXISTS applications_by_decision ON applications (decision_id, id)",
    # a decision is applied at most once, whatever the callers do
    "CREATE UNIQUE INDEX IF NOT EXISTS applications_once ON applications (decision_id) WHERE status = 'applied'",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        for table in ("decisions", "migrations", "proposals", "applications")
        for op in ("UPDATE", "DELETE")
    ),
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


class ReviewsError(Exception):
    """The review decisions cannot be read or written; the message names the file and the fix."""


class DecisionNotSaved(ReviewsError):
    """A decision could not be written (disk full, database busy, ...): it is not recorded, and
    every decision confirmed before it is kept."""


class ReviewsDatabaseError(ReviewsError):
    """``reviews.sqlite3`` is damaged; the message names the file and how to restore it."""


@dataclass(frozen=True)
class Decision:
    """One recorded decision, as stored (``id`` is its row in the database, 1, 2, ...)."""

    id: int
    version_id: str
    worker_id: str
    decision: str
    reviewer: str
    note: str
    decided_at: str
    evidence_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


WorkspaceLike = Workspace | str | os.PathLike


def _workspace(workspace: WorkspaceLike) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def database_path(workspace: WorkspaceLike) -> Path:
    """Where a workspace keeps its decisions: ``<workspace>/reviews.sqlite3``."""
    return _workspace(workspace).root / DATABASE


def utc_now() -> str:
    """Now in UTC, ISO 8601 with microseconds: ``2024-05-01T12:00:00.123456Z``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- evidence


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return {"sha256": evidence_hash(obj)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # shallow: frames by their hash
    if isinstance(obj, (set, frozenset)):
        return sorted(str(x) for x in obj)
    return str(obj)


def evidence_hash(evidence: Any) -> str:
    """SHA-256 (hex) of the evidence a reviewer was shown, the same for the same content.

    ``bytes`` and ``str`` are hashed as they are (text as UTF-8); a DataFrame or Series by its
    index, columns and values (``to_json(orient="split")``); anything else (a dict of figures, a
    list, a dataclass such as ``analytics.metrics.rules.BanEvidence``) as canonical JSON, keys
    sorted, frames inside it by their own hash.
    """
    if isinstance(evidence, bytes):
        data = evidence
    elif isinstance(evidence, str):
        data = evidence.encode("utf-8")
    elif isinstance(evidence, (pd.DataFrame, pd.Series)):
        frame = evidence.to_frame() if isinstance(evidence, pd.Series) else evidence
        text = frame.to_json(orient="split", date_format="iso", date_unit="ns", default_handler=str)
        data = text.encode("utf-8")
    else:
        text = json.dumps(evidence, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
        data = text.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _evidence_sha(evidence: Any) -> str:
    """The hash to store: none for no evidence, a 64-hex string as given, else :func:`evidence_hash`."""
    if evidence is None:
        return ""
    if isinstance(evidence, str) and _SHA256.fullmatch(evidence):
        return evidence
    return evidence_hash(evidence)


# ---- validation


def check_version_id(version_id: Any) -> str:
    """``version_id`` if it is lower-case hex (a full id or a prefix); ValueError otherwise."""
    if not isinstance(version_id, str) or not _HEX.fullmatch(version_id):
        raise ValueError(
            "The 'version_id' parameter must be a dataset version id or a unique prefix of one, in lower-case "
            f"hex as `crowdlens versions` prints it (such as 'c00b4ca8'). Got {version_id!r} instead."
        )
    return version_id


def full_version_id(workspace: WorkspaceLike, version_id: str, store: RunStore | None = None) -> str:
    """The full id of the one version ``version_id`` is the id or a unique prefix of, in ``store``
    (default: the workspace); VersionLookupError naming the candidates otherwise."""
    ws = _workspace(workspace)
    check_version_id(version_id)
    source = ws if store is None else store
    root = getattr(source, "root", None)
    where = f"the workspace {root}" if root is not None else "the store"
    return resolve(source.listing(), version_id, where=where).id


def _validated(worker_id: Any, decision: Any, reviewer: Any, note: Any) -> tuple[str, str, str, str]:
    if decision not in DECISIONS:
        raise ValueError(f"The 'decision' parameter must be one of {DECISIONS}. Got {decision!r} instead.")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ValueError("Say who decided: the reviewer's name is empty. Type your name in Reviewer and record again.")
    if worker_id is None or not str(worker_id).strip():
        raise ValueError(f"The 'worker_id' parameter must be an annotator's id. Got {worker_id!r} instead.")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ValueError(f"The 'note' parameter must be text. Got a {type(note).__name__} instead.")
    return str(worker_id), decision, reviewer.strip(), note


# ---- the database


def _damaged(path: Path, err: BaseException) -> ReviewsDatabaseError:
    return ReviewsDatabaseError(
        f"{path} is damaged ({err}); no decision can be read or recorded until it is replaced. "
        f"Fix: move {path.name} aside, then copy your latest backup in its place (backups are made with "
        f'`sqlite3 {path.name} ".backup backup.sqlite3"`), or salvage what is readable with '
        f'`sqlite3 damaged.sqlite3 ".recover" | sqlite3 {path.name}`.'
    )


def _is_damaged(err: BaseException) -> bool:
    return isinstance(err, sqlite3.DatabaseError) and any(w in str(err).lower() for w in _DAMAGED)


def _not_saved(path: Path, err: BaseException) -> ReviewsError:
    if _is_damaged(err):
        return _damaged(path, err)
    text = str(err).lower()
    if "locked" in text or "busy" in text:
        fix = f"another program kept {path.name} busy for {BUSY_TIMEOUT_MS // 1000} s; record the decision again."
    else:
        fix = f"free space on the disk that holds {path.parent} (see `df -h {path.parent}`), then record it again."
    why = f"{err}; the disk is full" if _disk_full(path, err) and "full" not in text else str(err)
    return DecisionNotSaved(
        f"The decision was not saved: {path} could not be written ({why}). "
        f"Every decision confirmed before it is kept. Fix: {fix}"
    )


def _disk_full(path: Path, err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    try:
        return shutil.disk_usage(path.parent).free < FULL_BELOW
    except OSError:
        return False


def _not_read(path: Path, err: BaseException) -> ReviewsError:
    if _is_damaged(err):
        return _damaged(path, err)
    return ReviewsError(
        f"The decisions in {path} cannot be read ({err}). "
        "Fix: check that the workspace folder is readable and writable, and that its disk is not full, then reload."
    )


def _is_busy(err: BaseException) -> bool:
    return isinstance(err, sqlite3.OperationalError) and any(w in str(err).lower() for w in ("locked", "busy"))


def _while_busy(step: Callable[[], _T]) -> _T:
    """``step`` again while the database is busy, for BUSY_TIMEOUT_MS in all. SQLite gives up at
    once on some lock conflicts (two new connections switching a new database to WAL), and its own
    wait polls, so one writer among many can lose every turn; ``step`` must change nothing when
    it fails busy (taking a lock, switching the journal)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            return step()
        except sqlite3.OperationalError as err:
            if not _is_busy(err) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(pause / 2, pause))  # jittered, so waiting writers do not wake together
        pause = min(pause * 2, 0.05)


def _prepare(con: sqlite3.Connection) -> None:
    """Busy timeout, WAL and full sync on this connection; the schema, once per database."""
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _while_busy(lambda: _to_wal(con))
    con.execute("PRAGMA synchronous = FULL")
    if con.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    with transaction(con):
        if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            for statement in _SCHEMA:
                con.execute(statement)


def _to_wal(con: sqlite3.Connection) -> None:
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        con.execute("PRAGMA journal_mode = WAL")


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``, retried while another writer holds the lock),
    committed on success, rolled back otherwise."""
    _while_busy(lambda: con.execute("BEGIN IMMEDIATE"))
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def connect(workspace: WorkspaceLike, *, migrate: bool = True) -> Iterator[sqlite3.Connection]:
    """An open, prepared connection to the workspace's decisions (closed afterwards); the old
    ``reviews/*.jsonl`` files are migrated first. sqlite3/OS errors are left to the caller."""
    ws = _workspace(workspace)
    con = sqlite3.connect(database_path(ws), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        _prepare(con)
        if migrate:
            from analytics import _reviews_migration

            _reviews_migration.migrate_files(con, ws)
        yield con
    finally:
        con.close()


def _insert(con: sqlite3.Connection, row: dict[str, str]) -> int:
    with transaction(con):
        cur = con.execute(
            "INSERT INTO decisions (version_id, worker_id, decision, reviewer, note, decided_at, evidence_sha256) "
            "VALUES (:version_id, :worker_id, :decision, :reviewer, :note, :decided_at, :evidence_sha256)",
            row,
        )
        return int(cur.lastrowid)


# ---- the public API


def record_decision(
    workspace: WorkspaceLike,
    version_id: str,
    worker_id: str,
    decision: str,
    reviewer: str,
    note: str = "",
    evidence: Any = None,
    *,
    store: RunStore | None = None,
) -> Decision:
    """Record a reviewer's decision on an annotator's ban; returns it once it is on disk.

    ``version_id`` may be a unique prefix: it is resolved in ``store`` (default: the workspace)
    and the FULL id is stored. ``evidence`` is what the reviewer was shown (a dict, text, a
    DataFrame; hashed with :func:`evidence_hash`) or its SHA-256 already. Raises ValueError for a
    bad argument, VersionLookupError for an unknown or ambiguous id, DecisionNotSaved when the
    decision could not be written (nothing confirmed before is lost), ReviewsDatabaseError when
    the database is damaged.
    """
    ws = _workspace(workspace)
    worker, decision, reviewer, note = _validated(worker_id, decision, reviewer, note)
    row = {
        "version_id": full_version_id(ws, version_id, store),
        "worker_id": worker,
        "decision": decision,
        "reviewer": reviewer,
        "note": note,
        "decided_at": utc_now(),
        "evidence_sha256": _evidence_sha(evidence),
    }
    path = database_path(ws)
    try:
        with connect(ws) as con:
            new_id = _insert(con, row)
    except (sqlite3.Error, OSError) as err:
        raise _not_saved(path, err) from err
    return Decision(id=new_id, **row)


def decisions(
    workspace: WorkspaceLike, version_id: str, worker_id: str | None = None, *, store: RunStore | None = None
) -> pd.DataFrame:
    """Every decision recorded on a version (optionally one annotator's), oldest first.

    Columns: worker_id, decision, reviewer, note, decided_at, evidence_sha256, id. The last row
    of an annotator is their current decision (``analytics.people.attach_decisions``).
    """
    ws = _workspace(workspace)
    full = full_version_id(ws, version_id, store)
    path = database_path(ws)
    if not path.exists() and not any((ws.root / "reviews").glob("*.jsonl")):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "id" else object) for c in COLUMNS})
    sql = f"SELECT {', '.join(COLUMNS)} FROM decisions WHERE version_id = ?"
    params: tuple[str, ...] = (full,)
    if worker_id is not None:
        sql, params = sql + " AND worker_id = ?", (full, str(worker_id))
    try:
        with connect(ws) as con:
            rows = con.execute(sql + " ORDER BY id", params).fetchall()
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    return frame.astype({"id": "int64"})


def decision_rows(workspace: WorkspaceLike, version_id: str, *, store: RunStore | None = None) -> list[Decision]:
    """:func:`decisions` as Decision objects (oldest first)."""
    full = full_version_id(workspace, version_id, store)
    frame = decisions(workspace, full, store=store)
    return [Decision(version_id=full, **rec) for rec in frame.to_dict("records")]


def migrate(workspace: WorkspaceLike) -> list[Problem]:
    """Migrate the old ``reviews/*.jsonl`` files now (it also happens on every first open); the
    problems found in the files migrated by this call and with the files left in place."""
    ws = _workspace(workspace)
    path = database_path(ws)
    if not any((ws.root / "reviews").glob("*.jsonl")):
        return []
    from analytics import _reviews_migration

    try:
        with connect(ws, migrate=False) as con:
            return _reviews_migration.migrate_files(con, ws)
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err


def migration_notes(workspace: WorkspaceLike) -> list[Problem]:
    """Every problem recorded when old ``reviews/*.jsonl`` files were migrated (lines that could not
    be kept, with file and line), and those of files still waiting (named after no version)."""
    ws = _workspace(workspace)
    path = database_path(ws)
    pending = migrate(ws)
    if not path.exists():
        return pending
    try:
        with connect(ws, migrate=False) as con:
            stored = con.execute("SELECT problems FROM migrations ORDER BY id").fetchall()
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err
    known = {f.name for f in dataclasses.fields(Problem)}
    notes = []
    for (doc,) in stored:
        for p in json.loads(doc):
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in p.items() if k in known}
            notes.append(Problem(**fields))
    return notes + pending
