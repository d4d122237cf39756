"""The cost-quality curve: what each extra answer per task costs and what it buys, by subsampling.

``cost_quality_curve(run)`` answers the stakeholder's question "what would more (or less)
overlap have bought?" from the run's own answers, plus a clearly separated model-based
projection beyond the overlap the run has.

Observed part (overlap k = 1 … K, K = the run's typical overlap)
-----------------------------------------------------------------
T is the set of aggregated tasks (labeling pool: kinds ``regular`` and ``control``, labeled
answers, as aggregation.pool_rows) with at least K answers; tasks with fewer are left out at
every k, so that every point of the curve is measured on the same tasks. For repeat
r = 1 … R, every answer i gets an independent uniform key u_i (one seeded generator; answers are
put in a canonical order first, so row order does not matter), and the answers of each task are
ordered by it. S_k^r(t) is the first k answers of task t in that order — the subsets are nested
(the answers of overlap k are those of k − 1 plus one more), which keeps the differences between
neighbouring k free of extra sampling noise. Each subset is aggregated by majority vote
(kernels.majority_vote on integer codes) with the project's tie rule: the lowest label code,
i.e. the label listed first in ``run.labels``, wins a tie (see aggregation.TIE_RULE).

With ŷ_k^r(t) that label, G ⊆ T the control tasks (known answer g(t)), Tr ⊆ T the tasks with a
ground-truth label and ŷ(t) the majority vote of *all* the task's answers
(aggregate(run, "mv")):

    golden_accuracy(k, r)     = |G|⁻¹  Σ_{t∈G}  [ŷ_k^r(t) = g(t)]
    truth_accuracy(k, r)      = |Tr|⁻¹ Σ_{t∈Tr} [ŷ_k^r(t) = truth(t)]
    agreement_with_full(k, r) = |T|⁻¹  Σ_{t∈T}  [ŷ_k^r(t) = ŷ(t)]
    tied_share(k, r)          = |T|⁻¹  Σ_{t∈T}  [the tie rule decided ŷ_k^r(t)]

Each is reported as its mean over the R repeats, its spread over them (``*_std``, population
standard deviation, and ``*_min``/``*_max``: the subsampling uncertainty) and a 95 % Wilson
interval of the mean with |G| (or |Tr|) tasks behind it (``*_ci_low``/``*_ci_high``: the
uncertainty from having only that many known answers). At k = K every task of T that has exactly
K answers uses all of them, so where overlap is constant the point at K *is* the full aggregate:
its accuracy equals accuracy_vs_golden(run, aggregate(run, "mv")) and agreement_with_full is 1.

Cost
----
    cost_per_label(k)       = cost_per_answer × k
    cost_per_final_label(k) = (F + V × k / K) / final_labels,   V = cost_per_answer × A_pool,  F = total − V

cost_per_answer = cost_breakdown(run).cost_per_answer (the run's whole spend — exam, control
tasks, fees and bonuses included — over the labeled answers in paid suites): cost_per_label is
what k answers cost at that average price. cost_per_final_label is what a delivered label would
have cost the project at overlap k: V is the part of the spend on the labeling pool's answers
(A_pool: labeled regular and control answers in paid suites), which grows in proportion to k;
F (exam, bonuses) does not; final_labels as cost_breakdown (regular tasks with a label). At
k = K it equals cost_breakdown(run).cost_per_final_label. Both are NaN (with ``cost_missing``
saying why) where the spend is unknown.

Model-based projection (k = 1 … K + 2; the rows k > K are projections)
-----------------------------------------------------------------------
Subsampling cannot show overlap the run does not have. Beyond K the curve is a model, and every
row says which basis it has. The model (Dawid & Skene's "one-coin" annotator, simulated):

1. annotator w answers correctly with probability p_w = (c_w + m·p̄) / (n_w + m): their control
   accuracy (c_w right of n_w control answers) shrunk towards the pooled control accuracy p̄
   with weight m = PRIOR_STRENGTH (2 answers), so that 3 of 3 right is not taken as a certain
   100 % (an annotator without control answers gets p̄);
2. a wrong answer is any *other* label with equal probability (errors spread uniformly);
3. the k answers of a task come from k annotators drawn independently in proportion to their
   share of the pool's answers (the run's own mix of annotators), with independent errors;
4. the true label of a task is drawn from the known answers of the control tasks in G;
5. the k answers are aggregated by majority vote with the same tie rule.

``model_accuracy`` is the simulated share of tasks whose vote equals the true label
(``simulations`` tasks per k, seeded; Monte Carlo standard error in ``model_se``). It is given
for every k, so where the observed points exist the model can be checked against them. Not
modelled: item difficulty (hard items make annotators wrong together, so real gains from more
overlap are usually smaller than the model's), confusions that favour one label, and a
different annotator mix at higher overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics import kernels
from analytics.kernels import wilson_interval
from analytics.metrics._base import check_int, kind_mask, name_rank
from analytics.metrics.aggregation import TIE_RULE, aggregate, golden_codes, pool_answers, pool_rows, truth_codes
from analytics.metrics.cost import assignment_table, cost_breakdown
from analytics.model import Run

METHODS = ("mv",)
PROJECTED_STEPS = 2  # model-based points beyond the run's overlap: K + 1 … K + 2
PRIOR_STRENGTH = 2.0  # control answers' worth of the pooled accuracy in each annotator's estimate
DEFAULT_SIMULATIONS = 20_000  # simulated tasks per k: Monte Carlo s.e. <= 0.0036
CURVE_SECONDS_PER_ANSWER = 4.4e-7  # the curve's cost model (see curve_seconds): shared work, then each repeat
CURVE_SECONDS_PER_ANSWER_REPEAT = 6e-8
OBSERVED = "subsampled"
PROJECTED = "model projection"

MODEL_ASSUMPTIONS = (
    "Model: each annotator answers right with their control accuracy (shrunk towards the pooled "
    f"accuracy by {PRIOR_STRENGTH:g} answers' worth); a wrong answer is any other label with equal "
    "probability; the k annotators of a task are drawn independently in proportion to their answers "
    "in the run and err independently; true labels follow the control tasks' known answers; majority "
    "vote with the run's tie rule. Item difficulty is not modelled (errors on hard items are "
    "correlated), so the projected gain is usually an upper bound."
)


@dataclass(frozen=True)
class CostQualityCurve:
    """What each overlap k costs and buys (see the module docstring for every formula).

    ``points``: index ``overlap`` (k = 1 … K + 2). Columns: ``basis`` (``"subsampled"`` for
    k <= K, ``"model projection"`` beyond); ``tasks`` (|T|, the tasks used), ``answers``
    (|T| × k, the answers behind a point), ``golden_tasks`` (|G|), ``truth_tasks`` (|Tr|) —
    nullable integers, missing on projected rows; ``golden_accuracy``, ``golden_std``,
    ``golden_min``, ``golden_max``, ``golden_ci_low``, ``golden_ci_high`` and the same six for
    ``truth_*`` (NaN where there are no such tasks and on projected rows);
    ``agreement_with_full``, ``agreement_std``, ``tied_share`` (NaN on projected rows);
    ``model_accuracy``, ``model_se`` (NaN where there are no control answers to build the model
    from); ``cost_per_label`` (cost_per_answer × k) and ``cost_per_final_label`` (the project's
    cost per delivered label at overlap k, overhead included), NaN where the spend is unknown.
    ``per_repeat``: one row per (overlap, repeat) with the four observed figures.
    ``max_overlap`` is K; ``tasks_left_out`` the aggregated tasks with fewer than K answers;
    ``cost_per_answer`` in ``currency`` (None with the reason in ``cost_missing``);
    ``variable_spend`` (V) and ``fixed_spend`` (F) and ``final_labels`` behind cost_per_final_label;
    ``model_note`` says why the model is missing, else "".
    """

    points: pd.DataFrame
    per_repeat: pd.DataFrame
    method: str
    max_overlap: int
    typical_overlap: int
    repeats: int
    seed: int
    simulations: int
    tasks: int
    tasks_left_out: int
    currency: str
    cost_per_answer: float | None
    cost_missing: str | None
    variable_spend: float | None
    fixed_spend: float | None
    final_labels: int
    model_note: str
    tie_rule: str = TIE_RULE
    tasks_sampled_from: int | None = None
    assumptions: str = MODEL_ASSUMPTIONS

    @property
    def observed(self) -> pd.DataFrame:
        return self.points[self.points["basis"] == OBSERVED]

    @property
    def projected(self) -> pd.DataFrame:
        return self.points[self.points["basis"] == PROJECTED]


def _summary(values: np.ndarray, n: int) -> dict[str, float]:
    """mean, spread and a Wilson interval (n tasks) of one figure over the repeats."""
    if n == 0 or len(values) == 0:
        return {k: np.nan for k in ("mean", "std", "min", "max", "ci_low", "ci_high")}
    mean = float(values.mean())
    low, high = wilson_interval(np.array([mean * n]), np.array([n]))
    return {
        "mean": mean,
        # identical values: exactly 0, not the float residue of the mean
        "std": 0.0 if values.min() == values.max() else float(values.std(ddof=0)),
        "min": float(values.min()),
        "max": float(values.max()),
        "ci_low": float(low[0]),
        "ci_high": float(high[0]),
    }


def _model(run: Run, rows: np.ndarray, gold_tasks: np.ndarray, ks: range, simulations: int, seed: int):
    """model_accuracy and model_se per k, or NaNs and why there is no model."""
    c = run.codes
    nan = (np.full(len(ks), np.nan), np.full(len(ks), np.nan))
    ctrl = np.flatnonzero(kind_mask(run, "control") & (c.label >= 0) & (c.golden >= 0))
    if len(ctrl) == 0 or len(gold_tasks) == 0:
        return (*nan, "no model projection: the run has no answered control tasks to estimate annotator accuracy from")
    nw, nl = c.n_workers, c.n_labels
    n_w = np.bincount(c.worker[ctrl], minlength=nw).astype(np.float64)
    k_w = np.bincount(c.worker[ctrl], weights=(c.label[ctrl] == c.golden[ctrl]).astype(np.float64), minlength=nw)
    pooled = k_w.sum() / n_w.sum()
    p_w = (k_w + PRIOR_STRENGTH * pooled) / (n_w + PRIOR_STRENGTH)
    share = np.bincount(c.worker[rows], minlength=nw).astype(np.float64)
    active = np.flatnonzero(share > 0)
    active = active[np.argsort(name_rank(c.worker_names)[active], kind="stable")]  # draws by name, not code
    pi = share[active] / share[active].sum()
    p_active = p_w[active]
    prior = np.bincount(gold_tasks, minlength=nl).astype(np.float64)
    prior /= prior.sum()
    acc, se = [], []
    for k in ks:
        rng = np.random.default_rng([seed, 1, k])  # per k: a point does not depend on K
        truth = rng.choice(nl, size=simulations, p=prior)
        who = rng.choice(len(active), size=(simulations, k), p=pi)
        right = rng.random((simulations, k)) < p_active[who]
        if nl > 1:
            other = (truth[:, None] + rng.integers(1, nl, size=(simulations, k))) % nl
        else:
            other = np.broadcast_to(truth[:, None], (simulations, k))
        answers = np.where(right, truth[:, None], other)
        task = np.repeat(np.arange(simulations), k)
        vote = kernels.majority_vote(task, answers.ravel(), simulations, nl)
        hit = float((vote.labels == truth).mean())
        acc.append(hit)
        se.append(float(np.sqrt(hit * (1 - hit) / simulations)))
    return np.array(acc), np.array(se), ""


def _pool_answers_paid(run: Run) -> int:
    """Labeled regular and control answers in paid suites (as cost_breakdown counts answers)."""
    t = assignment_table(run)
    a = run.answers
    labeled = a["label"].notna().to_numpy() & kind_mask(run, "regular", "control")
    if len(t) == 0:
        return int(labeled.sum())
    in_paid = a["assignment_id"].isin(t.loc[t["paid"], "assignment_id"]).to_numpy()
    return int((labeled & in_paid).sum())


@dataclass(frozen=True)
class _TaskSet:
    """T, the aggregated tasks every point is measured on (task codes, sorted), and how it was chosen."""

    tasks: np.ndarray
    max_overlap: int
    typical_overlap: int
    answered: int  # aggregated tasks with at least one answer
    sampled_from: int | None


@dataclass(frozen=True)
class _Known:
    """The reference labels on T, at compact positions 0..|T|-1 (the task index of the votes)."""

    gold_pos: np.ndarray
    gold: np.ndarray  # g(t), t in G
    truth_pos: np.ndarray
    truth: np.ndarray  # truth(t), t in Tr
    full: np.ndarray  # ŷ(t), t in T: the majority vote of all the task's answers


@dataclass(frozen=True)
class _Cost:
    """The cost model's inputs (see the module docstring): cost_breakdown, V, F and why a cost is missing."""

    per_answer: float | None
    variable: float | None
    fixed: float | None
    final_labels: int
    currency: str
    missing: str | None


