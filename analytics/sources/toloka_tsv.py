"""Reader for Toloka results TSV ("Download results" / ``TolokaClient.get_assignments_df``).

Toloka's column names (``INPUT:``, ``OUTPUT:``, ``GOLDEN:``, ``HINT:``, ``ACCEPT:``,
``ASSIGNMENT:``) are known here and nowhere else; the result is a canonical :class:`Run`.
toloka-kit's default export has only link, assignment_id, worker_id, status and started, and
approved assignments only: every other column is optional and what needs it is reported missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from analytics.model import (
    KINDS,
    PoolInfo,
    Pricing,
    Problem,
    ProblemList,
    Run,
    RunMeta,
    ValidationError,
    build_run,
)
from analytics.sources._files import Opened, Scan, Source, header_fields, open_source, scan
from analytics.sources._stream import EncodedColumns
from analytics.sources.memory import release_memory

SOURCE_KIND = "Toloka TSV"
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
OPTIONAL_FIELDS = {
    "ASSIGNMENT:submitted": "speed (seconds per task) cannot be computed",
    "ASSIGNMENT:reward": "cost uses the pool's reward per suite instead of each assignment's",
    "ASSIGNMENT:task_id": "tasks are identified by their INPUT: values",
}
POOL_KINDS = ("main", "exam", "training", "reannotation")
_POOL_IN_LINK = re.compile(r"/task/(\d+)/")


def is_toloka_header(first_line: str) -> bool:
    cols = first_line.split("\t")
    return any(c.startswith(("ASSIGNMENT:", "OUTPUT:")) for c in cols)


def output_fields(source: Source, name: str | None = None) -> list[str]:
    """The OUTPUT: fields of an export (without the prefix), for a label-field picker.

    Only the header is needed: pass the first 64 KiB of an upload rather than all of it.
    """
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
    ``ASSIGNMENT:link``. Times without an offset are UTC, as Toloka writes them. The run's
    ``meta.source_fields`` names the TSV column of every canonical field, present or not.
    """
    if pool_kind not in POOL_KINDS:
        raise ValueError(
            f"The 'pool_kind' parameter of read_toloka_tsv must be one of {POOL_KINDS}. Got {pool_kind!r} instead."
        )
    with open_source(source, name) as opened:
        layout = _layout(opened, label_field)
        scanned = _read_answers(opened, layout)
        encoded: EncodedColumns = scanned.consumer
        frame, columns = _answers_frame(encoded, layout)
        lines = scanned.lines(opened, "\t")
        if lines is not None:
            frame["_line"] = lines
        pid = str(pool_id) if pool_id is not None else _pool_from_link(opened, layout, pool_kind)
        frame["pool_id"] = pd.Categorical.from_codes(
            np.zeros(len(frame), np.int8), categories=pd.Index([pid], dtype="str"), validate=False
        )
        frame["kind"] = _kinds(frame, encoded, pool_kind)
        tasks = _task_inputs(frame, encoded, layout.inputs)
        del encoded, scanned
        release_memory()
        run = build_run(
            frame,
            file=opened.name,
            columns=columns,
            tasks=tasks,
            pricing=pricing,
            meta=_run_meta(meta, pid, pool_kind, layout, opened.name),
            labels=labels,
            truth=truth,
            problems=ProblemList(opened.name),
            source_kind=SOURCE_KIND,
            handed_over=True,
        )
        release_memory()
        return _with_missing_note(run, opened.name, layout.header)


@dataclass(frozen=True)
class _Layout:
    """Which columns of an export hold what: the label field, inputs, hints."""

    header: list[str]
    label_col: str
    inputs: list[str]
    hints: list[str]

    @property
    def field_name(self) -> str:
        return self.label_col[len("OUTPUT:") :]

    @property
    def golden_col(self) -> str:
        return f"GOLDEN:{self.field_name}"

    def task_key(self) -> list[str]:
        """The columns identifying a task: its id when exported, else its INPUT: values (joined)."""
        return ["ASSIGNMENT:task_id"] if "ASSIGNMENT:task_id" in self.header else list(self.inputs)

    def per_row(self) -> list[str]:
        """The columns of which each answer's value is kept (as integer codes)."""
        cols = [self.label_col, self.golden_col, "ACCEPT:verdict", *ASSIGNMENT_FIELDS]
        return [c for c in dict.fromkeys(cols) if c in self.header]

    def wanted(self) -> set[str]:
        """The columns to parse (the link is read from one row only)."""
        wanted = set(self.inputs) | {self.label_col} | set(self.hints)
        wanted |= {c for c in self.header if c in ASSIGNMENT_FIELDS}
        return wanted | {c for c in (self.golden_col, "ACCEPT:verdict") if c in self.header}


