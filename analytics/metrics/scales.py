"""Figures on a run's label scale (meta.scale): alpha at its level, weighted kappa, spread, median, mean, errors.

A run declares its scale at import (analytics.model.scales.apply_scale): ``nominal`` runs keep
every figure of the other modules and get only :func:`scale_agreement` here (alpha at the
nominal level); ``ordinal``, ``interval`` and ``ratio`` runs are measured on their numbers
(analytics.model.scales.label_values: the label's number, or an ordinal grade's position where
its labels are words). As everywhere, only the labeling pool's answers count (kinds regular and
control, suites not REJECTED; see aggregation.pool_codes), each answer once, repeated answers
of one annotator to one task included (the pairwise kappa keeps their most frequent grade).

Median tie rule (:data:`MEDIAN_RULE`): with an even number of answers the two middle ones may
differ. Numbers (interval, ratio) take their mean, as numpy.median (the Zheng Emotion figures
use it); ordinal grades take the lower of the two, so the median is always a grade of the scale
(never a half grade), and the task is marked ``tied``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.kernels import scales as kernels
from analytics.metrics._base import MetricUnavailable, check_int, per_run_cache, rate
from analytics.metrics.aggregation import golden_codes, pool_codes, truth_codes
from analytics.model import KINDS, Run
from analytics.model.scales import NUMERIC_SCALES, label_values

METHODS = {"median": "per-task median", "mean": "per-task mean"}
MEDIAN_RULE = (
    "even number of answers: numbers take the mean of the two middle answers (numpy.median); "
    "ordinal grades take the lower of the two (a grade of the scale) and the task is marked tied"
)
REFERENCES = ("golden", "truth", "aggregate")
_ORDERED = ("ordinal", *NUMERIC_SCALES)


def _need(run: Run, figure: str, scales=_ORDERED) -> str:
    """The run's scale, or MetricUnavailable when ``figure`` is not measured on it."""
    scale = run.meta.scale
    if scale not in scales:
        wanted = ", ".join(scales[:-1]) + (" or " if len(scales) > 1 else "") + scales[-1]
        raise MetricUnavailable(
            f"{figure} is measured on {wanted} labels; this run's labels are {scale} "
            f"(declare the scale at import: --scale {'|'.join(scales)})"
        )
    return scale


