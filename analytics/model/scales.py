"""Label scales: a run's level of measurement (nominal, ordinal, interval, ratio), its check and its label order.

A run's ``meta.scale`` says what its labels are:

* ``nominal``: categories (the default, and every run stored before scales existed);
* ``ordinal``: ordered grades (relevance 0-3, "bad" < "ok" < "good"); the order comes from the
  declared label set (``--labels``, lowest first) or, where every label is a number, from the
  numbers;
* ``interval``: numbers whose differences mean something (ratings, intensities -100..100);
* ``ratio``: non-negative numbers with a true zero (counts, durations, amounts).

:func:`check_scale` finds what is wrong with labels for a scale (as :class:`Problem` s, in the
build_run style); :func:`apply_scale` checks a built run and returns it on its scale, labels
in scale order; :func:`label_values` gives the number each label stands for, which the scale
metrics compute on. When nobody declares a scale (``scale=None``) a run is nominal, except that
answers that all parse as numbers with more than :data:`NOMINAL_NUMBER_LIMIT` distinct values
are refused: read as categories, 150 numbers make 150 "labels" (a clear choice, not a silent
guess).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from analytics.model._deferred import replace_run
from analytics.model.categories import to_category, used_codes
from analytics.model.problems import Problem, ProblemList, ValidationError
from analytics.model.tables import Run

SCALES = ("nominal", "ordinal", "interval", "ratio")
NUMERIC_SCALES = ("interval", "ratio")
# more distinct numbers than this are refused as nominal when no scale is declared
NOMINAL_NUMBER_LIMIT = 12
# a plain decimal number: "5", "-2.5", ".5", "1e3" (not "nan", "inf", "1_000" nor "2,5")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# how a fix names the options (the CLI's and the Import page's words)
_SCALE_OPTION = "--scale"
_LABELS_OPTION = "--labels"

__all__ = [
    "SCALES",
    "NUMERIC_SCALES",
    "NOMINAL_NUMBER_LIMIT",
    "parse_numbers",
    "check_scale",
    "scale_order",
    "apply_scale",
    "label_values",
]


def parse_numbers(texts) -> np.ndarray:
    """Each text as a float (NaN where it is not a plain decimal number), vectorized.

    >>> parse_numbers(["5", "-2.5", "1e3", "nan", "five", None]).tolist()
    [5.0, -2.5, 1000.0, nan, nan, nan]
    """
    s = pd.Series(pd.Index(list(texts) if not isinstance(texts, pd.Index) else texts, dtype="object"))
    text = s.astype("str").str.strip()
    ok = s.notna().to_numpy() & text.str.fullmatch(_NUMBER).fillna(False).to_numpy(dtype=bool)
    out = np.full(len(s), np.nan)
    if ok.any():
        out[ok] = text[ok].astype("float64").to_numpy()
    return out


def _as_category(labels) -> pd.Series:
    if isinstance(labels, pd.Series) and isinstance(labels.dtype, pd.CategoricalDtype):
        return to_category(labels.reset_index(drop=True))
    return to_category(pd.Series(np.asarray(labels, dtype=object)))


def _shown(values: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (", …" if len(values) > limit else "")


def check_scale(
    labels,
    scale: str | None,
    *,
    file: str,
    order: Sequence[str] | None = None,
    column: str = "label",
    lines=None,
) -> list[Problem]:
    """What is wrong with ``labels`` (one per answer: a Series, categorical or text, or a list;
    missing = no answer) on ``scale``; an empty list when nothing is.

    ``scale=None`` means nobody declared one: nominal, except that answers that all parse as
    numbers with more than :data:`NOMINAL_NUMBER_LIMIT` distinct values are refused with a
    message naming the count and suggesting ``--scale interval`` (an explicit
    ``scale="nominal"`` keeps them as categories). ``ordinal`` needs ``order`` (the declared
    label set, lowest first) unless every label is a number; every answer must be in it.
    ``interval`` and ``ratio`` need every label to be a number (``ratio``: none negative).
    ``lines`` (one file line number per answer, e.g. a reader's ``_line`` column) lets a problem
    name the rows; without it the problem gives their count. ``column`` names the label column
    as the file does.
    """
    found = ProblemList(file)
    if scale is not None and scale not in SCALES:
        found.add(
            f"unknown scale {scale!r}.",
            f"use one of {', '.join(SCALES)} ({_SCALE_OPTION}).",
            column=column,
        )
        return found.items
    s = _as_category(labels)
    cats = s.cat.categories
    codes = s.cat.codes.to_numpy()
    used = used_codes(codes, len(cats))
    values = parse_numbers(cats)
    numeric = np.isfinite(values)

    def rows_of(bad_cats: np.ndarray) -> dict:
        """lines=/count= of the answers whose label is one of the categories marked in bad_cats."""
        mask = np.append(bad_cats, False)[codes]
        if lines is None:
            return {"count": int(mask.sum())}
        return {"lines": np.asarray(lines)[mask]}

    if scale is None:
        distinct = np.unique(values[used])
        if used.any() and numeric[used].all() and len(distinct) > NOMINAL_NUMBER_LIMIT:
            found.add(
                f"the answers are {len(distinct):,} distinct numbers ({distinct[0]:g} to {distinct[-1]:g}); read "
                f"as nominal labels each number would be a category of its own, so no scale is assumed.",
                f"declare the scale: {_SCALE_OPTION} interval for numbers whose differences mean something "
                f"(ratings, intensities), {_SCALE_OPTION} ratio for non-negative amounts with a true zero, "
                f"{_SCALE_OPTION} ordinal for ordered grades, or {_SCALE_OPTION} nominal to keep them as categories.",
                column=column,
                values=[f"{v:g}" for v in distinct[:10]],
                count=int((codes >= 0).sum()),
            )
    elif scale == "ordinal":
        _check_ordinal(found, cats, used, numeric, order, column, rows_of)
    elif scale in NUMERIC_SCALES:
        _check_numbers(found, scale, cats, used, values, column, rows_of)
    return found.items


def _check_numbers(found: ProblemList, scale, cats, used, values, column, rows_of) -> None:
    numeric = np.isfinite(values)
    bad = used & ~numeric
    if bad.any():
        found.add(
            f"{scale} labels must be numbers; {int(bad.sum()):,} distinct label(s) are not.",
            f"write every answer as a plain number (e.g. -2.5, 40), or choose {_SCALE_OPTION} nominal or "
            f"{_SCALE_OPTION} ordinal.",
            column=column,
            values=list(cats[bad][:10]),
            **rows_of(bad),
        )
    negative = used & numeric & (values < 0)
    if scale == "ratio" and negative.any():
        found.add(
            f"ratio labels are non-negative amounts with a true zero; {int(negative.sum()):,} distinct "
            "label(s) are negative.",
            f"use {_SCALE_OPTION} interval for numbers that can be negative (e.g. -100..100).",
            column=column,
            values=list(cats[negative][:10]),
            **rows_of(negative),
        )


def _check_ordinal(found: ProblemList, cats, used, numeric, order, column, rows_of) -> None:
    if order:
        order = [str(x).strip() for x in order]
        repeated = sorted({x for x in order if order.count(x) > 1})
        if repeated:
            found.add(
                f"the ordinal label order names {_shown(repeated)} more than once.",
                f"list each grade once in {_LABELS_OPTION}, lowest first.",
                column=column,
                values=repeated,
            )
        outside = used & ~cats.isin(order)
        if outside.any():
            found.add(
                f"{int(outside.sum()):,} answered label(s) are not in the ordinal label order ({_shown(order, 12)}).",
                f"add them to {_LABELS_OPTION} in their place (lowest first), or correct the answers.",
                column=column,
                values=list(cats[outside][:10]),
                **rows_of(outside),
            )
    elif not numeric[used].all():
        words = cats[used & ~numeric]
        found.add(
            "ordinal labels that are not numbers need their order (only numbers order themselves).",
            f"give the grades in order, lowest first: {_LABELS_OPTION} {','.join(list(cats[used])[:4])}…",
            column=column,
            values=list(words[:10]),
        )


def scale_order(label_set: Sequence[str], scale: str, order: Sequence[str] | None = None) -> list[str]:
    """The labels in scale order: ``order`` for ordinal grades where given (only it), ascending numbers for
    numbers (equal numbers such as "5" and "5.0" keep their order in ``label_set``), ``label_set``
    unchanged for nominal labels.

    >>> scale_order(["10", "9", "-1"], "interval")
    ['-1', '9', '10']
    >>> scale_order(["bad", "good", "ok"], "ordinal", ["bad", "ok", "good"])
    ['bad', 'ok', 'good']
    """
    labels = [str(x) for x in label_set]
    if scale == "nominal":
        return labels
    if scale == "ordinal" and order:
        return list(dict.fromkeys(str(x).strip() for x in order))  # a label outside it is refused by check_scale
    values = parse_numbers(labels)
    rank = np.argsort(np.where(np.isfinite(values), values, np.inf), kind="stable")
    return [labels[i] for i in rank]


def _reference_problems(run: Run, scale: str, order: Sequence[str] | None, file: str) -> list[Problem]:
    """check_scale on the golden and truth labels (a truth label no annotator gave is in the label set)."""
    found: list[Problem] = []
    golden = run.answers["golden"]
    gold_src = run.meta.source_name("golden")
    found += check_scale(golden.cat.remove_unused_categories(), scale, file=file, order=order, column=gold_src)
    if run.truth is not None and len(run.truth):
        truth = run.truth.astype("str").where(run.truth.notna())
        found += check_scale(truth, scale, file=file, order=order, column="truth")
    return found


def apply_scale(run: Run, scale: str | None = None, labels: Sequence[str] | None = None) -> Run:
    """``run`` on ``scale``, checked, or one ValidationError with every problem (see check_scale).

    ``scale=None`` (nothing declared) is nominal, refusing numbers with more than
    :data:`NOMINAL_NUMBER_LIMIT` distinct values. ``labels`` is the declared label set
    (``--labels``): the order of ordinal grades, lowest first. The returned run has
    ``meta.scale`` set and, for ordinal, interval and ratio, its label set (``meta.labels``, the
    answers', golden and truth categories) in scale order, which is also its tie order (an
    aggregator's tie goes to the lower grade). A nominal run's label order is left as it is.
    """
    file = ", ".join(run.meta.source_files) or "the run"
    problems = check_scale(run.answers["label"], scale, file=file, order=labels, column=run.meta.source_name("label"))
    if scale not in (None, "nominal") and not problems:
        problems += _reference_problems(run, scale, labels, file)
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    scale = scale or "nominal"
    order = scale_order(run.meta.labels, scale, labels)
    meta = dataclasses.replace(run.meta, scale=scale, labels=tuple(order))
    if order == list(run.answers["label"].cat.categories):
        return replace_run(run, meta=meta)
    answers = run.answers.copy(deep=False)
    for col in ("label", "golden"):
        answers[col] = answers[col].cat.set_categories(order)
    truth = run.truth if run.truth is None else run.truth.cat.set_categories(order)
    return replace_run(run, answers=answers, truth=truth, meta=meta)


def label_values(run: Run) -> np.ndarray:
    """The number each label (code, in ``run.codes.labels`` order) stands for, float64.

    Interval and ratio: the label's number. Ordinal: its number where every label is a number
    and the numbers do not decrease along the scale order; else its position in the scale
    order (0, 1, 2, …), so that only the order counts. NaN for a label that is not a number on
    a numeric scale (apply_scale refuses those). Raises ValueError on a nominal run.
    """
    scale = run.meta.scale
    if scale not in ("ordinal", *NUMERIC_SCALES):
        raise ValueError(f"label_values needs an ordinal, interval or ratio run; this run's scale is {scale!r}.")
    cats = run.codes.labels
    values = parse_numbers(cats)
    if scale == "ordinal" and not (np.isfinite(values).all() and np.all(np.diff(values) >= 0)):
        values = np.arange(len(cats), dtype=np.float64)
    return values
