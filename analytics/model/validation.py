"""build_run: the one validation of a run's input, one function per check, every problem reported at once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model.categories import category_values, drop_unused
from analytics.model.columns import (
    isin_categories,
    kind_codes,
    kinds,
    natural_key,
    pool_ids,
    rewards,
    rewards_of_categories,
    seen_labels,
    statuses,
    unseen_truth_labels,
)
from analytics.model.problems import Problem, ProblemList, ValidationError
from analytics.model.raw import RawAnswers
from analytics.model.tables import (
    KINDS,
    REQUIRED_ANSWER_COLUMNS,
    STATUSES,
    STATUSES_WITHOUT_ANSWER,
    Pricing,
    Run,
    RunMeta,
    empty_restrictions,
    restrictions_frame,
)
from analytics.model.times import placeholder_times, read_times, submitted_before_started, without_times

# --------------------------------------------------------------------------------------------
# the checks: each takes the input and what earlier steps normalised, and returns the problems it
# finds (none: an empty list), in the source's column names with the file's line numbers


def no_answers(raw: RawAnswers) -> list[Problem]:
    """Check: the input has at least one answer."""
    found = raw.problems()
    if len(raw) == 0:
        found.add(
            "there are no answers in it.",
            "export the pool's results with at least one submitted assignment, or check that "
            "the right file was chosen.",
        )
    return found.items


def missing_columns(raw: RawAnswers) -> list[Problem]:
    """Check: every required column (task, worker, label) is present."""
    found = raw.problems()
    for c in REQUIRED_ANSWER_COLUMNS:
        if not raw.has(c):
            found.add(
                f"required column {raw.src(c)} is missing.",
                f"include {raw.src(c)} in the export (Toloka: tick it under 'Download results'), "
                "or map the column that holds it.",
                column=raw.src(c),
            )
    return found.items


def answers_without_id(raw: RawAnswers, col: str) -> list[Problem]:
    """Check: every answer has a ``col`` (task_id or worker_id)."""
    found = raw.problems()
    empty = raw.text(col).cat.codes.to_numpy() < 0
    if empty.any():
        found.add(
            f"{int(empty.sum()):,} answer(s) have no {col.replace('_id', '')} id.",
            f"fill {raw.src(col)} on every row, or drop the rows that are not answers.",
            column=raw.src(col),
            lines=raw.lines(empty),
        )
    return found.items


def unknown_statuses(raw: RawAnswers, status: pd.Series) -> list[Problem]:
    """Check: every given status (after :func:`statuses`) is one of :data:`STATUSES`."""
    found = raw.problems()
    unknown = (status.cat.codes.to_numpy() >= 0) & ~isin_categories(status, STATUSES)
    if unknown.any():
        found.add(
            f"unknown assignment status on {int(unknown.sum()):,} row(s).",
            "use one of " + ", ".join(STATUSES) + " (Toloka's APPROVED is read as ACCEPTED).",
            column=raw.src("status"),
            lines=raw.lines(unknown),
            values=list(pd.unique(status[unknown].astype(str)))[:10],
        )
    return found.items


def unknown_kinds(raw: RawAnswers, kind: pd.Series | None) -> list[Problem]:
    """Check: every given task kind (after :func:`kinds`) is one of :data:`KINDS`."""
    found = raw.problems()
    if kind is None:
        return found.items
    bad_kind = (kind.cat.codes.to_numpy() >= 0) & ~isin_categories(kind, KINDS)
    if bad_kind.any():
        found.add(
            "unknown task kind.",
            "use one of " + ", ".join(KINDS) + ".",
            column=raw.src("kind"),
            lines=raw.lines(bad_kind),
            values=list(pd.unique(kind[bad_kind].astype(str)))[:10],
        )
    return found.items


def answers_without_label(raw: RawAnswers, label: pd.Series, status: pd.Series) -> list[Problem]:
    """Check: every answer has a label, except on assignments that carry none (SKIPPED/EXPIRED)."""
    found = raw.problems()
    no_label = (label.cat.codes.to_numpy() < 0) & ~isin_categories(status, STATUSES_WITHOUT_ANSWER)
    if no_label.any():
        found.add(
            f"{int(no_label.sum()):,} answer(s) have no label.",
            f"fill {raw.src('label')} (the output field holding the answer; pick it with "
            "--label-field when the export has several), or mark the assignment SKIPPED/EXPIRED.",
            column=raw.src("label"),
            lines=raw.lines(no_label),
        )
    return found.items


def labels_outside_declared_set(raw: RawAnswers, label: pd.Series, declared: Sequence[str]) -> list[Problem]:
    """Check: with a declared label set, every answer's label is in it (nothing to check without one)."""
    found = raw.problems()
    if not declared:
        return found.items
    outside = (label.cat.codes.to_numpy() >= 0) & ~isin_categories(label, declared)
    if outside.any():
        found.add(
            f"answer label outside the declared label set ({', '.join(declared)}).",
            "correct the answers or declare the full label set.",
            column=raw.src("label"),
            lines=raw.lines(outside),
            values=list(pd.unique(label[outside].astype(str)))[:10],
        )
    return found.items


