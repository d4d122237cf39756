"""Cost of a run: rewards, platform fee and bonuses, and what a label costs.

Paid assignments are those ACCEPTED or SUBMITTED (submitted ones are paid on auto-acceptance
unless rejected); REJECTED, SKIPPED and EXPIRED ones are not. An assignment's reward is its
``reward`` column, else its pool's ``reward_per_assignment``, else the run's. The platform fee
is ``fee_rate`` × (reward or bonus), at least ``fee_minimum`` per paid assignment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Mapping

import numpy as np
import pandas as pd

from analytics.metrics._base import MetricUnavailable, category_in, per_run_cache, positions, rate, source_fields
from analytics.model import KINDS, Run

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


@per_run_cache
def assignment_table(run: Run) -> pd.DataFrame:
    """One row per assignment: pool, worker, status, answers, reward (resolved), paid flag, and
    submitted_at; ``assignment_code`` is its code in run.answers. Rows in assignment-code order.

    Answers without an assignment id (long tables) are left out: they carry no price. Built on
    integer codes from speed.suites (no string groupby: seconds at 10^7 answers).
    """
    from analytics.metrics.speed import suites

    a = run.answers
    cols = [
        "assignment_id",
        "assignment_code",
        "pool_id",
        "worker_id",
        "status",
        "answers",
        "reward",
        "paid",
        "submitted_at",
    ]
    s = suites(run)
    if len(s) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "reward" else "object") for c in cols})
    rows = s["first_row"].to_numpy()  # the suite's first answer carries its reward
    t = pd.DataFrame(
        {
            "assignment_id": s["assignment_id"].array,
            "assignment_code": s["assignment_code"].to_numpy(),
            "pool_id": s["pool_id"].array,
            "worker_id": s["worker_id"].array,
            "status": s["status"].array,
            "answers": s["tasks"].to_numpy(),
            "reward": a["reward"].iloc[rows].to_numpy(dtype="float64", na_value=np.nan),
            "submitted_at": s["submitted_at"].array,
        },
        copy=False,  # the suites' own columns, not a second 10^6-row copy of them
    )
    fallback = {p.pool_id: p.reward_per_assignment for p in run.meta.pools}
    reward = t["reward"]
    if any(v is not None for v in fallback.values()):
        reward = reward.fillna(t["pool_id"].map(fallback).astype("float64"))
    if run.pricing.reward_per_assignment is not None:
        reward = reward.fillna(float(run.pricing.reward_per_assignment))
    t["reward"] = reward
    t["paid"] = category_in(t["status"], PAID_STATUSES) | t["status"].isna().to_numpy()
    return t[cols]


# how a user gives rewards their data lacks, by the kind of source (crowdlens import/report flags;
# the Import page has the same options)
REWARD_OPTIONS = {
    "Toloka TSV": "or give the pool's reward per suite (--reward-per-suite X, or --pool-config pool.json)",
    "long table": "or give a reward per answer (--reward-per-answer X)",
    "Toloka API": "the pools' rewards were not returned either",
}
DEFAULT_REWARD_OPTION = "or give a reward per suite (--reward-per-suite X)"


def _missing_hint(run: Run, reason: str, field: str) -> str:
    """``reason`` naming the missing canonical ``field`` as the run's source calls it (``ASSIGNMENT:reward``,
    ``reward (--columns reward=COL)``) with the source's hint, then how to give rewards instead."""
    text = str(MetricUnavailable(reason, field).in_source(run))
    return f"{text}; {REWARD_OPTIONS.get(source_fields(run)[1], DEFAULT_REWARD_OPTION)}"


