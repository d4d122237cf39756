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
import pyarrow as pa
import pyarrow.compute as pc

from analytics.model import (
    KINDS,
    PoolInfo,
    Pricing,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
)
from analytics.sources._files import Source, as_categories, as_category, header_fields, open_source, read_table

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
    with open_source(source, name) as opened:
        return [c[len("OUTPUT:") :] for c in opened.first_line.split("\t") if c.startswith("OUTPUT:")]


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
    with open_source(source, name) as opened:
        return _read_opened(
            opened,
            label_field=label_field,
            pool_kind=pool_kind,
            pool_id=pool_id,
            labels=labels,
            pricing=pricing,
            meta=meta,
            truth=truth,
        )


def _read_opened(
    opened,
    *,
    label_field: str | None,
    pool_kind: str,
    pool_id: str | None,
    labels: Sequence[str] | None,
    pricing: Pricing | None,
    meta: RunMeta | None,
    truth: pd.Series | None,
) -> Run:
    problems = ProblemList(opened.name)
    if pool_kind not in POOL_KINDS:
        raise ValueError(
            f"The 'pool_kind' parameter of read_toloka_tsv must be one of {POOL_KINDS}. Got {pool_kind!r} instead."
        )
    header = header_fields(opened, "\t")
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
    field_name = label_col[len("OUTPUT:") :]
    golden_col = f"GOLDEN:{field_name}"
    inputs = [c for c in header if c.startswith("INPUT:")]
    hints = [c for c in header if c.startswith("HINT:")]
    wanted = set(inputs) | {label_col} | set(hints) | {c for c in header if c in ASSIGNMENT_FIELDS}
    for extra in (golden_col, "ASSIGNMENT:link", "ACCEPT:verdict"):
        if extra in header:
            wanted.add(extra)

    if "ASSIGNMENT:worker_id" not in header:
        problems.add(
            "required column ASSIGNMENT:worker_id is missing: without it no answer can be attributed to an annotator.",
            "download the results again with the worker_id field ticked "
            "(toloka-kit: GetAssignmentsTsvParameters(field=[..., 'ASSIGNMENT:worker_id'])).",
            column="ASSIGNMENT:worker_id",
        )
    if "ASSIGNMENT:task_id" not in header and not inputs:
        problems.add(
            "neither ASSIGNMENT:task_id nor any INPUT: column is present, so tasks cannot be told apart.",
            "download the results with the task_id field ticked, or with the input fields.",
            column="ASSIGNMENT:task_id",
        )
    if problems.errors:
        raise ValidationError(problems.errors)

    # the link's pool is the same on every row of a pool's download: read it from the first row
    table = read_table(opened, sep="\t", include=wanted - {"ASSIGNMENT:link"})
    n = table.num_rows
    first_link = _first_value(opened, header, "ASSIGNMENT:link")
    columns: dict[str, str] = {"label": label_col, "golden": golden_col}
    per_row = [
        c
        for c in (
            label_col,
            golden_col,
            "ASSIGNMENT:task_id",
            "ASSIGNMENT:assignment_id",
            "ASSIGNMENT:worker_id",
            "ASSIGNMENT:status",
            "ACCEPT:verdict",
        )
        if c in table.column_names
    ]
    if "ASSIGNMENT:task_id" not in table.column_names and len(inputs) == 1:
        per_row.append(inputs[0])
    cats = as_categories(table, per_row)
    frame = pd.DataFrame(index=pd.RangeIndex(n))
    for tcol, canon in ASSIGNMENT_FIELDS.items():
        if tcol in cats:
            frame[canon] = cats[tcol]
            columns[canon] = tcol
    frame["label"] = cats[label_col]
    if golden_col in cats:
        frame["golden"] = cats[golden_col]
    if "status" not in frame.columns and "ACCEPT:verdict" in cats:
        verdict = pd.Series(cats["ACCEPT:verdict"]).map({"+": "ACCEPTED", "-": "REJECTED"})
        frame["status"] = verdict.astype("str").fillna("SUBMITTED")
        columns["status"] = "ACCEPT:verdict"

    # task identity: the task id when exported, else its input values
    if "task_id" not in frame.columns:
        if len(inputs) == 1:
            frame["task_id"] = cats[inputs[0]]
            columns["task_id"] = inputs[0]
        else:
            joined = pc.binary_join_element_wise(*[pc.fill_null(table.column(c), "") for c in inputs], " | ")
            frame["task_id"] = as_category(joined)
            columns["task_id"] = " + ".join(inputs)

    # assignment-level values (times, reward) repeat on each row of a suite: read them once per suite
    a_codes = frame["assignment_id"].cat.codes.to_numpy() if "assignment_id" in frame.columns else None
    suites = _Suites(a_codes) if a_codes is not None and not (a_codes < 0).any() else None
    for tcol in ("ASSIGNMENT:started", "ASSIGNMENT:submitted", "ASSIGNMENT:reward"):
        if tcol in table.column_names:
            frame[ASSIGNMENT_FIELDS[tcol]] = _per_assignment(table.column(tcol), suites)
            columns[ASSIGNMENT_FIELDS[tcol]] = tcol

    # pool
    if pool_id is not None:
        frame["pool_id"] = str(pool_id)
    else:
        m = _POOL_IN_LINK.search(first_link or "")
        frame["pool_id"] = m.group(1) if m else f"{pool_kind}-pool"

    # kind: training (HINT given) > control/exam (GOLDEN given) > regular
    has_golden = frame["golden"].cat.codes.to_numpy() >= 0 if "golden" in frame.columns else np.zeros(n, bool)
    has_hint = np.zeros(n, bool)
    for h in hints:
        has_hint |= table.column(h).is_valid().to_numpy(zero_copy_only=False)
    if pool_kind == "exam":
        kind = np.full(n, KINDS.index("exam"), dtype=np.int8)
    elif pool_kind == "training":
        kind = np.full(n, KINDS.index("training"), dtype=np.int8)
    else:
        kind = np.where(
            has_hint, KINDS.index("training"), np.where(has_golden, KINDS.index("control"), KINDS.index("regular"))
        ).astype(np.int8)
    frame["kind"] = pd.Categorical.from_codes(kind, categories=list(KINDS))

    tasks = None
    if inputs:
        first = pd.Series(frame["task_id"].cat.codes.to_numpy()).drop_duplicates()
        first = first[first >= 0]
        idx = pa.array(first.index.to_numpy())
        tasks = pd.DataFrame(
            {c[len("INPUT:") :]: table.column(c).take(idx).to_numpy(zero_copy_only=False) for c in inputs}
        )
        tasks.insert(0, "task_id", frame["task_id"].cat.categories[first.to_numpy()])
    del table, cats  # the parsed text (GBs at 10^7 rows) is not needed past this point: free it before build_run

    pid = str(frame["pool_id"].iloc[0])
    meta = meta or RunMeta()
    if not any(p.pool_id == pid for p in meta.pools):
        meta = replace(meta, pools=meta.pools + (PoolInfo(pool_id=pid, kind=pool_kind),))
    meta = replace(meta, label_field=field_name, source_files=meta.source_files + (opened.name,))
    missing_optional = [
        c for c in ("ASSIGNMENT:submitted", "ASSIGNMENT:reward", "ASSIGNMENT:task_id") if c not in header
    ]
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
        notes.append(_missing_note(opened.name, missing_optional))
        run = replace(run, notes=tuple(notes))
    return run


