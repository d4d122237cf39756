"""The delivered labels and how many of them are wrong: the label file, the expected wrong count, calibration.

``delivered_labels`` is the file an ML engineer trains on: one row per aggregated task with its
inputs, the label, its confidence and per-label probabilities, the method and tie rule, the
votes, the agreement and, where known, the golden label and the truth.

``expected_wrong`` reads the aggregator's posteriors as the chance that each label is wrong,
q_i = 1 - max posterior. The number of wrong labels is then a sum of independent Bernoulli(q_i):
Poisson-binomial with mean sum(q_i) and variance sum(q_i (1 - q_i)). Its 95 % interval is the
central one (the 2.5 % and 97.5 % quantiles), from the exact distribution computed by
divide-and-conquer FFT convolution (:func:`poisson_binomial_pmf`, O(n log^2 n)) for up to
:data:`EXACT_MAX` uncertain tasks, and from the normal approximation with continuity correction
beyond (k_alpha = ceil(mean - 0.5 + z_alpha sd)). Tasks with q_i below 1e-12 are left out of
the convolution (they add nothing). The figure is as good as the posteriors are calibrated: the
calibration (reliability) table checks confidence against correctness on control tasks or truth
(expected calibration error, ECE = sum over bins of n_b / N |accuracy_b - confidence_b|), and the
count is checked against golden and truth where known. Majority vote's confidence is a vote share,
not a posterior: prefer Dawid-Skene or one-coin DS for these figures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from analytics.kernels import wilson_interval
from analytics.metrics._base import MetricUnavailable, check_float, check_int
from analytics.metrics.aggregation import (
    TIE_RULE,
    Aggregation,
    golden_codes,
    pool_vote_counts,
    truth_codes,
)
from analytics.model import Run

EXACT_MAX = 100_000  # uncertain tasks up to which the Poisson-binomial interval is exact (FFT), normal beyond
NEGLIGIBLE = 1e-12  # a chance of being wrong below this adds nothing to the count
REFERENCES = ("auto", "truth", "golden")


# ---- the delivered labels


def tie_order(labels: tuple[str, ...]) -> str:
    """The tie rule in one short cell: ``label order: a > b > c`` (ties go to the first listed)."""
    return "label order: " + " > ".join(labels)


def _rows(agg: Aggregation) -> np.ndarray:
    """Task codes of the aggregated tasks, in the order of agg.labels."""
    return np.flatnonzero(agg.codes >= 0)


def _reference_labels(run: Run, codes: np.ndarray, rows: np.ndarray) -> pd.Categorical:
    labels = np.asarray(codes[rows])
    return pd.Categorical.from_codes(np.where(labels >= 0, labels, -1), categories=list(run.labels))


def _votes_text(counts: np.ndarray, names: list[str]) -> list[str]:
    """Per row of ``counts`` (tasks x labels): ``label=count`` pairs of the labels it has, ``;``-separated.

    Written once per distinct row of counts (a run of 10^6 tasks at overlap 3 has a few dozen), then
    taken per task: one string join per task took a second per 10^6 tasks."""

    def joined(rows) -> list[str]:
        return [";".join(f"{names[j]}={int(v)}" for j, v in enumerate(row) if v > 0) for row in rows]

    base = int(counts.max()) + 1 if counts.size else 1
    if not counts.size or counts.shape[1] * math.log2(base) >= 62:  # no one-integer key per row: row by row
        return joined(counts) if len(counts) else []
    key = counts @ (base ** np.arange(counts.shape[1], dtype=np.int64))  # one integer per distinct row
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return np.asarray(joined(counts[first]), dtype=object)[inverse.reshape(-1)].tolist()


def delivered_labels(run: Run, aggregation: Aggregation) -> pd.DataFrame:
    """One row per aggregated task: the file delivered to whoever trains on the labels.

    Index ``task_id``. Columns: the task's input fields (as in ``run.tasks``; a field named like
    one of the columns below gets an ``input_`` prefix), ``label``, ``confidence``, ``method``,
    ``tie_rule`` (see :func:`tie_order`; the long form is aggregation.TIE_RULE), ``tied``,
    ``answers``, ``votes`` (``label=count`` pairs of the labeling pool's answers, ``;``-separated,
    in label order), ``agreement`` (share of the answers equal to the label), ``p_<label>`` (the
    method's probability of each label), ``golden`` (the control task's known answer) and
    ``truth`` (the ground truth), empty where unknown.
    """
    rows = _rows(aggregation)
    lab = aggregation.labels
    counts = pool_vote_counts(run)[rows]
    answers = counts.sum(axis=1)
    label_codes = aggregation.codes[rows]
    names = list(run.labels)
    own = {"label", "confidence", "method", "tie_rule", "tied", "answers", "votes", "agreement", "golden", "truth"}
    own |= {f"p_{x}" for x in names}
    inputs = run.tasks.reindex(lab.index)
    inputs.columns = [f"input_{c}" if c in own else str(c) for c in inputs.columns]
    n = len(rows)
    out: dict[str, Any] = {c: inputs[c].to_numpy() for c in inputs.columns}  # one frame made at the end
    out["label"] = lab["label"].array
    out["confidence"] = lab["confidence"].to_numpy()
    out["method"] = aggregation.method  # a scalar: the constructor repeats it
    out["tie_rule"] = tie_order(run.labels)
    out["tied"] = lab["tied"].to_numpy()
    out["answers"] = lab["answers"].to_numpy()
    out["votes"] = _votes_text(counts.astype(np.int64), names)
    out["agreement"] = counts[np.arange(n), label_codes] / np.where(answers > 0, answers, np.nan)
    probas = aggregation.probas.to_numpy()
    for j, x in enumerate(names):
        out[f"p_{x}"] = probas[:, j]
    out["golden"] = _reference_labels(run, golden_codes(run), rows)
    try:
        out["truth"] = _reference_labels(run, truth_codes(run), rows)
    except MetricUnavailable:
        out["truth"] = pd.Categorical.from_codes(np.full(n, -1), categories=names)
    return pd.DataFrame(out, index=lab.index)  # arrays and scalars only: nothing is aligned


# ---- the Poisson-binomial distribution of the wrong count


def poisson_binomial_pmf(p: np.ndarray) -> np.ndarray:
    """P(X = k), k = 0..n, of a sum of independent Bernoulli(p_i), by divide-and-conquer FFT.

    The polynomials (1 - p_i + p_i z) are multiplied pairwise, level by level (each level one
    batched real FFT), so n = 10^5 takes well under a second. Exact to float rounding (values
    below 1e-15 may come out as 0); the result is clipped at 0 and sums to 1.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return np.ones(1)
    size = 1 << int(np.ceil(np.log2(p.size)))
    polys = np.zeros((size, 2))
    polys[:, 0] = 1.0  # padding: the polynomial 1
    polys[: p.size, 0] = 1.0 - p
    polys[: p.size, 1] = p
    while len(polys) > 1:
        m = polys.shape[1]
        n_fft = 2 * m - 1
        fa = np.fft.rfft(polys[0::2], n=n_fft, axis=1)
        fb = np.fft.rfft(polys[1::2], n=n_fft, axis=1)
        polys = np.fft.irfft(fa * fb, n=n_fft, axis=1)
    pmf = np.clip(polys[0][: p.size + 1], 0.0, None)
    return pmf / pmf.sum()


