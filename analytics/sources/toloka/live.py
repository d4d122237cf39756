"""A running pool's live state read from Toloka: status, counts per status, submitters, recent suites, spend.

:func:`read_live` only reads (Toloka's pool analytics, else the pool's assignments counted);
what the counts imply (percent done, finish time, spend with the fee, cost to finish) is
:func:`analytics.metrics.live.live_estimate`. :func:`pool_progress` joins the two for the CLI
and the Live monitor page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka._values import ns, number, utc
from analytics.sources.toloka.assignments import ANSWER_STATUSES, ASSIGNMENT_BATCH, TASK_BATCH
from analytics.sources.toloka.client import ShapeError, api_error, failures, iterate, last_endpoint
from analytics.sources.toloka.pools import CURRENCY, DEFAULT_FEE_MINIMUM, DEFAULT_FEE_RATE, get_pool

# suites handed in (what Toloka's submitted_assignments_count counts)
DONE_STATUSES = ("SUBMITTED", "ACCEPTED", "REJECTED")

# the pool analytics asked for (at most 10 per request, as get_analytics allows)
_ANALYTICS = (
    "submitted_assignments_count",
    "approved_assignments_count",
    "rejected_assignments_count",
    "skipped_assignments_count",
    "completion_percentage",
    "spent_budget",
    "unique_submitters_count",
    "real_tasks_count",
    "estimated_assignments_count",
)


@dataclass(frozen=True)
class LiveSnapshot:
    """What Toloka says of a pool at ``as_of`` (counts only; :class:`analytics.metrics.live.LiveState`).

    ``submitted_assignments`` counts suites handed in (SUBMITTED + ACCEPTED + REJECTED);
    ``total_assignments`` the suites the pool needs (Toloka's estimate, else ceil(general tasks /
    general tasks per suite) × overlap), None when unknown; ``percent_done`` is Toloka's
    completion percentage, None when not given. ``workers`` counts annotators who submitted a
    suite; ``active_workers`` / ``recent_assignments`` those / the suites submitted in the last
    ``window_hours``. ``spent_rewards`` is what Toloka reports spent on rewards (fee excluded),
    None when counted from the assignments: then ``rewards_by_status`` sums the suites' rewards
    per status. ``source`` is ``analytics`` (Toloka's pool analytics) or ``assignments``.
    """

    pool_id: str
    name: str
    status: str | None
    submitted_assignments: int
    total_assignments: int | None
    percent_done: float | None
    by_status: Mapping[str, int]
    workers: int | None
    active_workers: int
    recent_assignments: int
    window_hours: float
    reward_per_assignment: float | None
    spent_rewards: float | None
    rewards_by_status: Mapping[str, float]
    currency: str
    as_of: pd.Timestamp
    source: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolProgress:
    """Where a running pool stands: the snapshot's counts and the estimate's figures.

    As :class:`LiveSnapshot` and :class:`analytics.metrics.live.LiveEstimate`: ``percent_done``
    is Toloka's figure, else submitted / total × 100; ``rate_per_hour`` the suites submitted per
    hour over the last ``window_hours``; ``spent_total`` adds the platform fee
    (max(``fee_rate`` × reward, ``fee_minimum``) per paid suite) to ``spent_rewards``;
    ``estimated_finish`` = ``as_of`` + remaining suites / rate, None for a closed pool or without
    recent submissions (``notes`` says why); ``cost_to_finish`` prices the remaining suites at
    the pool's reward with the fee.
    """

    pool_id: str
    name: str
    status: str | None
    submitted_assignments: int
    total_assignments: int | None
    percent_done: float | None
    by_status: Mapping[str, int]
    workers: int | None
    active_workers: int
    window_hours: float
    rate_per_hour: float
    spent_rewards: float | None
    spent_total: float | None
    currency: str
    estimated_finish: pd.Timestamp | None
    as_of: pd.Timestamp
    source: str
    notes: tuple[str, ...] = ()
    spent_fees: float | None = None
    fee_rate: float = DEFAULT_FEE_RATE
    fee_minimum: float = DEFAULT_FEE_MINIMUM
    reward_per_assignment: float | None = None
    remaining_assignments: int | None = None
    cost_to_finish: float | None = None
    projected_total: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("estimated_finish", "as_of"):
            d[k] = None if d[k] is None else pd.Timestamp(d[k]).isoformat()
        d["by_status"] = dict(self.by_status)
        return d


def _analytics_value(result) -> float | None:
    # counts come as numbers; completion_percentage and estimated_assignments_count as {"value": x}
    if isinstance(result, dict):
        result = result.get("value")
    return number(result) if result is not None else None


def _analytics_requests(pool_id: str) -> list:
    from toloka.client import analytics_request as ar

    classes = {
        "submitted_assignments_count": ar.SubmittedAssignmentsCountPoolAnalytics,
        "approved_assignments_count": ar.ApprovedAssignmentsCountPoolAnalytics,
        "rejected_assignments_count": ar.RejectedAssignmentsCountPoolAnalytics,
        "skipped_assignments_count": ar.SkippedAssignmentsCountPoolAnalytics,
        "completion_percentage": ar.CompletionPercentagePoolAnalytics,
        "spent_budget": ar.SpentBudgetPoolAnalytics,
        "unique_submitters_count": ar.UniqueSubmittersCountPoolAnalytics,
        "real_tasks_count": ar.RealTasksCountPoolAnalytics,
        "estimated_assignments_count": ar.EstimatedAssignmentsCountPoolAnalytics,
    }
    return [classes[n](subject_id=str(pool_id)) for n in _ANALYTICS]


def _analytics_values(op) -> tuple[dict[str, float | None] | None, str]:
    """The operation's results by analytics name, or None and what is wrong with its shape."""
    details = getattr(op, "details", None)
    items = details.get("value") if isinstance(details, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None, 'its details are not {"value": [{"request": ..., "result": ...}, ...]}'
    values: dict[str, float | None] = {}
    for item in items:
        req = item.get("request")
        if isinstance(req, dict) and req.get("name"):
            values[str(req["name"])] = _analytics_value(item.get("result"))
    return values, ""


def _pool_analytics(client, pool_id: str, timeout: float) -> tuple[dict[str, float | None] | None, str]:
    """Toloka's pool analytics by name, or None and why they are unavailable."""
    what = f"asking for the analytics of pool {pool_id}"
    try:
        op = client.get_analytics(_analytics_requests(pool_id))
        if not getattr(op, "id", None):
            raise ShapeError("the operation has no 'id'")
        op = client.wait_operation(op, timeout=dt.timedelta(seconds=timeout), disable_progress=True)
    except TimeoutError:
        return None, f"Toloka's pool analytics did not finish within {timeout:g} s"
    except failures() as err:
        return None, str(api_error(err, client, what))
    if _enum(getattr(op, "status", None)) != "SUCCESS":
        return None, f"Toloka's pool analytics operation ended with status {_enum(getattr(op, 'status', None))}"
    values, why = _analytics_values(op)
    if values is None:
        endpoint = last_endpoint()
        return None, f"Toloka's pool analytics operation{f' ({endpoint})' if endpoint else ''} is unreadable: {why}"
    return values, ""


def _suites_needed(pool, real_tasks: float | None) -> int | None:
    mixer = getattr(pool, "mixer_config", None)
    per_suite = int(getattr(mixer, "real_tasks_count", 0) or 0) if mixer is not None else 0
    overlap = getattr(getattr(pool, "defaults", None), "default_overlap_for_new_task_suites", None)
    if real_tasks is None or per_suite <= 0 or not overlap:
        return None
    return int(math.ceil(real_tasks / per_suite) * int(overlap))


def _recent(client, pool_id: str, since: dt.datetime) -> tuple[int, set[str]]:
    """(suites submitted since ``since``, their annotators)."""
    what = f"reading the recent assignments of pool {pool_id}"
    pages = client.get_assignments(pool_id=pool_id, submitted_gte=since, batch_size=ASSIGNMENT_BATCH)
    suites, workers = 0, set()
    for a in iterate(client, what, pages):
        suites += 1
        if a.user_id:
            workers.add(str(a.user_id))
    return suites, workers


def _from_analytics(client, pool, pool_id: str, values: Mapping[str, float | None], since) -> dict[str, Any]:
    def count(name: str) -> int:
        return int(values.get(name) or 0)

    # submitted_assignments_count counts SUBMITTED, ACCEPTED and REJECTED suites together
    done, accepted = count("submitted_assignments_count"), count("approved_assignments_count")
    rejected = count("rejected_assignments_count")
    total = values.get("estimated_assignments_count")
    workers = values.get("unique_submitters_count")
    spent = values.get("spent_budget")
    recent, recent_workers = _recent(client, pool_id, since)
    return dict(
        submitted_assignments=done,
        by_status={
            "SUBMITTED": max(0, done - accepted - rejected),
            "ACCEPTED": accepted,
            "REJECTED": rejected,
            "SKIPPED": count("skipped_assignments_count"),
        },
        total_assignments=int(total) if total is not None else _suites_needed(pool, values.get("real_tasks_count")),
        percent_done=values.get("completion_percentage"),
        workers=int(workers) if workers is not None else None,
        spent_rewards=None if spent is None else round(float(spent), 6),
        rewards_by_status={},
        recent_assignments=recent,
        active_workers=len(recent_workers),
    )


def _from_assignments(client, pool, pool_id: str, since) -> dict[str, Any]:
    counts = {s: 0 for s in ("ACTIVE",) + ANSWER_STATUSES}
    rewards = {s: 0.0 for s in counts}
    submitters: set[str] = set()
    recent_workers: set[str] = set()
    recent = 0
    since_ns = ns(since)
    what = f"counting the assignments of pool {pool_id}"
    for a in iterate(client, what, client.get_assignments(pool_id=pool_id, batch_size=ASSIGNMENT_BATCH)):
        st = _enum(a.status) or ""
        counts[st] = counts.get(st, 0) + 1
        if a.reward is not None:
            rewards[st] = rewards.get(st, 0.0) + float(a.reward)
        if st in DONE_STATUSES and a.user_id:
            submitters.add(str(a.user_id))
        if a.submitted is not None and ns(a.submitted) >= since_ns:
            recent += 1
            if a.user_id:
                recent_workers.add(str(a.user_id))
    what = f"counting the tasks of pool {pool_id}"
    tasks = client.get_tasks(pool_id=pool_id, batch_size=TASK_BATCH)
    regular = sum(1 for t in iterate(client, what, tasks) if not getattr(t, "known_solutions", None))
    return dict(
        submitted_assignments=sum(counts.get(s, 0) for s in DONE_STATUSES),
        by_status=counts,
        total_assignments=_suites_needed(pool, regular),
        percent_done=None,
        workers=len(submitters),
        spent_rewards=None,
        rewards_by_status={s: round(v, 6) for s, v in rewards.items()},
        recent_assignments=recent,
        active_workers=len(recent_workers),
    )


def read_live(
    client,
    pool_id: str,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    window_hours: float = 1.0,
    analytics_timeout: float = 60.0,
) -> LiveSnapshot:
    """A pool's live counts, read from Toloka's pool analytics (``get_analytics`` → an ANALYTICS
    operation, waited for) plus the assignments submitted in the last ``window_hours``.

    Where analytics are unavailable (an account without access, a failed, slow or unreadable
    operation), every assignment of the pool is counted instead and the number of suites needed
    is estimated from the pool's general tasks; ``source`` and ``notes`` say so.
    """
    if isinstance(window_hours, bool) or not isinstance(window_hours, (int, float)) or not window_hours > 0:
        raise ValueError(
            "The 'window_hours' parameter of pool_progress must be a positive number of hours. "
            f"Got {window_hours!r} instead."
        )
    pool_id = str(pool_id).strip()
    as_of = pd.Timestamp.now(tz="UTC") if now is None else utc(now)
    since = (as_of - pd.Timedelta(hours=window_hours)).to_pydatetime()
    pool = get_pool(client, pool_id)
    notes: list[str] = []
    values, why = _pool_analytics(client, pool_id, analytics_timeout)
    if values is not None:
        source, counted = "analytics", _from_analytics(client, pool, pool_id, values, since)
    else:
        notes.append(f"Pool analytics unavailable ({why}); figures are counted from the assignments.")
        source, counted = "assignments", _from_assignments(client, pool, pool_id, since)
    return LiveSnapshot(
        pool_id=pool_id,
        name=str(getattr(pool, "private_name", "") or ""),
        status=_enum(getattr(pool, "status", None)),
        window_hours=float(window_hours),
        reward_per_assignment=number(getattr(pool, "reward_per_assignment", None)),
        currency=CURRENCY,
        as_of=as_of,
        source=source,
        notes=tuple(notes),
        **counted,
    )


def pool_progress(
    client,
    pool_id: str,
    *,
    now: dt.datetime | pd.Timestamp | None = None,
    window_hours: float = 1.0,
    fee_rate: float = DEFAULT_FEE_RATE,
    fee_minimum: float = DEFAULT_FEE_MINIMUM,
    analytics_timeout: float = 60.0,
) -> PoolProgress:
    """Live figures of a pool: status, suites submitted of those needed, percent done, active
    annotators, spend so far (with the fee), cost to finish and an estimated finish.

    :func:`read_live` for the counts, :func:`analytics.metrics.live.live_estimate` for what they
    imply; raises TolokaAPIError (never a bare toloka-kit or parsing error).
    """
    from analytics.metrics.live import live_estimate

    snap = read_live(client, pool_id, now=now, window_hours=window_hours, analytics_timeout=analytics_timeout)
    est = live_estimate(snap, fee_rate=fee_rate, fee_minimum=fee_minimum)
    return PoolProgress(
        pool_id=snap.pool_id,
        name=snap.name,
        status=snap.status,
        submitted_assignments=int(snap.submitted_assignments),
        total_assignments=snap.total_assignments,
        percent_done=est.percent_done,
        by_status=snap.by_status,
        workers=snap.workers,
        active_workers=snap.active_workers,
        window_hours=snap.window_hours,
        rate_per_hour=est.rate_per_hour,
        spent_rewards=est.spent_rewards,
        spent_total=est.spent_total,
        currency=snap.currency,
        estimated_finish=est.estimated_finish,
        as_of=snap.as_of,
        source=snap.source,
        notes=snap.notes + est.notes,
        spent_fees=est.spent_fees,
        fee_rate=float(fee_rate),
        fee_minimum=float(fee_minimum),
        reward_per_assignment=snap.reward_per_assignment,
        remaining_assignments=est.remaining_assignments,
        cost_to_finish=est.cost_to_finish,
        projected_total=est.projected_total,
    )


__all__ = ["DONE_STATUSES", "LiveSnapshot", "PoolProgress", "pool_progress", "read_live"]
