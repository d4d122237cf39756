"""The integer-coded ``answers`` table the SQL reads, built from a run, a workspace Parquet file or a frame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.model import KINDS, Run
from analytics.sources.run_files import TASK_CODE, TASK_ID

# The table every expression reads, one row per answer in scope:
#
#   answers(task    BIGINT  NOT NULL,  -- the item: any integer key (a warehouse surrogate key, a
#                                      -- dictionary index); only grouped, joined and compared
#           worker  BIGINT  NOT NULL,  -- the annotator: any integer key, as task
#           label   INTEGER NOT NULL,  -- the answer: its position in the run's label list
#                                      -- (run.json meta.labels), 0-based; that order is the tie
#                                      -- order (the lowest code wins), so it must not be a rank
#                                      -- of the label strings or of their frequency
#           golden  INTEGER NULL,      -- the known answer, same codes; NULL where unknown
#           kind    VARCHAR NOT NULL)  -- 'regular' or 'control'
#
# In scope = the labeling pool's labeled answers, exactly what the aggregators and agreement
# figures count (analytics.metrics.aggregation.pool_codes): kind regular or control, a label
# (no SKIPPED/EXPIRED rows), suites not REJECTED. Repeated answers by one worker on one task
# stay as separate rows (each is a vote). From a warehouse table of canonical answers:
#
#   SELECT t.task_key AS task, w.worker_key AS worker, l.code AS label, g.code AS golden, a.kind
#   FROM canonical_answers a
#   JOIN task_keys t ON t.task_id = a.task_id
#   JOIN worker_keys w ON w.worker_id = a.worker_id
#   JOIN label_codes l ON l.project = a.project AND l.label = a.label
#   LEFT JOIN label_codes g ON g.project = a.project AND g.label = a.golden
#   WHERE a.kind IN ('regular', 'control') AND a.label IS NOT NULL AND a.status <> 'REJECTED'
#
# (label_codes: one row per project and label with its position in the project's label list.
# Prefer existing surrogate keys to DENSE_RANK() OVER (ORDER BY task_id): a window over the
# whole table with no PARTITION BY runs on one node.) With several projects in one table, add
# ``project`` to every GROUP BY and join key, or run each project's slice separately: no
# expression mixes projects.
#
# In Parquet (zstd) this table takes about 4.3 bytes per answer at 10^7 answers (a workspace's
# answers.parquet stores the task as its row in tasks.parquet (task_code; older versions, a
# dictionary index) and worker/label/golden/kind as dictionary indices; see README.md, "Large
# runs", for the measured sizes).

COLUMNS = ("task", "worker", "label", "golden", "kind")
SCOPE_KINDS = ("regular", "control")
_KIND_VALUES = pa.array(list(SCOPE_KINDS), pa.string())
_WORKSPACE_COLUMNS = ["worker_id", "label", "golden", "kind", "status"]  # and TASK_CODE, or (older) task_id


class AnswerTable(NamedTuple):
    """The ``answers`` table (Arrow, columns :data:`COLUMNS`) and the code ranges the results span."""

    table: pa.Table
    n_tasks: int
    n_workers: int
    n_labels: int


def _kind_column(kind_code: np.ndarray) -> pa.DictionaryArray:
    """kind as a dictionary array of 'regular'/'control' from the model's KINDS codes."""
    return pa.DictionaryArray.from_arrays(pa.array(kind_code.astype(np.int8)), _KIND_VALUES)


def _key(values) -> pa.Array:
    """An integer key column: int32 while the codes fit (half the memory of int64), else int64."""
    values = np.asarray(values)
    fits = not len(values) or int(values.max()) < 2**31
    return pa.array(values.astype(np.int32 if fits else np.int64, copy=False))


def _table(task, worker, label, golden, kind_code) -> pa.Table:
    golden = np.asarray(golden)
    return pa.table(
        {
            "task": _key(task),
            "worker": _key(worker),
            "label": pa.array(np.asarray(label, dtype=np.int32)),
            "golden": pa.array(golden.astype(np.int32), mask=golden < 0),
            "kind": _kind_column(kind_code),
        }
    )


def scope_rows(kind, label, rejected) -> np.ndarray:
    """Positions of the answers in scope from model codes: kind regular/control (KINDS codes),
    label >= 0, not in a REJECTED suite."""
    in_kinds = (kind == KINDS.index("regular")) | (kind == KINDS.index("control"))
    return np.flatnonzero(in_kinds & (label >= 0) & ~rejected)


def _scope_kind_code(kind: np.ndarray) -> np.ndarray:
    """KINDS code -> index into SCOPE_KINDS (regular 0, control 1)."""
    return (kind == KINDS.index("control")).astype(np.int8)


def from_run(run: Run) -> AnswerTable:
    """The answers table of a canonical run (its labeling pool, coded as ``run.codes``)."""
    c = run.codes
    status = run.answers["status"]
    rejected_code = list(status.cat.categories).index("REJECTED") if "REJECTED" in status.cat.categories else -2
    rows = scope_rows(c.kind, c.label, status.cat.codes.to_numpy() == rejected_code)
    table = _table(c.task[rows], c.worker[rows], c.label[rows], c.golden[rows], _scope_kind_code(c.kind[rows]))
    return AnswerTable(table, c.n_tasks, c.n_workers, c.n_labels)