@dataclass(frozen=True)
class CountInterval:
    """A count's expectation with its central interval: ``expected``, ``low``, ``high`` at ``level``
    (``method``: ``exact`` or ``normal``), over ``tasks`` (``certain`` of them sure to count)."""

    expected: float
    low: int
    high: int
    sd: float
    level: float
    method: str
    tasks: int


def count_interval(p: np.ndarray, level: float = 0.95) -> CountInterval:
    """The Poisson-binomial interval of the number of successes of independent Bernoulli(p)."""
    level = check_float(level, "level", "count_interval", low=0, high=1, low_open=True, high_open=True)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    certain = int((p >= 1.0 - NEGLIGIBLE).sum())
    q = p[(p > NEGLIGIBLE) & (p < 1.0 - NEGLIGIBLE)]
    mean, var = float(p.sum()), float((p * (1 - p)).sum())
    alpha = (1.0 - level) / 2.0
    if len(q) <= EXACT_MAX:
        cdf = np.cumsum(poisson_binomial_pmf(q))
        low = int(np.searchsorted(cdf, alpha - 1e-12)) + certain
        high = int(np.searchsorted(cdf, 1.0 - alpha - 1e-12)) + certain
        method = "exact"
    else:
        z = float(ndtri(1.0 - alpha))
        sd = np.sqrt(var)
        low = int(max(0, np.ceil(mean - 0.5 - z * sd)))
        high = int(min(len(p), np.ceil(mean - 0.5 + z * sd)))
        method = "normal"
    return CountInterval(mean, low, high, float(np.sqrt(var)), level, method, int(len(p)))


