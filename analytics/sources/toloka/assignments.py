"""Toloka assignments (task suites with their tasks and solutions) as canonical answer rows.

An assignment's API names (``assignment.user_id``, ``tasks[].known_solutions``,
``first_declined_solution_attempt``) are known here; the rows are built page by page, with the
per-assignment values stored once and repeated only when the frame is made.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from typing import Callable

import numpy as np
import pandas as pd

from analytics.model import KINDS, ProblemList, ValidationError
from analytics.model.times import utc_stamps
from analytics.sources.toloka._values import Labels, ns
from analytics.sources.toloka._values import enum as _enum
from analytics.sources.toloka.client import iterate

# Assignments per request: the API allows up to 100,000; a suite of ten tasks is a few KiB of
# JSON, so 2,000 keeps a page to a few MiB and 10^5 assignments to 50 requests.
ASSIGNMENT_BATCH = 2000
TASK_BATCH = 5000
# toloka-kit turns about a thousand 10-task assignments a second into objects: 10^5 take minutes,
# so readers report progress (pool id, assignments read) this often
PROGRESS_EVERY = 1000
Progress = Callable[[str, int], None]
# statuses whose assignments become answer rows (ACTIVE suites have no answer yet)
ANSWER_STATUSES = ("SUBMITTED", "ACCEPTED", "REJECTED", "SKIPPED", "EXPIRED")

# what each canonical column is called in the API, for validation messages
API_FIELDS = {
    "assignment_id": "assignment.id",
    "task_id": "assignment.tasks[].id",
    "worker_id": "assignment.user_id",
    "status": "assignment.status",
    "started_at": "assignment.created",
    "submitted_at": "assignment.submitted",
    "reward": "assignment.reward",
    "pool_id": "assignment.pool_id",
    "kind": "assignment.tasks[].known_solutions / message_on_unknown_solution",
}


def problem(file: str, message: str, fix: str, column: str | None = None) -> ValidationError:
    """A ValidationError with one problem of ``file``."""
    problems = ProblemList(file)
    problems.add(message, fix, column=column)
    return ValidationError(problems.errors)


def task_id(task, to_label: Labels) -> str | None:
    """The task's id; without one (as in Toloka's TSV without task_id) its input values."""
    tid = getattr(task, "id", None)
    if tid:
        return str(tid)
    values = getattr(task, "input_values", None) or {}
    if not values:
        return None
    if len(values) == 1:
        return to_label(next(iter(values.values())))
    return " | ".join(to_label(values[k]) or "" for k in sorted(values))


def golden(task, label_field: str, to_label: Labels) -> tuple[str | None, bool]:
    """(known correct label, has several known solutions) of a control/training task.

    With several known solutions, the one with the highest correctness_weight (the first among
    equals) is the golden label: the canonical run holds one correct label per task.
    """
    sols = getattr(task, "known_solutions", None) or []
    best, best_w = None, None
    for s in sols:
        values = getattr(s, "output_values", None) or {}
        if label_field not in values:
            continue
        w = getattr(s, "correctness_weight", None)
        w = 1.0 if w is None else float(w)
        if best_w is None or w > best_w:
            best, best_w = values[label_field], w
    return (to_label(best) if best_w is not None else None), len(sols) > 1


def _answer(solution, first_declined, hint: bool, field_name: str | None):
    """The annotator's answer to one task: a training task's first (declined) answer is what the
    annotator knew; the final one was given after seeing the hint."""
    out = getattr(solution, "output_values", None) if solution is not None else None
    if out is None or field_name is None:
        return None
    value = out.get(field_name)
    if hint and first_declined is not None:
        declined = getattr(first_declined, "output_values", None) or {}
        if field_name in declined:
            value = declined[field_name]
    return value


class Rows:
    """Answer rows accumulated page by page: per-assignment values once, per-task values per row."""

    def __init__(self, label_field: str | None):
        self.label_field = label_field
        self.to_label = Labels()
        # per assignment
        self.assignment_id: list[str | None] = []
        self.worker_id: list[str | None] = []
        self.status: list[str | None] = []
        self.pool_id: list[str | None] = []
        self.reward = array("d")
        self.started = array("q")
        self.submitted = array("q")
        self.n_rows = array("q")
        # per row
        self.task_id: list[str | None] = []
        self.label: list[str | None] = []
        self.golden: list[str | None] = []
        self.hint = array("b")
        self.inputs: dict[str, dict] = {}
        self.several_known: set[str] = set()  # tasks with more than one known solution
        self.any_known = False
        self.task_ids_missing = False

    def _add_task(self, t, solution, first_declined) -> None:
        tid = task_id(t, self.to_label)
        if getattr(t, "id", None) in (None, ""):
            self.task_ids_missing = True
        hint = bool(getattr(t, "message_on_unknown_solution", None))
        value = _answer(solution, first_declined, hint, self.label_field)
        known, several = (None, False)
        if self.label_field is not None and getattr(t, "known_solutions", None):
            known, several = golden(t, self.label_field, self.to_label)
            self.any_known = True
        if several and tid is not None:
            self.several_known.add(tid)
        self.task_id.append(tid)
        self.label.append(self.to_label(value))
        self.golden.append(known)
        self.hint.append(1 if hint else 0)
        if tid is not None and tid not in self.inputs:
            self.inputs[tid] = getattr(t, "input_values", None) or {}

    def add(self, a) -> None:
        """One assignment's rows (one per task); an assignment without tasks adds nothing."""
        tasks = a.tasks or []
        sols = a.solutions or []
        first = a.first_declined_solution_attempt or []
        for i, t in enumerate(tasks):
            self._add_task(t, sols[i] if i < len(sols) else None, first[i] if i < len(first) else None)
        if not tasks:
            return
        self.assignment_id.append(a.id)
        self.worker_id.append(a.user_id or None)
        self.status.append(_enum(a.status))
        self.pool_id.append(str(a.pool_id) if a.pool_id else None)
        self.reward.append(float(a.reward) if a.reward is not None else math.nan)
        self.started.append(ns(a.created))
        self.submitted.append(ns(a.submitted))
        self.n_rows.append(len(tasks))

    def frame(self) -> pd.DataFrame:
        """The rows so far, with categorical text columns and UTC times, plus ``_hint``."""
        reps = np.frombuffer(self.n_rows, dtype=np.int64) if len(self.n_rows) else np.zeros(0, dtype=np.int64)

        def per_assignment(values) -> pd.Series:
            cat = pd.Categorical(values)
            codes = np.repeat(cat.codes, reps)
            return pd.Series(pd.Categorical.from_codes(codes, categories=cat.categories.astype("str"), validate=False))

        def times(values: array) -> pd.Series:
            ints = np.repeat(
                np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64), reps
            )
            return pd.Series(utc_stamps(ints), copy=False)

        reward = np.repeat(np.frombuffer(self.reward, dtype=np.float64) if len(self.reward) else np.zeros(0), reps)
        hint = np.frombuffer(self.hint, dtype=np.int8).astype(bool) if len(self.hint) else np.zeros(0, dtype=bool)
        return pd.DataFrame(
            {
                "assignment_id": per_assignment(self.assignment_id),
                "task_id": pd.Categorical(self.task_id),
                "worker_id": per_assignment(self.worker_id),
                "label": pd.Categorical(self.label),
                "golden": pd.Categorical(self.golden),
                "status": per_assignment(self.status),
                "pool_id": per_assignment(self.pool_id),
                "started_at": times(self.started),
                "submitted_at": times(self.submitted),
                "reward": pd.Series(reward, dtype="float64"),
                "_hint": hint,
            }
        )

    def tasks_frame(self) -> pd.DataFrame:
        """task_id and the input fields of every task seen."""
        if not self.inputs:
            return pd.DataFrame({"task_id": pd.Series(dtype="str")})
        names = list(dict.fromkeys(k for v in self.inputs.values() for k in v))
        data: dict[str, list] = {"task_id": list(self.inputs)}
        for k in names:
            data[k] = [self.to_label(v.get(k)) for v in self.inputs.values()]
        return pd.DataFrame(data)