def _same_array(a: pa.Array, b: pa.Array) -> bool:
    """True when two arrays are the same memory (the same buffers), without comparing values."""
    ba, bb = a.buffers(), b.buffers()
    return (
        a.offset == b.offset
        and len(a) == len(b)
        and len(ba) == len(bb)
        and all(
            (x is None and y is None)
            or (x is not None and y is not None and x.address == y.address and x.size == y.size)
            for x, y in zip(ba, bb, strict=True)
        )
    )


def _indices(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(dictionary indices as int64 with -1 for null, the dictionary) of a dictionary column."""
    if not pa.types.is_dictionary(column.type):
        # a column stored as plain strings: encode it here (codes in first-appearance order)
        column = pc.dictionary_encode(column)
    if column.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    first = column.chunks[0].dictionary
    if not all(_same_array(c.dictionary, first) for c in column.chunks[1:]):
        # pyarrow reads one file's dictionary once and shares it between the chunks; unify only
        # when they really differ (unifying 77 chunks of 3 M task ids takes over a minute)
        column = column.unify_dictionaries()
    codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in column.chunks])
    return codes.astype(np.int64, copy=False), column.chunks[0].dictionary


def _recode(codes: np.ndarray, names: pa.Array, target: list) -> np.ndarray:
    """Codes into ``names`` re-expressed as positions in ``target`` (-1 where absent or null)."""
    lookup = np.array([target.index(v) if v in target else -1 for v in names.to_pylist()] + [-1], dtype=np.int64)
    return lookup[np.where(codes < 0, len(lookup) - 1, codes)]


def is_workspace_answers(columns: list[str]) -> bool:
    """Do these Parquet columns make a workspace version's answers.parquet (not the engine's shape)?"""
    return TASK_CODE in columns or TASK_ID in columns


def from_workspace_parquet(path: str | os.PathLike) -> AnswerTable:
    """The answers table of a workspace version's ``answers.parquet`` (the canonical columns,
    dictionary-encoded by analytics/sources/run_files.write_answers): the dictionary indices
    are the run's codes, so this equals ``from_run`` on the run read from the same files,
    without building the run. Task codes (``task_code``) count the tasks in the tasks.parquet beside it."""
    path = Path(path)
    coded = TASK_CODE in pq.read_schema(path).names
    table = pq.read_table(path, columns=[TASK_CODE if coded else TASK_ID, *_WORKSPACE_COLUMNS])
    if coded:
        task = table.column(TASK_CODE).to_numpy().astype(np.int64, copy=False)
        n_tasks = pq.ParquetFile(path.with_name("tasks.parquet")).metadata.num_rows
    else:
        task, task_names = _indices(table.column(TASK_ID))
        n_tasks = len(task_names)
    worker, worker_names = _indices(table.column("worker_id"))
    label, labels = _indices(table.column("label"))
    label_list = labels.to_pylist()
    golden = _recode(*_indices(table.column("golden")), label_list)
    kind = _recode(*_indices(table.column("kind")), list(KINDS))
    status = _recode(*_indices(table.column("status")), ["REJECTED"])
    rows = scope_rows(kind, label, status == 0)
    out = _table(task[rows], worker[rows], label[rows], golden[rows], _scope_kind_code(kind[rows]))
    return AnswerTable(out, n_tasks, len(worker_names), len(label_list))


def _size(given: int | None, values: np.ndarray, what: str) -> int:
    found = int(values.max()) + 1 if len(values) else 0
    if given is None:
        return found
    if given < found:
        raise ValueError(f"{what}={given} but the answers hold code {found - 1}")
    return int(given)


def from_frame(
    frame: pd.DataFrame | pa.Table,
    n_tasks: int | None = None,
    n_workers: int | None = None,
    n_labels: int | None = None,
) -> AnswerTable:
    """An answers table already in the shape above (pandas or Arrow; golden may be missing, kind
    defaults to 'regular'). Codes must be non-negative integers; sizes default to max code + 1."""
    df = frame.to_pandas() if isinstance(frame, pa.Table) else frame
    missing = [c for c in ("task", "worker", "label") if c not in df.columns]
    if missing:
        raise ValueError(f"the answers frame lacks the column(s) {', '.join(missing)} (see analytics/engine/schema.py)")
    task, worker, label = (df[c].to_numpy(np.int64) for c in ("task", "worker", "label"))
    for name, values in (("task", task), ("worker", worker), ("label", label)):
        if len(values) and values.min() < 0:
            raise ValueError(f"the {name} column holds a negative code ({values.min()}); codes start at 0")
    golden = (
        df["golden"].astype("Float64").fillna(-1).to_numpy(np.int64) if "golden" in df.columns else -np.ones_like(task)
    )
    kind = df["kind"].astype(str).to_numpy() if "kind" in df.columns else np.full(len(task), "regular")
    unknown = sorted(set(np.unique(kind)) - set(SCOPE_KINDS))
    if unknown:
        raise ValueError(f"kind must be 'regular' or 'control', got {unknown}")
    table = _table(task, worker, label, golden, (kind == "control").astype(np.int8))
    return AnswerTable(
        table,
        _size(n_tasks, task, "n_tasks"),
        _size(n_workers, worker, "n_workers"),
        _size(n_labels, label, "n_labels"),
    )