# ---- expected wrong


@dataclass(frozen=True)
class Check:
    """The expected wrong count on the tasks with a reference label, against the realised one."""

    reference: str
    tasks: int
    expected: float
    low: int
    high: int
    realised: int

    @property
    def inside(self) -> bool:
        return self.low <= self.realised <= self.high


@dataclass(frozen=True)
class ExpectedWrong:
    """How many delivered labels are probably wrong: ``expected`` (sum of 1 - confidence) with a
    ``level`` interval [``low``, ``high``] (``interval_method`` exact or normal), as a share of
    ``tasks`` too; ``checks`` holds the same figure on the control tasks (golden) and on the tasks
    with truth against the wrong labels actually found there."""

    method: str
    tasks: int
    expected: float
    low: int
    high: int
    sd: float
    level: float
    interval_method: str
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.expected / self.tasks if self.tasks else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["share"] = self.share
        d["checks"] = {k: {**asdict(c), "inside": c.inside} for k, c in self.checks.items()}
        return d


def _wrong_chance(aggregation: Aggregation) -> np.ndarray:
    return 1.0 - aggregation.labels["confidence"].to_numpy(dtype=np.float64)


def _check(reference: str, ref: np.ndarray, agg: Aggregation, q: np.ndarray, level: float) -> Check | None:
    rows = _rows(agg)
    known = ref[rows] != -1
    if not known.any():
        return None
    ci = count_interval(q[known], level)
    realised = int((ref[rows][known] != agg.codes[rows][known]).sum())
    return Check(reference, int(known.sum()), ci.expected, ci.low, ci.high, realised)


def expected_wrong(run: Run, aggregation: Aggregation, level: float = 0.95) -> ExpectedWrong:
    """The expected number of wrong labels among the delivered ones, with a Poisson-binomial interval.

    See the module's docstring for the formula; ``checks`` compares it with the wrong labels
    found on control tasks (``golden``) and on tasks with ground truth (``truth``) where known.
    """
    q = _wrong_chance(aggregation)
    ci = count_interval(q, level)
    checks: dict[str, Check] = {}
    refs = {"golden": golden_codes(run)}
    try:
        refs["truth"] = truth_codes(run)
    except MetricUnavailable:
        pass
    for name, ref in refs.items():
        found = _check(name, ref, aggregation, q, ci.level)
        if found is not None:
            checks[name] = found
    return ExpectedWrong(aggregation.method, ci.tasks, ci.expected, ci.low, ci.high, ci.sd, ci.level, ci.method, checks)


# ---- calibration


@dataclass(frozen=True)
class Calibration:
    """Confidence against correctness on the tasks with a ``reference`` label (truth or golden).

    ``table``: one row per confidence bin with tasks (``bin_low``, ``bin_high``, ``tasks``,
    ``confidence`` (mean), ``accuracy``, Wilson ``ci_low``/``ci_high``, ``gap`` = accuracy -
    confidence); ``ece`` = sum of tasks / N |gap|; ``mce`` the largest |gap|; ``overconfident``
    when the mean confidence exceeds the accuracy."""

    method: str
    reference: str
    tasks: int
    accuracy: float
    mean_confidence: float
    ece: float
    mce: float
    table: pd.DataFrame

    @property
    def overconfident(self) -> bool:
        return self.mean_confidence > self.accuracy

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "table"}
        d["overconfident"] = self.overconfident
        d["table"] = self.table.to_dict(orient="records")
        return d


def _reference(run: Run, reference: str) -> tuple[str, np.ndarray]:
    if reference not in REFERENCES:
        raise ValueError(f"The 'reference' parameter must be one of {REFERENCES}. Got {reference!r} instead.")
    if reference in ("auto", "truth"):
        try:
            return "truth", truth_codes(run)
        except MetricUnavailable:
            if reference == "truth":
                raise
    gold = golden_codes(run)
    if not (gold >= 0).any():
        raise MetricUnavailable(
            "calibration needs known answers: control tasks with golden labels or a truth file", missing_field="golden"
        )
    return "golden", gold


