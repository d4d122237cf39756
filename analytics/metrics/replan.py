"""The re-annotation plan: which tasks to send back for more answers to fix the most labels per unit of money.

Model (documented, one-coin): the next answers come from this pool's annotators, each picked in
proportion to the answers they gave; an annotator of accuracy a_w gives the right label with
probability a_w and each other label with (1 - a_w) / (L - 1). With who answers unknown, one new
answer is the same symmetric channel with the pool's mean accuracy a = sum_w s_w a_w (s_w: answer
share). Accuracies (:func:`annotator_accuracy`): accuracy on control tasks where an annotator has
``min_control`` control answers, else the one-coin Dawid-Skene skill.

For a task with current posterior pi (the aggregator's probabilities) and label c, k more answers
fall into one of the C(k + L - 1, L - 1) count vectors n; with true label y, P(n | y) is the
multinomial with a on y. The new label is argmax_z log pi_z + n_z log(a / b), b = (1 - a) / (L - 1)
(the Bayesian update; ties to the label listed first, as everywhere). Then

* ``p_fix``   = sum_{y != c} pi_y P(new label = y | y): the chance the k answers make it right,
* ``p_break`` = pi_c P(new label != c | c): the chance they make a right label wrong,
* ``expected_fix`` = p_fix - p_break (a task's fix count is +1, 0 or -1).

Tasks are ranked by expected fixes per unit of money (every task costs k answers, so by expected
fix); the budget buys the top ones plus the control tasks asked for (``control_share`` of the
suites' tasks, drawn with ``seed`` from the tasks with a known golden label). The interval of the
plan's expected fixes is the normal one of a sum of independent {-1, 0, +1} variables.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, ndtri

from analytics.metrics import aggregation as agg_module
from analytics.metrics._base import MetricUnavailable, check_float, check_int, kind_mask
from analytics.metrics.aggregation import Aggregation, golden_codes, pool_codes
from analytics.model import Run

ACCURACY_SOURCES = ("auto", "control", "onecoin")
MAX_COMPOSITIONS = 20_000  # count vectors of k answers over L labels enumerated exactly
CHUNK_CELLS = 4_000_000  # tasks x count vectors x labels per step (memory bound)


# ---- the annotators' accuracies


def annotator_accuracy(run: Run, source: str = "auto", min_control: int = 5) -> pd.DataFrame:
    """Each labeling-pool annotator's estimated accuracy and answer share (the planner's pool).

    Index ``worker_id``; columns ``answers`` (labeling-pool answers), ``share``, ``control_answers``,
    ``control_accuracy``, ``onecoin_skill`` (one-coin Dawid-Skene), ``accuracy`` (the one used:
    see the module's docstring; ``source`` ``control`` or ``onecoin`` forces one, falling back
    to the other where missing) and ``accuracy_source``.
    """
    if source not in ACCURACY_SOURCES:
        raise ValueError(f"The 'source' parameter must be one of {ACCURACY_SOURCES}. Got {source!r} instead.")
    min_control = check_int(min_control, "min_control", "annotator_accuracy", low=1)
    c = run.codes
    _, _, w, _ = pool_codes(run)
    answers = np.bincount(w, minlength=c.n_workers)
    ctrl = kind_mask(run, "control") & (c.label >= 0) & (c.golden >= 0)
    n_ctrl = np.bincount(c.worker[ctrl], minlength=c.n_workers)
    k_ctrl = np.bincount(c.worker[ctrl], weights=c.label[ctrl] == c.golden[ctrl], minlength=c.n_workers)
    workers = np.flatnonzero(answers)
    onecoin = agg_module.aggregate(run, "onecoin").worker_skill
    names = c.worker_names.take(workers)
    skill = onecoin.reindex(names).to_numpy(dtype=np.float64)
    ctrl_acc = np.where(n_ctrl[workers] > 0, k_ctrl[workers] / np.maximum(n_ctrl[workers], 1), np.nan)
    enough = n_ctrl[workers] >= min_control
    use_control = enough if source != "onecoin" else np.isnan(skill)
    if source == "control":
        use_control = enough | np.isnan(skill)
    use_control &= ~np.isnan(ctrl_acc)
    out = pd.DataFrame(
        {
            "answers": answers[workers].astype(np.int64),
            "share": answers[workers] / answers.sum(),
            "control_answers": n_ctrl[workers].astype(np.int64),
            "control_accuracy": ctrl_acc,
            "onecoin_skill": skill,
            "accuracy": np.where(use_control, ctrl_acc, skill),
            "accuracy_source": np.where(use_control, "control", "onecoin"),
        },
        index=pd.Index(np.asarray(names, dtype=object), name="worker_id", dtype="str"),
    )
    return out.sort_index()


def pool_accuracy(table: pd.DataFrame) -> float:
    """The answer-weighted mean accuracy of an :func:`annotator_accuracy` table (NaN rows left out)."""
    ok = table["accuracy"].notna()
    if not ok.any():
        return float("nan")
    s = table.loc[ok, "share"]
    return float((table.loc[ok, "accuracy"] * s).sum() / s.sum())


# ---- the chance that k more answers fix a label


def compositions(k: int, n_labels: int) -> np.ndarray:
    """Every count vector of k answers over n_labels labels, (C, n_labels) int64."""
    combos = itertools.combinations_with_replacement(range(n_labels), k)
    return np.array([np.bincount(cb, minlength=n_labels) for cb in combos], dtype=np.int64).reshape(-1, n_labels)


def fix_probabilities(
    probas: np.ndarray, current: np.ndarray, accuracy: float, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p_fix, p_break, p_right_after) per task for k more answers of a pool of mean ``accuracy``.

    ``probas``: (n, L) current posteriors; ``current``: (n,) label codes. See the module's docstring.
    """
    n, n_labels = probas.shape
    if n_labels < 2 or n == 0:
        zero = np.zeros(n)
        return zero, zero.copy(), probas[np.arange(n), current] if n else zero.copy()
    a = float(np.clip(accuracy, 1e-9, 1 - 1e-9))
    b = (1.0 - a) / (n_labels - 1)
    comp = compositions(k, n_labels)
    if len(comp) > MAX_COMPOSITIONS:
        # a figure the run's size of label set cannot give: unavailable with the reason, never a crash
        raise MetricUnavailable(
            f"{k} more answers over {n_labels} labels make {len(comp):,} count vectors (at most {MAX_COMPOSITIONS:,}): "
            "ask for fewer answers per task; a run of numbers is better re-annotated on its scale"
        )
    log_coef = gammaln(k + 1) - gammaln(comp + 1).sum(axis=1)
    # P(count vector | true label y): (C, L)
    like = np.exp(log_coef[:, None] + comp * np.log(a) + (k - comp) * np.log(b))
    shift = comp * np.log(a / b)  # (C, L)
    with np.errstate(divide="ignore"):
        logp = np.log(np.clip(probas, 0.0, 1.0))
    right = np.empty((n, n_labels))
    step = max(1, CHUNK_CELLS // (len(comp) * n_labels))
    for lo in range(0, n, step):
        block = logp[lo : lo + step]
        new = np.argmax(block[:, None, :] + shift[None, :, :], axis=2)  # (m, C): the label after
        hit = new[:, :, None] == np.arange(n_labels)[None, None, :]  # (m, C, L)
        right[lo : lo + step] = np.einsum("mcl,cl->ml", hit, like)  # P(new = y | true y)
    rows = np.arange(n)
    p_right_after = (probas * right).sum(axis=1)
    p_break = probas[rows, current] * (1.0 - right[rows, current])
    p_fix = p_right_after - probas[rows, current] + p_break
    return np.clip(p_fix, 0, 1), np.clip(p_break, 0, 1), p_right_after


def fix_chances(
    run: Run, aggregation: Aggregation, answers_per_task: int = 3, accuracy_source: str = "auto"
) -> pd.DataFrame:
    """Every aggregated task's chance that ``answers_per_task`` more answers fix (or break) its label.

    Index ``task_id``; columns ``label``, ``confidence``, ``answers``, ``p_fix``, ``p_break``,
    ``expected_fix`` (= p_fix - p_break), ``p_right_after``; highest expected fix first (ties by
    task id). The pool's mean accuracy used is in ``attrs["pool_accuracy"]``.
    """
    k = check_int(answers_per_task, "answers_per_task", "fix_chances", low=1, high=50)
    acc = pool_accuracy(annotator_accuracy(run, accuracy_source))
    if not np.isfinite(acc):
        raise MetricUnavailable("no annotator of the labeling pool has an estimated accuracy")
    lab = aggregation.labels
    probas = aggregation.probas.to_numpy(dtype=np.float64)
    current = aggregation.codes[aggregation.codes >= 0]
    p_fix, p_break, after = fix_probabilities(probas, current, acc, k)
    out = pd.DataFrame(
        {
            "label": lab["label"].to_numpy(),
            "confidence": lab["confidence"].to_numpy(),
            "answers": lab["answers"].to_numpy(),
            "p_fix": p_fix,
            "p_break": p_break,
            "expected_fix": p_fix - p_break,
            "p_right_after": after,
        },
        index=lab.index,
    )
    names = np.asarray(out.index, dtype=object)
    out = out.iloc[np.lexsort((names, -out["expected_fix"].to_numpy()))]
    out.attrs["pool_accuracy"] = acc
    return out


# ---- what an answer costs


@dataclass(frozen=True)
class AnswerCost:
    """What one more answer costs: ``per_answer`` (reward and fee), from the run's suites
    (``source`` ``suites``: the median paid suite's ``reward_per_suite`` and ``fee_per_suite`` over
    its ``tasks_per_suite``), else cost_breakdown's cost per answer (``breakdown``: the whole spend
    over the answers), else as given (``given``); None where unknown."""

    currency: str
    per_answer: float | None
    source: str
    reward_per_suite: float | None = None
    fee_per_suite: float | None = None
    tasks_per_suite: float | None = None
    fee_rate: float = 0.0


def answer_cost(run: Run, given: float | None = None) -> AnswerCost:
    """The cost of one more answer in this pool (see :class:`AnswerCost`)."""
    from analytics.metrics import cost

    p = run.pricing
    if given is not None:
        given = check_float(given, "cost_per_answer", "answer_cost", low=0)
        return AnswerCost(p.currency, given, "given", fee_rate=p.fee_rate)
    t = cost.assignment_cost(run)
    main = t[t["paid"] & t["reward"].notna() & (t["answers"] > 0)] if len(t) else t
    if len(main):
        reward = float(main["reward"].median())
        fee = float(main["fee"].median())
        tps = float(main["answers"].median())
        return AnswerCost(p.currency, (reward + fee) / tps, "suites", reward, fee, tps, p.fee_rate)
    b = cost.cost_breakdown(run)
    if b.cost_per_answer is not None:
        return AnswerCost(p.currency, float(b.cost_per_answer), "breakdown", fee_rate=p.fee_rate)
    return AnswerCost(p.currency, None, "unknown", fee_rate=p.fee_rate)


# ---- the plan


@dataclass(frozen=True)
class Plan:
    """A budgeted re-annotation plan.

    ``tasks``: the chosen tasks (fix_chances rows, best first, with ``cost`` and ``cumulative_cost``);
    ``control``: control tasks to mix in (index task_id, column ``golden``); ``expected_fixes`` with
    a ``level`` interval [``fixes_low``, ``fixes_high``]; money in ``currency``: ``task_cost`` (the
    chosen tasks' answers), ``control_cost``, ``total_cost``; ``cost``: what an answer costs and
    where that figure comes from; ``notes``: what the plan could not do as asked."""

    method: str
    answers_per_task: int
    control_share: float
    budget: float | None
    pool_accuracy: float
    cost: AnswerCost
    tasks: pd.DataFrame
    control: pd.DataFrame
    expected_fixes: float
    fixes_low: float
    fixes_high: float
    level: float
    task_cost: float | None
    control_cost: float | None
    total_cost: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fixes_per_money(self) -> float | None:
        return self.expected_fixes / self.total_cost if self.total_cost else None

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("tasks", "control", "cost")}
        d["cost"] = asdict(self.cost)
        d["fixes_per_money"] = self.fixes_per_money
        tasks = self.tasks.reset_index().astype(object)
        d["tasks"] = tasks.where(tasks.notna(), None).to_dict(orient="records")
        d["control"] = [{"task_id": str(t), "golden": str(g)} for t, g in self.control["golden"].items()]
        return d


