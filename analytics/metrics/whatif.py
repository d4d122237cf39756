"""What-if on the quality-control rules: who other thresholds would ban, what that removes, what remains.

:func:`rules_whatif` replays the pools' fast_responses and golden_set rules (see
:mod:`analytics.metrics.rules`) twice: with the thresholds the run recorded ("replayed") and with
some of them changed ("as set": ``settings={"golden_set.min_answers": 5, ...}``; the settable
keys are :data:`SETTABLE`). It compares the two ban lists, counts the suites and money that the
changed bans remove or give back, and measures what remains: Krippendorff's alpha and the
aggregate's accuracy against golden and truth, re-aggregated without the answers given after each
ban (as set) — so someone banned earlier loses their later answers, and someone no longer banned
keeps the answers the recorded thresholds would have removed. Each banned annotator gets a
false-ban risk (:mod:`analytics.metrics.banrisk`). The version is never changed.

This module also declares the QA figures for the registry (:data:`FIGURES`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.metrics import audit, banrisk, examreview
from analytics.metrics._base import MetricUnavailable, kind_mask
from analytics.metrics._qa import (
    SETTABLE,
    after_bans,
    normalize_settings,
    ordered_suites,
    quality,
    records,
    settable_keys,
    with_rules,
    without_suites,
)
from analytics.metrics.rules import replay_rules
from analytics.model import Run

__all__ = ["FIGURES", "SETTABLE", "WhatIf", "normalize_settings", "rules_whatif", "settable_keys", "with_rules"]

BAN_COLUMNS = [
    "worker_id",
    "pool_id",
    "rule",
    "at",
    "evidence",
    "suites_before",
    "suites_after",
    "spend_after",
    "recorded",
    "replayed_rule",
    "replayed_at",
    "change",
    "control_answers",
    "control_correct",
    "control_accuracy",
    "ds_accuracy",
    "false_ban_risk",
    "false_ban_risk_ds",
    "risk_method",
]
NOT_AN_ACCURACY_RULE = "none: the fast-response rule is on speed, not accuracy"


@dataclass(frozen=True)
class WhatIf:
    """The rules as set against the rules as recorded (both replayed), see :func:`rules_whatif`.

    ``banned`` (BAN_COLUMNS, one row per annotator and pool the rules as set ban):
    ``rule``/``at``/``evidence``/``suites_before``/``suites_after``/``spend_after`` as
    replay_rules gives them; ``recorded``: a restriction is recorded for them; ``replayed_rule``
    and ``replayed_at``: their ban under the recorded thresholds (missing where none);
    ``change``: "new" (not banned under the recorded thresholds), "earlier", "later" or "same";
    ``control_answers``/``control_correct``/``control_accuracy``: all their graded control
    answers in the pool; ``ds_accuracy``: their one-coin Dawid-Skene skill;
    ``false_ban_risk``/``false_ban_risk_ds``: banrisk.window_rule_risk with each accuracy over
    their whole history in the pool (NaN for a fast-response ban); ``risk_method``.
    ``newly_banned``: the rows of ``banned`` with change "new". ``no_longer_banned``: bans under
    the recorded thresholds that the rules as set do not make (worker_id, pool_id, rule, at,
    evidence, suites_before, suites_after, spend_after, recorded). ``suites_removed`` /
    ``spend_removed``: submitted suites (and their cost) after a ban as set that no replayed ban
    removed; ``suites_restored`` / ``spend_restored``: the reverse. ``quality``: :func:`quality`
    of the run as recorded ("recorded": every answer), without the suites after the replayed bans
    ("replayed") and without those after the bans as set ("as_set").
    """

    settings: dict[str, dict[str, Any]]
    rules: dict[str, list[dict]]
    banned: pd.DataFrame
    newly_banned: pd.DataFrame
    no_longer_banned: pd.DataFrame
    suites_removed: int
    suites_restored: int
    spend_removed: float
    spend_restored: float
    currency: str
    quality: dict[str, dict[str, Any]]
    not_replayed: list[dict] = field(default_factory=list)
    risk_model: str = banrisk.__doc__.split("\n\n")[1].replace("\n", " ")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: frames as lists of records."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = records(v) if isinstance(v, pd.DataFrame) else v
        return out


def _bans(replay: pd.DataFrame) -> pd.DataFrame:
    b = replay[replay["rule"].notna()].copy()
    b["recorded"] = b["recorded_rule"].notna().to_numpy()
    return b.reset_index(drop=True)


def _control_history(run: Run, ordered: pd.DataFrame) -> pd.DataFrame:
    """``ordered`` with each suite's graded control answers (``ctl_n``) and correct ones (``ctl_k``)."""
    c = run.codes
    a_codes = run.answers["assignment_id"].cat.codes.to_numpy()
    rows = np.flatnonzero(kind_mask(run, "control") & (c.label >= 0) & (c.golden >= 0) & (a_codes >= 0))
    row_of = np.full(len(run.answers["assignment_id"].cat.categories) + 1, -1, dtype=np.int64)
    row_of[ordered["assignment_code"].to_numpy()] = np.arange(len(ordered))
    suite = row_of[a_codes[rows]]
    ok = suite >= 0
    suite, correct = suite[ok], (c.label[rows] == c.golden[rows])[ok]
    return ordered.assign(
        ctl_n=np.bincount(suite, minlength=len(ordered)).astype(np.int64),
        ctl_k=np.bincount(suite, weights=correct, minlength=len(ordered)).astype(np.int64),
    )