def read_rows(
    client, pool_id: str, label_field: str | None, *, file: str, batch_size: int, progress: Progress | None
) -> Rows:
    """Every answered assignment of the pool as rows.

    Without a declared output field (``label_field`` None), assignments are held until one
    carries an answer: its output field is the label (several fields: a ValidationError).
    """
    rows = Rows(label_field)
    pending: list = []
    pages = client.get_assignments(pool_id=pool_id, status=list(ANSWER_STATUSES), batch_size=batch_size)
    n_read = 0
    for a in iterate(client, f"reading the assignments of pool {pool_id}", pages):
        n_read += 1
        if progress is not None and n_read % PROGRESS_EVERY == 0:
            progress(pool_id, n_read)
        if rows.label_field is not None:
            rows.add(a)
            continue
        pending.append(a)
        fields = list(dict.fromkeys(k for s in a.solutions or [] for k in (getattr(s, "output_values", None) or {})))
        if len(fields) > 1:
            raise problem(
                file,
                "the answers have several output fields: " + ", ".join(fields) + ".",
                f"name the one that holds the label with label_field= (CLI: --label-field {fields[0]}).",
            )
        if fields:
            rows = Rows(fields[0])
            for b in pending:
                rows.add(b)
            pending = []
    for b in pending:
        rows.add(b)
    if progress is not None:
        progress(pool_id, n_read)
    return rows