@per_run_cache
def _pool_values(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(task, worker, label code, number) of each labeling-pool answer, once per run."""
    _, t, w, lab = pool_codes(run)
    values = label_values(run)
    x = values[lab]
    if not np.isfinite(x).all():
        bad = sorted({str(run.codes.labels[i]) for i in np.unique(lab[~np.isfinite(x)])})
        raise MetricUnavailable(f"the {run.meta.scale} run has labels that are not numbers: {', '.join(bad[:5])}")
    return t, w, lab, x


@per_run_cache
def _task_values(run: Run) -> kernels.TaskValues:
    t, _, _, x = _pool_values(run)
    return kernels.task_values(t, x, run.codes.n_tasks)


@dataclass(frozen=True)
class ScaleAgreement:
    """Krippendorff's alpha at the run's scale and at the nominal level, on the labeling pool.

    ``scale``: the run's level of measurement; ``krippendorff_alpha``: alpha with that level's
    difference function (nominal: equal or not; ordinal: mid-rank distance; interval: squared
    difference; ratio: squared relative difference; see kernels.scales.krippendorff_alpha);
    ``krippendorff_alpha_nominal``: alpha treating each value as a category (a nominal run's
    labels: run_agreement's figure; a numeric run's numbers, so that "0", "00" and "-0" are one
    value, as the ``krippendorff`` package reads them); ``items``/``answers``: tasks with >= 2
    answers and their answers; ``values``: distinct values answered. NaN where undefined.
    """

    scale: str
    krippendorff_alpha: float
    krippendorff_alpha_nominal: float
    items: int
    answers: int
    values: int

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.__dict__.items()}


def scale_agreement(run: Run) -> ScaleAgreement:
    """Krippendorff's alpha at the run's scale beside nominal alpha (see ScaleAgreement)."""
    _, t, _, lab = pool_codes(run)
    c = run.codes
    per_task = np.bincount(t, minlength=c.n_tasks)
    pairable = per_task >= 2
    if not pairable.any():
        raise MetricUnavailable(
            "agreement needs tasks answered by at least two annotators; every task here has a single answer (overlap 1)"
        )
    scale = run.meta.scale
    # nominal runs: one value per label; the others: one per number ("0", "00" and "-0" are one)
    values = np.arange(c.n_labels, dtype=np.float64) if scale == "nominal" else label_values(run)
    nominal = kernels.krippendorff_alpha(t, lab, c.n_tasks, values, "nominal")
    alpha = nominal if scale == "nominal" else kernels.krippendorff_alpha(t, lab, c.n_tasks, values, scale)
    return ScaleAgreement(
        scale=scale,
        krippendorff_alpha=alpha,
        krippendorff_alpha_nominal=nominal,
        items=int(pairable.sum()),
        answers=int(per_task[pairable].sum()),
        values=int(len(np.unique(values[lab]))),
    )


def weighted_kappa(run: Run, min_shared: int = 10, include_control: bool = False) -> pd.DataFrame:
    """Cohen's kappa, unweighted and weighted (linear, quadratic), per annotator pair sharing at
    least ``min_shared`` tasks, on the grades of an ordinal run.

    Weights are |i - j| and (i - j)^2 on grade positions in scale order (as sklearn's
    cohen_kappa_score(a, b, labels=<the grades in order>, weights=...)); grades that stand for
    the same number are one grade. Regular tasks only unless ``include_control`` (see
    agreement.pairwise_kappa for why). Columns ``worker_a``, ``worker_b``, ``shared``,
    ``agreement``, ``kappa``, ``kappa_linear``, ``kappa_quadratic``, ``mean_abs_difference``
    (in grade steps); sorted by (worker_a, worker_b) in the run's worker order.
    """
    _need(run, "weighted kappa", ("ordinal",))
    min_shared = check_int(min_shared, "min_shared", "weighted_kappa", low=1)
    rows, t, w, lab = pool_codes(run)
    if not include_control:
        keep = run.codes.kind[rows] == KINDS.index("regular")
        t, w, lab = t[keep], w[keep], lab[keep]
    grades, position = np.unique(label_values(run), return_inverse=True)
    c = run.codes
    wp = kernels.weighted_pairwise_kappa(t, w, position.ravel()[lab], c.n_workers, len(grades), min_shared=min_shared)
    names = np.asarray(c.worker_names, dtype=object)
    return pd.DataFrame(
        {
            "worker_a": pd.Series(names[wp.worker_a], dtype="str"),
            "worker_b": pd.Series(names[wp.worker_b], dtype="str"),
            "shared": wp.n_shared.astype(np.int64),
            "agreement": wp.agreement,
            "kappa": wp.kappa,
            "kappa_linear": wp.kappa_linear,
            "kappa_quadratic": wp.kappa_quadratic,
            "mean_abs_difference": wp.mean_abs_difference,
        }
    )


def _answered(run: Run) -> np.ndarray:
    return np.flatnonzero(_task_values(run).n > 0)


def _task_index(run: Run, codes: np.ndarray) -> pd.Index:
    return pd.Index(np.asarray(run.codes.task_names, dtype=object)[codes], name="task_id", dtype="str")


def _label_of(run: Run, value: np.ndarray) -> pd.Categorical:
    """The label whose number is ``value`` (the first such label in scale order), missing where none is."""
    uniq, first = np.unique(label_values(run), return_index=True)
    pos = np.clip(np.searchsorted(uniq, value), 0, max(len(uniq) - 1, 0))
    hit = np.isfinite(value) & (uniq[pos] == value) if len(uniq) else np.zeros(len(value), dtype=bool)
    codes = np.where(hit, first[pos], -1)
    return pd.Categorical.from_codes(codes, categories=run.codes.labels)


def item_spread(run: Run) -> pd.DataFrame:
    """Per task: the spread of its answers' numbers (the scale's entropy).

    Index ``task_id`` (tasks with a labeling-pool answer, in task order); columns ``kind``,
    ``answers``, ``mean``, ``median`` (see MEDIAN_RULE), ``std`` (sample standard deviation,
    NaN with one answer), ``min``, ``max``, ``range`` (max - min, 0 when unanimous). Numbers
    are grade positions for an ordinal run whose labels are words.
    """
    scale = _need(run, "the spread of answers")
    tv = _task_values(run)
    keep = _answered(run)
    rows, t, _, _ = pool_codes(run)
    kind_of_task = np.full(run.codes.n_tasks, -1, dtype=np.int64)
    kind_of_task[t] = run.codes.kind[rows]
    median = tv.lower_median if scale == "ordinal" else tv.median
    return pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(kind_of_task[keep], categories=list(KINDS)),
            "answers": tv.n[keep],
            "mean": tv.mean[keep],
            "median": median[keep],
            "std": tv.std[keep],
            "min": tv.minimum[keep],
            "max": tv.maximum[keep],
            "range": (tv.maximum - tv.minimum)[keep],
        },
        index=_task_index(run, keep),
    )


def scale_aggregate(run: Run, method: str = "median") -> pd.DataFrame:
    """One number per task from its answers: ``method`` "median" (see MEDIAN_RULE) or "mean".

    Index ``task_id`` (tasks with a labeling-pool answer, in task order); columns ``value``,
    ``label`` (the label standing for that number, missing where none does, e.g. a mean of
    3.5; an ordinal median always has one), ``tied`` (median: the two middle answers differed
    and the rule decided; mean: False), ``answers``.
    """
    if method not in METHODS:
        raise ValueError(
            f"The 'method' parameter of scale_aggregate must be one of {', '.join(METHODS)}. Got {method!r} instead."
        )
    scale = _need(run, f"the {METHODS[method]}")
    tv = _task_values(run)
    keep = _answered(run)
    if method == "mean":
        value, tied = tv.mean[keep], np.zeros(len(keep), dtype=bool)
    else:
        value = (tv.lower_median if scale == "ordinal" else tv.median)[keep]
        tied = tv.lower_median[keep] != tv.median[keep]
    out = pd.DataFrame(
        {"value": value, "label": _label_of(run, value), "tied": tied, "answers": tv.n[keep]},
        index=_task_index(run, keep),
    )
    out.attrs["method"] = method  # scale_error names it
    return out


@dataclass(frozen=True)
class ScaleError:
    """The per-task aggregate's error against a reference (golden: control tasks' known answers;
    truth: the truth file), over the ``tasks`` that have both: ``mae`` (mean absolute error),
    ``rmse`` (root mean squared error), ``bias`` (mean aggregate - reference: > 0 means above
    it). In the scale's numbers (grade positions for an ordinal run whose labels are words)."""

    reference: str
    method: str
    tasks: int
    mae: float
    rmse: float
    bias: float

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.__dict__.items()}


