"""Parameter checks shared by the kernels and the metrics, raising ValueErrors in scikit-learn's words."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "param_error",
    "check_int",
    "check_float",
    "check_codes",
    "key_dtype",
    "check_weights",
    "check_counts",
]

# Only cheap O(n) checks on arrays: the canonical run is validated at the border; these catch a
# mis-sized code space, which bincount would otherwise turn into silent garbage.


def param_error(func: str, name: str, must: str, got=None) -> ValueError:
    """The error of every check: "The 'name' parameter of func must <must>. Got <got> instead."

    ``must`` starts with its verb ("be an int >= 0", "hold integer codes"); without ``got`` the
    sentence ends after it.
    """
    text = f"The {name!r} parameter of {func} must {must}."
    if got is not None:
        text += f" Got {got} instead."
    return ValueError(text)


def _within(noun: str, low, high, low_open: bool, high_open: bool) -> str:
    """What a bounded number must be, e.g. "an int >= 0", "a float in (0, 1)"."""
    if low is not None and high is not None:
        return f"{noun} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{noun} {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{noun} {'<' if high_open else '<='} {high}"
    return noun


def _outside(value, low, high, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return True
    return high is not None and (value >= high if high_open else value > high)


def check_int(value, name: str, func: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int within [low, high], else a ValueError in scikit-learn's words.

    Sizes and counts of the kernels are ``low=0``. numpy integers are ints; bools are not.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or _outside(value, low, high, False, False):
        raise param_error(func, name, "be " + _within("an int", low, high, False, False), repr(value))
    return int(value)


def check_float(
    value,
    name: str,
    func: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float within the bounds, else a ValueError in scikit-learn's words.

    The bounds are closed unless ``low_open`` / ``high_open``; they are written into the message
    as given (``low=0`` reads "0", ``low=0.0`` reads "0.0").
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or _outside(value, low, high, low_open, high_open):
        raise param_error(func, name, "be " + _within("a float", low, high, low_open, high_open), repr(value))
    return float(value)


def check_codes(codes, name: str, func: str, size: int, size_name: str, length: int | None = None) -> np.ndarray:
    """``codes`` as a 1-D signed-integer array of codes in [0, size), with ``length`` elements if given.

    A signed-integer array is returned as it is (no int64 copy of 10^7 int32 codes): callers
    that combine codes into keys (``a * n + b``) widen them with :func:`key_dtype`.
    ``size_name`` is how the message names the upper bound (``"n_tasks"``).
    """
    arr = np.asarray(codes)
    if arr.ndim != 1:
        raise param_error(func, name, "be a 1-D array", f"{arr.ndim} dimensions")
    if length is not None and arr.shape[0] != length:
        raise param_error(func, name, f"have one element per answer ({length})", arr.shape[0])
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise param_error(func, name, "hold integer codes", f"dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise param_error(func, name, f"hold codes in [0, {size_name}={size})", bad)
    return arr if np.issubdtype(arr.dtype, np.signedinteger) else arr.astype(np.int64)


def key_dtype(space: int) -> type:
    """The integer type that holds combined keys below ``space`` (int32 where it fits, else int64)."""
    return np.int32 if space < 2**31 else np.int64


def check_weights(weights, name: str, func: str, length: int) -> np.ndarray:
    """``weights`` as a float64 array of ``length`` finite numbers >= 0 (one per answer)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (length,):
        raise param_error(func, name, f"be a 1-D array with one element per answer ({length})", f"shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        lo, hi = (np.nanmin(w), np.nanmax(w)) if w.size else (0, 0)
        raise param_error(func, name, "hold finite numbers >= 0", f"values in [{lo}, {hi}]")
    return w


def check_counts(counts, name: str, func: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``counts`` as a float64 vote-count matrix (see vote_counts), of ``shape`` if given."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise param_error(func, name, "be a (n_tasks, n_labels) array (see vote_counts)", f"{c.ndim} dimensions")
    if c.size and (not np.isfinite(c).all() or c.min() < 0):
        raise param_error(func, name, "hold finite vote counts >= 0 (see vote_counts)")
    if shape is not None and c.shape != shape:
        raise param_error(func, name, f"have shape ({shape[0]}, {shape[1]})", c.shape)
    return c
