"""The yardsticks measured in the same run: DuckDB's TSV -> Parquet and SQL, and the floors of the report.

Each function runs inside a bench stage process (benchmarks/stage.py) and returns its seconds
per part; the stage adds the process's peak memory, and the bench its wall time from start to exit.

- :func:`duckdb_copy`: what a data engineer runs to make the TSV queryable, all columns as text.
- :func:`duckdb_sql`: the figures a data engineer would write in SQL from that Parquet: majority
  vote per task (lowest label on ties), each annotator's accuracy on the control tasks, and
  Fleiss' kappa; no Dawid-Skene.
- :func:`floor_workspace` / :func:`floor_tsv`: the least work any report on this run must do on
  this machine: read the coded columns (from the workspace's Parquet, or from the TSV with
  pyarrow, dictionary-encoding them), build the sparse task x (annotator, label) matrix, and run
  :data:`N_ITER` Dawid-Skene iterations as two sparse products and an exp each (:func:`ds_floor`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

N_ITER = 20
# what the report reads from a Toloka TSV: everything but the task inputs and the link
TSV_NEEDED = {
    "OUTPUT:result": "dict",
    "GOLDEN:result": "dict",
    "ASSIGNMENT:task_id": "dict",
    "ASSIGNMENT:assignment_id": "dict",
    "ASSIGNMENT:worker_id": "dict",
    "ASSIGNMENT:status": "dict",
    "ASSIGNMENT:started": "time",
    "ASSIGNMENT:submitted": "time",
    "ASSIGNMENT:reward": "float",
}
POOL_KINDS = ("regular", "control")


class Clock:
    """Seconds per named part of the work."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.parts[name] = self.parts.get(name, 0.0) + now - self._t
        self._t = now


# --------------------------------------------------------------------------------------------
# DuckDB


def duckdb_copy(tsv: str, parquet: str) -> dict[str, Any]:
    import duckdb

    clock = Clock()
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{tsv}', delim='\\t', header=true, all_varchar=true)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    clock.lap("COPY TSV -> Parquet")
    return {"parts": clock.parts, "parquet_bytes": Path(parquet).stat().st_size}


SQL_VIEW = """
CREATE VIEW answers AS
SELECT "ASSIGNMENT:task_id" AS task, "ASSIGNMENT:worker_id" AS worker,
       "OUTPUT:result" AS label, NULLIF("GOLDEN:result", '') AS golden
FROM read_parquet('{parquet}') WHERE "OUTPUT:result" <> ''
"""
SQL = {
    "majority vote": """
CREATE TABLE majority AS
SELECT task, label FROM (SELECT task, label, count(*) AS n FROM answers GROUP BY task, label)
QUALIFY row_number() OVER (PARTITION BY task ORDER BY n DESC, label) = 1
""",
    "golden accuracy per annotator": """
CREATE TABLE golden_accuracy AS
SELECT worker, count(*) AS n, avg(CASE WHEN label = golden THEN 1.0 ELSE 0.0 END) AS accuracy
FROM answers WHERE golden IS NOT NULL GROUP BY worker
""",
    "Fleiss' kappa": """
WITH c AS (SELECT task, label, count(*)::DOUBLE AS n FROM answers GROUP BY task, label),
t AS (SELECT task, sum(n) AS m, sum(n * (n - 1)) AS s FROM c GROUP BY task HAVING sum(n) >= 2),
p AS (SELECT c.label, sum(c.n / t.m) / (SELECT count(*) FROM t) AS pj FROM c JOIN t USING (task) GROUP BY c.label),
e AS (SELECT sum(pj * pj) AS pe FROM p)
SELECT ((SELECT avg(s / (m * (m - 1))) FROM t) - pe) / (1 - pe) FROM e
""",
}


def duckdb_sql(parquet: str) -> dict[str, Any]:
    import duckdb

    clock = Clock()
    con = duckdb.connect()  # in memory: the result tables stay in the process
    con.execute(SQL_VIEW.format(parquet=parquet))
    out: dict[str, Any] = {}
    for name, sql in SQL.items():
        rows = con.execute(sql).fetchall()
        clock.lap(name)
        if rows:
            out[name] = rows[0][0]
    tasks = con.execute("SELECT count(*) FROM majority").fetchone()[0]
    return {"parts": clock.parts, "kappa": out.get("Fleiss' kappa"), "tasks": tasks}


# --------------------------------------------------------------------------------------------
# the floors


