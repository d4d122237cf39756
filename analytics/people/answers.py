"""One annotator's, one task's or one exam item's answers for the people pages, and the exam items' verdicts."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics.metrics import registry, speed
from analytics.metrics._base import name_rank, per_run_cache, position
from analytics.metrics.exam import HARD_GAP
from analytics.model import Run
from analytics.people._codes import task_code, worker_code

# exam item verdicts (from exam_item_pass_rate's ``reading``) in the words of the Exam page
VERDICTS = ("trap", "check item", "works", "easy", "too few answers")


def _seconds_per_task(run: Run, rows: np.ndarray) -> np.ndarray:
    """Seconds per task of each row's suite (speed.suites: NaN for a suite never submitted, without
    times, or submitted before it began; NaN for a row without a suite)."""
    s = speed.suites(run)
    per_code = np.full(len(run.answers["assignment_id"].cat.categories) + 1, np.nan)  # last slot: no suite (code -1)
    per_code[s["assignment_code"].to_numpy()] = s["seconds_per_task"].to_numpy()
    return per_code[run.answers["assignment_id"].cat.codes.to_numpy()[rows]]


_CHECKS = pd.CategoricalDtype(["right", "wrong", ""])


@per_run_cache
def _truth_per_task(run: Run) -> tuple[np.ndarray, pd.CategoricalDtype]:
    """(per task code the code of its truth label in the dtype, -1 without; the dtype: the run's
    labels in order, then any truth label outside them, sorted). As control.accuracy_vs_truth
    reads run.truth: its first non-missing label per task."""
    c = run.codes
    extra: list[str] = []
    out = np.full(c.n_tasks, -1, dtype=np.int64)
    truth = run.truth
    if truth is not None and len(truth):
        t = truth[truth.notna()]
        t = t[~t.index.astype(str).duplicated()]
        text = pd.Index(t.astype(str).to_numpy())
        extra = sorted(set(text) - set(c.labels))
        dtype = pd.CategoricalDtype(list(c.labels) + extra)
        pos = c.task_names.get_indexer(t.index.astype(str))
        known = pos >= 0
        out[pos[known]] = dtype.categories.get_indexer(text[known])
        return out, dtype
    return out, pd.CategoricalDtype(list(c.labels))


def _truth_columns(run: Run, rows: np.ndarray) -> dict[str, pd.Categorical]:
    """``truth`` (the task's truth label) and ``truth_check`` ("right" / "wrong" for a labeled
    answer on a task with truth, else "") of the answers at ``rows``."""
    per_task, dtype = _truth_per_task(run)
    truth = per_task[run.codes.task[rows]]
    lab = run.codes.label[rows]
    # label codes index run.labels, which open the truth dtype: the codes compare directly
    graded = (lab >= 0) & (truth >= 0)
    check = np.where(graded, np.where(lab == truth, 0, 1), 2).astype(np.int8)
    return {
        "truth": pd.Categorical.from_codes(truth, dtype=dtype),
        "truth_check": pd.Categorical.from_codes(check, dtype=_CHECKS),
    }


def _answers_frame(run: Run, rows: np.ndarray) -> pd.DataFrame:
    """The answers at ``rows``. Text columns stay categoricals of the run (a gather of integer
    codes: one annotator can have millions of answers, and turning each into a string costs
    seconds); compare and filter them as strings, and convert the rows you display."""
    a = run.answers
    c = run.codes
    lab, gold = c.label[rows], c.golden[rows]
    graded = (lab >= 0) & (gold >= 0)
    correct = pd.array(np.where(graded, lab == gold, False), dtype="boolean")
    correct[~graded] = pd.NA
    check = np.where(graded, np.where(lab == gold, 0, 1), 2).astype(np.int8)
    out = pd.DataFrame(
        {
            **{
                col: a[col].array.take(rows)
                for col in ("task_id", "worker_id", "kind", "pool_id", "assignment_id", "status", "label", "golden")
            },
            "correct": correct,
            "check": pd.Categorical.from_codes(check, dtype=_CHECKS),
            **_truth_columns(run, rows),
            "started_at": a["started_at"].array.take(rows),
            "submitted_at": a["submitted_at"].array.take(rows),
            "seconds_per_task": _seconds_per_task(run, rows),
        }
    )
    return out


def _local_rank(codes: np.ndarray, names: pd.Index) -> np.ndarray:
    """Rank of each code's name in text order among the codes given (codes >= 0): sorting an
    annotator's few thousand rows needs their names ranked, not the run's millions."""
    present, inverse = np.unique(codes, return_inverse=True)
    return name_rank(names.take(present))[inverse]


@per_run_cache
def _tasks_in_code_order(run: Run) -> bool:
    """Whether run.tasks lists the tasks in code order (as the readers build it): one comparison,
    no hash table of millions of task ids."""
    return run.tasks.index.equals(run.codes.task_names)


def _task_input_rows(run: Run, t: np.ndarray) -> np.ndarray:
    """Row of run.tasks for each task code in ``t`` (-1 for a task without inputs)."""
    if _tasks_in_code_order(run):
        return t
    present, inverse = np.unique(t, return_inverse=True)
    return run.tasks.index.get_indexer(run.codes.task_names.take(present))[inverse]


def annotator_answers(
    run: Run, worker_id: str, aggregations: Mapping[str, Any] | None = None, methods: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Every answer one annotator gave, with the task's inputs and the aggregated labels.

    One row per answer, in submission order (then assignment and task id; answers without a
    submit time last). Columns: ``task_id``, ``kind``, ``pool_id``, ``assignment_id``,
    ``status``, ``label``, ``golden`` (categoricals), ``correct`` (label == golden, missing where
    either is), ``check`` ("right" / "wrong" where graded, else ""), ``truth`` (the task's label
    in the run's truth file, missing without one) and ``truth_check`` ("right" / "wrong" against
    it where the answer has a label and the task a truth label, else ""), ``started_at``,
    ``submitted_at``, ``seconds_per_task`` (their suite's seconds over its answers, as
    speed.assignment_speed); one ``input_<field>`` column per task input field (run.tasks); and
    for each ``aggregations`` entry {name: Aggregation}: ``<name>_label`` and
    ``<name>_confidence`` (missing on tasks outside the labeling pool, e.g. exam items); and the
    same for each aggregation method in ``methods`` (computed through the registry, so shared
    with every other figure built on it). Raises ValueError for an annotator not in the run.
    """
    aggregations = dict(aggregations or {})
    for m in methods:
        aggregations.setdefault(m, registry.compute(run, "aggregate", method=m))
    w = worker_code(run, worker_id, "annotator_answers")
    rows = np.flatnonzero(run.codes.worker == w)
    t = run.codes.task[rows]
    out = _answers_frame(run, rows).drop(columns="worker_id")
    if len(run.tasks.columns):
        at = _task_input_rows(run, t)
        for field in run.tasks.columns:
            out[f"input_{field}"] = run.tasks[field].array.take(at, allow_fill=True)
    for name, agg in (aggregations or {}).items():
        code = agg.codes[t]
        out[f"{name}_label"] = pd.Categorical.from_codes(
            np.where(code >= 0, code, -1), dtype=run.answers["label"].dtype
        )
        confidence = np.full(len(agg.codes), np.nan)
        confidence[agg.codes >= 0] = agg.labels[
            "confidence"
        ].to_numpy()  # labels: the tasks with codes >= 0, in code order
        out[f"{name}_confidence"] = confidence[t]
    submitted = out["submitted_at"].to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))
    when = np.where(np.isnat(submitted), np.iinfo(np.int64).max, submitted.view(np.int64))  # not submitted: last
    suite = run.answers["assignment_id"].cat.codes.to_numpy()[rows].astype(np.int64)
    suite_rank = np.zeros(len(suite), dtype=np.int64)  # 0: no suite (first)
    has_suite = suite >= 0
    suite_rank[has_suite] = _local_rank(suite[has_suite], run.answers["assignment_id"].cat.categories) + 1
    within = suite_rank * max(1, len(t)) + _local_rank(t, run.codes.task_names)  # (suite, task) in text order
    order = np.lexsort((within, when))
    return out.iloc[order].reset_index(drop=True)