def known_from_tasks(
    client, pool_id: str, label_field: str, batch_size: int = TASK_BATCH
) -> tuple[dict[str, str], set[str], set[str]]:
    """Golden label per task id, the training tasks, and those with several known solutions,
    read from the pool's tasks."""
    to_label = Labels()
    known: dict[str, str] = {}
    training: set[str] = set()
    several: set[str] = set()
    what = f"reading the tasks of pool {pool_id} for their known solutions"
    for t in iterate(client, what, client.get_tasks(pool_id=str(pool_id), batch_size=batch_size)):
        if not getattr(t, "known_solutions", None):
            continue
        g, many = golden(t, label_field, to_label)
        tid = task_id(t, to_label)
        if many and tid is not None:
            several.add(tid)
        if g is not None and tid is not None:
            known[tid] = g
            if getattr(t, "message_on_unknown_solution", None):
                training.add(tid)
    return known, training, several


def with_kinds(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``kind`` per row: every answer of an exam / training pool is of that kind; elsewhere a task
    with a hint is training, one with a golden label control, the rest regular. Drops ``_hint``."""
    if kind in ("exam", "training"):
        kinds = np.full(len(frame), KINDS.index(kind), dtype=np.int8)
    else:
        has_golden = frame["golden"].notna().to_numpy()
        kinds = np.where(
            frame["_hint"].to_numpy(),
            KINDS.index("training"),
            np.where(has_golden, KINDS.index("control"), KINDS.index("regular")),
        ).astype(np.int8)
    frame["kind"] = pd.Categorical.from_codes(kinds, categories=list(KINDS))
    return frame.drop(columns="_hint")


def api_columns(rows: Rows) -> dict[str, str]:
    """The API name of each canonical column, for validation messages."""
    name = rows.label_field
    columns = dict(API_FIELDS)
    if rows.task_ids_missing:
        columns["task_id"] = "assignment.tasks[].id (else input_values)"
    columns["label"] = (
        f"assignment.solutions[].output_values.{name}" if name else "assignment.solutions[].output_values"
    )
    columns["golden"] = (
        f"assignment.tasks[].known_solutions[].output_values.{name}" if name else "assignment.tasks[].known_solutions"
    )
    return columns


def with_assignment_ids(err: ValidationError, frame: pd.DataFrame) -> ValidationError:
    """Name the assignments behind each problem: API rows have no line numbers to show."""
    ids = frame["assignment_id"].astype("str").to_numpy()
    problems = []
    for p in err.problems:
        if p.rows:
            idx = np.asarray(p.rows, dtype=np.int64) - 2  # build_run numbers row i as line i + 2
            idx = idx[(idx >= 0) & (idx < len(ids))]
            found = list(dict.fromkeys(str(x) for x in ids[idx]))
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5:,} more" if len(found) > 5 else "")
            noun = "assignment" if len(found) == 1 else "assignments"
            p = dataclasses.replace(p, rows=(), message=f"{p.message} In {noun} {shown}.")
        problems.append(p)
    return ValidationError(problems)