def ds_floor(task, worker, label, clock: Clock, n_iter: int = N_ITER) -> dict[str, Any]:
    """Build A (tasks x annotator*labels, one 1 per answer; float32, rows by task) and run
    ``n_iter`` Dawid-Skene iterations: confusion counts A.T @ P (A.T as a CSC view: P is read in
    order, the small counts array scattered into), their logs, A @ logE + log prior, exp, normalise."""
    import numpy as np
    import scipy.sparse as sp

    f32 = np.float32
    n_t, n_w, n_l = int(task.max()) + 1, int(worker.max()) + 1, int(label.max()) + 1
    cols = worker.astype(np.int64) * n_l + label
    a = sp.csr_matrix((np.ones(task.size, f32), (task, cols)), shape=(n_t, n_w * n_l))
    onehot = sp.csr_matrix(
        (np.ones(n_w * n_l, f32), (np.arange(n_w * n_l), np.tile(np.arange(n_l), n_w))), shape=(n_w * n_l, n_l)
    )
    p = np.asarray((a @ onehot).todense())  # majority shares to start from
    p /= np.maximum(p.sum(axis=1, keepdims=True), f32(1e-12))
    clock.lap("sparse matrix")
    for _ in range(n_iter):
        counts = (a.T @ p).reshape(n_w, n_l, n_l)  # [annotator, label given, true label]
        log_e = np.log((counts + f32(1e-6)) / (counts.sum(axis=1, keepdims=True) + f32(1e-6 * n_l)))
        s = a @ log_e.reshape(n_w * n_l, n_l) + np.log(p.mean(axis=0) + f32(1e-12))
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        p = s
    clock.lap(f"{n_iter} Dawid-Skene iterations")
    return {"tasks": n_t, "annotators": n_w, "labels": n_l, "pool_answers": int(task.size), "dtype": str(p.dtype)}


def _codes(column) -> tuple[Any, list[str]]:
    """The integer codes (nulls as -1) and the values of a dictionary-encoded Arrow column
    (encoded here when it is not). No to_numpy(zero_copy_only=False): that imports pandas."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # one dictionary for all the chunks
    indices = column.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return _plain(indices).astype(np.int32), column.dictionary.to_pylist()


def _plain(array) -> Any:
    """An integer Arrow array's (or one-chunk column's) values as numpy: its values buffer as it is
    (to_numpy would import pandas: a second, off the floor's work)."""
    import numpy as np

    if hasattr(array, "combine_chunks"):
        array = array.combine_chunks()
    width = array.type.bit_width // 8
    return np.frombuffer(array.buffers()[1], dtype=f"i{width}", count=len(array), offset=array.offset * width)


def answers_parquet(workspace: str) -> Path:
    """The answers file of the (newest) version in a workspace."""
    found = sorted(Path(workspace).glob("versions/*/files/answers.parquet"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no versions/*/files/answers.parquet under {workspace}")
    return found[-1]


def floor_workspace(workspace: str) -> dict[str, Any]:
    """The floor of the report on a stored version: the coded columns read from its Parquet."""
    import numpy as np
    import pyarrow.parquet as pq

    path = answers_parquet(workspace)
    clock = Clock()
    # ParquetFile.read, not read_table: that imports pandas (for the file's pandas metadata)
    stored = pq.ParquetFile(path)
    coded = "task_code" in stored.schema_arrow.names  # task codes (the ids in tasks.parquet), or older, task_id
    table = stored.read(columns=["task_code" if coded else "task_id", "worker_id", "label", "kind"])
    (worker, _), (label, _) = (_codes(table[c]) for c in ("worker_id", "label"))
    task = _plain(table["task_code"]) if coded else _codes(table["task_id"])[0]
    kind, kinds = _codes(table["kind"])
    pool = np.isin(kind, [kinds.index(k) for k in POOL_KINDS if k in kinds]) & (label >= 0)
    task, worker, label = task[pool], worker[pool], label[pool]
    clock.lap("Parquet read of the coded columns")
    out = ds_floor(task, worker, label, clock)
    return out | {"parts": clock.parts, "parquet": str(path)}


def floor_tsv(tsv: str) -> dict[str, Any]:
    """The floor of the report on a TSV: pyarrow reads the needed columns, dictionary-encoding
    the text ones as it goes (timestamps and rewards parsed), then the same Dawid-Skene floor."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {"dict": pa.dictionary(pa.int32(), pa.string()), "time": pa.timestamp("ms"), "float": pa.float64()}
    clock = Clock()
    table = pacsv.read_csv(
        tsv,
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(TSV_NEEDED), column_types={c: types[t] for c, t in TSV_NEEDED.items()}
        ),
    )
    # each chunk was read with a dictionary of its own: combining unifies them, one column at a time
    codes = {c: _codes(table[c]) for c, t in TSV_NEEDED.items() if t == "dict"}
    task, worker, (label, labels) = (
        codes["ASSIGNMENT:task_id"][0],
        codes["ASSIGNMENT:worker_id"][0],
        codes["OUTPUT:result"],
    )
    keep = label != (labels.index("") if "" in labels else -2)
    task, worker, label = task[keep], worker[keep], label[keep]
    clock.lap("pyarrow read + dictionary-encode of the needed columns")
    out = ds_floor(task, worker, label, clock)
    return out | {"parts": clock.parts, "columns": list(TSV_NEEDED), "rows": table.num_rows, "numpy": np.__version__}
