"""Reader for long tables of answers (one row per answer: task, worker, label, ...) and truth files.

Covers crowd-kit's ``task,worker,label``, the truth-inference benchmarks' ``question,worker,answer``,
MTurk-style exports and headerless files (name the columns). Column names are mapped to the
canonical ones here; unmapped columns that are constant within a task become the task's inputs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model import (
    PoolInfo,
    Pricing,
    Problem,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
)
from analytics.sources._files import Opened, Source, open_source, read_table

SOURCE_KIND = "long table"
# the keys of --columns (key=COLUMN), each with what the column holds
COLUMN_KEYS: dict[str, str] = {
    "task": "the item that was answered (task id); found by itself when named task, question, item, url, ...",
    "worker": "the annotator who answered; found when named worker, performer, annotator, rater, ...",
    "label": "the answer; found when named label, answer, response, result, ...",
    "golden": "the known correct answer of a control task (rows with one are control tasks)",
    "truth": "ground truth for evaluation only, e.g. gold on every row (kept apart from the answers)",
    "assignment": "the task suite (assignment) the answer was given in",
    "started": "when the assignment was started (ISO 8601; UTC unless an offset is given)",
    "submitted": "when the assignment was submitted (needed for speed)",
    "status": "the assignment's status: SUBMITTED, ACCEPTED (APPROVED), REJECTED, SKIPPED or EXPIRED, "
    "e.g. status=ASSIGNMENT:status",
    "reward": "what the assignment paid, in the run's currency",
    "pool": "the pool the answer belongs to",
    "kind": "the task kind: regular, control, training or exam",
}
# --columns key -> canonical field (the canonical names work as keys too)
SHORT_NAMES = {
    "task": "task_id",
    "worker": "worker_id",
    "label": "label",
    "golden": "golden",
    "truth": "truth",
    "assignment": "assignment_id",
    "started": "started_at",
    "submitted": "submitted_at",
    "status": "status",
    "reward": "reward",
    "pool": "pool_id",
    "kind": "kind",
}
# canonical name -> names it goes by in the wild (compared case-insensitively)
ALIASES: dict[str, tuple[str, ...]] = {
    "task_id": ("task", "task_id", "question", "item", "item_id", "orig_id", "url", "object", "image"),
    "worker_id": ("worker", "worker_id", "performer", "annotator", "user_id", "!amt_worker_ids", "rater"),
    "label": ("label", "answer", "response", "output", "result", "annotation"),
    "golden": ("golden", "control_label", "golden_label"),
    "truth": ("truth", "gold", "true_label", "gold_label", "ground_truth"),
    "assignment_id": ("assignment", "assignment_id"),
    "started_at": ("started", "started_at", "start", "start_time"),
    "submitted_at": ("submitted", "submitted_at", "end", "end_time", "finished_at"),
    "status": ("status",),
    "reward": ("reward",),
    "pool_id": ("pool", "pool_id"),
    "kind": ("kind",),
}
REQUIRED = ("task_id", "worker_id", "label")
TRUTH_TASK = ("task", "task_id", "question", "item", "item_id", "url", "orig_id", "object")
TRUTH_LABEL = ("label", "truth", "gold", "answer", "true_label", "gold_label")


def _canon(key: str) -> str:
    return SHORT_NAMES.get(key, key)


def _key(canonical: str) -> str:
    return next(k for k, c in SHORT_NAMES.items() if c == canonical)


def detect_columns(header: Sequence[str], raw: pd.DataFrame | None = None) -> dict[str, str]:
    """Canonical name -> file column, by the aliases above.

    Where several columns could be the task (RTE files have both ``task``, a 7-valued category,
    and ``orig_id``, the item), the one with the most distinct values wins when ``raw`` is given,
    else the first alias.
    """
    lower = {h.lower().strip(): h for h in header}
    found: dict[str, str] = {}
    used: set[str] = set()
    for canon, names in ALIASES.items():
        candidates = [lower[n] for n in names if n in lower and lower[n] not in used]
        if not candidates:
            continue
        pick = candidates[0]
        if canon == "task_id" and raw is not None and len(candidates) > 1:
            pick = max(candidates, key=lambda c: raw[c].nunique())
        found[canon] = pick
        used.add(pick)
    return found


def source_fields() -> dict[str, str]:
    """How a long table would supply each canonical field: its --columns key.

    build_run overwrites these with the file's own column names for the fields it has, so a
    message about a field the table lacks says how to map one (``submitted (--columns submitted=COL)``).
    """
    fields = {canon: f"{key} (--columns {key}=COL)" for key, canon in SHORT_NAMES.items()}
    fields["truth"] = "truth (--columns truth=COL, or a truth file)"
    return fields


def read_long_table(
    source: Source,
    *,
    columns: Mapping[str, str] | None = None,
    names: Sequence[str] | None = None,
    sep: str | None = None,
    name: str | None = None,
    labels: Sequence[str] | None = None,
    truth: pd.Series | None = None,
    pool_id: str | None = None,
    pricing: Pricing | None = None,
    meta: RunMeta | None = None,
    dedupe: bool = False,
    reward_per_answer: float | None = None,
) -> Run:
    """Read a table with one answer per row into a validated run.

    ``columns`` maps the keys of :data:`COLUMN_KEYS` (``task``, ``worker``, ``label``,
    ``golden``, ``truth``, ``assignment``, ``started``, ``submitted``, ``status``, ``reward``,
    ``pool``, ``kind``; the canonical ``_id`` / ``_at`` forms work too) to the file's column
    names; what it leaves out is found by common aliases (``question``/``item``,
    ``performer``/``annotator``, ``answer``/``response``, ...). ``names`` gives column names to
    a headerless file, e.g. ``["worker", "task", "label"]``. A ``golden`` column marks control
    tasks; a ``truth`` column (e.g. ``gold`` on every row) is ground truth for evaluation and
    becomes ``run.truth``. ``dedupe`` keeps only the first answer of a worker to a task where
    the file repeats it (repeats are otherwise kept and noted). Lines in messages are the file's
    physical lines, also where a quoted value spans several.

    Pricing: ``reward_per_answer`` is what one answer paid. Where an ``assignment`` column is
    mapped, each task suite's reward is that times its answer rows; without one, every answer
    row is its own suite (assignment id ``<file>:<line>``), as an MTurk HIT assignment of one
    item. ``pricing.reward_per_assignment`` (``--reward-per-suite``) needs an assignment column:
    without one it is an error saying so (a table without suites cannot be priced per suite).
    """
    with open_source(source, name) as opened:
        sep = sep or ("\t" if "\t" in opened.first_line else ",")
        raw, lines = _read_raw(opened, sep, names)
    mapping = _mapping(raw, opened, sep, columns, names)
    if len(raw) == 0:
        problems = ProblemList(opened.name)
        problems.add(
            "the table has no answers: there is a header line but no answer rows under it.",
            "add one line per answer (task, worker, label) under the header, or choose the file that has them.",
            lines=[1],
        )
        raise ValidationError(problems.errors)
    frame = pd.DataFrame({"_line": lines})
    for canon, col in mapping.items():
        if canon != "truth":
            frame[canon] = raw[col].to_numpy()
    frame, raw, notes = _repeats(frame, raw, dedupe, opened.name)
    if pool_id is not None:
        frame["pool_id"] = str(pool_id)
    frame, read_as = _priced(frame, mapping, pricing, reward_per_answer, opened.name)
    run = build_run(
        frame,
        file=opened.name,
        columns=read_as,
        tasks=_task_inputs(raw, mapping),
        pricing=pricing,
        meta=_run_meta(meta, frame, opened.name),
        labels=labels,
        truth=_truth(raw, mapping, truth),
        problems=ProblemList(opened.name),
        source_kind=SOURCE_KIND,
    )
    return replace(run, notes=run.notes + tuple(notes)) if notes else run


def _read_raw(opened: Opened, sep: str, names: Sequence[str] | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Every cell as text ("" as missing) and each row's physical line."""
    table, scanned = read_table(opened, sep=sep, column_names=names)
    header = names is None
    lines = scanned.lines(opened, sep, header=header)
    if lines is None:
        lines = np.arange(table.num_rows, dtype=np.int64) + (2 if header else 1)
    return table.to_pandas(), lines


