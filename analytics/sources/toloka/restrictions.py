"""The user restrictions (bans) on a run's annotators, attributed to the pool rule that made them."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from analytics.model import PoolInfo, Run, empty_restrictions, restrictions_frame
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


def restriction_comments(pools: Iterable[PoolInfo]) -> list[tuple[str, str, str]]:
    """(private comment, rule type, pool id) of every banning rule of the pools."""
    return [(c, t, p.pool_id) for p in pools for c, t in rule_comments(p.rules)]


def restrictions_table(items: Iterable[Any], workers: set[str], pools: Sequence[PoolInfo]) -> pd.DataFrame:
    """toloka-kit UserRestriction objects as the run's restrictions table (:data:`RESTRICTION_COLUMNS`).

    Only restrictions of ``workers`` are kept, each once (by id); ``pools`` are the run's pools,
    whose rules name the rule behind a restriction (see :func:`read_restrictions`). The Toloka
    API import and a ``--restrictions`` file both go through here.
    """
    comments = restriction_comments(pools)
    seen: set[str] = set()
    rows = []
    for u in items:
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


def run_workers(runs: Iterable[Run]) -> set[str]:
    """Every annotator id of the runs."""
    return {str(w) for run in runs for w in run.answers["worker_id"].cat.categories}


def read_restrictions(client, runs: Sequence[Run], pools: Sequence[Any]) -> pd.DataFrame:
    """The restrictions on the runs' annotators: of their pools, their projects, and all projects.

    ``runs`` are the pools' runs (``run.meta.pools[0]`` is the pool, with its rules) and ``pools``
    toloka-kit's pools, in the same order. ``rule`` names the pool rule whose action's private
    comment the restriction carries (the restriction a rule creates has the comment set in the
    rule's action; the whole comment matching wins over one containing it), else ``manual``.
    ``pool_id`` is the restricted pool for POOL scope; for wider scopes, the pool whose rule
    created it when that is known, else empty (the restriction applies to every pool).
    """

    def found() -> Iterator[Any]:
        for what, query in _searches(pools):
            yield from iterate(client, what, client.get_user_restrictions(batch_size=RESTRICTION_BATCH, **query))

    return restrictions_table(found(), run_workers(runs), [run.meta.pools[0] for run in runs])