def _ds_skill(run: Run) -> pd.Series:
    from analytics.metrics import aggregation

    try:
        skill = aggregation.aggregate(run, "onecoin").worker_skill
    except MetricUnavailable:
        return pd.Series(dtype="float64")
    return skill if skill is not None else pd.Series(dtype="float64")


def _golden_rule(run: Run, pool_id: str) -> dict | None:
    info = run.meta.pool(pool_id)
    return next((r for r in (info.rules if info else ()) if r.get("type") == "golden_set"), None)


def _add_risk(run: Run, bans: pd.DataFrame, history: pd.DataFrame, skill: pd.Series) -> pd.DataFrame:
    """``bans`` (replay rows of ``run``, whose rules they were replayed with) with each annotator's
    control accuracy, one-coin skill and false-ban risks (see WhatIf)."""
    per = history.groupby(["worker_id", "pool_id"], sort=False)
    out = {k: [] for k in ("control_answers", "control_correct", "control_accuracy", "ds_accuracy")}
    out.update(false_ban_risk=[], false_ban_risk_ds=[], risk_method=[])
    for w, pool, rule in zip(bans["worker_id"], bans["pool_id"], bans["rule"], strict=True):
        counts = per.get_group((w, pool))["ctl_n"].to_numpy() if (w, pool) in per.groups else np.zeros(0, int)
        right = int(per.get_group((w, pool))["ctl_k"].sum()) if (w, pool) in per.groups else 0
        n = int(counts.sum())
        p_ctl = right / n if n else math.nan
        p_ds = float(skill.get(w, math.nan))
        out["control_answers"].append(n)
        out["control_correct"].append(right)
        out["control_accuracy"].append(p_ctl)
        out["ds_accuracy"].append(p_ds)
        g = _golden_rule(run, pool) if rule == "golden_set" else None
        if g is None:
            out["false_ban_risk"].append(math.nan)
            out["false_ban_risk_ds"].append(math.nan)
            out["risk_method"].append(NOT_AN_ACCURACY_RULE)
            continue
        args = (g.get("history_size"), int(g.get("min_answers") or 1))
        limits = (g.get("min_correct_percent"), g.get("max_incorrect_percent"))
        risk, method = banrisk.window_rule_risk(counts, p_ctl, *args, *limits)
        risk_ds, _ = banrisk.window_rule_risk(counts, p_ds, *args, *limits)
        out["false_ban_risk"].append(risk)
        out["false_ban_risk_ds"].append(risk_ds)
        out["risk_method"].append(method)
    b = bans.copy()
    for k, v in out.items():
        b[k] = pd.Series(v, index=b.index, dtype="int64" if k in ("control_answers", "control_correct") else None)
    return b