def _reference_values(run: Run, reference: str) -> np.ndarray:
    """Per task code, the reference's number (NaN where the task has none)."""
    if reference == "golden":
        codes = golden_codes(run)
        if not (codes >= 0).any():
            raise MetricUnavailable("the run has no control tasks with a known answer", missing_field="golden")
    elif reference == "truth":
        codes = truth_codes(run)
    else:
        raise ValueError(
            f"The 'reference' parameter must be one of golden, truth (or aggregate per annotator). Got {reference!r}."
        )
    values = np.append(label_values(run), np.nan)
    return values[np.where(codes >= 0, codes, -1)]


def _aggregate_values(run: Run, aggregate: pd.DataFrame) -> np.ndarray:
    out = np.full(run.codes.n_tasks, np.nan)
    out[run.codes.task_names.get_indexer(aggregate.index)] = aggregate["value"].to_numpy()
    return out


def scale_error(run: Run, aggregate: pd.DataFrame, reference: str = "truth") -> ScaleError:
    """MAE, RMSE and bias of the per-task aggregate (scale_aggregate of the ``method``) against
    ``reference`` "golden" or "truth", with the count of tasks compared (see ScaleError)."""
    _need(run, "the error against a reference")
    ref = _reference_values(run, reference)
    diff = _aggregate_values(run, aggregate) - ref
    diff = diff[np.isfinite(diff)]
    if len(diff) == 0:
        raise MetricUnavailable(f"no aggregated task has a {reference} answer that is a number to compare with")
    return ScaleError(
        reference=reference,
        method=str(aggregate.attrs.get("method", "")),
        tasks=int(len(diff)),
        mae=float(np.mean(np.abs(diff))),
        rmse=float(np.sqrt(np.mean(diff * diff))),
        bias=float(np.mean(diff)),
    )