def golden_outside_label_set(raw: RawAnswers, golden: pd.Series, label_set: Sequence[str]) -> list[Problem]:
    """Check: every golden (known correct) label is in the label set."""
    found = raw.problems()
    gold_outside = (golden.cat.codes.to_numpy() >= 0) & ~isin_categories(golden, label_set)
    if gold_outside.any():
        found.add(
            "golden (known correct) label is not in the label set "
            f"({', '.join(label_set[:12])}{', …' if len(label_set) > 12 else ''}).",
            "correct the golden label (a typo or a different spelling of a label), or declare "
            "the label set if this label is legitimately never chosen by annotators.",
            column=raw.src("golden"),
            lines=raw.lines(gold_outside),
            values=list(pd.unique(golden[gold_outside].astype(str)))[:10],
        )
    return found.items


def truth_outside_label_set(
    raw: RawAnswers, truth: pd.Series | None, label_set: Sequence[str], *, declared: bool
) -> list[Problem]:
    """Check: truth labels outside the label set are an error against a declared set, else a warning.

    Without a declared set, a true class no annotator chose is possible (and telling): build_run
    keeps it in the label set and this check notes it.
    """
    found = raw.problems()
    unseen = unseen_truth_labels(truth, label_set)
    if not unseen:
        return found.items
    n_rows = int((~truth.astype(str).isin(label_set)).sum())
    if declared:
        found.add(
            f"{n_rows:,} truth label(s) are not in the declared label set ({', '.join(label_set[:12])}).",
            "correct the truth file, or add the label to the declared label set.",
            column="truth",
            values=unseen[:10],
            count=n_rows,
        )
    else:
        found.add(
            f"{len(unseen):,} truth label(s) were never given by any annotator: "
            + ", ".join(unseen[:10])
            + ("…" if len(unseen) > 10 else "")
            + ".",
            "check the truth file for typos; if these are real classes, nothing to do.",
            column="truth",
            values=unseen[:10],
            count=n_rows,
            severity="warning",
        )
    return found.items


def invalid_rewards(raw: RawAnswers) -> list[Problem]:
    """Check: every given reward is a non-negative number."""
    found = raw.problems()
    if not raw.has("reward"):
        return found.items
    reward = raw.text("reward")
    parsed = rewards_of_categories(reward)
    bad_cat = np.isnan(parsed) | (parsed < 0)
    bad = category_values(reward, lambda c: bad_cat, False).astype(bool)
    if bad.any():
        found.add(
            "reward is not a non-negative number.",
            "write rewards as plain numbers in the run's currency, e.g. 0.015.",
            column=raw.src("reward"),
            lines=raw.lines(bad),
            values=list(reward.cat.categories[bad_cat][:5]),
        )
    return found.items


def duplicate_assignment_tasks(raw: RawAnswers) -> list[Problem]:
    """Check: one answer per task per assignment where the assignment is known (on integer codes, sorted)."""
    found = raw.problems()
    task = raw.text("task_id")
    a_codes = raw.text("assignment_id").cat.codes.to_numpy()
    has_a = a_codes >= 0
    if not has_a.any():
        return found.items
    key = a_codes.astype(np.int64) * (len(task.cat.categories) + 1) + task.cat.codes.to_numpy()
    if not has_a.all():
        key = key[has_a]
    if _without_repeats_in_runs(a_codes[has_a] if not has_a.all() else a_codes, key):
        return found.items
    ordered = np.sort(key)
    repeats = ordered[1:] == ordered[:-1]
    n_repeats = int(np.count_nonzero(repeats))
    if n_repeats:
        dup_mask = np.zeros(len(raw), dtype=bool)
        dup_mask[np.flatnonzero(has_a)[np.isin(key, ordered[1:][repeats])]] = True
        found.add(
            f"{n_repeats:,} duplicate (assignment, task) row(s): the same task appears twice in one assignment.",
            "remove the repeated rows (often the export was concatenated twice).",
            column=f"{raw.src('assignment_id')} + {raw.src('task_id')}",
            lines=raw.lines(dup_mask),
        )
    return found.items


