"""QA decisions applied in Toloka: a preview of exactly what will be sent, then the change, recorded once.

* an **overturn** lifts the annotator's restrictions that cover the version's pools (scope POOL on
  one of its pools, PROJECT on its project, ALL_PROJECTS): one ``DELETE`` each;
* an **uphold** of a ban the replay makes but no restriction records sets one ``PUT`` restriction
  with the rule's scope (PROJECT, POOL or ALL_PROJECTS), its ``ban_days`` as the duration (none:
  until lifted) and a private comment: the rule's reason (else the replay's evidence) followed by
  the marker ``[crowdlens decision N]`` that identifies it;
* anything else (an uphold of a recorded ban, "needs more evidence") sends nothing.

:func:`preview_application` says what would be sent (method, path, body) and why;
:func:`apply_decision` sends exactly that, after recording it (``sending``) in the reviews
database, and records the outcome: ``applied`` with Toloka's answer, or ``failed`` with the
reason (the decision then stays not applied). A decision applied once is never sent again
(checked in the database before sending); one whose earlier outcome is unknown (``sending``
without an outcome, say a crash) is looked up in Toloka before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from analytics import qa_records
from analytics.metrics import registry
from analytics.metrics._base import MetricUnavailable
from analytics.model import Run
from analytics.sources.toloka import restrict
from analytics.sources.toloka.client import TolokaAPIError, where
from analytics.sources.workspace import Workspace

MARKER = "[crowdlens decision {id}]"


def marker(decision_id: int) -> str:
    """The text in a restriction's private comment that ties it to a decision."""
    return MARKER.format(id=int(decision_id))


def _project_ids(run: Run, project_id: str | None) -> list[str]:
    if project_id:
        return [str(project_id)]
    toloka = dict(run.meta.extra or {}).get("toloka", {}) or {}
    ids = [toloka.get("project_id"), *(toloka.get("project_ids") or [])]
    return list(dict.fromkeys(str(i) for i in ids if i))


def _covers(r: dict, pools: set[str], projects: list[str]) -> bool:
    scope = str(r.get("scope"))
    if scope == "POOL":
        return str(r.get("pool_id")) in pools
    if scope == "PROJECT":
        return str(r.get("project_id")) in projects
    return scope == "ALL_PROJECTS"


def _base(d, now: dt.datetime, client) -> dict[str, Any]:
    return {
        "decision_id": d.id,
        "version_id": d.version_id,
        "worker_id": d.worker_id,
        "decision": d.decision,
        "action": "none",
        "requests": [],
        "why": None,
        "toloka": where(client) if client is not None else None,
        "prepared_at": now.astimezone(dt.timezone.utc).isoformat(),
    }


def _lift(out: dict, run: Run, client, project_id: str | None) -> dict:
    if client is None:
        raise ValueError("Previewing an overturn needs a Toloka client: the restrictions to lift are read from Toloka.")
    pools = {p.pool_id for p in run.meta.pools}
    projects = _project_ids(run, project_id)
    found = restrict.user_restrictions(client, out["worker_id"])
    lift = [r for r in found if _covers(r, pools, projects)]
    out["restrictions"] = found
    if not lift:
        out["why"] = (
            f"Toloka holds no restriction on {out['worker_id']} covering this version's pools "
            f"({', '.join(sorted(pools))}{'; project ' + ', '.join(projects) if projects else ''}): nothing to lift"
        )
        return out
    out["action"] = "delete_restriction"
    out["requests"] = [{"method": "DELETE", "path": f"{restrict.PATH}/{r['id']}", "body": None} for r in lift]
    return out


def _ban_row(run: Run, worker: str):
    try:
        replay = registry.compute(run, "replay_rules")
    except MetricUnavailable as err:
        return None, f"the rules cannot be replayed on this version ({err})"
    rows = replay[(replay["worker_id"] == worker) & replay["rule"].notna()]
    if rows.empty:
        return None, "the replayed rules ban nobody here: an uphold sends nothing"
    if rows["recorded_rule"].notna().any():
        return None, "a restriction is recorded already: an uphold of a recorded ban sends nothing"
    return rows.iloc[0], None


def _set(out: dict, run: Run, client, options: dict, now: dt.datetime) -> dict:
    row, why = _ban_row(run, out["worker_id"])
    if row is None:
        out["why"] = why
        return out
    info = run.meta.pool(row["pool_id"])
    rule = next((r for r in info.rules if r.get("type") == row["rule"]), {})
    scope = str(options.get("scope") or rule.get("scope") or "PROJECT").upper()
    days = options.get("duration_days", rule.get("ban_days"))
    text = options.get("comment") or rule.get("reason") or row["evidence"] or f"{row['rule']} rule"
    projects = _project_ids(run, options.get("project_id"))
    if scope == "PROJECT" and not projects:
        raise ValueError(
            "The rule's scope is PROJECT but this version does not record its Toloka project: "
            "pass project_id=..., or scope='POOL' to restrict the pool only."
        )
    expire = now + dt.timedelta(days=float(days)) if days is not None else None
    body = restrict.restriction_body(
        out["worker_id"],
        scope,
        f"{text} {marker(out['decision_id'])}",
        pool_id=row["pool_id"],
        project_id=projects[0] if projects else None,
        will_expire=expire,
    )
    if client is not None:
        found = restrict.user_restrictions(client, out["worker_id"])
        pools = {p.pool_id for p in run.meta.pools}
        active = [r for r in found if _covers(r, pools, projects)]
        out["restrictions"] = found
        if active:
            out["why"] = f"Toloka restricts {out['worker_id']} already (restriction {active[0]['id']}): nothing to set"
            return out
    out["action"] = "set_restriction"
    out["requests"] = [{"method": "PUT", "path": restrict.PATH, "body": body}]
    out["rule"] = {"type": row["rule"], "scope": scope, "duration_days": days, "evidence": row["evidence"]}
    return out


