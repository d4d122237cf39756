"""Label distributions: raw and aggregated, per annotator (who over-uses a label), across versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special

from analytics.metrics._base import MetricUnavailable, check_float, check_int, kind_mask, rate
from analytics.model import KINDS, Run

# annotator_label_use flags an annotator when the over-use is both large and unlikely by chance
MIN_OVER_USE_PP = 10.0  # percentage points above the others' share


def _check_kinds(kinds, func: str) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(
            f"The 'kinds' parameter of {func} must be a non-empty subset of {KINDS}. Got {kinds!r} instead."
        )
    return kinds


def _frame(labels: Sequence[str], counts: np.ndarray) -> pd.DataFrame:
    counts = np.asarray(counts, dtype=np.int64)
    return pd.DataFrame(
        {"count": counts, "share": rate(counts, counts.sum())},
        index=pd.Index(list(labels), name="label", dtype="str"),
    )


def label_distribution(run: Run, kinds: Sequence[str] = ("regular", "control")) -> pd.DataFrame:
    """How often each label was given, over the answers of ``kinds``.

    Index ``label``: every label of ``run.labels`` in its order, unused ones with count 0.
    Columns ``count`` and ``share`` = count / Σ count. Answers without a label (skipped,
    expired) are not counted. Raises MetricUnavailable when no answer of these kinds has a label.
    """
    kinds = _check_kinds(kinds, "label_distribution")
    c = run.codes
    lab = c.label[kind_mask(run, *kinds) & (c.label >= 0)]
    if len(lab) == 0:
        raise MetricUnavailable(f"the run has no labeled answers of kind {', '.join(kinds)}")
    return _frame(run.labels, np.bincount(lab, minlength=c.n_labels))


def aggregated_label_distribution(run: Run, aggregation) -> pd.DataFrame:
    """The distribution of ``aggregation``'s labels (one per task) in the run's label order."""
    return distribution_of(aggregation.labels["label"], run.labels)


def distribution_of(labels: pd.Series, label_order: Sequence[str]) -> pd.DataFrame:
    """The distribution of a Series of labels (e.g. aggregated labels, one per task).

    Index ``label`` in ``label_order`` (zeros included); columns ``count`` and ``share``. Missing
    values (a task without an aggregate) are not counted; a label outside ``label_order`` is an
    error naming it.
    """
    order = [str(x) for x in label_order]
    if len(set(order)) != len(order) or not order:
        raise ValueError(
            "The 'label_order' parameter of distribution_of must be a non-empty sequence of distinct labels. "
            f"Got {list(label_order)!r} instead."
        )
    s = pd.Series(labels)
    if isinstance(s.dtype, pd.CategoricalDtype):  # the categories looked up once: no string per task
        rows = s.cat.codes.to_numpy()
        rows = rows[rows >= 0]
        codes = pd.Index(order).get_indexer(s.cat.categories.astype(str))[rows]
        outside = s.cat.categories.astype(str)[rows[codes < 0]]
    else:
        s = s[s.notna().to_numpy()].astype(str)  # a numpy mask: no hash table of 10^6 task ids built to align it
        codes = pd.Index(order).get_indexer(s.to_numpy())
        outside = s[codes < 0]
    if (codes < 0).any():
        unknown = sorted(set(outside))
        raise ValueError(
            f"The 'labels' parameter of distribution_of holds labels outside label_order ({', '.join(order)}). "
            f"Got {', '.join(repr(u) for u in unknown[:5])} instead."
        )
    return _frame(order, np.bincount(codes, minlength=len(order)))


@dataclass(frozen=True)
class LabelUse:
    """Who uses which label how often, against everyone else.

    ``annotators``: index ``worker_id`` (sorted); columns ``answers``, ``over_used_label`` (the
    label whose share most exceeds the others' share), ``over_use_pp`` (that excess in
    percentage points), ``chi2``, ``dof``, ``p_value`` (NaN where answers < min_answers),
    ``flagged``.
    ``shares``: index (``worker_id``, ``label``); columns ``count``, ``share``, ``others_share``,
    ``difference_pp`` = 100 × (share − others_share).
    ``pool_share``: the share of each label over all counted answers (index ``label``).
    """

    annotators: pd.DataFrame
    shares: pd.DataFrame
    pool_share: pd.Series


def annotator_label_use(
    run: Run, min_answers: int = 20, kinds: Sequence[str] = ("regular",), alpha: float = 0.05
) -> LabelUse:
    """Each annotator's label shares against everyone else's, and who over-uses a label (bias).

    For annotator w with n_w answers (of ``kinds``, default regular tasks) and counts n_wl, the
    reference is everyone else's distribution q_l = (N_l − n_wl) / (N − n_w) (leaving w out, so a
    prolific annotator is not compared with themself). Pearson's chi-square goodness of fit,
    X² = Σ_l (n_wl − n_w q_l)² / (n_w q_l) over labels with q_l > 0, dof = (#such labels) − 1,
    p = P(χ²_dof ≥ X²) (as scipy.stats.chisquare); a label others never use but w does gives
    p = 0. Only annotators with n_w >= ``min_answers`` are tested.

    ``flagged`` = p < alpha / m (Bonferroni over the m annotators tested: with 100 annotators,
    5 would pass p < 0.05 by chance alone) and over_use_pp >= MIN_OVER_USE_PP (10 points), so
    that a tiny but "significant" difference of a very prolific annotator is not flagged.
    """
    min_answers = check_int(min_answers, "min_answers", "annotator_label_use", low=1)
    alpha = check_float(alpha, "alpha", "annotator_label_use", low=0.0, high=1.0, low_open=True)
    kinds = _check_kinds(kinds, "annotator_label_use")
    c = run.codes
    rows = np.flatnonzero(kind_mask(run, *kinds) & (c.label >= 0))
    if len(rows) == 0:
        raise MetricUnavailable(f"the run has no labeled answers of kind {', '.join(kinds)}")
    w_all = c.worker[rows]
    workers = np.unique(w_all)
    if len(workers) < 2:
        raise MetricUnavailable("label use is compared between annotators, and this run has a single annotator")
    nl = c.n_labels
    remap = np.full(c.n_workers, -1, dtype=np.int64)
    remap[workers] = np.arange(len(workers))
    w = remap[w_all]
    counts = (
        np.bincount(w * nl + c.label[rows], minlength=len(workers) * nl).reshape(len(workers), nl).astype(np.float64)
    )
    n_w = counts.sum(axis=1)
    total = counts.sum(axis=0)
    others = total[None, :] - counts
    others_n = others.sum(axis=1)
    q = rate(others, others_n[:, None])
    share = counts / n_w[:, None]
    diff = share - q
    chi2, dof, p = _goodness_of_fit(counts, n_w[:, None] * q)
    tested = (n_w >= min_answers) & (others_n > 0)
    p = np.where(tested, p, np.nan)
    chi2 = np.where(tested, chi2, np.nan)

    diff_filled = np.where(np.isnan(diff), -np.inf, diff)
    top = diff_filled.argmax(axis=1)  # ties go to the earlier label
    over_pp = 100.0 * diff[np.arange(len(workers)), top]
    m = int(tested.sum())
    flagged = tested & (p < alpha / max(m, 1)) & (over_pp >= MIN_OVER_USE_PP)

    names = pd.Index(np.asarray(c.worker_names, dtype=object)[workers], name="worker_id", dtype="str")
    annotators = pd.DataFrame(
        {
            "answers": n_w.astype(np.int64),
            "over_used_label": pd.Categorical.from_codes(top, dtype=run.answers["label"].dtype),
            "over_use_pp": over_pp,
            "chi2": chi2,
            "dof": np.where(tested, dof, 0).astype(np.int64),
            "p_value": p,
            "flagged": flagged,
        },
        index=names,
    )
    return _label_use(run, names, annotators, counts, share, q, total)


def _goodness_of_fit(counts: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per annotator (row): Pearson's X², its dof and p over the labels expected > 0 (see annotator_label_use)."""
    pos = expected > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pos, (counts - expected) ** 2 / np.where(pos, expected, 1.0), 0.0)
    chi2 = terms.sum(axis=1)
    dof = pos.sum(axis=1) - 1
    impossible = ((~pos) & (counts > 0)).any(axis=1)  # a label the others never used
    p = np.where(dof > 0, special.chdtrc(np.maximum(dof, 1), chi2), 1.0)
    p = np.where(impossible, 0.0, p)
    chi2 = np.where(impossible, np.inf, chi2)
    return chi2, dof, p


