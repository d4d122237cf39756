"""A version's run files: write them, check them cheaply, read them back into a canonical run.

The files of a version (in a workspace, in ClearML's copy of it) are ``answers.parquet``,
``tasks.parquet``, ``restrictions.parquet``, ``run.json`` and, with known answers, ``truth.parquet``.
The task ids are stored once: answers.parquet's ``task_code`` is the row of the answer's task in
tasks.parquet (an older version's answers.parquet holds ``task_id`` as a dictionary column; both are read).
A file that is missing, cut short or wrong makes the version *damaged*: reading it raises
:class:`~analytics.sources.store.DamagedVersionError` naming the file and the fix, never a
traceback from deep inside pyarrow or a metric.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.model import KINDS, STATUSES, Pricing, Problem, Run, RunMeta, empty_restrictions
from analytics.model.times import utc_stamps
from analytics.sources._stream import READ_ERRORS, categorical, code_type
from analytics.sources.manifest import reason, run_doc_errors
from analytics.sources.memory import release_memory
from analytics.sources.store import FORMAT, DamagedVersion, DamagedVersionError
from analytics.sources.task_texts import TaskTexts

RUN_FILES = ("answers.parquet", "tasks.parquet", "restrictions.parquet", "run.json")
TASK_ID = "task_id"  # the name of the tasks frame's index, in memory and as tasks.parquet's column
TASK_CODE = "task_code"  # answers.parquet's task column: the row of the answer's task in tasks.parquet
TASK_IDS_KEY = b"crowdlens.task_ids"  # answers.parquet's note, for any Parquet reader, of where the ids are
PARQUET_MAGIC = b"PAR1"  # a Parquet file starts and ends with it; a cut-short file lacks the end
DEFER_TASKS_BYTES = 16 << 20  # a tasks.parquet over this is read when its texts are first used
HASH_ON_OPEN_LIMIT = 256 << 20  # a version this small has its sha256 checked on every open


def repair_fix(folder: Path | str) -> str:
    """What to do about a damaged version stored in ``folder``."""
    return (
        f"restore the folder {folder} from a backup, or import the run again as a new version "
        "(versions are never edited in place); deleting the folder hides the version."
    )


def write_run_files(run: Run, folder: Path) -> dict[str, Any]:
    """Write a run's files (Parquet with Arrow dtypes, and run.json) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    # tasks in code order (as every source builds them): the ids are stored once, in tasks.parquet
    coded = run.tasks.index.equals(run.answers["task_id"].cat.categories)
    # the index is the task id whatever it is called in memory: stored as the column task_id
    tasks = run.tasks.rename_axis(TASK_ID).reset_index()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdlens-write-tasks") as beside:
        # the task texts written beside the answers: each writer is one thread (0.4 s at 10^7 answers)
        written = beside.submit(tasks.to_parquet, folder / "tasks.parquet", index=False, write_statistics=False)
        write_answers(run.answers, folder / "answers.parquet", task_codes=coded)
        written.result()
    del tasks
    run.restrictions.to_parquet(folder / "restrictions.parquet", index=False)
    if run.truth is not None:
        run.truth.astype(str).rename("truth").rename_axis("task_id").reset_index().to_parquet(
            folder / "truth.parquet", index=False
        )
    doc = {
        "format": FORMAT,
        "meta": run.meta.to_dict(),
        "pricing": run.pricing.to_dict(),
        "notes": [n.as_dict() for n in run.notes],
    }
    (folder / "run.json").write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
        for name in sorted(os.listdir(folder))
    }


def _tasks_frame(stored: pd.DataFrame, task_ids: pd.Index | None = None) -> pd.DataFrame:
    """tasks.parquet as the run's ``tasks``: indexed by task id (str), the index named task_id.

    The file holds task_id as a column; a file whose pandas metadata made task_id (or an unnamed
    index, as ``DataFrame.to_parquet`` keeps one) the index is read the same way. Where the ids
    are ``task_ids`` (the answers' categories) in order, as an import writes them, the index is
    those categories: the ids are held once.
    """
    if TASK_ID in stored.columns:
        tasks = stored.set_index(TASK_ID)
    elif stored.index.name in (TASK_ID, None) and not isinstance(stored.index, pd.RangeIndex):
        tasks = stored
    else:
        raise KeyError(f"tasks.parquet has no {TASK_ID} column")
    index = tasks.index.astype("str")
    same = task_ids is not None and index.equals(task_ids)
    return tasks.set_axis((task_ids if same else index).rename(TASK_ID), axis=0)


