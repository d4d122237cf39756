"""A pool's quality-control rules (collectors, conditions, actions) as the rules crowdlens replays.

Toloka's rule vocabulary (AssignmentSubmitTime / GoldenSet collectors, FastSubmittedCount and
GoldenSet*Rate conditions, Restriction / RestrictionV2 actions) is known here and nowhere else.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka._values import number as _number
from analytics.sources.toloka._values import plain as _plain


def _restriction_action(action) -> dict[str, Any] | None:
    """scope / ban_days / reason of a Restriction or RestrictionV2 action; None for other actions."""
    kind = _enum(getattr(action, "type", None))
    p = getattr(action, "parameters", None)
    if p is None:
        return None
    if kind == "RESTRICTION_V2":
        unit = _enum(getattr(p, "duration_unit", None))
        duration = _number(getattr(p, "duration", None))
        per_day = {"DAYS": 1, "HOURS": 24, "MINUTES": 24 * 60}
        if unit == "PERMANENT" or duration is None:
            days = None
        elif unit in per_day:
            days = duration / per_day[unit] if per_day[unit] != 1 else duration
        else:
            return None
    elif kind == "RESTRICTION":
        days = _number(getattr(p, "duration_days", None))
    else:
        return None
    out = {"scope": _enum(getattr(p, "scope", None)), "ban_days": days}
    comment = getattr(p, "private_comment", None)
    if comment:
        out["reason"] = str(comment)
    return out


def _conditions(conds) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for c in conds or []:
        out.setdefault(_enum(c.key), []).append((_enum(c.operator), _number(c.value)))
    return out


def _at_least(ops: list[tuple[str, Any]]) -> int | None:
    """``x >= n`` / ``x > n`` (integers) as the smallest n for which it holds; else None."""
    if len(ops) != 1:
        return None
    op, v = ops[0]
    if v is None:
        return None
    if op == "GTE":
        return int(math.ceil(v))
    if op == "GT":
        return int(math.floor(v)) + 1
    return None


def _fast_rule(params, conds, restriction) -> tuple[dict | None, str]:
    extra = set(conds) - {"fast_submitted_count"}
    if extra:
        return None, f"conditions on {', '.join(sorted(extra))} have no equivalent in the replayed rule"
    ops = conds.get("fast_submitted_count", [])
    count = _at_least(ops)
    if count is None and len(ops) == 1 and ops[0][0] == "EQ" and ops[0][1] is not None:
        # the count grows by at most one per suite, so "== n" first holds when ">= n" does
        count = int(ops[0][1])
    if count is None:
        return None, "the fast_submitted_count condition is not of the form >= n / > n / == n"
    threshold = _number(getattr(params, "fast_submit_threshold_seconds", None))
    if threshold is None:
        return None, "the collector has no fast_submit_threshold_seconds"
    rule = {
        "type": "fast_responses",
        "history_size": _number(getattr(params, "history_size", None)),
        "count": count,
        "fast_submit_threshold_seconds": threshold,
        "ban_days": restriction["ban_days"],
        "scope": restriction["scope"],
    }
    if "reason" in restriction:
        rule["reason"] = restriction["reason"]
    return rule, ""


def _golden_rule(params, conds, restriction) -> tuple[dict | None, str]:
    extra = set(conds) - {
        "golden_set_correct_answers_rate",
        "golden_set_incorrect_answers_rate",
        "golden_set_answers_count",
    }
    if extra:
        return None, f"conditions on {', '.join(sorted(extra))} have no equivalent in the replayed rule"
    rule: dict[str, Any] = {"type": "golden_set", "history_size": _number(getattr(params, "history_size", None))}
    if "golden_set_answers_count" in conds:
        n = _at_least(conds["golden_set_answers_count"])
        if n is None:
            return None, "the golden_set_answers_count condition is not of the form >= n / > n"
        rule["min_answers"] = n
    else:
        rule["min_answers"] = 1
    for key, name, op_needed in (
        ("golden_set_correct_answers_rate", "min_correct_percent", "LT"),
        ("golden_set_incorrect_answers_rate", "max_incorrect_percent", "GT"),
    ):
        ops = conds.get(key)
        if ops is None:
            continue
        if len(ops) != 1 or ops[0][0] != op_needed or ops[0][1] is None:
            want = "< x" if op_needed == "LT" else "> x"
            return None, f"the {key} condition is not of the form {want}"
        rule[name] = ops[0][1]
    if "min_correct_percent" not in rule and "max_incorrect_percent" not in rule:
        return None, "there is no condition on the share of correct or incorrect control answers"
    rule["ban_days"] = restriction["ban_days"]
    rule["scope"] = restriction["scope"]
    if "reason" in restriction:
        rule["reason"] = restriction["reason"]
    return rule, ""


def pool_rules(pool) -> tuple[dict, ...]:
    """A toloka-kit Pool's quality-control rules as ``PoolInfo.rules`` dicts.

    One dict per rule (a collector can drive several rules). A fast-response ban
    (AssignmentSubmitTime collector, FastSubmittedCount >= n, a Restriction/RestrictionV2 action)
    becomes ``{"type": "fast_responses", "history_size", "count",
    "fast_submit_threshold_seconds", "ban_days", "scope", "reason"}``; a control-task ban
    (GoldenSet collector, GoldenSetCorrectAnswersRate < x and/or
    GoldenSetIncorrectAnswersRate > y, optionally GoldenSetAnswersCount >= n) becomes
    ``{"type": "golden_set", "history_size", "min_answers", "min_correct_percent" /
    "max_incorrect_percent", "ban_days", "scope", "reason"}``. ``reason`` is the action's
    private comment (what the restriction it creates says); ``ban_days`` is None for a
    permanent ban. A ``history_size`` Toloka leaves unset (the whole history in the pool) is
    None here; :func:`read_pool` replaces it with a bound that covers the whole history.

    Every other rule — other collectors, other actions (reject, set skill, change overlap), or
    conditions with no replayable equivalent — is kept, not dropped, as ``{"type": <the
    collector's Toloka type, e.g. "SKIPPED_IN_ROW_ASSIGNMENTS">, "raw": <the rule as the API
    gives it>, "why": <why it is not converted>}``.
    """
    from toloka.client import unstructure

    qc = getattr(pool, "quality_control", None)
    out: list[dict] = []
    for config in getattr(qc, "configs", None) or []:
        collector = config.collector_config
        ctype = _enum(getattr(collector, "type", None)) or "UNKNOWN"
        params = getattr(collector, "parameters", None)
        for rule_config in config.rules or []:
            conds = _conditions(rule_config.conditions)
            restriction = _restriction_action(rule_config.action)
            converted, why = None, ""
            if restriction is None:
                why = f"the action {_enum(getattr(rule_config.action, 'type', None))} is not a ban"
            elif ctype == "ASSIGNMENT_SUBMIT_TIME":
                converted, why = _fast_rule(params, conds, restriction)
            elif ctype == "GOLDEN_SET":
                converted, why = _golden_rule(params, conds, restriction)
            else:
                why = f"the {ctype} collector is not replayed"
            if converted is not None:
                out.append(converted)
                continue
            raw = {
                "collector_config": _plain(unstructure(collector)),
                "rules": [_plain(unstructure(rule_config))],
            }
            out.append({"type": ctype, "raw": raw, "why": why})
    return tuple(out)


def bound_history(rules: tuple[dict, ...], bound: int) -> tuple[dict, ...]:
    """Replace an unset history_size (Toloka: the whole history in the pool) by ``bound``,
    a number no annotator's history in the pool can exceed (the pool's answer rows)."""
    out = []
    for r in rules:
        if r.get("type") in ("fast_responses", "golden_set") and r.get("history_size") is None:
            r = {**r, "history_size": max(1, int(bound))}
        out.append(r)
    return tuple(out)


def rule_comments(rules: Iterable[dict]) -> list[tuple[str, str]]:
    """(private comment, rule type) of every banning rule, for attributing restrictions."""
    out = []
    for r in rules:
        if "raw" in r:
            for rc in r["raw"].get("rules", []):
                action = rc.get("action") or {}
                comment = (action.get("parameters") or {}).get("private_comment")
                if comment and action.get("type") in ("RESTRICTION", "RESTRICTION_V2"):
                    out.append((str(comment), str(r["type"])))
        elif r.get("reason"):
            out.append((str(r["reason"]), str(r["type"])))
    return out


__all__ = ["bound_history", "pool_rules", "rule_comments"]