def _layout(opened: Opened, label_field: str | None) -> _Layout:
    """The export's layout, or a ValidationError naming every missing column."""
    problems = ProblemList(opened.name)
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
    header = header_fields(opened, "\t")
    inputs = [c for c in header if c.startswith("INPUT:")]
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
    label_col = _pick_label_column([c for c in header if c.startswith("OUTPUT:")], label_field, problems)
    problems.raise_if_errors()
    return _Layout(header, label_col, inputs, [c for c in header if c.startswith("HINT:")])


def _read_answers(opened: Opened, layout: _Layout) -> Scan:
    """Stream the export: per-answer columns and the task key as codes, the inputs at each task's first row."""

    def start(columns: list[str]) -> EncodedColumns:
        return EncodedColumns(layout.per_row(), key=layout.task_key(), companions=layout.inputs, flags=layout.hints)

    scanned = scan(opened, start, sep="\t", include=layout.wanted())
    if scanned.rows == 0:
        problems = ProblemList(opened.name)
        problems.add(
            "the export has no answers: the pool has no submitted assignments.",
            "download the results again once annotators have submitted work (toloka-kit's "
            "get_assignments_df exports ACCEPTED assignments only by default: pass "
            "status=['SUBMITTED', 'ACCEPTED', 'REJECTED']), or choose the export of another pool.",
            lines=[1],
        )
        raise ValidationError(problems.errors)
    return scanned


