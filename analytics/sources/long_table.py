"""Reader for long tables of answers (one row per answer: task, worker, label, ...) and truth files.

Covers crowd-kit's ``task,worker,label``, the truth-inference benchmarks' ``question,worker,answer``,
MTurk-style exports and headerless files (name the columns). Column names are mapped to the
canonical ones here; unmapped columns that are constant within a task become the task's inputs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.model import (
    PoolInfo,
    Pricing,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
)
from analytics.sources._files import Source, open_source

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
TRUTH_TASK = ("task", "task_id", "question", "item", "item_id", "url", "orig_id", "object")
TRUTH_LABEL = ("label", "truth", "gold", "answer", "true_label", "gold_label")


def _canon(key: str) -> str:
    return SHORT_NAMES.get(key, key)


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
) -> Run:
    """Read a table with one answer per row into a validated run.

    ``columns`` maps canonical names (``task``, ``worker``, ``label``, ``golden``, ``truth``,
    ``assignment``, ``started``, ``submitted``, ``status``, ``reward``, ``pool``; the ``_id`` /
    ``_at`` forms work too) to the file's column names; what it leaves out is found by common
    aliases (``question``/``item``, ``performer``/``annotator``, ``answer``/``response``, ...).
    ``names`` gives column names to a headerless file, e.g. ``["worker", "task", "label"]``.
    A ``golden`` column marks control tasks; a ``truth`` column (e.g. ``gold`` on every row) is
    ground truth for evaluation and becomes ``run.truth``. ``dedupe`` keeps only the first answer
    of a worker to a task where the file repeats it (repeats are otherwise kept and noted).
    """
    opened = open_source(source, name)
    problems = ProblemList(opened.name)
    if sep is None:
        sep = "\t" if "\t" in opened.first_line else ","
    header_given = names is None
    try:
        raw = pd.read_csv(
            opened.handle,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            header=0 if header_given else None,
            names=None if header_given else list(names),
            engine="c",
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as err:
        problems.add(
            f"the file could not be read as a {'tab' if sep == chr(9) else 'comma'}-separated table: {err}.",
            "check that every line has as many fields as the header.",
        )
        raise ValidationError(problems.errors) from None
    finally:
        opened.close()
    if len(raw.columns) == 1 and sep == ",":
        problems.add(
            "only one column was found: this is not a comma- or tab-separated table.",
            "save it as CSV or TSV with one answer per line (task, worker, label).",
        )
        raise ValidationError(problems.errors)

    mapping = {_canon(k): v for k, v in (columns or {}).items()}
    for canon, col in mapping.items():
        if col not in raw.columns:
            problems.add(
                f"the column {col!r} named for {canon} is not in the file.",
                "choose one of: " + ", ".join(map(str, raw.columns)) + ".",
                column=col,
            )
    auto = detect_columns([str(c) for c in raw.columns], raw)
    for canon, col in auto.items():
        if canon not in mapping and col not in mapping.values():
            mapping[canon] = col
    required = ("task_id", "worker_id", "label")
    if not columns and not names and all(c not in mapping for c in required):
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
    for canon in required:
        if canon not in mapping:
            short = canon.replace("_id", "")
            problems.add(
                f"no column for the {short} was found among: " + ", ".join(map(str, raw.columns)) + ".",
                f"name it, e.g. --columns {short}=<column>, or give a headerless file its column "
                "names with --names worker,task,label.",
                column=short,
            )
    if problems.errors:
        raise ValidationError(problems.errors)

    raw["_line"] = np.arange(len(raw), dtype=np.int64) + (2 if header_given else 1)
    frame = pd.DataFrame({"_line": raw["_line"]})
    for canon, col in mapping.items():
        if canon != "truth":
            frame[canon] = raw[col]

    notes_extra = []
    repeated = frame.duplicated(["task_id", "worker_id"], keep="first")
    if repeated.any():
        n_pairs = int(
            frame[frame.duplicated(["task_id", "worker_id"], keep=False)]
            .drop_duplicates(["task_id", "worker_id"])
            .shape[0]
        )
        if dedupe:
            frame = frame[~repeated.to_numpy()]
            raw = raw[~repeated.to_numpy()]
            msg = f"{n_pairs:,} (task, worker) pairs were answered more than once; only the first answer of each was kept ({int(repeated.sum()):,} rows dropped)."
            fix = "nothing to do; import without --dedupe to keep every row."
        else:
            msg = f"{n_pairs:,} (task, worker) pairs were answered more than once ({int(repeated.sum()):,} extra rows); every row counts as a vote."
            fix = "import with --dedupe to keep only each worker's first answer to a task."
        notes_extra.append((msg, fix, int(repeated.sum())))

    truth_series = truth
    if "truth" in mapping:
        t = raw[[mapping["task_id"], mapping["truth"]]].dropna()
        t = t.drop_duplicates(mapping["task_id"])
        from_file = pd.Series(t[mapping["truth"]].to_numpy(), index=t[mapping["task_id"]].to_numpy())
        truth_series = from_file if truth_series is None else truth_series.combine_first(from_file)

    extra = [c for c in raw.columns if c not in mapping.values() and c != "_line"]
    tasks = None
    if extra:
        per_task = raw[[mapping["task_id"]] + extra].dropna(subset=[mapping["task_id"]])
        varying = per_task.groupby(mapping["task_id"], sort=False)[extra].nunique(dropna=True).max()
        constant = [c for c in extra if varying.get(c, 0) <= 1 and raw[c].notna().any()]
        if constant:
            tasks = per_task.drop_duplicates(mapping["task_id"])[[mapping["task_id"]] + constant]
            tasks = tasks.rename(columns={mapping["task_id"]: "task_id"})

    if pool_id is not None:
        frame["pool_id"] = str(pool_id)
    pid = (
        str(pool_id)
        if pool_id is not None
        else (
            str(frame["pool_id"].dropna().iloc[0])
            if "pool_id" in frame.columns and frame["pool_id"].notna().any()
            else "pool"
        )
    )
    meta = meta or RunMeta()
    if not meta.pools:
        meta = replace(meta, pools=(PoolInfo(pool_id=pid, kind="main"),))
    meta = replace(meta, source_files=meta.source_files + (opened.name,))
    if truth_series is not None:
        truth_series = truth_series[~truth_series.index.duplicated()]
    run = build_run(
        frame,
        file=opened.name,
        columns={k: v for k, v in mapping.items()},
        tasks=tasks,
        pricing=pricing,
        meta=meta,
        labels=labels,
        truth=truth_series,
        problems=problems,
    )
    if notes_extra:
        from analytics.model import Problem

        notes = list(run.notes) + [
            Problem(file=opened.name, message=m, fix=f, count=c, severity="warning") for m, f, c in notes_extra
        ]
        run = replace(run, notes=tuple(notes))
    return run


def read_truth(source: Source, *, names: Sequence[str] | None = None, name: str | None = None) -> pd.Series:
    """Read a truth file (task, label) into a Series of labels indexed by task id.

    A header is recognised by its names (``question,truth``, ``task,label``, ...); a file whose
    first line is data (e.g. ``url<TAB>label``) is read as task, label. Duplicated tasks with
    different labels are an error naming the lines.
    """
    opened = open_source(source, name)
    problems = ProblemList(opened.name)
    sep = "\t" if "\t" in opened.first_line else ","
    first = [c.strip().lower() for c in opened.first_line.split(sep)]
    has_header = names is None and len(first) >= 2 and (first[0] in TRUTH_TASK or first[1] in TRUTH_LABEL)
    try:
        raw = pd.read_csv(
            opened.handle,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            header=0 if has_header else None,
            names=None if has_header else (list(names) if names else None),
            engine="c",
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, ValueError) as err:
        problems.add(
            f"the truth file could not be read: {err}.", "write it as CSV or TSV with two columns: task, label."
        )
        raise ValidationError(problems.errors) from None
    finally:
        opened.close()
    if raw.shape[1] < 2:
        problems.add(
            "a truth file needs two columns (task, label); this one has one.",
            "write it as CSV or TSV with two columns: task, label.",
        )
        raise ValidationError(problems.errors)
    cols = list(raw.columns)
    if has_header:
        lower = {str(c).lower(): c for c in cols}
        tcol = next((lower[a] for a in TRUTH_TASK if a in lower), cols[0])
        lcol = next((lower[a] for a in TRUTH_LABEL if a in lower and lower[a] != tcol), cols[1])
    else:
        tcol, lcol = cols[0], cols[1]
    offset = 2 if has_header else 1
    empty = raw[tcol].isna() | raw[lcol].isna()
    if empty.any():
        problems.add(
            "a truth row has an empty task or label.",
            "fill both cells or delete the row.",
            lines=np.flatnonzero(empty.to_numpy()) + offset,
        )
    t = raw[~empty.to_numpy()]
    conflict = t.groupby(tcol)[lcol].transform("nunique") > 1
    if conflict.any():
        problems.add(
            "a task has two different truth labels.",
            "keep one label per task.",
            column=str(tcol),
            lines=np.flatnonzero(conflict.reindex(raw.index, fill_value=False).to_numpy()) + offset,
        )
    problems.raise_if_errors()
    t = t.drop_duplicates(tcol)
    s = pd.Series(
        t[lcol].str.strip().to_numpy(), index=pd.Index(t[tcol].str.strip().to_numpy(), name="task_id"), name="truth"
    )
    return s