def _mapping(
    raw: pd.DataFrame, opened: Opened, sep: str, columns: Mapping[str, str] | None, names: Sequence[str] | None
) -> dict[str, str]:
    """Canonical field -> file column: the ones named in ``columns``, then the aliases; raises on every problem."""
    problems = ProblemList(opened.name)
    if len(raw.columns) == 1 and sep == ",":
        problems.add(
            "only one column was found: this is not a comma- or tab-separated table.",
            "save it as CSV or TSV with one answer per line (task, worker, label).",
        )
        raise ValidationError(problems.errors)
    found = ", ".join(map(str, raw.columns))
    mapping: dict[str, str] = {}
    for key, col in (columns or {}).items():
        if _canon(key) not in ALIASES:
            problems.add(
                f"--columns names an unknown field {key!r} (as {key}={col}).",
                "use the keys " + ", ".join(COLUMN_KEYS) + " (see crowdlens import --help).",
                column=col,
            )
        elif col not in raw.columns:
            problems.add(
                f"the column {col!r} named for {key} is not in the file.", f"choose one of: {found}.", column=col
            )
        else:
            mapping[_canon(key)] = col
    for canon, col in detect_columns([str(c) for c in raw.columns], raw).items():
        if canon not in mapping and col not in mapping.values():
            mapping[canon] = col
    if not columns and not names and all(c not in mapping for c in REQUIRED):
        looks = "JSON" if opened.first_line.lstrip()[:1] in ("{", "[") else None
        problems.add(
            (f"this looks like {looks}, not a table of answers" if looks else "this is not a table of answers")
            + ": it is neither a Toloka results TSV (no ASSIGNMENT:/OUTPUT: columns) nor a long table with "
            f"task, worker and label columns (first line: {opened.first_line[:100]!r}).",
            "export the pool's results from Toloka as TSV, or save a CSV/TSV with one answer per line and a "
            "header such as task,worker,label (name other columns with --columns, or a headerless file's "
            "columns with --names).",
        )
        raise ValidationError(problems.errors)
    for canon in REQUIRED:
        if canon not in mapping and not any(_canon(k) == canon for k in columns or {}):
            problems.add(
                f"no column for the {_key(canon)} was found among: {found}.",
                f"name it, e.g. --columns {_key(canon)}=<column>, or give a headerless file its column "
                "names with --names worker,task,label.",
                column=_key(canon),
            )
    problems.raise_if_errors()
    return mapping


