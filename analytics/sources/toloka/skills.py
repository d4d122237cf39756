"""The exam pass mark: the skill value a main pool's filter asks for, of the skill the exam pool sets.

In Toloka an exam pool writes a skill (a ``SET_SKILL_FROM_OUTPUT_FIELD`` action with
``from_field: correct_answers_rate``: the share of exam items right, in percent) and the main
pool admits annotators with ``Skill(id) >= mark`` in its ``filter``. That mark, as a share, is
``PoolInfo.pass_threshold`` of the exam pools. Toloka's filter vocabulary (``and`` / ``or``,
``category: skill``, ``GTE`` / ``GT``) is known here and nowhere else.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka._values import number as _number

# a "> mark" filter admits a share just above the mark: a score equal to it fails
_ABOVE = 1e-6


def skill_conditions(flt: Any) -> Iterator[tuple[str, str, float]]:
    """(skill id, operator, value) of every ``Skill`` condition of a toloka-kit filter, at any depth."""
    if flt is None:
        return
    for key in ("and_", "or_"):
        parts = getattr(flt, key, None)
        if parts is not None:
            for part in parts:
                yield from skill_conditions(part)
            return
    if _enum(getattr(flt, "category", None)) == "skill":
        value = _number(getattr(flt, "value", None))
        key = getattr(flt, "key", None)
        if key is not None and value is not None:
            yield str(key), str(_enum(getattr(flt, "operator", None))), float(value)


def skills_set(pool: Any) -> set[str]:
    """The skills a pool's quality control sets from the share of correct answers (an exam pool's)."""
    out: set[str] = set()
    qc = getattr(pool, "quality_control", None)
    for config in getattr(qc, "configs", None) or []:
        for rule in getattr(config, "rules", None) or []:
            action = getattr(rule, "action", None)
            params = getattr(action, "parameters", None)
            if _enum(getattr(action, "type", None)) != "SET_SKILL_FROM_OUTPUT_FIELD":
                continue
            if _enum(getattr(params, "from_field", None)) == "correct_answers_rate" and params.skill_id:
                out.add(str(params.skill_id))
    return out


def pass_threshold(main_pools: Iterable[Any], exam_pools: Iterable[Any] = ()) -> float | None:
    """The exam pass mark as a share (0.8 for ``Skill(id) >= 80``), or None where it cannot be told.

    The conditions ``>= x`` / ``> x`` of the main pools' filters on a skill the exam pools set
    (:func:`skills_set`); without exam pools (or where they set none of the filtered skills), the
    one skill the main pools filter on. Several candidate marks that differ give None: the pass
    mark is then ambiguous (give it with ``--exam-threshold``).

    >>> from toloka.client.filter import Skill
    >>> from toloka.client import Pool
    >>> pass_threshold([Pool(filter=Skill("5001") >= 80)])
    0.8
    """
    conditions = [c for p in main_pools for c in skill_conditions(getattr(p, "filter", None))]
    marks = {(k, op, v) for k, op, v in conditions if op in ("GTE", "GT")}
    set_by_exam = set().union(*(skills_set(p) for p in exam_pools))
    chosen = {m for m in marks if m[0] in set_by_exam} or (marks if len({m[0] for m in marks}) == 1 else set())
    shares = {round(v / 100 + (_ABOVE if op == "GT" else 0.0), 9) for _, op, v in chosen}
    return shares.pop() if len(shares) == 1 else None


__all__ = ["pass_threshold", "skill_conditions", "skills_set"]