def _answers_frame(encoded: EncodedColumns, layout: _Layout) -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical answer columns (categoricals of codes) and, for each, the TSV column it was read from."""
    frame: dict[str, pd.Categorical | pd.Series] = {}
    columns: dict[str, str] = {"label": layout.label_col, "golden": layout.golden_col}
    for tcol, canon in ASSIGNMENT_FIELDS.items():
        if tcol in encoded.encoders and tcol != encoded.key_name:
            frame[canon] = encoded.categorical(tcol)
            columns[canon] = tcol
    frame["label"] = encoded.categorical(layout.label_col)
    if layout.golden_col in encoded.encoders:
        frame["golden"] = encoded.categorical(layout.golden_col)
    if "status" not in frame and "ACCEPT:verdict" in encoded.encoders:
        verdict = pd.Series(encoded.categorical("ACCEPT:verdict")).map({"+": "ACCEPTED", "-": "REJECTED"})
        frame["status"] = verdict.astype("str").fillna("SUBMITTED")
        columns["status"] = "ACCEPT:verdict"
    # task identity: the task id when exported, else its input values (one, or several joined)
    frame["task_id"] = encoded.categorical(encoded.key_name)
    columns["task_id"] = encoded.key_name
    order = [c for c in (*ASSIGNMENT_FIELDS.values(), "label", "golden") if c in frame]
    return pd.DataFrame({c: frame[c] for c in order}, copy=False), columns  # the columns are new: not held twice


def _kinds(frame: pd.DataFrame, encoded: EncodedColumns, pool_kind: str) -> pd.Categorical:
    """training (HINT given) > control/exam (GOLDEN given) > regular; every row of an exam pool is exam."""
    n = len(frame)
    if pool_kind in ("exam", "training"):
        return pd.Categorical.from_codes(np.full(n, KINDS.index(pool_kind), dtype=np.int8), categories=list(KINDS))
    has_golden = frame["golden"].cat.codes.to_numpy() >= 0 if "golden" in frame.columns else np.zeros(n, bool)
    has_hint = encoded.flagged() if encoded.flags else np.zeros(n, bool)
    kind = np.full(n, KINDS.index("regular"), dtype=np.int8)  # int8 throughout: no int64 temporaries
    kind[has_golden] = KINDS.index("control")
    kind[has_hint] = KINDS.index("training")
    return pd.Categorical.from_codes(kind, categories=list(KINDS))


def _task_inputs(frame: pd.DataFrame, encoded: EncodedColumns, inputs: list[str]) -> pd.DataFrame | None:
    """One row per task with its INPUT: values (taken from the task's first row), in the order of the task ids."""
    if not inputs:
        return None
    values = {c[len("INPUT:") :]: pd.array(encoded.key_firsts(c), dtype="str") for c in inputs}
    return pd.DataFrame(values, index=frame["task_id"].cat.categories.rename("task_id"))  # a new Index, same ids


def _run_meta(meta: RunMeta | None, pid: str, pool_kind: str, layout: _Layout, file: str) -> RunMeta:
    meta = meta or RunMeta()
    if not any(p.pool_id == pid for p in meta.pools):
        meta = replace(meta, pools=meta.pools + (PoolInfo(pool_id=pid, kind=pool_kind),))
    return replace(
        meta,
        label_field=layout.field_name,
        source_files=meta.source_files + (file,),
        source_fields={**meta.source_fields, **source_fields(layout.label_col)},
    )


def source_fields(label_column: str = "OUTPUT:<field>") -> dict[str, str]:
    """The TSV column each canonical field comes from, whether or not an export has it.

    build_run overwrites these with the columns actually read (a task identified by its
    ``INPUT:`` value, a status from ``ACCEPT:verdict``).

    >>> source_fields("OUTPUT:result")["golden"]
    'GOLDEN:result'
    """
    field_name = label_column[len("OUTPUT:") :]
    names = {canon: tcol for tcol, canon in ASSIGNMENT_FIELDS.items()}
    names.update(
        label=label_column,
        golden=f"GOLDEN:{field_name}",
        kind=f"GOLDEN:{field_name} / HINT:* (control and training tasks)",
        pool_id="ASSIGNMENT:link",
        truth="a truth file (task, label) given beside the export",
    )
    return names


def _with_missing_note(run: Run, file: str, header: list[str]) -> Run:
    missing = [c for c in OPTIONAL_FIELDS if c not in header]
    if not missing:
        return run
    note = Problem(
        file=file,
        message="optional columns absent: " + "; ".join(f"{c} ({OPTIONAL_FIELDS[c]})" for c in missing) + ".",
        fix="tick these fields when downloading results (toloka-kit: GetAssignmentsTsvParameters(field=[...])).",
        severity="warning",
    )
    return replace(run, notes=run.notes + (note,))


def _pool_from_link(opened: Opened, layout: _Layout, pool_kind: str) -> str:
    """The pool id in the first row's ``ASSIGNMENT:link`` (the same on every row of a pool's download)."""
    link = _first_value(opened, "ASSIGNMENT:link") if "ASSIGNMENT:link" in layout.header else None
    m = _POOL_IN_LINK.search(link or "")
    return m.group(1) if m else f"{pool_kind}-pool"


def _first_value(opened: Opened, column: str) -> str | None:
    """The value of ``column`` on the first data row: pyarrow reads one block, not the file."""
    block = 1 << 20
    while True:
        try:
            reader = pacsv.open_csv(
                str(opened.path) if opened.path is not None else opened.handle,
                read_options=pacsv.ReadOptions(block_size=block),
                parse_options=pacsv.ParseOptions(delimiter="\t", newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()}),
            )
            batch = reader.read_next_batch()
        except StopIteration:
            return None
        except pa.ArrowInvalid as err:
            if "straddl" in str(err) and block < opened.size:
                block *= 8
                continue
            return None  # an unreadable link only costs the pool id, never the import
        return batch.column(0)[0].as_py() if batch.num_rows else None


def _pick_label_column(outputs: list[str], label_field: str | None, problems: ProblemList) -> str:
    """The OUTPUT: column holding the label; raises (with the other problems) when there is no one choice."""
    if not outputs:
        problems.add(
            "there is no OUTPUT: column, so there are no answers to read.",
            "download results that include the output fields (Toloka exports them by default).",
        )
    elif label_field:
        want = label_field if label_field.startswith("OUTPUT:") else f"OUTPUT:{label_field}"
        if want in outputs:
            return want
        problems.add(f"there is no output field {want}.", "choose one of: " + ", ".join(outputs) + ".", column=want)
    elif len(outputs) > 1:
        problems.add(
            "the export has several output fields: " + ", ".join(outputs) + ".",
            "name the one that holds the label with --label-field (e.g. --label-field "
            f"{outputs[0][len('OUTPUT:') :]}).",
        )
    else:
        return outputs[0]
    raise ValidationError(problems.errors)