def _select_tasks(run: Run, rows: np.ndarray, max_overlap: int | None, max_tasks: int | None, func: str) -> _TaskSet:
    """K (given or the typical overlap) and T: the tasks with at least K answers, sampled beyond max_tasks."""
    c = run.codes
    per_task = np.bincount(c.task[rows].astype(np.int64), minlength=c.n_tasks)
    answered = per_task[per_task > 0]
    typical = int(np.bincount(answered).argmax())
    if max_overlap is None:
        K = typical
    else:
        K = check_int(max_overlap, "max_overlap", func, low=1, high=int(answered.max()))
    T = np.flatnonzero(per_task >= K)
    sampled_from = None
    if max_tasks is not None and len(T) > check_int(max_tasks, "max_tasks", func, low=1):
        sampled_from = len(T)
        T = _sample_tasks(run, T, max_tasks)
    return _TaskSet(T, K, typical, int((per_task >= 1).sum()), sampled_from)


def _sample_tasks(run: Run, T: np.ndarray, max_tasks: int) -> np.ndarray:
    """Every task of T with a known answer (control or truth), plus max_tasks others chosen by a hash of their ids."""
    known = golden_codes(run)[T] >= 0
    if run.truth is not None and len(run.truth):
        known |= truth_codes(run)[T] != -1
    h = pd.util.hash_array(np.asarray(run.codes.task_names.take(T), dtype=object), categorize=False)
    chosen = known.copy()
    chosen[np.argsort(h, kind="stable")[:max_tasks]] = True
    return T[chosen]


