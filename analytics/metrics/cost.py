"""Cost of a run: rewards, platform fee and bonuses, and what a label costs.

Paid assignments are those ACCEPTED or SUBMITTED (submitted ones are paid on auto-acceptance
unless rejected); REJECTED, SKIPPED and EXPIRED ones are not. An assignment's reward is its
``reward`` column, else its pool's ``reward_per_assignment``, else the run's. The platform fee
is ``fee_rate`` × (reward or bonus), at least ``fee_minimum`` per paid assignment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analytics.model import Run

PAID_STATUSES = ("ACCEPTED", "SUBMITTED")


@dataclass(frozen=True)
class Spend:
    """Money spent on a run, in ``currency``. ``None`` where it cannot be computed (see ``missing``)."""

    currency: str
    rewards: float | None
    fees: float | None
    bonuses: float
    total: float | None
    paid_assignments: int
    unpaid_assignments: int
    missing: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def assignment_table(run: Run) -> pd.DataFrame:
    """One row per assignment: pool, worker, status, answers, reward (resolved), paid flag.

    Answers without an assignment id (long tables) are left out: they carry no price.
    """
    a = run.answers
    known = a["assignment_id"].notna()
    if not known.any():
        return pd.DataFrame(columns=["assignment_id", "pool_id", "worker_id", "status", "answers", "reward", "paid"])
    g = a[known].groupby("assignment_id", observed=True, sort=False)
    t = g.agg(
        pool_id=("pool_id", "first"),
        worker_id=("worker_id", "first"),
        status=("status", "first"),
        answers=("task_id", "size"),
        reward=("reward", "first"),
    ).reset_index()
    fallback = {p.pool_id: p.reward_per_assignment for p in run.meta.pools}
    pool_default = t["pool_id"].astype(str).map(fallback).astype("float64")
    reward = t["reward"].astype("float64").fillna(pool_default)
    if run.pricing.reward_per_assignment is not None:
        reward = reward.fillna(float(run.pricing.reward_per_assignment))
    t["reward"] = reward
    status = t["status"].astype("str")
    t["paid"] = status.isin(PAID_STATUSES) | t["status"].isna()
    return t


def spend(run: Run) -> Spend:
    """Total spend = Σ paid rewards + Σ bonuses + platform fee on both.

    Fee per paid assignment = max(fee_rate × reward, fee_minimum); fee on bonuses = fee_rate ×
    bonus. Returns ``total=None`` with the reason in ``missing`` where rewards are unknown.
    """
    p = run.pricing
    t = assignment_table(run)
    bonuses = float(p.bonuses["amount"].sum()) if len(p.bonuses) else 0.0
    paid = t[t["paid"]]
    n_paid, n_unpaid = int(len(paid)), int(len(t) - len(paid))
    if len(t) == 0:
        return Spend(p.currency, None, None, bonuses, None, 0, 0, missing="the run has no assignment ids, so there is nothing to price")
    if paid["reward"].isna().any():
        n = int(paid["reward"].isna().sum())
        return Spend(
            p.currency, None, None, bonuses, None, n_paid, n_unpaid,
            missing=f"{n:,} paid assignments have no reward: export ASSIGNMENT:reward or set the pool's reward per suite",
        )
    rewards = float(paid["reward"].sum())
    fees = float(np.maximum(paid["reward"].to_numpy() * p.fee_rate, p.fee_minimum).sum()) + bonuses * p.fee_rate
    return Spend(p.currency, rewards, fees, bonuses, rewards + fees + bonuses, n_paid, n_unpaid)