def read_tasks(path: Path, task_ids: pd.Index) -> pd.DataFrame:
    """tasks.parquet as the run's ``tasks`` (see :func:`_tasks_frame`), a column at a time.

    When its task ids are ``task_ids`` in order (as an import writes them), they are compared and
    dropped, the index is ``task_ids`` itself, and each input column is kept as the Arrow text it
    was read as: one copy of everything.
    """
    stored = pq.ParquetFile(path)
    names = stored.schema_arrow.names
    if TASK_ID not in names:
        stored.close()
        return _tasks_frame(pd.read_parquet(path), task_ids)
    ids = stored.read(columns=[TASK_ID]).column(0)
    same = len(ids) == len(task_ids) and ids.equals(pa.chunked_array([pa.array(task_ids.array)], ids.type))
    del ids
    if not same:
        stored.close()
        return _tasks_frame(pd.read_parquet(path), task_ids)
    frame = pd.DataFrame(index=task_ids.rename(TASK_ID))
    for name in names:
        if name != TASK_ID and name not in _PANDAS_INDEX_COLUMNS:
            col = stored.read(columns=[name]).column(0)
            text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
            frame[name] = pd.array(col.cast(pa.large_string()), dtype="str") if text else col.to_pandas().to_numpy()
    stored.close()
    return frame


_PANDAS_INDEX_COLUMNS = ("__index_level_0__",)


def write_answers(answers: pd.DataFrame, path: Path, *, task_codes: bool = False) -> None:
    """Answers as Parquet with one dictionary per categorical column, in one row group.

    One row group and a dictionary page large enough for every id keep each column's dictionary
    stored once, so reading 10^7 answers back is a matter of seconds, not a re-encoding.
    ``task_codes``: the task ids are tasks.parquet's, in code order; the answers hold each task's
    row there (:data:`TASK_CODE`), not a dictionary of them (at 10^7 answers, writing 3 M ids
    into a dictionary costs a second and 0.5 GB; reading them back, seconds).
    """
    table = pa.Table.from_pandas(answers, preserve_index=False)
    if task_codes:
        at = table.schema.get_field_index("task_id")
        codes = pa.array(answers["task_id"].cat.codes.to_numpy().astype(np.int32, copy=False))
        table = table.set_column(at, pa.field(TASK_CODE, pa.int32(), nullable=False), codes)
        # pandas' note would name a categorical task_id that is not there
        notes = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"pandas"}
        table = table.replace_schema_metadata({**notes, TASK_IDS_KEY: b"tasks.parquet task_id, row task_code"})
    pq.write_table(
        table,
        path,
        compression="zstd",
        row_group_size=max(1, len(answers)),
        dictionary_pagesize_limit=1 << 30,
        data_page_size=1 << 24,
        # only the categoricals are dictionary-encoded and only the rest carries statistics: min/max over
        # millions of ids, or a dictionary of a million timestamps, would cost seconds and serve no reader
        use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)] or False,
        write_statistics=[f.name for f in table.schema if not pa.types.is_dictionary(f.type)] or False,
    )


def _categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """A dictionary column as a Categorical: the stored codes (no widening) and Arrow-backed ``str`` categories."""
    chunks = column.chunks
    if not chunks:
        return pd.Categorical.from_codes(np.array([], dtype=np.int8), categories=pd.Index([], dtype="str"))
    first = chunks[0].dictionary
    # row groups of one file (over 64 M rows) each carry the same dictionary: compared, not unified
    # (unifying hashes every id again: minutes for 30 M task ids)
    if not all(_same_buffers(c.dictionary, first) or c.dictionary.equals(first) for c in chunks[1:]):
        column = column.unify_dictionaries()
        chunks, first = column.chunks, column.chunks[0].dictionary
    dtype = code_type(len(first))
    parts = [
        (pc.fill_null(c.indices, -1) if c.indices.null_count else c.indices)
        .to_numpy(zero_copy_only=False)
        .astype(dtype, copy=False)
        for c in chunks
    ]
    codes = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return categorical(codes, first)


def _same_buffers(a: pa.Array, b: pa.Array) -> bool:
    ba, bb = a.buffers(), b.buffers()
    return len(ba) == len(bb) and all(
        (x is None and y is None) or (x is not None and y is not None and x.address == y.address)
        for x, y in zip(ba, bb, strict=True)
    )