def _canonical_answers(run: Run, rows: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The answers to T as (compact task position, label code), in a canonical order (row order does not matter)."""
    c = run.codes
    in_set = np.zeros(c.n_tasks, dtype=bool)
    in_set[T] = True
    keep = rows[in_set[c.task[rows].astype(np.int64)]]
    t, w, lab = c.task[keep].astype(np.int64), c.worker[keep].astype(np.int64), c.label[keep].astype(np.int64)
    # work on compact task positions 0..len(T)-1 (T is sorted): votes over 10^5 tasks, not 10^6
    t = np.searchsorted(T, t)
    o = np.lexsort((lab, name_rank(c.worker_names)[w], name_rank(c.task_names.take(T))[t]))
    return t[o], lab[o]


def _known_labels(run: Run, T: np.ndarray) -> _Known:
    """G, Tr and the full aggregate on T (see the module docstring)."""
    gold = golden_codes(run)
    G = T[gold[T] >= 0]
    truth = None
    if run.truth is not None and len(run.truth):
        truth = truth_codes(run)
    Tr = T[truth[T] != -1] if truth is not None else np.array([], dtype=np.int64)
    full = aggregate(run, "mv").codes
    return _Known(
        gold_pos=np.searchsorted(T, G),
        gold=gold[G],
        truth_pos=np.searchsorted(T, Tr),
        truth=truth[Tr] if truth is not None else Tr,
        full=full[T],
    )


def _subsampled_repeats(
    t: np.ndarray, lab: np.ndarray, known: _Known, n_tasks: int, n_labels: int, K: int, repeats: int, seed: int
) -> pd.DataFrame:
    """One row per (overlap k, repeat r): the four observed figures of the nested subsets S_k^r."""
    rng = np.random.default_rng(seed)
    records = []
    for r in range(repeats):
        u = rng.random(len(t))
        order = np.lexsort((u, t))
        ts, ls = t[order], lab[order]
        rank = np.arange(len(ts)) - np.searchsorted(ts, ts, side="left")
        for k in range(1, K + 1):
            sel = rank < k
            mv = kernels.majority_vote(ts[sel], ls[sel], n_tasks, n_labels)
            records.append(
                {
                    "overlap": k,
                    "repeat": r,
                    "golden_accuracy": _share_equal(mv.labels[known.gold_pos], known.gold),
                    "truth_accuracy": _share_equal(mv.labels[known.truth_pos], known.truth),
                    "agreement_with_full": float((mv.labels == known.full).mean()),
                    "tied_share": float(mv.tied.mean()),
                }
            )
    return pd.DataFrame(records)


def _share_equal(voted: np.ndarray, reference: np.ndarray) -> float:
    """The share of tasks whose vote equals the reference label (NaN where there is no such task)."""
    return float((voted == reference).mean()) if len(reference) else np.nan


def _cost_model(run: Run) -> _Cost:
    """cost_per_answer, the variable spend V and the fixed spend F (None where the spend is unknown)."""
    b = cost_breakdown(run)
    cpa = b.cost_per_answer
    variable = fixed = None
    if cpa is not None and b.total is not None:
        variable = cpa * _pool_answers_paid(run)
        fixed = b.total - variable
    missing = b.reasons.get("cost_per_answer")
    if missing is None and b.final_labels == 0:
        missing = b.reasons.get("cost_per_final_label")
    return _Cost(cpa, variable, fixed, b.final_labels, b.currency, missing)


_COUNT_COLUMNS = ["tasks", "answers", "golden_tasks", "truth_tasks"]
_POINT_COLUMNS = [
    "basis",
    *_COUNT_COLUMNS,
    *(f"{ref}_{n}" for ref in ("golden", "truth") for n in ("accuracy", "std", "min", "max", "ci_low", "ci_high")),
    "agreement_with_full",
    "agreement_std",
    "tied_share",
    "model_accuracy",
    "model_se",
    "cost_per_label",
    "cost_per_final_label",
]


def _observed_point(rep: pd.DataFrame, k: int, n_tasks: int, n_golden: int, n_truth: int) -> dict:
    """The subsampled figures of overlap k from its repeats ``rep``."""
    g = _summary(rep["golden_accuracy"].to_numpy(), n_golden)
    tr = _summary(rep["truth_accuracy"].to_numpy(), n_truth)
    row: dict = dict(tasks=n_tasks, answers=n_tasks * k, golden_tasks=n_golden, truth_tasks=n_truth)
    row.update({f"golden_{n}" if n != "mean" else "golden_accuracy": v for n, v in g.items()})
    row.update({f"truth_{n}" if n != "mean" else "truth_accuracy": v for n, v in tr.items()})
    row["agreement_with_full"] = float(rep["agreement_with_full"].mean())
    agr = rep["agreement_with_full"].to_numpy()
    row["agreement_std"] = 0.0 if agr.min() == agr.max() else float(agr.std(ddof=0))
    row["tied_share"] = float(rep["tied_share"].mean())
    return row


def _points_table(
    per_repeat: pd.DataFrame, ks: range, K: int, n_tasks: int, known: _Known, model, cost: _Cost
) -> pd.DataFrame:
    """The ``points`` table: observed rows k <= K, projected beyond, model and cost on every row."""
    model_acc, model_se = model
    out = []
    for i, k in enumerate(ks):
        row: dict = {"overlap": k, "basis": OBSERVED if k <= K else PROJECTED}
        if k <= K:
            rep = per_repeat[per_repeat["overlap"] == k]
            row.update(_observed_point(rep, k, n_tasks, len(known.gold), len(known.truth)))
        row["model_accuracy"] = model_acc[i]
        row["model_se"] = model_se[i]
        row["cost_per_label"] = np.nan if cost.per_answer is None else cost.per_answer * k
        row["cost_per_final_label"] = (
            np.nan
            if cost.variable is None or cost.final_labels == 0
            else (cost.fixed + cost.variable * k / K) / cost.final_labels
        )
        out.append(row)
    points = pd.DataFrame(out).set_index("overlap").reindex(columns=_POINT_COLUMNS)
    for col in _COUNT_COLUMNS:
        points[col] = points[col].astype("Int64")
    for col in _POINT_COLUMNS[5:]:
        points[col] = points[col].astype("float64")
    return points


def curve_seconds(run: Run, params: Mapping[str, Any]) -> float:
    """The registry's cost model of cost_quality_curve: seconds on this 2-core machine, quiet. At 9.6 M
    labeling-pool answers (2026-12-02): 4.2 s of shared work, then 0.55 s per subsampling repeat."""
    return pool_answers(run) * (CURVE_SECONDS_PER_ANSWER + CURVE_SECONDS_PER_ANSWER_REPEAT * params["repeats"])


def cost_quality_curve(
    run: Run,
    max_overlap: int | None = None,
    repeats: int = 5,
    seed: int = 0,
    method: str = "mv",
    simulations: int = DEFAULT_SIMULATIONS,
    max_tasks: int | None = 200_000,
) -> CostQualityCurve:
    """Accuracy, agreement with the full aggregate and cost per final label at overlap 1 … K, by
    subsampling each task's answers (``repeats`` times, seeded by ``seed``), plus a model-based
    projection to K + 2 (see the module docstring for the formulas and the model's assumptions).

    ``max_overlap`` is K; by default the run's typical overlap, the most common number of answers
    per aggregated task (the smaller one on a tie). ``method`` is the aggregator; majority vote
    (``"mv"``) is the one whose result depends only on each task's own answers, which is what
    makes the subsampled points comparable. Raises MetricUnavailable when the labeling pool has
    no labeled answer.

    ``max_tasks`` bounds the work on very large runs: beyond it, every task with a known answer
    (control or truth) is kept and the other tasks are a sample chosen by a hash of their ids
    (the same whatever the row order); ``tasks_sampled_from`` then says how many there were.
    Accuracy is measured on the known-answer tasks, which are all kept, so only the agreement
    with the full aggregate and the tie share are estimated from the sample.
    """
    func = "cost_quality_curve"
    if method not in METHODS:
        raise ValueError(
            f"The 'method' parameter of {func} must be one of {', '.join(METHODS)}. Got {method!r} instead."
        )
    repeats = check_int(repeats, "repeats", func, low=1)
    seed = check_int(seed, "seed", func, low=0)
    simulations = check_int(simulations, "simulations", func, low=100)
    rows = pool_rows(run)
    ts = _select_tasks(run, rows, max_overlap, max_tasks, func)
    T, K = ts.tasks, ts.max_overlap
    t, lab = _canonical_answers(run, rows, T)
    known = _known_labels(run, T)
    per_repeat = _subsampled_repeats(t, lab, known, len(T), run.codes.n_labels, K, repeats, seed)
    cost = _cost_model(run)
    ks = range(1, K + PROJECTED_STEPS + 1)
    model_acc, model_se, model_note = _model(run, rows, known.gold, ks, simulations, seed)
    points = _points_table(per_repeat, ks, K, len(T), known, (model_acc, model_se), cost)
    return CostQualityCurve(
        points=points,
        per_repeat=per_repeat,
        method=method,
        max_overlap=K,
        typical_overlap=ts.typical_overlap,
        repeats=repeats,
        seed=seed,
        simulations=simulations,
        tasks=int(len(T)),
        tasks_left_out=int(ts.answered - (ts.sampled_from if ts.sampled_from is not None else len(T))),
        tasks_sampled_from=ts.sampled_from,
        currency=cost.currency,
        cost_per_answer=cost.per_answer,
        cost_missing=cost.missing,
        variable_spend=cost.variable,
        fixed_spend=cost.fixed,
        final_labels=cost.final_labels,
        model_note=model_note,
    )


__all__ = ["CostQualityCurve", "cost_quality_curve", "MODEL_ASSUMPTIONS", "PRIOR_STRENGTH", "OBSERVED", "PROJECTED"]
