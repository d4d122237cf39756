"""Assignment times: parsing to UTC once per distinct value, and the checks on them."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from analytics.model.categories import category_values, to_category
from analytics.model.problems import Problem, ProblemList
from analytics.model.raw import RawAnswers, file_lines

TIME_COLUMNS = ("started_at", "submitted_at")

_ZONES = {"PDT": "-0700", "PST": "-0800", "EDT": "-0400", "EST": "-0500", "UTC": "+0000", "GMT": "+0000"}


_PLAIN_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"  # Toloka's form: no offset, UTC


def _parse_time_text(text: pd.Index) -> pd.DatetimeIndex:
    """ISO 8601 first (Toloka's form), then a lenient pass for forms like 'Mon Mar 25 07:39:42 PDT 2019'."""
    plain = _plain_iso_times(text)
    if plain is not None:
        return plain
    ser = pd.Series(text, dtype="str")
    out = pd.to_datetime(ser, utc=True, errors="coerce", format="ISO8601")
    bad = out.isna() & ser.notna()
    if bad.any():
        alt = ser[bad].str.replace(r"\b(PDT|PST|EDT|EST|UTC|GMT)\b", lambda m: _ZONES[m.group(0)], regex=True)
        out = out.copy()
        out[bad] = pd.to_datetime(alt, utc=True, errors="coerce", format="mixed")
    return pd.DatetimeIndex(out).tz_convert("UTC")


def _plain_iso_times(text: pd.Index) -> pd.DatetimeIndex | None:
    """Every value parsed by Arrow where each is a plain ISO 8601 time without an offset (10x faster than
    pandas on 10^6 distinct times, the same instants); None where any is not, or is out of range."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pa.array(text.array) if len(text) else None  # Arrow-backed text: no Python strings
        if values is None or not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            return None
        if values.null_count or not pc.all(pc.match_substring_regex(values, _PLAIN_ISO)).as_py():
            return None
        stamps = pc.cast(values, pa.timestamp("ns")).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    return pd.DatetimeIndex(stamps).tz_localize("UTC")


def parse_times(
    values: pd.Series,
    problems: ProblemList,
    raw: pd.DataFrame,
    column: str,
) -> pd.Series:
    """Timestamps to UTC; naive values are taken as UTC (Toloka exports UTC without an offset).

    Text is parsed once per distinct value (an assignment's time repeats on each of its rows).
    A value that does not parse becomes missing and is reported in ``problems`` under ``column``
    (the source's name), at its line in ``raw``.
    """
    if values.dtype.kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values
        out = out.dt.tz_localize("UTC") if out.dt.tz is None else out.dt.tz_convert("UTC")
        return out.astype("datetime64[ns, UTC]")
    cat = to_category(values)
    parsed = _parse_time_text(cat.cat.categories).astype("datetime64[ns, UTC]")
    bad_cat = np.asarray(parsed.isna())
    if bad_cat.any():
        bad_rows = category_values(cat, lambda c: bad_cat, False)
        problems.add(
            "timestamp does not parse.",
            "write times as ISO 8601, e.g. 2024-03-01T12:30:05 (UTC) or with an offset "
            "(2024-03-01T14:30:05+02:00), or leave the cell empty.",
            column=column,
            lines=file_lines(raw, bad_rows),
            values=list(cat.cat.categories[bad_cat][:5]),
        )
    codes = cat.cat.codes.to_numpy()
    stamps = parsed.asi8 if hasattr(parsed, "asi8") else parsed.view("i8")
    ints = np.append(np.asarray(stamps, dtype=np.int64), np.iinfo(np.int64).min)[codes]
    return pd.Series(utc_stamps(ints), index=values.index, copy=False)


_UTC = pd.DatetimeTZDtype("ns", "UTC")


def utc_stamps(ints: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Nanoseconds since the epoch (int64, NaT as its minimum) as UTC times, the array itself, not
    a copy: ``tz_localize`` copies and checks 10^7 values (0.2 s) that are UTC already."""
    values = np.asarray(ints, dtype=np.int64).view("datetime64[ns]")
    try:
        return pd.arrays.DatetimeArray._simple_new(values, dtype=_UTC)
    except (AttributeError, TypeError):  # pragma: no cover - a pandas without the private constructor
        return pd.DatetimeIndex(values).tz_localize("UTC").array


def no_times(index: pd.Index) -> pd.Series:
    """An all-missing time column: a time the source does not have is never guessed."""
    return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")


def read_times(raw: RawAnswers, col: str) -> tuple[pd.Series, list[Problem]]:
    """Check: ``col`` (started_at or submitted_at) parsed to UTC, with the values that do not parse."""
    if not raw.has(col):
        return no_times(raw.frame.index), []
    found = raw.problems()
    return parse_times(raw.frame[col], found, raw.frame, raw.src(col)), found.items


def submitted_before_started(raw: RawAnswers, started: pd.Series, submitted: pd.Series) -> list[Problem]:
    """Check (warning): assignments submitted before they were started."""
    found = raw.problems()
    backwards = (submitted < started).to_numpy()
    if backwards.any():
        found.add(
            "an assignment is submitted before it was started.",
            "check the time zone of both columns; these rows get no speed figure.",
            column=raw.src("submitted_at"),
            lines=raw.lines(backwards),
            severity="warning",
        )
    return found.items


def placeholder_times(answers: pd.DataFrame, file: str, src: Callable[[str], str]) -> list[Problem]:
    """Check (warning): times that hold one constant value on every row are placeholders, not timings.

    Some public exports (e.g. the CrowdTruth copies of Snow et al. 2008) fill start/end with a
    single fixed value; showing them as durations would be a made-up number. ``answers`` is the
    built answers frame; when this returns a note, both time columns are to be dropped
    (:func:`without_times`).
    """
    if len(answers) < 20:
        return []
    for col in TIME_COLUMNS:
        s = answers[col]
        if s.notna().all() and s.min() == s.max():
            return [
                Problem(
                    file=file,
                    column=src(col),
                    message=f"{src(col)} holds one value ({s.iloc[0]}) on every row: a placeholder, "
                    "not a timing. Times were dropped and speed is reported as missing.",
                    fix="export real start/submit times to get speed figures.",
                    count=len(answers),
                    severity="warning",
                )
            ]
    return []


def without_times(answers: pd.DataFrame) -> pd.DataFrame:
    """``answers`` with both time columns emptied, in place (build_run calls it on the frame it just built)."""
    for col in TIME_COLUMNS:
        answers[col] = no_times(answers.index)
    return answers
