"""The answers' columns as the checks see them: statuses, kinds, labels, rewards normalised per distinct value."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analytics.model.categories import category_values, map_categories, used_codes
from analytics.model.raw import RawAnswers
from analytics.model.tables import KINDS, STATUS_ALIASES


def isin_categories(s: pd.Series, allowed) -> np.ndarray:
    """Per row: is a categorical's value in ``allowed`` (False where missing); computed on the categories."""
    return category_values(s, lambda c: c.isin(list(allowed)), False).astype(bool)


def natural_key(s: str):
    """Sort labels numerically where they are numbers ("2" < "10"), else alphabetically."""
    try:
        return (0, float(s), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(s))


def pool_ids(raw: RawAnswers) -> pd.Series:
    """The pool of each answer; one pool named ``pool`` when the input names none."""
    pool = raw.text("pool_id")
    if (pool.cat.codes.to_numpy() < 0).all():
        codes = np.zeros(len(raw), dtype=np.int32)
        pool = pd.Series(
            pd.Categorical.from_codes(codes, categories=pd.Index(["pool"], dtype="str")), index=raw.frame.index
        )
    return pool


def statuses(raw: RawAnswers) -> pd.Series:
    """Statuses upper-cased, Toloka's download names read as its API's (APPROVED -> ACCEPTED)."""
    status = raw.text("status")
    if len(status.cat.categories):
        status = map_categories(status, lambda c: c.str.upper().map(lambda x: STATUS_ALIASES.get(x, x)))
    return status


def kinds(raw: RawAnswers) -> pd.Series | None:
    """Task kinds lower-cased, or None when the input has no kind column."""
    return map_categories(raw.text("kind"), lambda c: c.str.lower()) if raw.has("kind") else None


def kind_codes(golden: pd.Series, kind: pd.Series | None) -> np.ndarray:
    """Codes into :data:`KINDS`: the given kind, else control where a golden label is known, else regular."""
    has_golden = golden.cat.codes.to_numpy() >= 0
    default_kind = np.where(has_golden, KINDS.index("control"), KINDS.index("regular")).astype(np.int8)
    if kind is None:
        return default_kind
    given = category_values(
        kind, lambda c: np.array([KINDS.index(x) if x in KINDS else -1 for x in c], dtype=np.int8), np.int8(-1)
    )
    return np.where(given >= 0, given, default_kind).astype(np.int8)


def seen_labels(label: pd.Series) -> list[str]:
    """The labels some answer gives, in category order."""
    codes = label.cat.codes.to_numpy()
    used = used_codes(codes, len(label.cat.categories))
    return [str(x) for x in label.cat.categories[used]]


def unseen_truth_labels(truth: pd.Series | None, label_set: Sequence[str]) -> list[str]:
    """Truth labels outside ``label_set``, in the order first met."""
    if truth is None or not len(truth):
        return []
    t = truth.astype(str)
    return list(dict.fromkeys(t[~t.isin(label_set)]))


def rewards_of_categories(reward: pd.Series) -> np.ndarray:
    """Each category of a reward column as a float (NaN where it is not a number)."""
    return pd.to_numeric(pd.Series(reward.cat.categories, dtype="str"), errors="coerce").to_numpy(dtype="float64")


def rewards(raw: RawAnswers) -> pd.Series:
    """Rewards as floats (NaN where unknown or not a number), parsed once per distinct value."""
    if not raw.has("reward"):
        return pd.Series(np.nan, index=raw.frame.index, dtype="float64")
    reward = raw.text("reward")
    parsed = rewards_of_categories(reward)
    return pd.Series(category_values(reward, lambda c: parsed, np.nan), index=raw.frame.index, dtype="float64")