def read_answers(path: Path, tasks: Path | None = None) -> pd.DataFrame:
    """Read :func:`write_answers`' file into the canonical dtypes (categoricals, UTC times).

    Columns are read and converted one at a time on two threads, so what is held at the peak is
    the frame and two columns' Arrow copies; the frame is put together without a copy. Task codes
    take their ids from ``tasks`` (by default the tasks.parquet beside ``path``).
    """
    stored = pq.ParquetFile(path)
    names, rows = stored.schema_arrow.names, stored.metadata.num_rows
    stored.close()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="crowdlens-open") as pool:
        columns = list(pool.map(lambda name: _column(path, name), names))  # a reader of its own per column
    release_memory()
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    for name, column in zip(names, columns, strict=True):
        if name == TASK_CODE:
            name, column = "task_id", task_categorical(column.to_numpy(), tasks or path.with_name("tasks.parquet"))
        frame[name] = column  # one block per column: no consolidating copy of the times
    return frame


def task_ids(tasks: Path) -> pa.Array:
    """tasks.parquet's task ids, in their stored order (a task code's row)."""
    ids = pq.ParquetFile(tasks).read(columns=[TASK_ID], use_threads=False).column(0)
    return (ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)).cast(pa.large_string())


def task_categorical(codes: np.ndarray, tasks: Path) -> pd.Categorical:
    """Stored task codes and tasks.parquet's ids as the answers' task_id; a code with no task
    there (the two files do not belong together) is a ValueError naming both."""
    ids = task_ids(tasks)
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= len(ids)):
        raise ValueError(
            f"its task codes run from {int(codes.min())} to {int(codes.max())}, but {tasks.name} "
            f"holds {len(ids):,} task ids: the two files are not of one version"
        )
    return categorical(codes.astype(code_type(len(ids)), copy=False), ids)


def _column(path: Path, name: str):
    # ParquetFile.read, not read_table: one chunk per row group, not one per 128 K rows to put together
    col = pq.ParquetFile(path).read(columns=[name], use_threads=False).column(0)
    if pa.types.is_dictionary(col.type):
        return _categorical(col)
    if pa.types.is_timestamp(col.type):
        return pd.Series(_utc_times(col), copy=False)
    return col.to_pandas()