def _control_tasks(run: Run, n: int, seed: int, exclude: set[str]) -> tuple[pd.DataFrame, list[str]]:
    gold = golden_codes(run)
    have = np.flatnonzero(gold >= 0)
    names = np.asarray(run.codes.task_names, dtype=object)[have]
    keep = np.array([t not in exclude for t in names], dtype=bool)
    have, names = have[keep], names[keep]
    order = np.argsort(names, kind="stable")  # independent of how the run was coded
    have, names = have[order], names[order]
    notes = []
    if n > len(have):
        notes.append(f"{n:,} control tasks asked, the version has {len(have):,} tasks with a known golden label")
        n = len(have)
    pick = np.sort(np.random.default_rng(seed).choice(len(have), size=n, replace=False)) if n else np.array([], int)
    labels = pd.Categorical.from_codes(gold[have[pick]], categories=list(run.labels))
    frame = pd.DataFrame({"golden": labels}, index=pd.Index(names[pick], name="task_id", dtype="str"))
    return frame, notes


def _n_tasks(budget: float | None, per_task: float | None, share: float, available: int) -> int:
    if budget is None:
        return available
    if not per_task:
        return available
    n = int(np.floor(budget * (1 - share) / per_task + 1e-9))
    while n > 0 and (n + int(round(n * share / (1 - share)))) * per_task > budget + 1e-9:
        n -= 1
    return max(0, min(n, available))


