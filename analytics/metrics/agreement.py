"""Agreement across overlap: per run, per item, per annotator pair, and per annotator vs the aggregate.

All of it is measured on the labeled answers of the labeling pool (kinds ``regular`` and
``control``; see aggregation.pool_rows). Repeated answers by one annotator to one task count as
separate answers in the run-level and per-item figures (as crowd-kit and ``krippendorff`` count
them) and once (their most frequent label) in the pairwise figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics import kernels
from analytics.kernels import wilson_interval
from analytics.metrics._base import MetricUnavailable, check_int, rate
from analytics.metrics.aggregation import (
    TASK_COUNT,
    Aggregation,
    aggregate,
    pool_answers,
    pool_codes,
    pool_task_answers,
    pool_vote_counts,
)
from analytics.model import KINDS, Run


@dataclass(frozen=True)
class AgreementSummary:
    """Run-level chance-corrected agreement and the overlap behind it.

    ``krippendorff_alpha``: nominal alpha with missing data (Krippendorff 2011): 1 - D_o / D_e
    from the coincidence matrix of all pairable answers; tasks with a single answer drop out.
    ``fleiss_kappa``: Fleiss (1971) kappa, (P̄ - P_e) / (1 - P_e). Fleiss defined it for a
    constant number of raters per item; where overlap varies this uses the usual generalisation
    (P_i over each item's own n_i (n_i - 1) pairs, averaged over items with n_i >= 2; P_e from
    the mean of the items' label shares), which equals statsmodels' fleiss_kappa when overlap
    is constant. ``overlap_varies`` says which case applies. NaN where undefined (a single label
    used), never a made-up number.
    ``items``: tasks with at least two answers (the ones agreement is measured on);
    ``answers``: answers on them; ``overlap_*``: answers per task over all aggregated tasks.
    """

    krippendorff_alpha: float
    fleiss_kappa: float
    items: int
    answers: int
    overlap_mean: float
    overlap_min: int
    overlap_max: int
    overlap_varies: bool

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.__dict__.items()}


def _pool(run: Run):
    return (run.codes, *pool_codes(run))


def run_agreement(run: Run) -> AgreementSummary:
    """Krippendorff's alpha and Fleiss' kappa of the labeling pool (see AgreementSummary)."""
    per_task = pool_task_answers(run)
    answered = per_task[per_task > 0]
    pairable = per_task >= 2
    if not pairable.any():
        raise MetricUnavailable(
            "agreement needs tasks answered by at least two annotators; every task here has a single answer (overlap 1)"
        )
    counts = pool_vote_counts(run)  # both coefficients leave out tasks with a single answer themselves
    return AgreementSummary(
        krippendorff_alpha=kernels.alpha_from_counts(counts),
        fleiss_kappa=kernels.fleiss_from_counts(counts),
        items=int(pairable.sum()),
        answers=int(per_task[pairable].sum()),
        overlap_mean=float(answered.mean()),
        overlap_min=int(answered.min()),
        overlap_max=int(answered.max()),
        overlap_varies=bool(answered[answered >= 2].min() != answered.max()) if (answered >= 2).any() else False,
    )


def item_agreement(run: Run, aggregation: Aggregation | None = None) -> pd.DataFrame:
    """Per task: how far its answers agree.

    Index ``task_id`` (aggregated tasks). Columns: ``kind`` (regular/control), ``answers``,
    ``label`` (the aggregate, majority vote by default), ``agree`` (answers equal to it),
    ``agreement`` = agree / answers, ``entropy_bits`` (Shannon entropy of the task's labels: 0
    unanimous, 1 an even split of two), ``pairwise_agreement`` (share of agreeing answer pairs,
    Fleiss' P_i; NaN with one answer). Sorted as the run's tasks; sort by ``agreement`` for the
    least-agreed items.
    """
    agg = aggregation or aggregate(run, "mv")
    c, rows, t, _, lab = _pool(run)
    ia = kernels.item_agreement_from_counts(pool_vote_counts(run), aggregate=agg.codes)
    keep = agg.codes >= 0
    kind_of_task = np.full(c.n_tasks, -1, dtype=np.int64)
    kind_of_task[t] = run.codes.kind[rows]
    from analytics.model import KINDS

    n = ia.n_answers[keep]
    share = ia.majority_share[keep]
    out = pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(kind_of_task[keep], categories=list(KINDS)),
            "answers": n.astype(TASK_COUNT),
            "label": agg.labels["label"].array,  # the categorical itself, not 10^6 strings
            "agree": np.rint(share * n).astype(TASK_COUNT),
            "agreement": share,
            "entropy_bits": ia.entropy_bits[keep],
            "pairwise_agreement": ia.pairwise_agreement[keep],
        },
        index=agg.labels.index,
    )
    return out


# worker pairs of one task pairwise_kappa lists at the most (about 0.5 GB of pair keys and codes):
# a task's pairs cannot be split, the run's are listed in chunks of tasks whatever their number
MAX_TASK_PAIRS = 20_000_000
PAIR_ANSWERS_PER_SECOND = 4e6  # pairwise kappa's pace here (see pairs_seconds)


def least_agreed(items: pd.DataFrame) -> pd.DataFrame:
    """The tasks of item_agreement with two or more answers, least agreement with the aggregate
    first, then the most spread answers (entropy), then the most answers. One numpy lexsort
    (stable; several times faster than a three-key sort_values on 10^6 rows)."""
    answers = items["answers"].to_numpy()
    keep = np.flatnonzero(answers >= 2)
    entropy, agreement = items["entropy_bits"].to_numpy()[keep], items["agreement"].to_numpy()[keep]
    order = np.lexsort((-answers[keep], -entropy, agreement))
    return items.iloc[keep[order]]  # one take of the frame (its 10^6 task ids), not a filter and then a sort


def least_agreed_tasks(run: Run, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`least_agreed` of the run's item_agreement (``items``, computed when not given)."""
    return least_agreed(item_agreement(run) if items is None else items)


def pairs_by_kappa(run: Run, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The annotator pairs of :func:`pairwise_kappa` (``pairs``, computed when not given), lowest
    kappa first, then the most shared tasks; NaN kappas last."""
    pairs = pairwise_kappa(run) if pairs is None else pairs
    return pairs.sort_values(["kappa", "shared"], ascending=[True, False], kind="stable", na_position="last")


def pairs_seconds(run: Run, params: Mapping[str, Any]) -> float:
    """The registry's cost model of pairwise_kappa: seconds on this 2-core machine, quiet (2.2 s at
    9.6 M labeling-pool answers, 2026-12-02)."""
    return pool_answers(run) / PAIR_ANSWERS_PER_SECOND


def pairwise_kappa(run: Run, min_shared: int = 10, include_control: bool = False) -> pd.DataFrame:
    """Cohen's kappa between every two annotators who answered at least ``min_shared`` same tasks.

    By default only regular tasks count. A control task is shown to many more annotators than
    the overlap (one in every suite: 20-30 people answer it where 3 answer a regular task), so it
    would supply most of the pairs and the cost (pairs grow with the square of the people on a
    task) while each answer to it is already judged against its known label. Pass
    ``include_control=True`` to count them too.

    Columns ``worker_a``, ``worker_b`` (worker_a < worker_b in the run's worker order),
    ``shared`` (tasks both answered), ``agreement`` (share of them with equal labels), ``kappa``
    (Cohen 1960 on those tasks, as sklearn's cohen_kappa_score; NaN where both always gave one
    and the same label). Empty when no pair shares enough tasks.
    """
    min_shared = check_int(min_shared, "min_shared", "pairwise_kappa", low=1)
    c, rows, t, w, lab = _pool(run)
    if not include_control:
        keep = run.codes.kind[rows] == KINDS.index("regular")
        t, w, lab = t[keep], w[keep], lab[keep]
    most = int(np.bincount(t, minlength=c.n_tasks).max()) if len(t) else 0  # bounds a task's distinct workers
    if most * (most - 1) // 2 > MAX_TASK_PAIRS:
        # a size limit leaves this one figure out (with the reason); it never takes the report down
        raise MetricUnavailable(
            f"pairwise agreement would list {most * (most - 1) // 2:,} within-task answer pairs for one task "
            f"answered {most:,} times, over the {MAX_TASK_PAIRS:,} this machine's memory allows; the other "
            "figures are unaffected"
        )
    pa = kernels.pairwise_agreement(
        t, w, lab, c.n_workers, c.n_labels, min_shared=min_shared, max_task_pairs=MAX_TASK_PAIRS
    )
    names = np.asarray(c.worker_names, dtype=object)
    return pd.DataFrame(
        {
            "worker_a": pd.Series(names[pa.worker_a], dtype="str"),
            "worker_b": pd.Series(names[pa.worker_b], dtype="str"),
            "shared": pa.n_shared.astype(np.int64),
            "agreement": pa.agreement,
            "kappa": pa.kappa,
        }
    )


def worker_agreement(run: Run, aggregation: Aggregation | None = None) -> pd.DataFrame:
    """Per annotator: share of their answers equal to the aggregated label, with a Wilson interval.

    The annotator's own answer is part of the aggregate (as in Wawa's skill); at overlap 3 a
    lone dissenter still scores 0 on that task. Index ``worker_id`` (sorted); columns
    ``answers`` (their answers on aggregated tasks), ``agree``, ``agreement``, ``ci_low``,
    ``ci_high`` (95 % Wilson).
    """
    agg = aggregation or aggregate(run, "mv")
    c, rows, t, w_all, lab = _pool(run)
    ref = agg.codes[t]
    on = ref >= 0
    w = w_all[on]
    correct = lab[on] == ref[on]
    counts = kernels.worker_accuracy(w, correct, c.n_workers)
    active = np.unique(w)
    n, k = counts.n[active], counts.n_correct[active]
    low, high = wilson_interval(k, n)
    return pd.DataFrame(
        {
            "answers": n.astype(np.int64),
            "agree": k.astype(np.int64),
            "agreement": rate(k, n),
            "ci_low": low,
            "ci_high": high,
        },
        index=pd.Index(np.asarray(c.worker_names, dtype=object)[active], name="worker_id", dtype="str"),
    ).sort_index()


def agreement_matrix(pairs: pd.DataFrame, value: str = "kappa", max_workers: int = 40) -> pd.DataFrame:
    """The pairwise table as a symmetric annotator x annotator matrix (NaN where a pair shares too
    few tasks), limited to the ``max_workers`` annotators in the most pairs, for display."""
    check_int(max_workers, "max_workers", "agreement_matrix", low=2)
    if value not in ("kappa", "agreement", "shared"):
        raise ValueError(
            "The 'value' parameter of agreement_matrix must be 'kappa', 'agreement' or 'shared'. "
            f"Got {value!r} instead."
        )
    if pairs.empty:
        return pd.DataFrame()
    both = pd.concat([pairs["worker_a"], pairs["worker_b"]])
    top = both.value_counts(sort=True).index[:max_workers]
    sub = pairs[pairs["worker_a"].isin(top) & pairs["worker_b"].isin(top)]
    order = sorted(top)
    m = pd.DataFrame(np.nan, index=pd.Index(order, name="worker_id"), columns=pd.Index(order, name="worker_id"))
    for a, b, v in zip(sub["worker_a"], sub["worker_b"], sub[value], strict=True):
        m.loc[a, b] = v
        m.loc[b, a] = v
    return m