def _utc_times(col: pa.ChunkedArray):
    """A timestamp column as UTC times: Arrow keeps instants (a naive time taken as UTC) as int64
    nanoseconds, which are the values; pyarrow's to_pandas localizes and converts them (2 x 0.1 s at 10^7)."""
    ns = col.cast(pa.timestamp("ns", tz=col.type.tz)) if col.type.unit != "ns" else col
    ints = ns.cast(pa.int64())
    if ints.null_count:
        ints = pc.fill_null(ints, np.iinfo(np.int64).min)
    one = ints.combine_chunks() if ints.num_chunks != 1 else ints.chunk(0)
    return utc_stamps(one.to_numpy(zero_copy_only=False))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_files(folder: Path, expected: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(file name, reason) of the first run file that is missing, of the wrong size, not Parquet
    at both ends, or (run.json) not a valid run document; None when all look whole.

    Cheap enough for every listing: sizes and 4 bytes at each end of a Parquet file, never a
    hash. ``expected`` is the manifest's ``files`` entry (name -> bytes, sha256), when it has one.
    """
    names = sorted(set(RUN_FILES) | set(expected or ()))
    for name in names:
        path = folder / name
        if not path.is_file():
            return name, f"{name} is missing"
        size = path.stat().st_size
        want = (expected or {}).get(name) or {}
        if "bytes" in want and size != want["bytes"]:
            return name, f"{name} has {size:,} bytes, its manifest says {want['bytes']:,} (cut short or changed)"
        if name.endswith(".parquet") and not _parquet_ends(path, size):
            return name, f"{name} is not a whole Parquet file (no PAR1 mark at its start and end; cut short?)"
    return _check_run_doc(folder / "run.json")


def _parquet_ends(path: Path, size: int) -> bool:
    if size < 2 * len(PARQUET_MAGIC) + 4:
        return False
    with path.open("rb") as f:
        head = f.read(len(PARQUET_MAGIC))
        f.seek(size - len(PARQUET_MAGIC))
        return head == PARQUET_MAGIC and f.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _check_run_doc(path: Path) -> tuple[str, str] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return path.name, f"run.json cannot be read ({err})"
    errors = run_doc_errors(doc)
    return (path.name, "run.json: " + reason(errors)) if errors else None


def check_hashes(
    folder: Path, expected: Mapping[str, Any] | None, limit: int = HASH_ON_OPEN_LIMIT
) -> tuple[str, str] | None:
    """(file name, reason) of the first file whose sha256 differs from the manifest's; skipped
    (None) when the files together are larger than ``limit`` bytes, where hashing would be slow."""
    entries = {n: e for n, e in (expected or {}).items() if isinstance(e, dict) and e.get("sha256")}
    if sum(int(e.get("bytes") or 0) for e in entries.values()) > limit:
        return None
    for name, entry in sorted(entries.items()):
        if (folder / name).is_file() and sha256(folder / name) != entry["sha256"]:
            return name, f"{name} does not have the sha256 its manifest records (changed after the import)"
    return None


def read_run_files(
    folder: Path,
    *,
    name: str | None = None,
    version_id: str | None = None,
    expected: Mapping[str, Any] | None = None,
) -> Run:
    """Read a run written by :func:`write_run_files` (a workspace version or a ClearML copy).

    The files were validated when the version was made; here they are checked for being whole
    (and, for a version of at most :data:`HASH_ON_OPEN_LIMIT` bytes, against the manifest's
    sha256), so a damaged folder raises DamagedVersionError naming the file and the fix.
    """
    folder = Path(folder)

    def damaged(file: str, why: str) -> DamagedVersionError:
        return DamagedVersionError(
            DamagedVersion(
                id=version_id or (name or folder.parent.name),
                folder=str(folder.parent),
                file=str(folder / file),
                reason=why,
                fix=repair_fix(folder.parent),
            )
        )

    bad = check_files(folder, expected) or check_hashes(folder, expected)
    if bad:
        raise damaged(*bad)
    current = "run.json"
    try:
        doc = json.loads((folder / current).read_text(encoding="utf-8"))
        meta = RunMeta.from_dict(doc.get("meta"))
        pricing = Pricing.from_dict(doc.get("pricing"))
        notes = tuple(
            Problem(**{**n, "rows": tuple(n.get("rows", ())), "values": tuple(n.get("values", ()))})
            for n in doc.get("notes", []) or []
        )
        current = "answers.parquet"
        answers = _canonical_answers(read_answers(folder / current), meta)
        current = "tasks.parquet"
        tasks = _tasks_when_used(folder / current, answers["task_id"].cat.categories, damaged)
        current = "restrictions.parquet"
        restrictions = pd.read_parquet(folder / current)
        current = "truth.parquet"
        truth = _read_truth(folder / current, meta)
    except READ_ERRORS as err:
        raise damaged(current, cannot_read(current, err)) from None
    if len(restrictions) == 0:
        restrictions = empty_restrictions()
    release_memory()
    return Run(
        answers=answers, tasks=tasks, restrictions=restrictions, pricing=pricing, meta=meta, truth=truth, notes=notes
    )


def cannot_read(file: str, err: Exception) -> str:
    return f"{file} cannot be read ({type(err).__name__}: {str(err)[:300]})"


def _tasks_when_used(path: Path, task_ids: pd.Index, damaged) -> pd.DataFrame | TaskTexts:
    """The version's task texts: read now, or when first used when the file is over :data:`DEFER_TASKS_BYTES`."""
    if path.stat().st_size <= DEFER_TASKS_BYTES:
        return read_tasks(path, task_ids)
    return TaskTexts(
        path, lambda: read_tasks(path, task_ids), lambda err: damaged(path.name, cannot_read(path.name, err))
    )


def _canonical_answers(answers: pd.DataFrame, meta: RunMeta) -> pd.DataFrame:
    label_dtype = pd.CategoricalDtype(pd.Index(list(meta.labels), dtype="str"))
    for col, dtype in (
        ("label", label_dtype),
        ("golden", label_dtype),
        ("kind", pd.CategoricalDtype(KINDS)),
        ("status", pd.CategoricalDtype(STATUSES)),
    ):
        # category-level re-ordering only: rows are never converted to strings
        answers[col] = answers[col].cat.set_categories(dtype.categories)
    for col in ("assignment_id", "task_id", "worker_id", "pool_id"):
        if not isinstance(answers[col].dtype, pd.CategoricalDtype):
            answers[col] = answers[col].astype("category")
        if answers[col].cat.categories.dtype != "str":
            # Parquet gives an all-null column's categories the object dtype; keep them strings
            answers[col] = answers[col].cat.rename_categories(answers[col].cat.categories.astype("str"))
    return answers


def _read_truth(path: Path, meta: RunMeta) -> pd.Series | None:
    if not path.exists():
        return None
    t = pd.read_parquet(path)
    truth = pd.Series(t["truth"].to_numpy(), index=pd.Index(t["task_id"].astype(str), name="task_id"), name="truth")
    return truth.astype(pd.CategoricalDtype(pd.Index(list(meta.labels), dtype="str")))
