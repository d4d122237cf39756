"""The bonuses paid to a run's annotators (toloka-kit ``UserBonus``), as ``Pricing.bonuses``.

Toloka searches bonuses by annotator, assignment or time, not by pool or project, so a bonus
belongs to a run when it was paid for one of the run's assignments, or, paid without an
assignment, when it went to one of the run's annotators at or after the creation of the run's
first pool. The Toloka API import and a ``--bonuses`` file both go through :func:`bonus_table`.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from analytics.model import Pricing, Run
from analytics.sources.toloka._values import number, utc
from analytics.sources.toloka.client import iterate
from analytics.sources.toloka.restrictions import run_workers

BONUS_BATCH = 300  # the API's maximum for user bonuses


def run_assignments(runs: Iterable[Run]) -> set[str]:
    """Every assignment id of the runs."""
    return {str(a) for run in runs for a in run.answers["assignment_id"].cat.categories}


def first_created(pools: Sequence[Any]) -> pd.Timestamp | None:
    """When the earliest of toloka-kit's pools was created (None where none says)."""
    times = [utc(getattr(p, "created", None)) for p in pools]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def bonus_table(
    items: Iterable[Any], workers: set[str], assignments: set[str], since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """UserBonus objects as ``Pricing.bonuses`` (worker_id, amount, reason, created_at), each once.

    Kept: a bonus for one of ``assignments``; a bonus without an assignment to one of
    ``workers`` created at or after ``since`` (any time where ``since`` is None). ``reason`` is
    the private comment, else the public title (its English text where there are several).
    """
    seen: set[str] = set()
    rows = []
    for b in items:
        bid = str(getattr(b, "id", "") or "")
        if bid and bid in seen:
            continue
        seen.add(bid)
        worker = str(getattr(b, "user_id", "") or "")
        assignment = str(getattr(b, "assignment_id", "") or "")
        created = utc(getattr(b, "created", None))
        if assignment:
            keep = assignment in assignments
        else:
            keep = worker in workers and (since is None or created is None or created >= since)
        amount = number(getattr(b, "amount", None))
        if keep and amount is not None:
            rows.append({"worker_id": worker, "amount": float(amount), "reason": _reason(b), "created_at": created})
    frame = pd.DataFrame(rows, columns=["worker_id", "amount", "reason", "created_at"])
    frame = frame.astype({"worker_id": "str", "amount": "float64", "reason": "str"})
    frame["reason"] = frame["reason"].where(frame["reason"] != "None")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame.sort_values(["created_at", "worker_id"], kind="stable").reset_index(drop=True)


def _reason(bonus) -> str | None:
    comment = getattr(bonus, "private_comment", None)
    if comment:
        return str(comment)
    title = getattr(bonus, "public_title", None) or {}
    if isinstance(title, dict) and title:
        return str(title.get("EN") or next(iter(title.values())))
    return None


def read_bonuses(client, runs: Sequence[Run], pools: Sequence[Any]) -> pd.DataFrame:
    """The bonuses of the runs' assignments and annotators, from ``GET /api/v1/user-bonuses``
    (one search, from the creation of the earliest of ``pools``: toloka-kit's Pool objects)."""
    since = first_created(pools)
    query = {"created_gte": since.tz_convert("UTC").tz_localize(None).to_pydatetime()} if since is not None else {}
    found = iterate(client, "reading the bonuses", client.get_user_bonuses(batch_size=BONUS_BATCH, **query))
    return bonus_table(found, run_workers(runs), run_assignments(runs), since)


def with_bonuses(pricing: Pricing, bonuses: pd.DataFrame) -> Pricing:
    """``pricing`` with ``bonuses`` as its bonuses."""
    import dataclasses

    return dataclasses.replace(pricing, bonuses=bonuses)


__all__ = ["BONUS_BATCH", "bonus_table", "first_created", "read_bonuses", "run_assignments", "with_bonuses"]
