"""What every metric shares: the error for a metric a run cannot support, and parameter checks."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

# one parameter checker set for kernels and metrics; imported from here by the metric modules
from analytics.kernels.checks import check_float as check_float
from analytics.kernels.checks import check_int as check_int
from analytics.model import KINDS, Run, category_values

# the canonical fields a metric can miss, in the users' words (the source's own name travels on the run)
CANONICAL_FIELDS = {
    "submitted_at": "submit times",
    "started_at": "start times",
    "assignment_id": "task suite (assignment) ids",
    "reward": "rewards",
    "golden": "known answers of control tasks",
    "truth": "ground truth",
    "status": "assignment statuses",
    "rules": "the pools' quality-control rules",
}
# how to add a missing field, by the kind of source the run was read from
SOURCE_HINTS = {
    "Toloka TSV": "include it in the export to get this figure",
    "long table": "add that column to your table to get this figure",
    "Toloka API": "the Toloka API did not return it for these pools",
}
DEFAULT_HINT = "include it in your data to get this figure"


class MetricUnavailable(ValueError):
    """A metric cannot be computed for this run (no exam answers, no submit times, …).

    ``reason`` says what is missing in the users' words; ``missing_field`` names the canonical
    field that would make it computable (``"submitted_at"``: see CANONICAL_FIELDS), or None where
    no field would help (a single annotator, no control tasks in the pool's design).
    :meth:`in_source` names it as the run's source calls it (``ASSIGNMENT:submitted`` in a Toloka
    TSV, the ``--columns`` key of a long table, the API field); the registry does that for every
    metric it computes.
    """

    def __init__(self, reason: str, missing_field: str | None = None, *, source_name: str | None = None, hint=None):
        self.reason = reason
        self.missing_field = missing_field
        self.source_name = source_name or missing_field
        text = reason
        if missing_field:
            text += f" (missing: {self.source_name}; {hint or DEFAULT_HINT})"
        super().__init__(text)

    def in_source(self, run: Run) -> "MetricUnavailable":
        """The same refusal, naming the missing field as ``run``'s source calls it."""
        if not self.missing_field or self.source_name != self.missing_field:
            return self
        fields, kind = source_fields(run)
        return MetricUnavailable(
            self.reason,
            self.missing_field,
            source_name=fields.get(self.missing_field) or self.missing_field,
            hint=SOURCE_HINTS.get(kind, DEFAULT_HINT),
        )


def source_fields(run: Run) -> tuple[Mapping[str, str], str]:
    """(canonical field -> the source's own name for it, the kind of source) of ``run``."""
    for holder in (run, run.meta):
        fields = getattr(holder, "source_fields", None)
        if fields is not None:
            return fields, str(getattr(holder, "source_kind", "") or "")
    return {}, ""


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


def position(names: pd.Index, value: str) -> int:
    """Where ``value`` is in ``names`` (-1 if absent) without building the Index's hash table for one
    look-up: a scan in C of the Arrow text of a large index (a page asking for one task of 3 M paid
    3.5 s for the table), the hash table where pandas built it already or the index is small."""
    value = str(value)
    built = "_engine" in getattr(names, "_cache", {})  # pandas keeps the hash table there once built
    arrow = getattr(names.array, "_pa_array", None)
    if built or arrow is None or len(names) < 100_000:
        return int(names.get_indexer([value])[0])
    import pyarrow.compute as pc

    return int(pc.index(arrow, value).as_py())


def positions(names: pd.Index, values: pd.Series) -> np.ndarray:
    """Where each of ``values`` is in ``names`` (int64, -1 if absent), without a Python string per
    row: a categorical's categories looked up once, Arrow text by pyarrow's hash look-up (pandas'
    get_indexer turns 10^6 Arrow strings into objects first), anything else by get_indexer."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return category_values(values, names.get_indexer, -1).astype(np.int64, copy=False)
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is None:
        return names.get_indexer(values)
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(names.astype(str).to_numpy(dtype=object), type=arrow.type)
    return pc.index_in(arrow, value_set=wanted).fill_null(-1).to_numpy().astype(np.int64, copy=False)
