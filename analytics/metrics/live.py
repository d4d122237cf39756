"""What a running pool's live counts say: percent done, current rate, finish time, spend so far and to finish.

Pure functions of a live snapshot (the counts a source read; see
:class:`analytics.sources.toloka.live.LiveSnapshot`): nothing here reads Toloka. Money is
priced as :mod:`analytics.metrics.cost` prices a run: a paid suite (one of
:data:`~analytics.metrics.cost.PAID_STATUSES`) costs its reward plus the platform fee
max(fee_rate × reward, fee_minimum).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Protocol

import pandas as pd

from analytics.metrics.cost import PAID_STATUSES

# a pool in one of these states takes no more answers
FINISHED_STATUSES = ("CLOSED", "ARCHIVED")


class LiveState(Protocol):
    """What :func:`live_estimate` needs from a snapshot of a running pool."""

    status: str | None
    submitted_assignments: int  # suites handed in: SUBMITTED + ACCEPTED + REJECTED
    total_assignments: int | None  # suites the pool needs, None when unknown
    percent_done: float | None  # the platform's own completion figure, None when not given
    by_status: Mapping[str, int]
    recent_assignments: int  # suites submitted in the last window_hours
    window_hours: float
    reward_per_assignment: float | None  # the pool's price of a suite
    spent_rewards: float | None  # rewards spent as the platform reports them, None when not given
    rewards_by_status: Mapping[str, float]  # summed rewards of the suites counted, per status
    as_of: pd.Timestamp


@dataclass(frozen=True)
class LiveEstimate:
    """The figures :func:`live_estimate` derives; money in the snapshot's currency.

    ``remaining_assignments`` = total − submitted (≥ 0), None when the total is unknown;
    ``estimated_finish`` is None where ``notes`` says why. ``spent_fees`` is the platform fee on
    the rewards spent so far; ``cost_to_finish`` prices every remaining suite at the pool's reward
    (every one assumed accepted), None without a reward or a total; ``projected_total`` =
    ``spent_total`` + ``cost_to_finish``.
    """

    percent_done: float | None
    rate_per_hour: float
    remaining_assignments: int | None
    estimated_finish: pd.Timestamp | None
    paid_assignments: int
    spent_rewards: float | None
    spent_fees: float | None
    spent_total: float | None
    cost_to_finish: float | None
    projected_total: float | None
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        d = asdict(self)
        d["estimated_finish"] = None if self.estimated_finish is None else self.estimated_finish.isoformat()
        return d


def fee(reward: float, *, fee_rate: float, fee_minimum: float) -> float:
    """The platform fee on one paid suite: max(fee_rate × reward, fee_minimum).

    >>> fee(0.02, fee_rate=0.3, fee_minimum=0.01)
    0.01
    """
    return max(fee_rate * reward, fee_minimum)


def _check(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"The '{name}' parameter of live_estimate must be a number >= 0. Got {value!r} instead.")
    return float(value)


def _finish(state: LiveState, remaining: int | None, rate: float) -> tuple[pd.Timestamp | None, str | None]:
    """as_of + remaining suites / rate (hours), or None and why."""
    status = state.status
    if status in FINISHED_STATUSES:
        return None, f"The pool is {status.lower()}: no finish to estimate."
    if remaining is None:
        return None, "The number of suites the pool needs is unknown, so no finish can be estimated."
    if remaining == 0:
        return state.as_of, None
    if rate <= 0:
        return None, f"No suite was submitted in the last {state.window_hours:g} h, so no finish can be estimated."
    return state.as_of + pd.Timedelta(hours=remaining / rate), None


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def live_estimate(state: LiveState, *, fee_rate: float, fee_minimum: float = 0.0) -> LiveEstimate:
    """Percent done, rate, finish time and money of a running pool, from its live counts.

    * ``percent_done`` = the platform's figure when the snapshot has one, else
      min(100, 100 × submitted / total); None without a total.
    * ``rate_per_hour`` = suites submitted in the window / window_hours; ``estimated_finish`` =
      as_of + (total − submitted) / rate hours (as_of itself when nothing remains; None for a
      closed pool, an unknown total or no recent submission, with a note).
    * ``paid_assignments`` N = suites in PAID_STATUSES (SUBMITTED, ACCEPTED); ``spent_rewards`` R =
      the platform's figure, else the summed rewards of those suites.
    * ``spent_fees`` = Σ over paid suites of max(fee_rate × reward, fee_minimum), taking each
      suite's reward as R / N (a pool pays one reward per suite): N × max(fee_rate × R / N,
      fee_minimum) = max(fee_rate × R, fee_minimum × N). ``spent_total`` = R + fees.
    * ``cost_to_finish`` = remaining × (r + max(fee_rate × r, fee_minimum)) at the pool's reward r.

    By hand: 8 paid suites, R = 0.16, fee_rate 0.3, fee_minimum 0.01: fees = max(0.048, 0.08) =
    0.08 (the minimum wins: 0.3 × 0.02 = 0.006 < 0.01 per suite); 21 suites left at r = 0.02
    cost 21 × (0.02 + 0.01) = 0.63.
    """
    fee_rate, fee_minimum = _check("fee_rate", fee_rate), _check("fee_minimum", fee_minimum)
    done, total = int(state.submitted_assignments), state.total_assignments
    percent = state.percent_done
    if percent is None and total:
        percent = min(100.0, 100.0 * done / total)
    rate = state.recent_assignments / state.window_hours
    remaining = None if total is None else max(0, int(total) - done)
    finish, why = _finish(state, remaining, rate)

    paid = sum(int(state.by_status.get(s, 0) or 0) for s in PAID_STATUSES)
    rewards = state.spent_rewards
    if rewards is None and state.rewards_by_status:
        rewards = sum(float(state.rewards_by_status.get(s, 0.0) or 0.0) for s in PAID_STATUSES)
    fees = None if rewards is None else max(fee_rate * float(rewards), fee_minimum * paid)
    spent_total = None if rewards is None else float(rewards) + fees
    r = state.reward_per_assignment
    to_finish = None
    if remaining is not None and r is not None:
        to_finish = remaining * (float(r) + fee(float(r), fee_rate=fee_rate, fee_minimum=fee_minimum))
    projected = None if spent_total is None or to_finish is None else spent_total + to_finish
    return LiveEstimate(
        percent_done=None if percent is None else float(percent),
        rate_per_hour=float(rate),
        remaining_assignments=remaining,
        estimated_finish=finish,
        paid_assignments=paid,
        spent_rewards=_round(rewards),
        spent_fees=_round(fees),
        spent_total=_round(spent_total),
        cost_to_finish=_round(to_finish),
        projected_total=_round(projected),
        notes=() if why is None else (why,),
    )


__all__ = ["FINISHED_STATUSES", "LiveEstimate", "LiveState", "fee", "live_estimate"]