def task_answers(run: Run, task_id: str) -> pd.DataFrame:
    """Every answer given to one task, with who gave it and how long their suite took.

    One row per answer, in submission order (then worker id). Columns as annotator_answers
    (without inputs and aggregates; ``truth`` is the task's truth label on every row) plus
    ``worker_id``. Raises ValueError for an unknown task.
    """
    t = task_code(run, task_id, "task_answers")
    rows = np.flatnonzero(run.codes.task == t)
    out = _answers_frame(run, rows).drop(columns="task_id")
    order = np.lexsort(
        (out["worker_id"].astype(str).to_numpy(), out["submitted_at"].isna().to_numpy(), out["submitted_at"].to_numpy())
    )
    return out.iloc[order].reset_index(drop=True)


def exam_item_answers(run: Run, task_id: str, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The exam answers to one exam item, wrong ones first, with each candidate's exam score.

    Columns as task_answers plus ``exam_score`` and ``exam_passed`` (exam.exam_scores; pass
    ``scores`` to reuse a computed one). Sorted by correct (wrong first), label, worker id.
    Raises ValueError for an unknown task.
    """
    out = task_answers(run, task_id)
    out = out[out["kind"] == "exam"]
    if scores is None:
        scores = registry.compute(run, "exam_scores")
    out = out.assign(
        exam_score=scores["score"].reindex(out["worker_id"]).to_numpy(),
        exam_passed=pd.array(scores["passed"].reindex(out["worker_id"]).to_numpy(), dtype="boolean"),
    )
    key = out["correct"].astype("float64").fillna(2.0)
    return (
        out.assign(_k=key.to_numpy(), _w=out["worker_id"].astype(str))
        .sort_values(["_k", "label", "_w"], kind="stable")
        .drop(columns="_w")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def item_verdicts(items: pd.DataFrame) -> pd.DataFrame:
    """exam_item_pass_rate's readings in short words, and which items have a low pass rate.

    Returns ``items``' index with ``verdict`` (one of VERDICTS: "trap" — a hard item whose
    positive discrimination says it works as meant; "check item" — nobody passes, no golden, or
    discrimination <= 0, i.e. ambiguous or a wrong golden label; "easy"; "too few answers";
    "works") and ``low_pass_rate`` = pass_rate <= median item pass rate − exam.HARD_GAP.
    """
    reading = items["reading"].astype(str)
    verdict = np.select(
        [
            reading.str.startswith("too few"),
            reading.str.contains("trap"),
            reading.str.startswith(("nobody", "no golden", "ambiguous")),
            reading.str.startswith("easy"),
        ],
        ["too few answers", "trap", "check item", "easy"],
        default="works",
    )
    rate_ = items["pass_rate"].to_numpy(dtype=np.float64)
    median = np.nanmedian(rate_) if np.isfinite(rate_).any() else np.nan
    return pd.DataFrame({"verdict": verdict, "low_pass_rate": rate_ <= median - HARD_GAP}, index=items.index)


def exam_item_verdicts(run: Run) -> pd.DataFrame:
    """:func:`item_verdicts` of the run's exam items (exam_item_pass_rate)."""
    return item_verdicts(registry.compute(run, "exam_item_pass_rate"))


def task_inputs(run: Run, task_id: str) -> dict[str, Any] | None:
    """One task's input fields ({field: value}), or None when the run lists none for it. A large
    version's texts not read yet stay unread: only the part of the file holding the task is."""
    return run.task_inputs(task_id, position(run.codes.task_names, task_id))