def annotator_scale_error(run: Run, aggregate: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: mean absolute error and signed bias of their answers against the golden
    answers (control tasks), the truth file and the per-task aggregate (scale_aggregate of the
    ``method``; their own answer is part of it, as in worker_agreement), with counts.

    Index ``worker_id`` (annotators with a labeling-pool answer, sorted); columns
    ``<reference>_mae``, ``<reference>_bias`` (mean answer - reference: > 0 answers high) and
    ``<reference>_answers`` for reference golden, truth, aggregate (NaN / 0 where none). The
    aggregate's bias is the annotator's shift against the others.
    """
    _need(run, "the error per annotator")
    t, w, _, x = _pool_values(run)
    c = run.codes
    refs = {"aggregate": _aggregate_values(run, aggregate)}
    for reference in ("golden", "truth"):
        try:
            refs[reference] = _reference_values(run, reference)
        except MetricUnavailable:
            refs[reference] = np.full(c.n_tasks, np.nan)
    active = np.flatnonzero(np.bincount(w, minlength=c.n_workers))
    out: dict[str, np.ndarray] = {}
    for reference in REFERENCES:
        diff = x - refs[reference][t]
        on = np.isfinite(diff)
        n = np.bincount(w[on], minlength=c.n_workers)[active]
        out[f"{reference}_mae"] = rate(np.bincount(w[on], weights=np.abs(diff[on]), minlength=c.n_workers)[active], n)
        out[f"{reference}_bias"] = rate(np.bincount(w[on], weights=diff[on], minlength=c.n_workers)[active], n)
        out[f"{reference}_answers"] = n.astype(np.int64)
    names = pd.Index(np.asarray(c.worker_names, dtype=object)[active], name="worker_id", dtype="str")
    return pd.DataFrame(out, index=names).sort_index()


def scale_histogram(run: Run, bins: int = 20) -> pd.DataFrame:
    """The answers' numbers in ``bins`` equal-width bins over their range (a numeric run's label
    distribution: never one bar per distinct value). Columns ``low``, ``high`` (each bin holds
    low <= x < high, the last one also x == high), ``answers``, ``share``. An ordinal run's
    label_distribution is in scale order already."""
    _need(run, "the histogram of answers", NUMERIC_SCALES)
    bins = check_int(bins, "bins", "scale_histogram", low=1)
    _, _, _, x = _pool_values(run)
    counts, edges = np.histogram(x, bins=bins)
    return pd.DataFrame(
        {"low": edges[:-1], "high": edges[1:], "answers": counts.astype(np.int64), "share": counts / len(x)}
    )


def _median(frame: pd.DataFrame | None, column: str) -> float | None:
    if frame is None or column not in frame or not frame[column].notna().any():
        return None
    return float(frame[column].median())


def scale_section(r, rep: dict) -> None:
    """The report's scale figures (a section of analytics.report.SECTIONS, after the agreement one).

    Writes ``agreement.scale``, ``agreement.krippendorff_alpha_nominal`` (the nominal alpha the
    agreement section wrote) and, for ordinal/interval/ratio runs, ``agreement.krippendorff_alpha``
    at the run's scale; for those runs also ``scale``: the median rule, per-task spread, the
    median and mean aggregates with their error against golden and truth, the annotators'
    error and bias, and (ordinal) the weighted kappa of annotator pairs. A nominal run's figures
    are unchanged (it gains the two agreement keys only). ``r`` is the report's state
    (``run``, ``figure(key, name, **params)``, ``unavailable``, ``lists``).
    """
    run, g = r.run, rep.setdefault("agreement", {})
    g["scale"] = run.meta.scale
    g["krippendorff_alpha_nominal"] = g.get("krippendorff_alpha")
    if run.meta.scale == "nominal":
        return
    sa = r.figure("agreement.krippendorff_alpha", "scale_agreement")
    g["krippendorff_alpha"] = sa.krippendorff_alpha if sa is not None else None
    if sa is not None:  # a numeric run's nominal alpha counts "0" and "00" as one value
        g["krippendorff_alpha_nominal"] = sa.krippendorff_alpha_nominal
    s = rep["scale"] = {"scale": run.meta.scale, "labels": list(run.labels), "median_rule": MEDIAN_RULE}
    spread = r.figure("scale.items", "item_spread")
    s["items"] = None
    if spread is not None:
        s["items"] = {
            "tasks": int(len(spread)),
            "mean_std": float(spread["std"].mean()) if spread["std"].notna().any() else None,
            "median_range": _median(spread, "range"),
            "unanimous": int((spread["range"] == 0).sum()),
        }
    s["aggregate"], s["error"] = {}, {"golden": {}, "truth": {}}
    for method in METHODS:
        agg = r.figure(f"scale.aggregate.{method}", "scale_aggregate", method=method)
        s["aggregate"][method] = None if agg is None else {"tasks": int(len(agg)), "tied": int(agg["tied"].sum())}
        for reference in ("golden", "truth"):
            e = r.figure(f"scale.error.{reference}.{method}", "scale_error", reference=reference, method=method)
            s["error"][reference][method] = None if e is None else e.as_dict()
    workers = r.figure("scale.annotators", "annotator_scale_error")
    s["annotators"] = None
    if workers is not None:
        s["annotators"] = {"workers": int(len(workers))}
        for reference in REFERENCES:
            s["annotators"][f"median_{reference}_mae"] = _median(workers, f"{reference}_mae")
            s["annotators"][f"median_{reference}_bias"] = _median(workers, f"{reference}_bias")
    if run.meta.scale == "ordinal":
        pairs = r.figure("scale.pairwise", "weighted_kappa")
        s["pairwise"] = None
        if pairs is not None:
            s["pairwise"] = {"pairs": int(len(pairs))}
            for k in ("kappa", "kappa_linear", "kappa_quadratic"):
                s["pairwise"][f"median_{k}"] = _median(pairs, k)