def _label_use(
    run: Run,
    names: pd.Index,
    annotators: pd.DataFrame,
    counts: np.ndarray,
    share: np.ndarray,
    q: np.ndarray,
    total: np.ndarray,
) -> LabelUse:
    """The LabelUse of annotator_label_use's figures, annotators sorted by id."""
    diff = share - q
    shares = pd.DataFrame(
        {
            "count": counts.ravel().astype(np.int64),
            "share": share.ravel(),
            "others_share": q.ravel(),
            "difference_pp": 100.0 * diff.ravel(),
        },
        index=pd.MultiIndex.from_product([names, pd.Index(list(run.labels), name="label", dtype="str")]),
    )
    pool_share = pd.Series(
        total / total.sum(), index=pd.Index(list(run.labels), name="label", dtype="str"), name="share"
    )
    order = np.argsort(names.to_numpy(dtype=object), kind="stable")
    return LabelUse(annotators.iloc[order], shares.sort_index(level=0, sort_remaining=False), pool_share)


@dataclass(frozen=True)
class DistributionComparison:
    """Two label distributions side by side.

    ``table``: index ``label`` (a's labels in order, then b's new ones); columns ``count_a``,
    ``count_b``, ``share_a``, ``share_b``, ``difference_pp`` = 100 × (share_b − share_a).
    ``total_variation`` = ½ Σ |share_a − share_b| (0 = identical, 1 = disjoint).
    ``chi2``, ``dof``, ``p_value``: Pearson's chi-square test of homogeneity on the 2 × k table of
    counts (labels used by neither left out; no continuity correction), as
    scipy.stats.chi2_contingency(correction=False); NaN where fewer than two labels are used.
    """

    table: pd.DataFrame
    total_variation: float
    chi2: float
    dof: int
    p_value: float