class _Suites:
    """Where each assignment first appears, computed once for all suite-level columns."""

    def __init__(self, a_codes: np.ndarray):
        first = pd.Series(a_codes).drop_duplicates()
        self.codes = a_codes
        self.first_rows = first.index.to_numpy()
        row_of_first = np.empty(int(a_codes.max()) + 1, dtype=np.int64)
        row_of_first[first.to_numpy()] = self.first_rows
        self.expand = pa.array(row_of_first[a_codes])
        self.first_codes = first.to_numpy()


def _per_assignment(column: pa.ChunkedArray, suites: _Suites | None) -> pd.Series:
    """A suite-level column (times, reward) as a categorical, parsed once per suite.

    Toloka repeats an assignment's start, submit time and reward on each of its rows; taking the
    first row of each assignment turns 10^7 values into 10^6. Without assignment ids, or where a
    row disagrees with its suite, every row is read, so each bad cell is reported on its own line.
    """
    if suites is None:
        return pd.Series(as_category(column))
    expanded = column.take(suites.expand)
    differs = pc.not_equal(pc.fill_null(column, "\x00"), pc.fill_null(expanded, "\x00"))
    if pc.any(differs).as_py():
        return pd.Series(as_category(column))
    per_suite = as_category(column.take(pa.array(suites.first_rows)))
    lookup = np.empty(int(suites.codes.max()) + 1, dtype=np.int32)
    lookup[suites.first_codes] = per_suite.codes
    return pd.Series(pd.Categorical.from_codes(lookup[suites.codes], categories=per_suite.categories, validate=False))


def _first_value(opened, header: list[str], column: str) -> str | None:
    """The value of ``column`` on the first data line (cheap: reads one line)."""
    if column not in header:
        return None
    import csv
    import io

    if opened.path is not None:
        with opened.path.open("r", encoding="utf-8-sig", errors="replace") as f:
            f.readline()
            line = f.readline()
    else:
        pos = opened.handle.tell()
        opened.handle.seek(0)
        text = io.TextIOWrapper(io.BytesIO(opened.handle.read(1 << 16)), encoding="utf-8-sig", errors="replace")
        text.readline()
        line = text.readline()
        opened.handle.seek(pos)
    row = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"), [])
    i = header.index(column)
    return row[i] if i < len(row) else None


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
            f"{outputs[0][len('OUTPUT:') :]}).",
        )
        return None
    return outputs[0]


def write_toloka_tsv(frame: pd.DataFrame, path, columns: Mapping[str, str] | None = None) -> None:
    """Write a frame with Toloka column names as Toloka's download does (tab-separated, UTF-8)."""
    frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_MINIMAL)
