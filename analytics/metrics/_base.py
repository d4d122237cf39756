"""What every metric shares: the error for a metric a run cannot support, and parameter checks."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from analytics.model import KINDS, Run, category_values


class MetricUnavailable(ValueError):
    """A metric cannot be computed for this run (no exam answers, no submit times, …).

    ``reason`` says what is missing in the users' words; ``missing_field`` names the export
    field that would make it computable (e.g. ``"ASSIGNMENT:submitted"``), or None where no
    field would help (a single annotator, no control tasks in the pool's design).
    """

    def __init__(self, reason: str, missing_field: str | None = None):
        self.reason = reason
        self.missing_field = missing_field
        text = reason
        if missing_field:
            text += f" (missing: {missing_field}; include it in the export to get this figure)"
        super().__init__(text)


def check_int(value, name: str, func: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int within [low, high], else a ValueError in scikit-learn's words."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        if low is not None and high is not None:
            want = f"an int in [{low}, {high}]"
        elif low is not None:
            want = f"an int >= {low}"
        elif high is not None:
            want = f"an int <= {high}"
        else:
            want = "an int"
        raise ValueError(f"The {name!r} parameter of {func} must be {want}. Got {value!r} instead.")
    return int(value)


def check_float(
    value, name: str, func: str, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    """``value`` as a finite float within the bounds, else a ValueError in scikit-learn's words."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok and low is not None and (value <= low if low_open else value < low):
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        op = ">" if low_open else ">="
        if low is not None and high is not None:
            want = f"a float in {'(' if low_open else '['}{low}, {high}]"
        elif low is not None:
            want = f"a float {op} {low}"
        else:
            want = "a float"
        raise ValueError(f"The {name!r} parameter of {func} must be {want}. Got {value!r} instead.")
    return float(value)


def kind_mask(run: Run, *kinds: str) -> np.ndarray:
    """Boolean mask of the answers whose kind is one of ``kinds`` (on integer codes)."""
    codes = run.codes.kind
    mask = np.zeros(len(codes), dtype=bool)
    for k in kinds:
        mask |= codes == KINDS.index(k)
    return mask


def rate(num, den) -> np.ndarray:
    """num / den as float, NaN where den == 0 (an undefined rate is never a silent 0)."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_run_cache(func):
    """Cache a one-argument function of a run (runs are immutable) for as long as the run lives.

    Several metrics start from the same per-assignment table; at 10^7 answers building it takes
    seconds, so it is built once per run. A DataFrame result is handed out as a shallow copy:
    with pandas' copy-on-write a caller that adds or changes a column changes only its copy. An
    array result is handed out read-only.
    """
    import functools
    import weakref

    cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    @functools.wraps(func)
    def wrapper(run: Run):
        try:
            value = cache[run]
        except KeyError:
            value = cache[run] = func(run)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False  # shared by every caller
        return value.copy(deep=False) if isinstance(value, (pd.DataFrame, pd.Series)) else value

    wrapper.cache = cache
    return wrapper


def category_in(s: pd.Series, names) -> np.ndarray:
    """Boolean mask of a categorical's rows whose value is one of ``names``, on the integer codes
    (pandas' isin on a categorical of 10^7 rows costs a string lookup per row)."""
    wanted = list(names)
    return category_values(s, lambda cats: cats.isin(wanted), False).astype(bool)


def name_rank(names: pd.Index) -> np.ndarray:
    """Rank of each category name in text order: sorts rows by a categorical's text without turning
    each row into a string (codes follow the category order, which depends on how the run was read)."""
    if names.is_monotonic_increasing:
        return np.arange(len(names), dtype=np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[names.argsort()] = np.arange(len(names))
    return rank