def _counts(x, name: str) -> pd.Series:
    if isinstance(x, pd.DataFrame):
        if "count" not in x.columns:
            raise ValueError(
                f"The {name!r} parameter of compare_distributions must be a Series of counts or a frame with a "
                f"'count' column. Got columns {list(x.columns)} instead."
            )
        x = x["count"]
    s = pd.Series(x, dtype="float64")
    if s.isna().any() or (s < 0).any():
        raise ValueError(
            f"The {name!r} parameter of compare_distributions must hold non-negative counts. "
            f"Got {s[s.isna() | (s < 0)].head(3).to_dict()} instead."
        )
    if s.sum() <= 0:
        raise ValueError(
            f"The {name!r} parameter of compare_distributions must hold at least one answer. Got a total of 0 instead."
        )
    s.index = s.index.astype(str)
    return s.groupby(level=0, sort=False).sum()


def compare_distributions(a_counts, b_counts) -> DistributionComparison:
    """Compare two label distributions (two runs, two versions, raw vs aggregated).

    ``a_counts`` and ``b_counts`` are Series of counts indexed by label (or the frames that
    label_distribution / distribution_of return). See DistributionComparison for the figures.
    """
    a = _counts(a_counts, "a_counts")
    b = _counts(b_counts, "b_counts")
    labels = list(a.index) + [x for x in b.index if x not in a.index]
    ca = a.reindex(labels, fill_value=0.0).to_numpy()
    cb = b.reindex(labels, fill_value=0.0).to_numpy()
    sa, sb = ca / ca.sum(), cb / cb.sum()
    table = pd.DataFrame(
        {"count_a": ca, "count_b": cb, "share_a": sa, "share_b": sb, "difference_pp": 100.0 * (sb - sa)},
        index=pd.Index(labels, name="label", dtype="str"),
    )
    if np.all(np.mod(ca, 1) == 0) and np.all(np.mod(cb, 1) == 0):
        table = table.astype({"count_a": "int64", "count_b": "int64"})
    used = (ca + cb) > 0
    obs = np.vstack([ca[used], cb[used]])
    if used.sum() < 2:
        chi2, dof, p = float("nan"), 0, float("nan")
    else:
        expected = obs.sum(axis=1, keepdims=True) * obs.sum(axis=0, keepdims=True) / obs.sum()
        chi2 = float(((obs - expected) ** 2 / expected).sum())
        dof = int(used.sum() - 1)
        p = float(special.chdtrc(dof, chi2))
    return DistributionComparison(table, float(0.5 * np.abs(sa - sb).sum()), chi2, dof, p)