def preview_application(
    workspace: Workspace,
    decision_id: int,
    client=None,
    *,
    run: Run | None = None,
    scope: str | None = None,
    duration_days: float | None = None,
    comment: str | None = None,
    project_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """What applying decision ``decision_id`` would send to Toloka, exactly (see the module).

    Returns decision_id, version_id, worker_id, decision, ``action`` (set_restriction,
    delete_restriction or none), ``requests`` ([{method, path, body}], body as toloka-kit sends
    it), ``why`` (when nothing is sent), ``state`` (qa_records.application_state), toloka (its
    URL), prepared_at, and ``restrictions`` (what Toloka holds on the annotator, when read).
    ``client`` is needed to list the restrictions an overturn lifts (reads only). ``scope`` /
    ``duration_days`` / ``comment`` / ``project_id`` override the rule's for an uphold.
    """
    d = qa_records.decision(workspace, decision_id)
    now = now or dt.datetime.now(dt.timezone.utc)
    out = _base(d, now, client)
    out["state"] = qa_records.application_state(workspace, d.id)
    if out["state"] == "applied":
        out["why"] = "applied in Toloka already: a decision is never sent twice"
        return out
    run = run if run is not None else workspace.open_run(d.version_id)
    if d.decision == "overturn":
        return _lift(out, run, client, project_id)
    if d.decision == "uphold":
        options = {"scope": scope, "comment": comment, "project_id": project_id}
        if duration_days is not None:
            options["duration_days"] = duration_days
        return _set(out, run, client, options, now)
    out["why"] = f"a decision of {d.decision!r} sends nothing to Toloka"
    return out


def apply_decision(
    workspace: Workspace, decision_id: int, client, *, applied_by: str, preview: dict | None = None, **options: Any
) -> dict[str, Any]:
    """Send what ``preview`` (from :func:`preview_application`; made now with ``options`` when
    not given) shows, record it and its outcome; returns the preview with ``status`` ("applied",
    "failed" or "not sent"), ``reason``, ``response`` (Toloka's answers) and ``application_id``.

    Raises qa_records.AlreadyApplied when the decision was applied already, ValueError for a
    preview of another decision.
    """
    if preview is None:
        preview = preview_application(workspace, decision_id, client, **options)
    if int(preview.get("decision_id", -1)) != int(decision_id):
        raise ValueError(f"The preview is of decision {preview.get('decision_id')}, not of decision {decision_id}.")
    out = dict(preview)
    if preview["action"] == "none":
        if preview.get("state") == "applied":
            raise qa_records.AlreadyApplied(f"Decision {decision_id} was applied in Toloka already.")
        return {**out, "status": "not sent", "reason": preview.get("why") or "", "response": None}
    requests = preview["requests"]
    _, earlier = qa_records.begin_application(workspace, decision_id, preview["action"], requests, applied_by)
    unknown = bool(earlier) and earlier[-1].status == "sending"
    try:
        outcomes = _send(client, preview["action"], requests, marker(decision_id), unknown)
    except (TolokaAPIError, ValueError) as err:  # nothing could be sent (a bad body, Toloka unreadable)
        outcomes = [restrict.Outcome(False, reason=str(err))]
    ok = all(o.applied for o in outcomes)
    reason = "; ".join(o.reason for o in outcomes if o.reason and not o.applied) if not ok else ""
    row = qa_records.finish_application(
        workspace,
        decision_id,
        preview["action"],
        "applied" if ok else "failed",
        requests,
        applied_by,
        response=[o.as_dict() for o in outcomes],
        reason=reason,
    )
    return {**out, "status": row.status, "reason": reason, "response": row.response, "application_id": row.id}


def _send(client, action: str, requests: list[dict], mark: str, unknown: bool) -> list[restrict.Outcome]:
    if action == "set_restriction":
        return [restrict.set_restriction(client, requests[0]["body"], mark, look_first=unknown)]
    outcomes = []
    for r in requests:
        outcomes.append(restrict.lift_restriction(client, r["path"].rsplit("/", 1)[-1]))
        if not outcomes[-1].applied:
            break  # the rest stay in force; a later application reads what is left
    return outcomes
