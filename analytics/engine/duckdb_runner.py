"""Run the engine-neutral SQL expressions on DuckDB and return numpy arrays in the kernels' shapes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.engine import schema
from analytics.engine.sql import render
from analytics.kernels import MajorityVoteResult, PairwiseAgreement
from analytics.model import Run


class WorkerTotals(NamedTuple):
    """Per worker code, (n_workers,) int64: answers, control answers with a golden label, and
    those equal to it (``control``/``control_correct`` are kernels.worker_accuracy's n/n_correct)."""

    answers: np.ndarray
    control: np.ndarray
    control_correct: np.ndarray


@dataclass(frozen=True)
class DawidSkeneState:
    """Dawid-Skene after ``n_iter`` EM iterations, in kernels.DawidSkeneResult's shapes and
    conventions: probas (n_tasks, n_labels) with NaN rows for unanswered tasks and 0 for labels
    no answer uses; priors (n_labels,), 0 for unused labels; errors[w, true, observed]
    (n_workers, n_labels, n_labels), NaN for workers without answers and unused true labels;
    labels (n_tasks,) the most probable label (lowest code on exact ties), -1 without answers."""

    labels: np.ndarray
    probas: np.ndarray
    priors: np.ndarray
    errors: np.ndarray
    n_iter: int


Source = Run | pd.DataFrame | pa.Table | schema.AnswerTable | str | os.PathLike


def answer_table(source: Source) -> schema.AnswerTable:
    """The answers table of a run, a frame/Arrow table in the engine's shape, or a Parquet path
    (a workspace version's answers.parquet, or a file already in the engine's shape)."""
    if isinstance(source, schema.AnswerTable):
        return source
    if isinstance(source, Run):
        return schema.from_run(source)
    if isinstance(source, (pd.DataFrame, pa.Table)):
        return schema.from_frame(source)
    path = Path(source)
    names = pq.read_schema(path).names
    if schema.is_workspace_answers(names):
        return schema.from_workspace_parquet(path)
    return schema.from_frame(pq.read_table(path, columns=[c for c in schema.COLUMNS if c in names]))


def _filled(values, fill) -> np.ndarray:
    return np.ma.filled(values, fill) if np.ma.isMaskedArray(values) else np.asarray(values)


class DuckDBRunner:
    """The expressions of analytics/engine/sql.py on one DuckDB connection over one answers table.

    ``seconds`` holds the wall time of the last run of each expression (for sizing). ``texts``
    replaces expressions by name with other (already rendered) SQL text, e.g. the text a Spark
    or Trino job runs translated back to DuckDB, so that exactly that text is what is checked.
    ``materialize`` copies the answers into DuckDB's own storage instead of scanning Arrow;
    ``config`` goes to ``duckdb.connect`` (e.g. memory_limit, temp_directory for spilling)."""

    def __init__(
        self,
        source: Source,
        *,
        threads: int | None = None,
        materialize: bool = False,
        texts: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
    ):
        self.answers = answer_table(source)
        self.texts = dict(texts or {})
        self.con = duckdb.connect(config=dict(config or {}))
        if threads is not None:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.register("answers_arrow", self.answers.table)
        kind = "TABLE" if materialize else "VIEW"
        self.con.execute(f"CREATE TEMP {kind} answers AS SELECT * FROM answers_arrow")
        self.seconds: dict[str, float] = {}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "DuckDBRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query(self, name: str, **params) -> dict[str, np.ndarray]:
        """Run expression ``name`` and fetch its columns as numpy arrays (masked where NULL)."""
        start = time.perf_counter()
        out = self.con.execute(self._text(name, **params)).fetchnumpy()
        self.seconds[name] = time.perf_counter() - start
        return out

    def _text(self, name: str, **params) -> str:
        return self.texts[name] if name in self.texts else render(name, **params)

    def _store(self, table: str, name: str) -> None:
        """Materialize expression ``name`` as the temp table the next step reads."""
        start = time.perf_counter()
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {self._text(name)}")
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    # -- 1. votes --------------------------------------------------------------------------

    def vote_counts(self) -> np.ndarray:
        """kernels.vote_counts: (n_tasks, n_labels) float64, column-major like the kernel's."""
        r = self.query("vote_counts")
        counts = np.zeros((self.answers.n_labels, self.answers.n_tasks)).T
        counts[r["task"].astype(np.int64), r["label"].astype(np.int64)] = r["n"]
        return counts

    def majority_vote(self, counts: np.ndarray | None = None) -> MajorityVoteResult:
        """kernels.majority_vote (unweighted): label and tie flag from the SQL, shares from the
        vote counts (``counts``, or the vote_counts expression)."""
        r = self.query("majority_vote")
        t = r["task"].astype(np.int64)
        labels = np.full(self.answers.n_tasks, -1, dtype=np.int64)
        labels[t] = r["label"]
        tied = np.zeros(self.answers.n_tasks, dtype=bool)
        tied[t] = r["n_top"] > 1
        counts = self.vote_counts() if counts is None else counts
        total = counts.sum(axis=1)
        probas = np.full(counts.shape, np.nan)
        has = total > 0
        probas[has] = counts[has] / total[has, None]
        return MajorityVoteResult(labels=labels, probas=probas, tied=tied)

    # -- 2. workers ------------------------------------------------------------------------

    def worker_counts(self) -> WorkerTotals:
        """Answers, control answers and correct control answers per worker code."""
        r = self.query("worker_counts")
        w = r["worker"].astype(np.int64)
        out = [np.zeros(self.answers.n_workers, dtype=np.int64) for _ in range(3)]
        for arr, col in zip(out, ("answers", "control_answers", "control_correct"), strict=True):
            arr[w] = r[col]
        return WorkerTotals(*out)

    # -- 3. pairs --------------------------------------------------------------------------

    def pairwise_agreement(self, min_shared: int = 10) -> PairwiseAgreement:
        """kernels.pairwise_agreement: pairs sharing >= min_shared tasks, sorted by (a, b)."""
        r = self.query("pairs", min_shared=min_shared)
        a, b = r["worker_a"].astype(np.int64), r["worker_b"].astype(np.int64)
        order = np.lexsort((b, a))
        return PairwiseAgreement(
            worker_a=a[order],
            worker_b=b[order],
            n_shared=r["n_shared"].astype(np.int64)[order],
            agreement=_filled(r["agreement"], np.nan).astype(np.float64)[order],
            kappa=_filled(r["kappa"], np.nan).astype(np.float64)[order],
        )

    # -- 4. Dawid-Skene --------------------------------------------------------------------

    def dawid_skene(self, n_iter: int) -> DawidSkeneState:
        """kernels.dawid_skene(..., n_iter=n_iter, tol=-inf): initialise from majority-vote
        shares (posteriors, priors = their mean, errors = M-step), then ``n_iter`` times E-step,
        priors, M-step, each one SQL statement materialized as a temp table."""
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
        for name in ("ds_initial_posteriors", "ds_priors", "ds_m_step", "ds_e_step"):
            self.seconds.pop(name, None)
        self._store("posteriors", "ds_initial_posteriors")
        self._store("priors", "ds_priors")
        self._store("errors", "ds_m_step")
        for _ in range(n_iter):
            self._store("posteriors", "ds_e_step")
            self._store("priors", "ds_priors")
            self._store("errors", "ds_m_step")
        return self._ds_state(n_iter)

    def _ds_state(self, n_iter: int) -> DawidSkeneState:
        nt, nw, nl = self.answers.n_tasks, self.answers.n_workers, self.answers.n_labels
        post = self.con.execute("SELECT task, label, p FROM posteriors").fetchnumpy()
        pri = self.con.execute("SELECT label, prior FROM priors").fetchnumpy()
        err = self.con.execute("SELECT worker, observed, truth, e FROM errors").fetchnumpy()
        t, lab = post["task"].astype(np.int64), post["label"].astype(np.int64)
        probas = np.full((nt, nl), np.nan)
        probas[np.unique(t)] = 0.0
        probas[t, lab] = post["p"]
        priors = np.zeros(nl)
        truths = pri["label"].astype(np.int64)
        priors[truths] = pri["prior"]
        errors = np.full((nw, nl, nl), np.nan)
        w = err["worker"].astype(np.int64)
        present = np.unique(w)
        errors[np.ix_(present, truths)] = 0.0
        errors[w, err["truth"].astype(np.int64), err["observed"].astype(np.int64)] = err["e"]
        labels = np.full(nt, -1, dtype=np.int64)
        answered = np.unique(t)
        labels[answered] = np.argmax(probas[answered], axis=1)  # first maximum: the lowest code
        return DawidSkeneState(labels=labels, probas=probas, priors=priors, errors=errors, n_iter=n_iter)
