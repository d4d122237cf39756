"""Reader for Toloka results TSV ("Download results" / ``TolokaClient.get_assignments_df``).

Toloka's column names (``INPUT:``, ``OUTPUT:``, ``GOLDEN:``, ``HINT:``, ``ACCEPT:``,
``ASSIGNMENT:``) are known here and nowhere else; the result is a canonical :class:`Run`.
toloka-kit's default export has only link, assignment_id, worker_id, status and started, and
approved assignments only: every other column is optional and what needs it is reported missing.
"""

from __future__ import annotations

import csv
import re
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

PREFIXES = ("INPUT:", "OUTPUT:", "GOLDEN:", "HINT:", "ACCEPT:", "ASSIGNMENT:")
ASSIGNMENT_FIELDS = {
    "ASSIGNMENT:assignment_id": "assignment_id",
    "ASSIGNMENT:task_id": "task_id",
    "ASSIGNMENT:worker_id": "worker_id",
    "ASSIGNMENT:status": "status",
    "ASSIGNMENT:started": "started_at",
    "ASSIGNMENT:submitted": "submitted_at",
    "ASSIGNMENT:reward": "reward",
}
POOL_KINDS = ("main", "exam", "training", "reannotation")
_POOL_IN_LINK = re.compile(r"/task/(\d+)/")


def is_toloka_header(first_line: str) -> bool:
    cols = first_line.split("\t")
    return any(c.startswith(("ASSIGNMENT:", "OUTPUT:")) for c in cols)


def output_fields(source: Source, name: str | None = None) -> list[str]:
    """The OUTPUT: fields of an export (without the prefix), for a label-field picker."""
    opened = open_source(source, name)
    return [c[len("OUTPUT:"):] for c in opened.first_line.split("\t") if c.startswith("OUTPUT:")]


