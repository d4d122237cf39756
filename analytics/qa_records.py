"""QA proposals (what-ifs on a version) and decisions applied in Toloka, append-only in ``reviews.sqlite3``.

Same durability as the decisions (:mod:`analytics.reviews`): one transaction per record, WAL and
``synchronous=FULL``, triggers refusing UPDATE and DELETE. A proposal stores a what-if — golden
labels corrected or dropped, or rule thresholds — with what it would change; it never edits the
version. An application is a decision sent to Toloka, in rows: ``sending`` (the request, written
before it leaves), then ``applied`` (with Toloka's answer) or ``failed`` (with the reason); a
unique index lets a decision be ``applied`` once only.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics import reviews
from analytics.reviews import WorkspaceLike, _not_read, _not_saved, _workspace, connect, transaction, utc_now
from analytics.sources.store import RunStore

PROPOSAL_KINDS = ("golden_overrides", "rule_settings")
ACTIONS = ("set_restriction", "delete_restriction", "none")
STATUSES = ("sending", "applied", "failed")
PROPOSAL_COLUMNS = ("id", "version_id", "kind", "change", "summary", "reviewer", "note", "proposed_at")
APPLICATION_COLUMNS = ("id", "decision_id", "action", "status", "request", "response", "reason", "applied_by", "at")


class AlreadyApplied(reviews.ReviewsError):
    """The decision was applied in Toloka already; it is never sent twice."""


@dataclass(frozen=True)
class Proposal:
    """One stored QA proposal; ``change`` and ``summary`` as given (JSON-able)."""

    id: int
    version_id: str
    kind: str
    change: Any
    summary: Any
    reviewer: str
    note: str
    proposed_at: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Application:
    """One row of a decision's application (``request``/``response`` JSON-able, ``reason`` text)."""

    id: int
    decision_id: int
    action: str
    status: str
    request: Any
    response: Any
    reason: str
    applied_by: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _loads(text: str) -> Any:
    return json.loads(text) if text else None


