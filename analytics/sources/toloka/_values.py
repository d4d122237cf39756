"""Plain values from toloka-kit's objects: enums as text, Decimals as numbers, times as UTC."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def enum(value) -> str | None:
    """An enum's value (toloka-kit's enums are str enums), or the text of anything else."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def plain(obj: Any) -> Any:
    """JSON-safe plain values (Decimal → int/float, enums → str, UUID → str)."""
    from decimal import Decimal

    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return enum(obj)


def number(x) -> float | int | None:
    """``x`` as an int or float; None for None and for anything that is not a number."""
    if x is None:
        return None
    v = plain(x)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class Labels:
    """Output values as label strings, cached per distinct value.

    Strings stay as they are; booleans are written ``true``/``false`` (JSON's spelling) and
    whole numbers without a trailing ``.0``; lists and objects become compact JSON with sorted
    keys, so that equal answers always give the same label.
    """

    def __init__(self):
        self.cache: dict[Any, str] = {}

    def __call__(self, v) -> str | None:
        if v is None:
            return None
        if isinstance(v, str):
            return v
        key = (type(v), v) if isinstance(v, (bool, int, float)) else None
        if key is not None and key in self.cache:
            return self.cache[key]
        if isinstance(v, bool):
            out = "true" if v else "false"
        elif isinstance(v, (int, float)) or type(v).__name__ == "Decimal":
            out = str(plain(v))
        else:
            out = json.dumps(plain(v), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if key is not None:
            self.cache[key] = out
        return out


def ns(t: dt.datetime | None) -> int:
    """A datetime (toloka-kit makes them UTC-aware) as int64 nanoseconds; NaT as int64 min."""
    if t is None:
        return np.iinfo(np.int64).min
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return ((t - _EPOCH) // dt.timedelta(microseconds=1)) * 1000


def utc(t) -> pd.Timestamp | None:
    """``t`` as a UTC timestamp (naive times from the API are UTC); None stays None."""
    if t is None:
        return None
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def stamp(t) -> str | None:
    """``t`` as ISO text in UTC, or None."""
    ts = utc(t)
    return None if ts is None else ts.isoformat()