def _repeats(
    frame: pd.DataFrame, raw: pd.DataFrame, dedupe: bool, file: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Answers a worker gave a task more than once: kept and noted, or (``dedupe``) only the first kept."""
    repeated = frame.duplicated(["task_id", "worker_id"], keep="first").to_numpy()
    if not repeated.any():
        return frame, raw, []
    extra = int(repeated.sum())
    n_pairs = int(
        frame[frame.duplicated(["task_id", "worker_id"], keep=False)].drop_duplicates(["task_id", "worker_id"]).shape[0]
    )
    if dedupe:
        frame, raw = frame[~repeated], raw[~repeated]
        msg = (
            f"{n_pairs:,} (task, worker) pairs were answered more than once; only the first answer of each "
            f"was kept ({extra:,} rows dropped)."
        )
        fix = "nothing to do; import without --dedupe to keep every row."
    else:
        msg = (
            f"{n_pairs:,} (task, worker) pairs were answered more than once ({extra:,} extra rows); every row "
            "counts as a vote."
        )
        fix = "import with --dedupe to keep only each worker's first answer to a task."
    return frame, raw, [Problem(file=file, message=msg, fix=fix, count=extra, severity="warning")]


def _priced(
    frame: pd.DataFrame, mapping: dict[str, str], pricing: Pricing | None, per_answer: float | None, file: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The answers with each suite's reward from ``per_answer`` (see :func:`read_long_table`), and
    the source's name of every canonical field (the flag, for what the flags made)."""
    read_as = dict(mapping)
    suites = "assignment_id" in mapping
    problems = ProblemList(file)
    if per_answer is None:
        if pricing is not None and pricing.reward_per_assignment is not None and not suites and "reward" not in mapping:
            problems.add(
                "--reward-per-suite prices task suites, and this table has no assignment column: its answers "
                "belong to no suite, so nothing could be priced.",
                "give what one answer paid with --reward-per-answer X, or map the suite column with "
                "--columns assignment=COL.",
                column="assignment",
            )
        problems.raise_if_errors()
        return frame, read_as
    if not np.isfinite(per_answer) or per_answer < 0:
        raise ValueError(f"--reward-per-answer must be a number >= 0 (what one answer paid); got {per_answer!r}.")
    if "reward" in mapping:
        problems.add(
            f"the table has a reward column ({mapping['reward']}) and --reward-per-answer was given too.",
            "drop --reward-per-answer to use the column, or leave the column out of --columns.",
            column=mapping["reward"],
        )
        problems.raise_if_errors()
    stem = Path(file).name
    own = np.char.add(f"{stem}:", frame["_line"].to_numpy().astype(str))
    if suites:
        ids = frame["assignment_id"].astype("str").where(frame["assignment_id"].notna())
        frame["assignment_id"] = ids.fillna(pd.Series(own, index=frame.index))
        n = frame.groupby("assignment_id", sort=False)["assignment_id"].transform("size").to_numpy()
    else:
        frame["assignment_id"] = own
        n = np.ones(len(frame), dtype=np.int64)
        read_as["assignment_id"] = "one suite per answer row (the table has no assignment column)"
    frame["reward"] = float(per_answer) * n
    read_as["reward"] = f"--reward-per-answer {per_answer:g} × the suite's answers"
    return frame, read_as


def _truth(raw: pd.DataFrame, mapping: Mapping[str, str], truth: pd.Series | None) -> pd.Series | None:
    """Ground truth: the truth file's, completed by a truth column (first value per task)."""
    if "truth" in mapping:
        t = raw[[mapping["task_id"], mapping["truth"]]].dropna().drop_duplicates(mapping["task_id"])
        from_file = pd.Series(t[mapping["truth"]].to_numpy(), index=t[mapping["task_id"]].to_numpy())
        truth = from_file if truth is None else truth.combine_first(from_file)
    return None if truth is None else truth[~truth.index.duplicated()]


def _task_inputs(raw: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame | None:
    """Unmapped columns that are constant within each task, one row per task."""
    task = mapping["task_id"]
    extra = [c for c in raw.columns if c not in mapping.values()]
    if not extra:
        return None
    per_task = raw[[task] + extra].dropna(subset=[task])
    varying = per_task.groupby(task, sort=False)[extra].nunique(dropna=True).max()
    constant = [c for c in extra if varying.get(c, 0) <= 1 and raw[c].notna().any()]
    if not constant:
        return None
    return per_task.drop_duplicates(task)[[task] + constant].rename(columns={task: "task_id"})


def _run_meta(meta: RunMeta | None, frame: pd.DataFrame, file: str) -> RunMeta:
    meta = meta or RunMeta()
    if not meta.pools:
        given = frame["pool_id"].dropna() if "pool_id" in frame.columns else pd.Series(dtype="str")
        pid = str(given.iloc[0]) if len(given) else "pool"
        meta = replace(meta, pools=(PoolInfo(pool_id=pid, kind="main"),))
    return replace(
        meta, source_files=meta.source_files + (file,), source_fields={**meta.source_fields, **source_fields()}
    )


def read_truth(source: Source, *, names: Sequence[str] | None = None, name: str | None = None) -> pd.Series:
    """Read a truth file (task, label) into a Series of labels indexed by task id.

    A header is recognised by its names (``question,truth``, ``task,label``, ...); a file whose
    first line is data (e.g. ``url<TAB>label``) is read as task, label. Duplicated tasks with
    different labels are an error naming the lines.
    """
    with open_source(source, name) as opened:
        sep = "\t" if "\t" in opened.first_line else ","
        first = [c.strip().lower() for c in opened.first_line.split(sep)]
        has_header = names is None and len(first) >= 2 and (first[0] in TRUTH_TASK or first[1] in TRUTH_LABEL)
        n_fields = len(first)
        column_names = None if has_header else list(names or [f"column {i + 1}" for i in range(n_fields)])
        raw, lines = _read_raw(opened, sep, column_names)
    problems = ProblemList(opened.name)
    if raw.shape[1] < 2:
        problems.add(
            "a truth file needs two columns (task, label); this one has one.",
            "write it as CSV or TSV with two columns: task, label.",
        )
        raise ValidationError(problems.errors)
    tcol, lcol = _truth_columns(list(raw.columns), has_header)
    empty = (raw[tcol].isna() | raw[lcol].isna()).to_numpy()
    if empty.any():
        problems.add(
            "a truth row has an empty task or label.", "fill both cells or delete the row.", lines=lines[empty]
        )
    t = raw[~empty]
    conflict = (t.groupby(tcol)[lcol].transform("nunique") > 1).reindex(raw.index, fill_value=False).to_numpy()
    if conflict.any():
        problems.add(
            "a task has two different truth labels.",
            "keep one label per task.",
            column=str(tcol),
            lines=lines[conflict],
        )
    problems.raise_if_errors()
    t = t.drop_duplicates(tcol)
    return pd.Series(
        t[lcol].str.strip().to_numpy(), index=pd.Index(t[tcol].str.strip().to_numpy(), name="task_id"), name="truth"
    )


def _truth_columns(cols: list[str], has_header: bool) -> tuple[str, str]:
    if not has_header:
        return cols[0], cols[1]
    lower = {str(c).lower(): c for c in cols}
    tcol = next((lower[a] for a in TRUTH_TASK if a in lower), cols[0])
    lcol = next((lower[a] for a in TRUTH_LABEL if a in lower and lower[a] != tcol), cols[1])
    return tcol, lcol
