"""The user restrictions (bans) on a run's annotators, attributed to the pool rule that made them."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from analytics.model import Run, empty_restrictions, restrictions_frame
from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka._values import utc
from analytics.sources.toloka.client import iterate
from analytics.sources.toloka.rules import rule_comments

RESTRICTION_BATCH = 500  # the API's maximum for user restrictions


def _searches(pools: Sequence[Any]) -> list[tuple[str, dict]]:
    """(what, query) of each restriction search: per pool, per project, and all projects."""
    searches = [(f"reading the restrictions of pool {p.id}", {"pool_id": str(p.id)}) for p in pools]
    for project_id in dict.fromkeys(str(p.project_id) for p in pools if getattr(p, "project_id", None)):
        searches.append((f"reading the restrictions of project {project_id}", {"project_id": project_id}))
    searches.append(("reading all-project restrictions", {"scope": "ALL_PROJECTS"}))
    return searches


def _row(u, comments: list[tuple[str, str, str]]) -> dict:
    scope = _enum(getattr(u, "scope", None))
    comment = getattr(u, "private_comment", None)
    own_pool = str(u.pool_id) if scope == "POOL" and getattr(u, "pool_id", None) else None
    mine = [(c, t, p) for c, t, p in comments if comment and (own_pool is None or p == own_pool)]
    # the rule's comment as the whole restriction comment, else inside it
    matches = [(t, p) for c, t, p in mine if c == str(comment).strip()] or [
        (t, p) for c, t, p in mine if c in str(comment)
    ]
    pools = list(dict.fromkeys(p for _, p in matches))
    return {
        "worker_id": str(getattr(u, "user_id", "") or ""),
        "scope": scope,
        "pool_id": own_pool or (pools[0] if len(pools) == 1 else None),
        "reason": str(comment) if comment else None,
        "rule": matches[0][0] if matches else "manual",
        "created_at": utc(getattr(u, "created", None)),
        "expires_at": utc(getattr(u, "will_expire", None)),
    }


def read_restrictions(client, runs: Sequence[Run], pools: Sequence[Any]) -> pd.DataFrame:
    """The restrictions on the runs' annotators: of their pools, their projects, and all projects.

    ``runs`` are the pools' runs (``run.meta.pools[0]`` is the pool, with its rules) and ``pools``
    toloka-kit's pools, in the same order. ``rule`` names the pool rule whose action's private
    comment the restriction carries (the restriction a rule creates has the comment set in the
    rule's action; the whole comment matching wins over one containing it), else ``manual``.
    ``pool_id`` is the restricted pool for POOL scope; for wider scopes, the pool whose rule
    created it when that is known, else empty (the restriction applies to every pool).
    """
    workers: set[str] = set()
    comments: list[tuple[str, str, str]] = []  # (comment, rule type, pool id)
    for run in runs:
        workers.update(str(w) for w in run.answers["worker_id"].cat.categories)
        info = run.meta.pools[0]
        comments += [(c, t, info.pool_id) for c, t in rule_comments(info.rules)]
    seen: set[str] = set()
    rows = []
    for what, query in _searches(pools):
        for u in iterate(client, what, client.get_user_restrictions(batch_size=RESTRICTION_BATCH, **query)):
            rid = str(getattr(u, "id", "") or "")
            if rid and rid in seen:
                continue
            seen.add(rid)
            if str(getattr(u, "user_id", "") or "") in workers:
                rows.append(_row(u, comments))
    if not rows:
        return empty_restrictions()
    frame = pd.DataFrame(rows)
    return restrictions_frame(frame.sort_values(["worker_id", "created_at"], kind="stable").reset_index(drop=True))