def _without_repeats_in_runs(assignment: np.ndarray, key: np.ndarray, longest: int = 64) -> bool:
    """True when ``key`` (assignment * tasks + task, the rows' ``assignment`` codes beside it) has no value
    twice, seen without sorting where each assignment's rows come one after the other (as Toloka
    exports them) and none has more than ``longest``: a repeat is then fewer than ``longest`` rows
    on. False: not known this way (sort to find out)."""
    if len(key) < 2:
        return True
    if (assignment[1:] < assignment[:-1]).any():  # codes in order first met: they only rise if runs are whole
        return False
    bounds = np.flatnonzero(assignment[1:] != assignment[:-1]) + 1
    width = int(np.diff(np.concatenate(([0], bounds, [len(key)]))).max())
    if width > longest:
        return False
    return not any(np.any(key[d:] == key[:-d]) for d in range(1, width))


# --------------------------------------------------------------------------------------------
# building


@dataclass(frozen=True)
class _Checked:
    """The input's columns as normalised while they were checked, and the run's label set."""

    raw: RawAnswers
    status: pd.Series
    kind_codes: np.ndarray
    label: pd.Series
    golden: pd.Series
    started_at: pd.Series
    submitted_at: pd.Series
    label_set: list[str]


def check_answers(
    raw: RawAnswers, labels: Sequence[str] | None, truth: pd.Series | None
) -> tuple[_Checked, list[Problem]]:
    """Run every check past the first two (no answers, missing columns); problems in the input's order."""
    status, kind, label, golden = statuses(raw), kinds(raw), raw.text("label"), raw.text("golden")
    declared = [str(x) for x in labels] if labels else []
    label_set = declared or sorted(seen_labels(label), key=natural_key)
    found = [
        *answers_without_id(raw, "task_id"),
        *answers_without_id(raw, "worker_id"),
        *unknown_statuses(raw, status),
        *unknown_kinds(raw, kind),
        *answers_without_label(raw, label, status),
        *labels_outside_declared_set(raw, label, declared),
        *golden_outside_label_set(raw, golden, label_set),
        *truth_outside_label_set(raw, truth, label_set, declared=bool(declared)),
    ]
    if not declared:
        label_set = label_set + sorted(unseen_truth_labels(truth, label_set), key=natural_key)
    started, started_problems = read_times(raw, "started_at")
    raw.done_with("started_at")
    submitted, submitted_problems = read_times(raw, "submitted_at")
    raw.done_with("submitted_at")
    found += started_problems + submitted_problems + submitted_before_started(raw, started, submitted)
    found += invalid_rewards(raw)
    found += duplicate_assignment_tasks(raw)
    checked = _Checked(raw, status, kind_codes(golden, kind), label, golden, started, submitted, label_set)
    return checked, found


def _answers_frame(c: _Checked, label_dtype: pd.CategoricalDtype) -> pd.DataFrame:
    """The checked columns in compact dtypes, with a RangeIndex."""
    raw = c.raw
    return pd.DataFrame(
        {
            "assignment_id": drop_unused(raw.text("assignment_id")),
            "task_id": drop_unused(raw.text("task_id")),
            "worker_id": drop_unused(raw.text("worker_id")),
            # set_categories re-codes by value; astype would keep the old order (pandas treats
            # unordered dtypes with the same categories as equal), losing the declared tie order
            "label": c.label.cat.set_categories(label_dtype.categories),
            "kind": pd.Categorical.from_codes(c.kind_codes, dtype=pd.CategoricalDtype(KINDS)),
            "golden": c.golden.cat.set_categories(label_dtype.categories),
            "started_at": c.started_at,
            "submitted_at": c.submitted_at,
            "status": c.status.astype(pd.CategoricalDtype(STATUSES)).cat.set_categories(list(STATUSES)),
            "pool_id": drop_unused(pool_ids(raw)),
            "reward": rewards(raw),
        },
        copy=False,  # the checked columns are new already: a copy would hold them twice
    ).reset_index(drop=True)


def _even_overlap(answers: pd.DataFrame) -> int | None:
    """The overlap when every regular task has the same number of answers, else None."""
    regular = answers["kind"].cat.codes.to_numpy() == KINDS.index("regular")
    if not regular.any():
        return None
    per_task = np.bincount(answers["task_id"].cat.codes.to_numpy()[regular])
    per_task = per_task[per_task > 0]
    if len(per_task) and per_task.min() == per_task.max():
        return int(per_task[0])
    return None


