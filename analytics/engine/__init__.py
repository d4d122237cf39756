"""Past one machine: the group-by metrics as engine-neutral SQL (DuckDB, Spark SQL, Trino), with a DuckDB runner."""

# sql.py holds the expressions (vote counts, majority vote, per-worker counts, worker pairs, the
# Dawid-Skene steps) as SQL text in the subset the three engines share; schema.py the integer-
# coded ``answers`` table they read and how to build it; duckdb_runner.py runs them on DuckDB
# and returns the numpy kernels' shapes (tests/test_engine_sql.py checks them against
# analytics.kernels to 1e-9). README.md ("Large runs") says how to run them on Spark or Trino.

from analytics.engine.duckdb_runner import DawidSkeneState, DuckDBRunner, WorkerTotals, answer_table
from analytics.engine.schema import COLUMNS, AnswerTable, from_frame, from_run, from_workspace_parquet
from analytics.engine.sql import EXPRESSIONS, render

__all__ = [
    "COLUMNS",
    "EXPRESSIONS",
    "AnswerTable",
    "DawidSkeneState",
    "DuckDBRunner",
    "WorkerTotals",
    "answer_table",
    "from_frame",
    "from_run",
    "from_workspace_parquet",
    "render",
]