def spend(run: Run) -> Spend:
    """Total spend = Σ paid rewards + Σ bonuses + platform fee on both.

    Fee per paid assignment = max(fee_rate × reward, fee_minimum); fee on bonuses = fee_rate ×
    bonus. Returns ``total=None`` with the reason in ``missing`` where rewards are unknown.
    """
    p = run.pricing
    t = assignment_table(run)
    bonuses = float(p.bonuses["amount"].sum()) if len(p.bonuses) else 0.0
    paid = t["reward"].to_numpy(dtype="float64")[t["paid"].to_numpy(dtype=bool)]  # not the suites' ids (10^6 texts)
    n_paid, n_unpaid = int(len(paid)), int(len(t) - len(paid))
    if len(t) == 0:
        return Spend(
            p.currency,
            None,
            None,
            bonuses,
            None,
            0,
            0,
            missing=_missing_hint(
                run, "the run has no task suites (assignment ids), so nothing is priced", "assignment_id"
            ),
        )
    if np.isnan(paid).any():
        n = int(np.isnan(paid).sum())
        return Spend(
            p.currency,
            None,
            None,
            bonuses,
            None,
            n_paid,
            n_unpaid,
            missing=_missing_hint(run, f"{n:,} paid assignments have no reward", "reward"),
        )
    rewards = float(paid.sum())
    fees = float(np.maximum(paid * p.fee_rate, p.fee_minimum).sum()) + bonuses * p.fee_rate
    return Spend(p.currency, rewards, fees, bonuses, rewards + fees + bonuses, n_paid, n_unpaid)


# --------------------------------------------------------------------------------------------
# per assignment, per label, per pool, on banned annotators, across versions