def calibration(run: Run, aggregation: Aggregation, bins: int = 10, reference: str = "auto") -> Calibration:
    """The reliability table of the aggregate's confidence against correctness, with its ECE.

    ``reference`` ``auto`` uses the truth where the run has one, else the control tasks' golden
    labels. ``bins`` equal-width bins over [0, 1] (a confidence of 1 falls in the last).
    """
    bins = check_int(bins, "bins", "calibration", low=1)
    name, ref = _reference(run, reference)
    rows = _rows(aggregation)
    known = ref[rows] >= 0
    if not known.any():
        raise MetricUnavailable(f"no aggregated task has a {name} label to calibrate against", missing_field=name)
    conf = aggregation.labels["confidence"].to_numpy(dtype=np.float64)[known]
    right = (aggregation.codes[rows][known] == ref[rows][known]).astype(np.float64)
    which = np.clip((conf * bins).astype(np.int64), 0, bins - 1)
    n = np.bincount(which, minlength=bins)
    k = np.bincount(which, weights=right, minlength=bins)
    s = np.bincount(which, weights=conf, minlength=bins)
    used = np.flatnonzero(n)
    low, high = wilson_interval(k[used], n[used])
    table = pd.DataFrame(
        {
            "bin_low": used / bins,
            "bin_high": (used + 1) / bins,
            "tasks": n[used].astype(np.int64),
            "confidence": s[used] / n[used],
            "accuracy": k[used] / n[used],
            "ci_low": low,
            "ci_high": high,
        }
    )
    table["gap"] = table["accuracy"] - table["confidence"]
    total = int(n.sum())
    ece = float((table["tasks"] * table["gap"].abs()).sum() / total)
    mce = float(table["gap"].abs().max())
    return Calibration(aggregation.method, name, total, float(right.mean()), float(conf.mean()), ece, mce, table)


# ---- the labels most likely wrong


def likely_wrong(run: Run, aggregation: Aggregation, top: int = 100) -> pd.DataFrame:
    """The ``top`` delivered labels most likely wrong (highest 1 - confidence first; ties by task id).

    Index ``task_id``; columns ``label``, ``confidence``, ``wrong_chance``, ``runner_up`` (the
    next most probable label) and its ``runner_up_p``, ``answers``, ``tied``, and ``golden`` and
    ``truth`` where known (a reviewer can see at once which of them are confirmed wrong).
    """
    top = check_int(top, "top", "likely_wrong", low=1)
    lab = aggregation.labels
    probas = aggregation.probas.to_numpy()
    q = _wrong_chance(aggregation)
    second = np.argsort(-probas, axis=1, kind="stable")[:, 1] if probas.shape[1] > 1 else np.zeros(len(q), int)
    names = np.asarray(lab.index, dtype=object)
    order = np.lexsort((names, -q))[:top]
    rows = _rows(aggregation)[order]
    out = pd.DataFrame(
        {
            "label": lab["label"].to_numpy()[order],
            "confidence": lab["confidence"].to_numpy()[order],
            "wrong_chance": q[order],
            "runner_up": pd.Categorical.from_codes(second[order], categories=list(run.labels)),
            "runner_up_p": probas[order, second[order]],
            "answers": lab["answers"].to_numpy()[order],
            "tied": lab["tied"].to_numpy()[order],
        },
        index=pd.Index(names[order], name="task_id", dtype="str"),
    )
    out["golden"] = _reference_labels(run, golden_codes(run), rows)
    try:
        out["truth"] = _reference_labels(run, truth_codes(run), rows)
    except MetricUnavailable:
        pass
    return out


# ---- the report's section


def quality_section(r: Any, rep: dict) -> None:
    """The report's ``quality`` section: expected wrong labels with their interval, the checks
    against golden/truth and the calibration (``r`` is report's _Report: figure(), agg_params)."""
    q: dict[str, Any] = rep.setdefault("quality", {})
    ew = r.figure("quality.expected_wrong", "expected_wrong", **r.agg_params)
    q["expected_wrong"] = ew.as_dict() if ew is not None else None
    cal = r.figure("quality.calibration", "calibration", **r.agg_params)
    if cal is not None:
        d = cal.as_dict()
        d.pop("table")
        q["calibration"] = d
    else:
        q["calibration"] = None
    q["tie_rule"] = TIE_RULE


__all__ = [
    "EXACT_MAX",
    "Calibration",
    "Check",
    "CountInterval",
    "ExpectedWrong",
    "calibration",
    "count_interval",
    "delivered_labels",
    "expected_wrong",
    "likely_wrong",
    "poisson_binomial_pmf",
    "quality_section",
    "tie_order",
]