def read_toloka_tsv(
    source: Source,
    *,
    label_field: str | None = None,
    pool_kind: str = "main",
    pool_id: str | None = None,
    name: str | None = None,
    labels: Sequence[str] | None = None,
    pricing: Pricing | None = None,
    meta: RunMeta | None = None,
    truth: pd.Series | None = None,
) -> Run:
    """Read one pool's results TSV into a validated run.

    ``label_field`` names the OUTPUT field holding the label (required when there are several).
    ``pool_kind`` is ``main``, ``exam`` (every row is an exam answer), ``training`` or
    ``reannotation``. Rows with a GOLDEN value are control tasks (exam answers in an exam pool);
    rows with a HINT value are training tasks. ``pool_id`` defaults to the pool in
    ``ASSIGNMENT:link``. Times without an offset are UTC, as Toloka writes them.
    """
    opened = open_source(source, name)
    problems = ProblemList(opened.name)
    if pool_kind not in POOL_KINDS:
        raise ValueError(f"The 'pool_kind' parameter of read_toloka_tsv must be one of {POOL_KINDS}. Got {pool_kind!r} instead.")
    header = opened.first_line.split("\t")
    if not is_toloka_header(opened.first_line):
        hint = (
            "it has no tab-separated ASSIGNMENT:/OUTPUT: columns"
            if "\t" in opened.first_line
            else "its first line has no tabs"
        )
        problems.add(
            f"this does not look like a Toloka results TSV: {hint} (first line: {opened.first_line[:120]!r}).",
            "download the pool's results from Toloka as TSV (Download results), or import a long "
            "table of task, worker, label with the long-table reader (--format long).",
        )
        raise ValidationError(problems.errors)

    outputs = [c for c in header if c.startswith("OUTPUT:")]
    label_col = _pick_label_column(outputs, label_field, problems)
    if label_col is None:
        raise ValidationError(problems.errors)
    field_name = label_col[len("OUTPUT:"):]
    golden_col = f"GOLDEN:{field_name}"
    inputs = [c for c in header if c.startswith("INPUT:")]
    hints = [c for c in header if c.startswith("HINT:")]
    wanted = set(inputs) | {label_col} | set(hints) | {c for c in header if c in ASSIGNMENT_FIELDS}
    for extra in (golden_col, "ASSIGNMENT:link", "ACCEPT:verdict"):
        if extra in header:
            wanted.add(extra)

    try:
        raw = pd.read_csv(
            opened.handle,
            sep="\t",
            dtype=str,
            keep_default_na=False,  # a label "NA" or "null" is a label, not a missing value
            na_values=[""],
            usecols=lambda c: c in wanted,
            engine="c",
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as err:
        problems.add(
            f"the file could not be read as TSV: {err}.",
            "check that every line has the same number of tab-separated fields as the header.",
        )
        raise ValidationError(problems.errors) from None

    raw["_line"] = np.arange(len(raw), dtype=np.int64) + 2
    columns: dict[str, str] = {"label": label_col, "golden": golden_col}
    frame = pd.DataFrame({"_line": raw["_line"]})
    for tcol, canon in ASSIGNMENT_FIELDS.items():
        if tcol in raw.columns:
            frame[canon] = raw[tcol]
            columns[canon] = tcol
    frame["label"] = raw[label_col]
    if golden_col in raw.columns:
        frame["golden"] = raw[golden_col]

    if "worker_id" not in frame.columns:
        problems.add(
            "required column ASSIGNMENT:worker_id is missing: without it no answer can be "
            "attributed to an annotator.",
            "download the results again with the worker_id field ticked "
            "(toloka-kit: GetAssignmentsTsvParameters(field=[..., 'ASSIGNMENT:worker_id'])).",
            column="ASSIGNMENT:worker_id",
        )
    if "status" not in frame.columns and "ACCEPT:verdict" in raw.columns:
        verdict = raw["ACCEPT:verdict"].map({"+": "ACCEPTED", "-": "REJECTED"})
        frame["status"] = verdict.fillna("SUBMITTED")
        columns["status"] = "ACCEPT:verdict"

    # task identity: the task id when exported, else its input values
    if "task_id" not in frame.columns:
        if not inputs:
            problems.add(
                "neither ASSIGNMENT:task_id nor any INPUT: column is present, so tasks cannot be told apart.",
                "download the results with the task_id field ticked, or with the input fields.",
                column="ASSIGNMENT:task_id",
            )
        elif len(inputs) == 1:
            frame["task_id"] = raw[inputs[0]]
            columns["task_id"] = inputs[0]
        else:
            frame["task_id"] = raw[inputs].fillna("").agg(" | ".join, axis=1)
            columns["task_id"] = " + ".join(inputs)

    # pool
    if pool_id is not None:
        frame["pool_id"] = str(pool_id)
    elif "ASSIGNMENT:link" in raw.columns:
        frame["pool_id"] = raw["ASSIGNMENT:link"].str.extract(_POOL_IN_LINK, expand=False)
    if "pool_id" not in frame.columns or frame["pool_id"].isna().all():
        frame["pool_id"] = f"{pool_kind}-pool"

    # kind: training (HINT given) > control/exam (GOLDEN given) > regular
    has_golden = frame["golden"].notna() if "golden" in frame.columns else pd.Series(False, index=frame.index)
    has_hint = raw[hints].notna().any(axis=1) if hints else pd.Series(False, index=frame.index)
    if pool_kind == "exam":
        kind = np.full(len(frame), "exam", dtype=object)
    elif pool_kind == "training":
        kind = np.full(len(frame), "training", dtype=object)
    else:
        kind = np.where(has_hint, "training", np.where(has_golden, "control", "regular"))
    frame["kind"] = kind

    if problems.errors:
        raise ValidationError(problems.errors)

    tasks = None
    if inputs and "task_id" in frame.columns:
        tasks = raw[inputs].rename(columns=lambda c: c[len("INPUT:"):])
        tasks.insert(0, "task_id", frame["task_id"].to_numpy())
        tasks = tasks.drop_duplicates("task_id")

    pid = str(frame["pool_id"].dropna().iloc[0]) if frame["pool_id"].notna().any() else f"{pool_kind}-pool"
    meta = meta or RunMeta()
    if not any(p.pool_id == pid for p in meta.pools):
        meta = replace(meta, pools=meta.pools + (PoolInfo(pool_id=pid, kind=pool_kind),))
    meta = replace(meta, label_field=field_name, source_files=meta.source_files + (opened.name,))
    missing_optional = [c for c in ("ASSIGNMENT:submitted", "ASSIGNMENT:reward", "ASSIGNMENT:task_id") if c not in header]
    run = build_run(
        frame,
        file=opened.name,
        columns=columns,
        tasks=tasks,
        pricing=pricing,
        meta=meta,
        labels=labels,
        truth=truth,
        problems=problems,
    )
    if missing_optional:
        notes = list(run.notes)
        notes.append(
            _missing_note(opened.name, missing_optional)
        )
        run = replace(run, notes=tuple(notes))
    return run


def _missing_note(file: str, missing: list[str]):
    from analytics.model import Problem

    what = {
        "ASSIGNMENT:submitted": "speed (seconds per task) cannot be computed",
        "ASSIGNMENT:reward": "cost uses the pool's reward per suite instead of each assignment's",
        "ASSIGNMENT:task_id": "tasks are identified by their INPUT: values",
    }
    return Problem(
        file=file,
        message="optional columns absent: " + "; ".join(f"{c} ({what[c]})" for c in missing) + ".",
        fix="tick these fields when downloading results (toloka-kit: GetAssignmentsTsvParameters(field=[...])).",
        severity="warning",
    )


def _pick_label_column(outputs: list[str], label_field: str | None, problems: ProblemList) -> str | None:
    if not outputs:
        problems.add(
            "there is no OUTPUT: column, so there are no answers to read.",
            "download results that include the output fields (Toloka exports them by default).",
        )
        return None
    if label_field:
        want = label_field if label_field.startswith("OUTPUT:") else f"OUTPUT:{label_field}"
        if want not in outputs:
            problems.add(
                f"there is no output field {want}.",
                "choose one of: " + ", ".join(outputs) + ".",
                column=want,
            )
            return None
        return want
    if len(outputs) > 1:
        problems.add(
            "the export has several output fields: " + ", ".join(outputs) + ".",
            "name the one that holds the label with --label-field (e.g. --label-field "
            f"{outputs[0][len('OUTPUT:'):]}).",
        )
        return None
    return outputs[0]


def write_toloka_tsv(frame: pd.DataFrame, path, columns: Mapping[str, str] | None = None) -> None:
    """Write a frame with Toloka column names as Toloka's download does (tab-separated, UTF-8)."""
    frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_MINIMAL)