def _who(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Say who {what}: the name is empty.")
    return name.strip()


# ---- proposals


def record_proposal(
    workspace: WorkspaceLike,
    version_id: str,
    kind: str,
    change: Any,
    reviewer: str,
    note: str = "",
    summary: Any = None,
    *,
    store: RunStore | None = None,
) -> Proposal:
    """Store a QA proposal on a version (``kind`` golden_overrides: ``change`` = {task_id: label or
    None}; rule_settings: {"RULE.KEY": value}); returns it once it is on disk. The version itself
    is never changed. Raises ValueError, VersionLookupError, DecisionNotSaved as record_decision."""
    if kind not in PROPOSAL_KINDS:
        raise ValueError(f"The 'kind' parameter must be one of {PROPOSAL_KINDS}. Got {kind!r} instead.")
    if not isinstance(change, dict) or not change:
        raise ValueError("A proposal changes something: 'change' must be a non-empty dict.")
    ws = _workspace(workspace)
    row = {
        "version_id": reviews.full_version_id(ws, version_id, store),
        "kind": kind,
        "change": _json(change),
        "summary": _json(summary if summary is not None else {}),
        "reviewer": _who(reviewer, "proposes it"),
        "note": "" if note is None else str(note),
        "proposed_at": utc_now(),
    }
    path = reviews.database_path(ws)
    try:
        with connect(ws) as con, transaction(con):
            cur = con.execute(
                "INSERT INTO proposals (version_id, kind, change, summary, reviewer, note, proposed_at) "
                "VALUES (:version_id, :kind, :change, :summary, :reviewer, :note, :proposed_at)",
                row,
            )
            new_id = int(cur.lastrowid)
    except (sqlite3.Error, OSError) as err:
        raise _not_saved(path, err) from err
    return Proposal(id=new_id, **{**row, "change": json.loads(row["change"]), "summary": json.loads(row["summary"])})


def proposals(workspace: WorkspaceLike, version_id: str, *, store: RunStore | None = None) -> list[Proposal]:
    """Every proposal stored on a version, oldest first."""
    ws = _workspace(workspace)
    full = reviews.full_version_id(ws, version_id, store)
    path = reviews.database_path(ws)
    if not path.exists():
        return []
    try:
        with connect(ws) as con:
            rows = con.execute(
                f"SELECT {', '.join(PROPOSAL_COLUMNS)} FROM proposals WHERE version_id = ? ORDER BY id", (full,)
            ).fetchall()
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err
    out = []
    for r in rows:
        rec = dict(zip(PROPOSAL_COLUMNS, r, strict=True))
        rec["change"], rec["summary"] = _loads(rec["change"]), _loads(rec["summary"])
        out.append(Proposal(**rec))
    return out


# ---- decisions and their applications


def decision(workspace: WorkspaceLike, decision_id: int) -> reviews.Decision:
    """The recorded decision ``decision_id`` (any version); ValueError when there is none."""
    ws = _workspace(workspace)
    path = reviews.database_path(ws)
    cols = ("id", "version_id", "worker_id", "decision", "reviewer", "note", "decided_at", "evidence_sha256")
    try:
        with connect(ws) as con:
            row = con.execute(f"SELECT {', '.join(cols)} FROM decisions WHERE id = ?", (int(decision_id),)).fetchone()
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err
    if row is None:
        raise ValueError(f"There is no decision {decision_id!r} in {path}: `crowdlens review list VERSION` lists them.")
    return reviews.Decision(**dict(zip(cols, row, strict=True)))


def _rows(con: sqlite3.Connection, decision_id: int) -> list[Application]:
    rows = con.execute(
        f"SELECT {', '.join(APPLICATION_COLUMNS)} FROM applications WHERE decision_id = ? ORDER BY id",
        (int(decision_id),),
    ).fetchall()
    out = []
    for r in rows:
        rec = dict(zip(APPLICATION_COLUMNS, r, strict=True))
        rec["request"], rec["response"] = _loads(rec["request"]), _loads(rec["response"])
        out.append(Application(**rec))
    return out


def applications(workspace: WorkspaceLike, decision_id: int) -> list[Application]:
    """Every application row of a decision, oldest first (``sending``, then ``applied``/``failed``)."""
    ws = _workspace(workspace)
    path = reviews.database_path(ws)
    if not path.exists():
        return []
    try:
        with connect(ws) as con:
            return _rows(con, decision_id)
    except (sqlite3.Error, OSError) as err:
        raise _not_read(path, err) from err


def application_state(workspace: WorkspaceLike, decision_id: int) -> str:
    """ "applied", "failed", "sending" (sent, no outcome recorded: look it up before sending again) or
    "not applied" (never sent)."""
    rows = applications(workspace, decision_id)
    if any(r.status == "applied" for r in rows):
        return "applied"
    return rows[-1].status if rows else "not applied"


def begin_application(
    workspace: WorkspaceLike, decision_id: int, action: str, request: Any, applied_by: str
) -> tuple[Application, list[Application]]:
    """Record, before anything is sent, that ``request`` is about to be (status ``sending``), and
    return it with the decision's earlier rows. Raises AlreadyApplied when the decision was applied
    already — checked in the same transaction, so two callers cannot both go ahead."""
    if action not in ACTIONS:
        raise ValueError(f"The 'action' parameter must be one of {ACTIONS}. Got {action!r} instead.")
    who = _who(applied_by, "applies the decision")
    ws = _workspace(workspace)
    path = reviews.database_path(ws)
    try:
        with connect(ws) as con, transaction(con):
            if con.execute("SELECT 1 FROM decisions WHERE id = ?", (int(decision_id),)).fetchone() is None:
                raise ValueError(f"There is no decision {decision_id!r} in {path}.")
            earlier = _rows(con, decision_id)
            done = [r for r in earlier if r.status == "applied"]
            if done:
                raise AlreadyApplied(
                    f"Decision {decision_id} was applied in Toloka already (by {done[0].applied_by} at {done[0].at}); "
                    "it is never sent twice."
                )
            row = (int(decision_id), action, "sending", _json(request), "", "", who, utc_now())
            cur = con.execute(
                "INSERT INTO applications (decision_id, action, status, request, response, reason, applied_by, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            new_id = int(cur.lastrowid)
    except (sqlite3.Error, OSError) as err:
        raise _not_saved(path, err) from err
    return Application(new_id, int(decision_id), action, "sending", request, None, "", who, row[-1]), earlier


def finish_application(
    workspace: WorkspaceLike,
    decision_id: int,
    action: str,
    status: str,
    request: Any,
    applied_by: str,
    response: Any = None,
    reason: str = "",
) -> Application:
    """Record the outcome of a sent request: ``applied`` with Toloka's answer, or ``failed`` with the reason."""
    if status not in ("applied", "failed"):
        raise ValueError(f"The 'status' parameter must be 'applied' or 'failed'. Got {status!r} instead.")
    ws = _workspace(workspace)
    path = reviews.database_path(ws)
    row = (int(decision_id), action, status, _json(request), _json(response), str(reason or ""), applied_by, utc_now())
    try:
        with connect(ws) as con, transaction(con):
            cur = con.execute(
                "INSERT INTO applications (decision_id, action, status, request, response, reason, applied_by, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            new_id = int(cur.lastrowid)
    except (sqlite3.Error, OSError) as err:
        raise _not_saved(path, err) from err
    return Application(
        new_id, int(decision_id), action, status, request, response, str(reason or ""), applied_by, row[-1]
    )


def applications_frame(workspace: WorkspaceLike, decision_ids: list[int]) -> pd.DataFrame:
    """The latest application row of each decision (for a page's table): decision_id, action, status, reason, at."""
    rows = []
    for d in decision_ids:
        found = applications(workspace, d)
        if found:
            last = next((r for r in found if r.status == "applied"), found[-1])
            rows.append(
                {k: getattr(last, k) for k in ("decision_id", "action", "status", "reason", "applied_by", "at")}
            )
    return pd.DataFrame(rows, columns=["decision_id", "action", "status", "reason", "applied_by", "at"])