def _run_meta(
    meta: RunMeta | None, label_set: Sequence[str], answers: pd.DataFrame, raw: RawAnswers, source_kind: str | None
) -> RunMeta:
    meta = meta or RunMeta()
    meta = dataclasses.replace(
        meta,
        labels=tuple(label_set),
        # the names this input gives the canonical fields win over any the meta carried
        source_fields={**meta.source_fields, **{str(k): str(v) for k, v in raw.names.items()}},
        source_kind=source_kind or meta.source_kind,
    )
    if meta.overlap is None:
        overlap = _even_overlap(answers)
        if overlap is not None:
            meta = dataclasses.replace(meta, overlap=overlap)
    return meta


def _tasks_frame(tasks: pd.DataFrame | None, task_ids: pd.Index) -> pd.DataFrame:
    """One row per task of the answers, indexed by task_id, input fields as strings.

    A reader that lists its tasks in the order of the answers' task categories (the Toloka
    reader does) has its frame kept as it is, its index the categories themselves (one copy of
    the ids in memory).
    """
    if tasks is None or len(tasks) == 0:
        return pd.DataFrame(index=pd.Index(task_ids, name="task_id"))
    frame = tasks if tasks.index.name == "task_id" else tasks.set_index("task_id")
    index = frame.index if frame.index.dtype == "str" else frame.index.astype(str)
    if index.equals(task_ids):
        frame = frame.set_axis(task_ids.rename("task_id"), axis=0)  # a new Index over the same ids
    else:
        frame = frame.set_axis(index, axis=0)
        frame = frame[~frame.index.duplicated()]
        frame = frame.reindex(task_ids)
        frame.index.name = "task_id"
    for c in frame.columns:
        if frame[c].dtype != "str":
            frame[c] = frame[c].astype("str").where(frame[c].notna())
    return frame


def _truth_series(truth: pd.Series | None, label_dtype: pd.CategoricalDtype) -> pd.Series | None:
    if truth is None:
        return None
    truth = truth.copy()
    truth.index = truth.index.astype(str)
    truth.index.name = "task_id"
    truth = truth.astype(str).astype(label_dtype)
    truth.name = "truth"
    return truth


def build_run(
    answers: pd.DataFrame,
    *,
    file: str,
    columns: Mapping[str, str] | None = None,
    tasks: pd.DataFrame | None = None,
    restrictions: pd.DataFrame | None = None,
    pricing: Pricing | None = None,
    meta: RunMeta | None = None,
    truth: pd.Series | None = None,
    labels: Sequence[str] | None = None,
    problems: ProblemList | None = None,
    source_kind: str | None = None,
    handed_over: bool = False,
) -> Run:
    """Validate canonical-named frames and return a :class:`Run`, or raise one ValidationError.

    ``answers`` uses the canonical column names (missing optional columns are filled with nulls);
    text columns may be plain strings or categoricals (readers of large files pass categoricals,
    so checks run on distinct values, not rows). An optional ``_line`` column holds each row's
    line in ``file`` for messages (else row i is line i + 2). ``columns`` maps a canonical name to
    the name the user knows it by in the file (``worker_id`` → ``ASSIGNMENT:worker_id``), so
    messages speak the file's language; it is kept as ``meta.source_fields``. ``source_kind``
    ("Toloka TSV", "long table", ...) becomes ``meta.source_kind`` when given. ``labels`` is the
    declared label set in tie order; when absent, the labels seen in the answers, sorted, are used
    and a golden label outside them is an error. ``problems`` may carry problems the reader
    already found; they are reported together. ``handed_over``: the caller makes no further use of
    ``answers``, so its columns are dropped from it once they are read (a large file's peak is lower).
    """
    problems = problems or ProblemList(file)
    raw = RawAnswers(answers, problems.file, columns, handed_over=handed_over)
    for first_check in (no_answers, missing_columns):
        found = first_check(raw)
        if found:
            problems.extend(found)
            raise ValidationError(problems.errors)

    checked, found = check_answers(raw, labels, truth)
    problems.extend(found)
    problems.raise_if_errors()

    label_dtype = pd.CategoricalDtype(pd.Index(checked.label_set, dtype="str"), ordered=False)
    frame = _answers_frame(checked, label_dtype)
    notes = list(problems.warnings)
    time_notes = placeholder_times(frame, file, raw.src)
    if time_notes:
        frame = without_times(frame)
    notes += time_notes

    return Run(
        answers=frame,
        tasks=_tasks_frame(tasks, frame["task_id"].cat.categories),
        restrictions=empty_restrictions() if restrictions is None else restrictions_frame(restrictions),
        pricing=pricing or Pricing(),
        meta=_run_meta(meta, checked.label_set, frame, raw, source_kind),
        truth=_truth_series(truth, label_dtype),
        notes=tuple(notes),
    )
