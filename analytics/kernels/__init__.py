"""Vectorized numpy/scipy kernels for aggregation and agreement on integer-coded answers."""

# What every kernel shares. Each takes parallel 1-D integer arrays with one element per answer
# (``task``, ``worker``, ``label`` codes in ``0..n-1``) plus the sizes ``n_tasks``,
# ``n_workers``, ``n_labels``. A code may have no answers: such a task gets label ``-1`` and
# NaN probabilities/agreement, such a worker NaN skills/errors. Each row is one vote, repeated
# answers by the same worker on the same task included, as in crowd-kit (the two exceptions,
# Wawa's skills and pairwise agreement, are documented there). Label code order is the tie
# order: wherever scores tie, the lowest label code wins, so no result depends on the order of
# the rows.
#
# The aggregators reproduce crowd-kit 1.4.2 (MajorityVote, Wawa, DawidSkene,
# OneCoinDawidSkene) to floating-point precision; the only intended difference is the
# majority-vote tie rule (crowd-kit lets the order in which labels first appear in the data
# decide, see ``majority_vote``). There is no pandas in the hot paths and no crowd-kit import;
# tests/test_kernels.py checks every kernel against its reference implementation.
#
# One module per concern: voting (vote counts, majority vote, Wawa, the tie rule), dawid_skene
# (full and one-coin EM), agreement (alpha, Fleiss, per task, per worker, worker pairs),
# intervals (Wilson), checks (the parameter checks the metrics share). Note that
# ``analytics.kernels.dawid_skene`` is the function, as before; the module is
# ``sys.modules["analytics.kernels.dawid_skene"]``.

from analytics.kernels.agreement import (
    ItemAgreement,
    PairwiseAgreement,
    WorkerCounts,
    alpha_from_counts,
    fleiss_from_counts,
    fleiss_kappa,
    item_agreement,
    item_agreement_from_counts,
    krippendorff_alpha_nominal,
    pairwise_agreement,
    worker_accuracy,
)
from analytics.kernels.dawid_skene import DawidSkeneResult, dawid_skene, one_coin_dawid_skene
from analytics.kernels.intervals import WilsonInterval, wilson_interval
from analytics.kernels.scales import krippendorff_alpha, task_values, weighted_pairwise_kappa  # noqa: F401
from analytics.kernels.voting import (
    TIE_RTOL,
    MajorityVoteResult,
    WawaResult,
    majority_choice,
    majority_from_counts,
    majority_vote,
    tied_tasks,
    vote_counts,
    wawa,
)

__all__ = [
    "TIE_RTOL",
    "MajorityVoteResult",
    "WawaResult",
    "DawidSkeneResult",
    "ItemAgreement",
    "WorkerCounts",
    "PairwiseAgreement",
    "WilsonInterval",
    "vote_counts",
    "majority_from_counts",
    "majority_choice",
    "majority_vote",
    "tied_tasks",
    "wawa",
    "dawid_skene",
    "one_coin_dawid_skene",
    "krippendorff_alpha_nominal",
    "fleiss_kappa",
    "alpha_from_counts",
    "fleiss_from_counts",
    "item_agreement",
    "item_agreement_from_counts",
    "worker_accuracy",
    "pairwise_agreement",
    "wilson_interval",
]