@per_run_cache
def assignment_cost(run: Run) -> pd.DataFrame:
    """assignment_table plus what each suite costs: ``fee`` = max(fee_rate × reward, fee_minimum),
    ``value`` = reward + fee (what the suite costs if paid), ``cost`` = value where paid else 0,
    and ``submitted_at``. Index: RangeIndex, rows sorted by assignment_id. Bonuses are not per
    suite and are left out.
    """
    t = assignment_table(run)
    p = run.pricing
    if len(t) == 0:
        for col in ("fee", "value", "cost"):
            t[col] = pd.Series(dtype="float64")
        t["submitted_at"] = pd.Series(dtype=run.answers["submitted_at"].dtype)
        return t
    reward = t["reward"].to_numpy(dtype="float64")
    fee = np.maximum(reward * p.fee_rate, p.fee_minimum)
    fee = np.where(np.isnan(reward), np.nan, fee)
    t["fee"] = fee
    t["value"] = reward + fee
    t["cost"] = np.where(t["paid"].to_numpy(), t["value"].to_numpy(), 0.0)
    return t.sort_values("assignment_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class CostBreakdown:
    """What a run cost and what a unit of it cost, in ``currency``.

    Money: ``rewards``, ``fees``, ``bonuses``, ``total`` (as spend()). Counts: ``answers``
    (labeled answers in paid suites, or every labeled answer where the run has no suites — then
    nothing is priced), ``paid_assignments``, ``accepted_assignments``, ``final_labels``.
    Unit costs: ``cost_per_answer`` = total / answers, ``cost_per_accepted_assignment`` = total /
    accepted_assignments, ``cost_per_final_label`` = total / final_labels. Each is None where it
    is undefined, with the reason in ``reasons`` under the field's name.
    """

    currency: str
    rewards: float | None
    fees: float | None
    bonuses: float
    total: float | None
    answers: int
    paid_assignments: int
    accepted_assignments: int
    final_labels: int
    cost_per_answer: float | None
    cost_per_accepted_assignment: float | None
    cost_per_final_label: float | None
    reasons: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def final_label_count(run: Run) -> int:
    """Regular tasks with at least one label from a suite that counts (not REJECTED, SKIPPED or
    EXPIRED; answers without a status count): the tasks an aggregate label exists for."""
    a = run.answers
    c = run.codes
    regular = c.kind == KINDS.index("regular")
    dropped = category_in(a["status"], ("REJECTED", "SKIPPED", "EXPIRED"))
    ok = regular & (c.label >= 0) & ~dropped
    return int((np.bincount(c.task[ok], minlength=c.n_tasks) > 0).sum())


def _per(total: float | None, n: int, what: str, missing: str | None, reasons: dict, key: str) -> float | None:
    if total is None:
        reasons[key] = f"the total spend is unknown: {missing}"
        return None
    if n <= 0:
        reasons[key] = f"there are no {what}"
        return None
    return total / n


def cost_breakdown(run: Run, final_labels: int | None = None) -> CostBreakdown:
    """Spend (rewards + platform fee + bonuses, as spend()) and the cost of an answer, an
    accepted suite and a final label.

    ``final_labels`` defaults to final_label_count(run) (regular tasks with at least one label
    from a suite that counts); pass the count of labels actually delivered to override it. The
    unit costs divide the whole spend — exam, control tasks, rejected work's fees and bonuses
    included — because that is what a label cost the project.
    """
    if final_labels is None:
        final_labels = final_label_count(run)
    elif isinstance(final_labels, bool) or not isinstance(final_labels, (int, np.integer)) or final_labels < 0:
        raise ValueError(
            f"The 'final_labels' parameter of cost_breakdown must be an int >= 0. Got {final_labels!r} instead."
        )
    s = spend(run)
    t = assignment_table(run)
    a = run.answers
    labeled = a["label"].notna().to_numpy()
    if len(t):
        paid_code = np.zeros(len(a["assignment_id"].cat.categories) + 1, dtype=bool)
        paid_code[t.loc[t["paid"], "assignment_code"].to_numpy()] = True
        # code -1 (no assignment) lands on the extra last slot, which stays unpaid
        in_paid = paid_code[a["assignment_id"].cat.codes.to_numpy()]
        answers = int((labeled & in_paid).sum())
        accepted = int(category_in(t["status"], ["ACCEPTED"]).sum())
    else:
        answers, accepted = int(labeled.sum()), 0
    reasons: dict[str, str] = {}
    return CostBreakdown(
        currency=s.currency,
        rewards=s.rewards,
        fees=s.fees,
        bonuses=s.bonuses,
        total=s.total,
        answers=answers,
        paid_assignments=s.paid_assignments,
        accepted_assignments=accepted,
        final_labels=int(final_labels),
        cost_per_answer=_per(s.total, answers, "answers in paid task suites", s.missing, reasons, "cost_per_answer"),
        cost_per_accepted_assignment=_per(
            s.total, accepted, "accepted task suites", s.missing, reasons, "cost_per_accepted_assignment"
        ),
        cost_per_final_label=_per(
            s.total,
            int(final_labels),
            "final labels (regular tasks with a label)",
            s.missing,
            reasons,
            "cost_per_final_label",
        ),
        reasons=reasons,
    )


def cost_by_pool(run: Run) -> pd.DataFrame:
    """Per pool: what its suites cost.

    Index ``pool_id`` (sorted). Columns ``kind`` and ``name`` (from run.meta.pools, missing where
    unknown), ``assignments``, ``paid_assignments``, ``answers`` (labeled answers in paid suites),
    ``rewards``, ``fees`` (max(fee_rate × reward, fee_minimum) per paid suite), ``total`` =
    rewards + fees, ``cost_per_answer`` = total / answers (NaN where 0 answers; NaN totals where
    a paid suite has no reward). Bonuses belong to no pool and are not here: Σ total + bonuses ×
    (1 + fee_rate) = spend(run).total.
    """
    t = assignment_cost(run)
    if len(t) == 0:
        raise MetricUnavailable(
            "cost per pool needs task suites, and this run has no assignment ids",
            missing_field="assignment_id",
        )
    # labeled answers per suite, counted on the assignment codes (no copy of the answers, no id look-ups)
    codes = run.answers["assignment_id"].array.codes
    counted = (run.codes.label >= 0) & (codes >= 0)
    per_code = np.bincount(codes[counted], minlength=len(run.answers["assignment_id"].cat.categories))
    t["labeled"] = per_code[t["assignment_code"].to_numpy()].astype(np.int64)
    paid = t[t["paid"]]
    g_all = t.groupby("pool_id", sort=True)
    g = paid.groupby("pool_id", sort=True)
    out = pd.DataFrame({"assignments": g_all.size()})
    out["paid_assignments"] = g.size().reindex(out.index, fill_value=0).astype(np.int64)
    out["answers"] = g["labeled"].sum().reindex(out.index, fill_value=0).astype(np.int64)
    out["rewards"] = g["reward"].sum(min_count=1).reindex(out.index).fillna(0.0)
    out["fees"] = g["fee"].sum(min_count=1).reindex(out.index).fillna(0.0)
    unknown = (
        paid.groupby("pool_id")["reward"].apply(lambda r: bool(r.isna().any())).reindex(out.index, fill_value=False)
    )
    out.loc[unknown, ["rewards", "fees"]] = np.nan
    out["total"] = out["rewards"] + out["fees"]
    out["cost_per_answer"] = rate(out["total"], out["answers"])
    info = {p.pool_id: p for p in run.meta.pools}
    out.insert(0, "kind", [info[p].kind if p in info else None for p in out.index])
    out.insert(1, "name", [info[p].name if p in info else None for p in out.index])
    out.index.name = "pool_id"
    return out


@dataclass(frozen=True)
class BannedSpend:
    """Money that went to annotators who were later banned, and suites that were rejected.

    ``banned_workers``: annotators with a recorded restriction; ``suites_before_ban`` /
    ``spend_before_ban``: their paid suites submitted up to their (first) restriction and what
    those cost (reward + fee); ``suites_after_ban`` / ``spend_after_ban``: paid suites after it
    (work a ban did not stop); ``bonuses_to_banned`` (with fee); ``rejected_suites`` and
    ``rejected_value``: suites rejected (by anyone) and what they would have cost had they been
    paid (reward + fee, not spent); ``share_of_spend`` = (spend before + after + bonuses) / total
    (None where the total is unknown). ``per_worker``: index worker_id, columns rule, banned_at,
    suites, paid_suites, spend, rejected_suites, suites_after_ban. :meth:`as_dict` gives the
    figures the Cost page shows as plain JSON.
    """

    currency: str
    banned_workers: int
    suites_before_ban: int
    spend_before_ban: float
    suites_after_ban: int
    spend_after_ban: float
    bonuses_to_banned: float
    rejected_suites: int
    rejected_value: float
    share_of_spend: float | None
    per_worker: pd.DataFrame

    @property
    def spend_on_banned(self) -> float:
        """What the banned annotators were paid: before and after their ban, and bonuses (with fee)."""
        return self.spend_before_ban + self.spend_after_ban + self.bonuses_to_banned

    def as_dict(self) -> dict:
        """Every figure as plain JSON: the fields, ``spend_on_banned`` (their total), and
        ``per_worker`` as records (worker_id, rule (None: a ban without a rule, e.g. by hand),
        banned_at (ISO 8601), suites, paid_suites, spend, rejected_suites, suites_after_ban)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "per_worker"}
        d["spend_on_banned"] = self.spend_on_banned
        per = self.per_worker.reset_index()
        per["banned_at"] = [None if pd.isna(t) else pd.Timestamp(t).isoformat() for t in per["banned_at"]]
        per = per.astype(object).where(per.notna(), None)
        d["per_worker"] = [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in per.to_dict(orient="records")
        ]
        return d


def spend_on_banned(run: Run) -> BannedSpend:
    """What was spent on annotators who were later banned (run.restrictions) and on rejected suites.

    A suite counts before the ban when submitted at or before the annotator's first restriction
    (a suite without a submit time counts as before). Suite cost = reward + max(fee_rate × reward,
    fee_minimum), as in spend(); suites without a known reward count as 0 here.
    """
    p = run.pricing
    t = assignment_cost(run)
    r = run.restrictions
    first = (
        r.dropna(subset=["worker_id"])
        .sort_values(["worker_id", "created_at"], kind="stable")
        .drop_duplicates("worker_id")
        .set_index("worker_id")[["rule", "created_at"]]
    )
    at = positions(pd.Index(first.index.astype("str")), t["worker_id"])  # no Python string per suite
    stamps = pd.to_datetime(first["created_at"], utc=True)
    banned_at = pd.Series(stamps.array.take(at, allow_fill=True), index=t.index)
    is_banned = pd.Series(at >= 0, index=t.index)
    after = is_banned & t["submitted_at"].notna() & banned_at.notna() & (t["submitted_at"] > banned_at)
    before = is_banned & ~after
    cost = t["cost"].astype("float64").fillna(0.0)
    status = t["status"]
    categorical = isinstance(status.dtype, pd.CategoricalDtype)
    rejected = pd.Series(category_in(status, ["REJECTED"]) if categorical else status.eq("REJECTED"), index=t.index)
    b = p.bonuses
    bonus = (
        float(b.loc[b["worker_id"].astype(str).isin(first.index), "amount"].sum()) * (1 + p.fee_rate) if len(b) else 0.0
    )
    tb = t[is_banned].assign(after=after[is_banned], rejected=rejected[is_banned], cost=cost[is_banned])
    g = tb.groupby("worker_id")
    per = pd.DataFrame(index=pd.Index(sorted(first.index.astype(str)), name="worker_id", dtype="str"))
    per["rule"] = first["rule"].reindex(per.index)
    per["banned_at"] = first["created_at"].reindex(per.index)
    per["suites"] = g.size().reindex(per.index, fill_value=0).astype(np.int64)
    per["paid_suites"] = g["paid"].sum().reindex(per.index, fill_value=0).astype(np.int64)
    per["spend"] = g["cost"].sum().reindex(per.index, fill_value=0.0)
    per["rejected_suites"] = g["rejected"].sum().reindex(per.index, fill_value=0).astype(np.int64)
    per["suites_after_ban"] = g["after"].sum().reindex(per.index, fill_value=0).astype(np.int64)
    paid = t["paid"].astype(bool)
    s_before = float(cost[before].sum())
    s_after = float(cost[after].sum())
    total = spend(run).total
    return BannedSpend(
        currency=p.currency,
        banned_workers=int(len(first)),
        suites_before_ban=int((before & paid).sum()),
        spend_before_ban=s_before,
        suites_after_ban=int((after & paid).sum()),
        spend_after_ban=s_after,
        bonuses_to_banned=bonus,
        rejected_suites=int(rejected.sum()),
        rejected_value=float(t.loc[rejected, "value"].astype("float64").fillna(0.0).sum()),
        share_of_spend=None if not total else (s_before + s_after + bonus) / total,
        per_worker=per,
    )


def compare_versions_cost(runs: Mapping[str, Run]) -> pd.DataFrame:
    """One row per version (in the order given, e.g. oldest first): what it cost and per unit.

    Index ``version`` (the mapping's keys). Columns ``currency``, ``total``, ``answers``,
    ``cost_per_answer``, ``final_labels``, ``cost_per_final_label``, ``paid_assignments``,
    ``missing`` (why a figure is None, else empty). Figures as cost_breakdown.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            "The 'runs' parameter of compare_versions_cost must be a non-empty dict of version name -> Run. "
            f"Got {runs!r} instead."
        )
    return compare_breakdowns({name: cost_breakdown(run) for name, run in runs.items()})


def compare_breakdowns(breakdowns: Mapping[str, "CostBreakdown"]) -> pd.DataFrame:
    """compare_versions_cost from each version's cost_breakdown, already computed (a caller that
    has them need not hold every version's run in memory at once)."""
    if not isinstance(breakdowns, Mapping) or not breakdowns:
        raise ValueError(
            "The 'breakdowns' parameter of compare_breakdowns must be a non-empty dict of version name -> "
            f"CostBreakdown. Got {breakdowns!r} instead."
        )
    rows = []
    for name, b in breakdowns.items():
        rows.append(
            {
                "version": str(name),
                "currency": b.currency,
                "total": b.total,
                "answers": b.answers,
                "cost_per_answer": b.cost_per_answer,
                "final_labels": b.final_labels,
                "cost_per_final_label": b.cost_per_final_label,
                "paid_assignments": b.paid_assignments,
                "missing": "; ".join(dict.fromkeys(b.reasons.values())),
            }
        )
    out = pd.DataFrame(rows).set_index("version")
    for col in ("total", "cost_per_answer", "cost_per_final_label"):
        out[col] = out[col].astype("float64")
    return out