def reannotation_plan(
    run: Run,
    aggregation: Aggregation,
    budget: float | None = None,
    answers_per_task: int = 3,
    control_share: float = 0.0,
    cost_per_answer: float | None = None,
    accuracy_source: str = "auto",
    min_fix: float = 1e-3,
    level: float = 0.95,
    seed: int = 0,
) -> Plan:
    """The tasks to send back for ``answers_per_task`` more answers within ``budget`` (None: every
    task whose expected fix is at least ``min_fix``), the control tasks to mix in at
    ``control_share``, what it costs and how many labels it is expected to fix (see the module)."""
    func = "reannotation_plan"
    k = check_int(answers_per_task, "answers_per_task", func, low=1, high=50)
    share = check_float(control_share, "control_share", func, low=0, high=1, high_open=True)
    level = check_float(level, "level", func, low=0, high=1, low_open=True, high_open=True)
    if budget is not None:
        budget = check_float(budget, "budget", func, low=0)
    price = answer_cost(run, cost_per_answer)
    if budget is not None and price.per_answer is None:
        raise MetricUnavailable(
            "the cost of an answer is unknown (no rewards in the run): give the cost per answer to plan on a budget",
            missing_field="reward",
        )
    chances = fix_chances(run, aggregation, k, accuracy_source)
    useful = chances[chances["expected_fix"] >= min_fix]
    per_task = None if price.per_answer is None else k * price.per_answer
    chosen = useful.iloc[: _n_tasks(budget, per_task, share, len(useful))].copy()
    n_control = int(round(len(chosen) * share / (1 - share))) if share else 0
    control, notes = _control_tasks(run, n_control, seed, set(chosen.index))
    if per_task is not None:
        chosen["cost"] = per_task
        chosen["cumulative_cost"] = per_task * np.arange(1, len(chosen) + 1)
    f, b = chosen["p_fix"].to_numpy(), chosen["p_break"].to_numpy()
    mean = float((f - b).sum())
    sd = float(np.sqrt(np.clip(f + b - (f - b) ** 2, 0, None).sum()))
    z = float(ndtri(0.5 + level / 2))
    task_cost = None if per_task is None else per_task * len(chosen)
    control_cost = None if per_task is None else per_task * len(control)
    total = None if per_task is None else task_cost + control_cost
    if len(useful) < len(chances):
        notes.append(f"{len(chances) - len(useful):,} tasks are not expected to gain from {k} more answers")
    return Plan(
        aggregation.method,
        k,
        share,
        budget,
        float(chances.attrs["pool_accuracy"]),
        price,
        chosen,
        control,
        mean,
        mean - z * sd,
        mean + z * sd,
        level,
        task_cost,
        control_cost,
        total,
        tuple(notes),
    )


__all__ = [
    "ACCURACY_SOURCES",
    "AnswerCost",
    "Plan",
    "annotator_accuracy",
    "answer_cost",
    "compositions",
    "fix_chances",
    "fix_probabilities",
    "pool_accuracy",
    "reannotation_plan",
]