def _compare(new: pd.DataFrame, old: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the bans as set with replayed_rule / replayed_at / change, the replayed bans no longer made)."""
    o = old[["worker_id", "pool_id", "rule", "at", "suites_before"]].rename(
        columns={"rule": "replayed_rule", "at": "replayed_at", "suites_before": "_old_before"}
    )
    m = new.merge(o, on=["worker_id", "pool_id"], how="left")
    before, old_before = m["suites_before"].astype("float64"), m["_old_before"].astype("float64")
    m["change"] = np.select(
        [old_before.isna(), before < old_before, before > old_before], ["new", "earlier", "later"], default="same"
    )
    gone = old.merge(new[["worker_id", "pool_id"]], on=["worker_id", "pool_id"], how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"]
    cols = ["worker_id", "pool_id", "rule", "at", "evidence", "suites_before", "suites_after", "spend_after"]
    gone = gone[[*cols, "recorded"]].sort_values(["worker_id", "pool_id"], kind="stable").reset_index(drop=True)
    return m.drop(columns="_old_before"), gone


def _suite_keys(frame: pd.DataFrame) -> set[int]:
    return set(frame["assignment_code"].astype("int64").tolist())


def rules_whatif(run: Run, settings: Any = None, pool_id: str | None = None, method: str = "mv") -> WhatIf:
    """The pools' rules with some thresholds changed (``settings``: ``{"RULE.KEY": value}``, see
    :data:`SETTABLE`; none: the recorded thresholds) against the recorded ones, replayed on this
    run; ``method`` aggregates what remains (see WhatIf). Raises MetricUnavailable where the rules
    cannot be replayed (as replay_rules), ValueError for an unknown or impossible setting."""
    chosen = normalize_settings(settings)
    as_set = with_rules(run, chosen, pool_id)
    old = _bans(replay_rules(run, pool_id))
    replay_new = replay_rules(as_set, pool_id)
    ordered = ordered_suites(run)
    history = _control_history(run, ordered)
    new = _add_risk(as_set, _bans(replay_new), history, _ds_skill(run))
    banned, gone = _compare(new, old)
    banned = banned.sort_values(["worker_id", "pool_id"], kind="stable").reset_index(drop=True)[BAN_COLUMNS]
    after_new, after_old = after_bans(ordered, banned), after_bans(ordered, old)
    removed = after_new[~after_new["assignment_code"].isin(_suite_keys(after_old))]
    restored = after_old[~after_old["assignment_code"].isin(_suite_keys(after_new))]
    figures = {"recorded": quality(run, method)}
    figures["replayed"] = quality(without_suites(run, after_old["assignment_code"].to_numpy()), method)
    same = _suite_keys(after_new) == _suite_keys(after_old)
    figures["as_set"] = (
        figures["replayed"] if same else quality(without_suites(run, after_new["assignment_code"].to_numpy()), method)
    )
    rules = {p.pool_id: [dict(r) for r in p.rules] for p in as_set.meta.pools if p.rules}
    return WhatIf(
        settings=chosen,
        rules=rules,
        banned=banned,
        newly_banned=banned[banned["change"] == "new"].reset_index(drop=True),
        no_longer_banned=gone,
        suites_removed=int(len(removed)),
        suites_restored=int(len(restored)),
        spend_removed=float(removed["cost"].sum()),
        spend_restored=float(restored["cost"].sum()),
        currency=run.pricing.currency,
        quality=figures,
        not_replayed=list(replay_new.attrs.get("not_replayed", [])),
    )


# The QA figures (issue 17), registered by one line of analytics/metrics/registry.py:
# (name, function, result kind, about, needs) — the arguments of registry.Metric.
FIGURES: tuple[tuple[str, Any, str, str, str], ...] = (
    (
        "rules_whatif",
        rules_whatif,
        "value",
        "the ban rules replayed with other thresholds: who, what, quality",
        "rules",
    ),
    ("ban_audit", audit.ban_audit, "value", "suspect golden labels, the bans resting on them, a what-if", "control"),
    ("exam_review", examreview.exam_review, "value", "exam score against main-pool accuracy; other pass marks", "exam"),
)
