"""The engine-neutral SQL expressions (analytics/engine) run on DuckDB against the numpy kernels, to 1e-9."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from conftest import shared

from analytics import kernels as K
from analytics.engine import EXPRESSIONS, DuckDBRunner, from_frame, from_run, from_workspace_parquet, render
from analytics.metrics.aggregation import pool_codes
from analytics.model import build_run
from analytics.sources import ReadOptions, read_files
from analytics.sources.run_files import write_answers

TOL = 1e-9
ITERATIONS = (1, 3)


@dataclass(frozen=True)
class Case:
    """Integer-coded answers (the kernels' inputs) with control kinds and golden codes (-1 = none)."""

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    golden: np.ndarray
    control: np.ndarray
    n_tasks: int
    n_workers: int
    n_labels: int

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "task": self.task,
                "worker": self.worker,
                "label": self.label,
                "golden": pd.array(np.where(self.golden >= 0, self.golden, None), dtype="Int64"),
                "kind": np.where(self.control, "control", "regular"),
            }
        )

    def runner(self, **kw) -> DuckDBRunner:
        return DuckDBRunner(from_frame(self.frame(), self.n_tasks, self.n_workers, self.n_labels), **kw)


def random_case(seed: int, n_answers: int, n_tasks: int, n_workers: int, n_labels: int) -> Case:
    """A seeded run with every awkward shape at once: labels no answer uses (among them code 0 in
    odd seeds), unanswered task and worker codes, a worker with a single answer, repeated answers
    by a worker on a task (some with a different label), control tasks with and without golden."""
    rng = np.random.default_rng(seed)
    k_used = max(2, n_labels - 2)
    used = np.sort(rng.choice(np.arange(1 if seed % 2 else 0, n_labels), size=k_used, replace=False))
    truth = rng.choice(used, size=n_tasks)
    skill = rng.uniform(0.35, 0.95, size=n_workers)
    task = rng.integers(0, n_tasks - 2, size=n_answers)  # the last two task codes stay unanswered
    worker = rng.integers(0, n_workers - 2, size=n_answers)  # n_workers - 1 never answers
    worker[-1] = n_workers - 2  # ...and n_workers - 2 answers exactly once
    right = rng.random(n_answers) < skill[worker]
    label = np.where(right, truth[task], rng.choice(used, size=n_answers))
    again = rng.choice(n_answers - 1, size=max(1, n_answers // 15), replace=False)
    relabel = np.where(rng.random(len(again)) < 0.5, label[again], rng.choice(used, size=len(again)))
    task, worker = np.r_[task, task[again]], np.r_[worker, worker[again]]
    label = np.r_[label, relabel]
    order = rng.permutation(len(task))  # row order must not matter
    task, worker, label = task[order], worker[order], label[order]
    control_task = rng.random(n_tasks) < 0.2
    known = control_task & (rng.random(n_tasks) < 0.7)  # 30 % of control tasks lack a golden label
    control = control_task[task]
    golden = np.where(known[task], truth[task], -1)
    return Case(task, worker, label.astype(np.int64), golden, control, n_tasks, n_workers, n_labels)


SIZES = {
    "tiny": (60, 20, 8, 4),
    "small": (2_000, 300, 40, 5),
    "medium": (30_000, 4_000, 150, 6),
}


@pytest.fixture(params=[(name, seed) for name in SIZES for seed in (1, 2)], ids=lambda p: f"{p[0]}-seed{p[1]}")
def case(request) -> Case:
    name, seed = request.param
    return random_case(seed, *SIZES[name])


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(ours), nan), f"{what}: NaN in different places"
    if (~nan).any():
        gap = float(np.max(np.abs(ours[~nan] - ref[~nan])))
        assert gap <= TOL, f"{what}: differs by {gap:.3g}"


# --------------------------------------------------------------------------------------------
# the four expressions against the kernels


def check_votes(runner: DuckDBRunner, c: Case) -> None:
    counts = runner.vote_counts()
    assert_close(counts, K.vote_counts(c.task, c.label, c.n_tasks, c.n_labels), "vote counts")
    ours, ref = runner.majority_vote(counts), K.majority_vote(c.task, c.label, c.n_tasks, c.n_labels)
    assert np.array_equal(ours.labels, ref.labels)
    assert np.array_equal(ours.tied, ref.tied)
    assert_close(ours.probas, ref.probas, "vote shares")


def check_workers(runner: DuckDBRunner, c: Case) -> None:
    ours = runner.worker_counts()
    rows = c.control & (c.golden >= 0)
    ref = K.worker_accuracy(c.worker[rows], c.label[rows] == c.golden[rows], c.n_workers)
    assert np.array_equal(ours.answers, np.bincount(c.worker, minlength=c.n_workers))
    assert np.array_equal(ours.control, ref.n)
    assert np.array_equal(ours.control_correct, ref.n_correct)


def check_pairs(runner: DuckDBRunner, c: Case, min_shared: int) -> None:
    ours = runner.pairwise_agreement(min_shared)
    ref = K.pairwise_agreement(c.task, c.worker, c.label, c.n_workers, c.n_labels, min_shared=min_shared)
    assert len(ref.worker_a) > 0 or min_shared > 1
    for field in ("worker_a", "worker_b", "n_shared"):
        assert np.array_equal(getattr(ours, field), getattr(ref, field)), field
    assert_close(ours.agreement, ref.agreement, "agreement")
    assert_close(ours.kappa, ref.kappa, "kappa")


def check_ds(runner: DuckDBRunner, c: Case, n_iter: int) -> None:
    ours = runner.dawid_skene(n_iter)
    ref = K.dawid_skene(c.task, c.worker, c.label, c.n_tasks, c.n_workers, c.n_labels, n_iter=n_iter, tol=-np.inf)
    assert ref.n_iter_run == n_iter
    assert_close(ours.probas, ref.probas, f"posteriors after {n_iter}")
    assert_close(ours.priors, ref.priors, f"priors after {n_iter}")
    assert_close(ours.errors, ref.errors, f"error matrices after {n_iter}")
    # labels: wherever the kernel's top two posteriors are more than rounding apart
    top2 = -np.sort(-np.nan_to_num(ref.probas, nan=-1.0), axis=1)[:, :2] if c.n_labels > 1 else None
    clear = (top2[:, 0] - top2[:, 1] > 1e-6) | (ref.labels < 0)
    assert np.array_equal(ours.labels[clear], ref.labels[clear])


def test_vote_counts_and_majority_vote(case):
    with case.runner() as r:
        check_votes(r, case)


def test_worker_counts(case):
    with case.runner() as r:
        check_workers(r, case)


@pytest.mark.parametrize("min_shared", [1, 3])
def test_pairs(case, min_shared):
    with case.runner() as r:
        check_pairs(r, case, min_shared)


@pytest.mark.parametrize("n_iter", ITERATIONS)
def test_dawid_skene_steps(case, n_iter):
    with case.runner() as r:
        check_ds(r, case, n_iter)


def test_materialized_table_gives_the_same(case):
    with case.runner(materialize=True) as r:
        check_votes(r, case)
        check_ds(r, case, 1)


def test_by_hand():
    # task 0: w0 a, w1 a, w2 b -> a; task 1: w0 b, w1 a -> tie, lowest code a; w2 answers task 0 twice (b, a)
    c = Case(
        task=np.array([0, 0, 0, 1, 1, 0]),
        worker=np.array([0, 1, 2, 0, 1, 2]),
        label=np.array([0, 0, 1, 1, 0, 0]),
        golden=np.array([0, 0, 0, -1, -1, 0]),
        control=np.array([True, True, True, False, False, True]),
        n_tasks=3,
        n_workers=4,
        n_labels=3,
    )
    with c.runner() as r:
        mv = r.majority_vote()
        assert mv.labels.tolist() == [0, 0, -1] and mv.tied.tolist() == [False, True, False]
        w = r.worker_counts()
        assert (w.answers.tolist(), w.control.tolist(), w.control_correct.tolist()) == (
            [2, 2, 2, 0],
            [1, 1, 2, 0],
            [1, 1, 1, 0],
        )
        # w2 on task 0: one b, one a -> tie, lowest code a: agrees with w0 and w1 there
        pairs = r.pairwise_agreement(1)
        assert list(zip(pairs.worker_a, pairs.worker_b, pairs.n_shared, strict=True)) == [
            (0, 1, 2),
            (0, 2, 1),
            (1, 2, 1),
        ]
        assert pairs.agreement.tolist() == [0.5, 1.0, 1.0]
        check_pairs(r, c, 1)
        check_ds(r, c, 3)


# --------------------------------------------------------------------------------------------
# the run and the workspace file give the same table as the metrics' labeling pool


def _toy_run(seed: int = 3, n: int = 3_000):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "task_id": [f"t{i}" for i in rng.integers(0, 400, n)],
            "worker_id": [f"w{i}" for i in rng.integers(0, 60, n)],
            "label": rng.choice(["cat", "dog", "fox"], n).astype(object),
            "kind": rng.choice(["regular", "control", "training", "exam"], n, p=[0.7, 0.15, 0.1, 0.05]),
            "status": rng.choice(["ACCEPTED", "SUBMITTED", "REJECTED", "SKIPPED"], n, p=[0.6, 0.2, 0.1, 0.1]),
        }
    )
    frame.loc[frame["status"] == "SKIPPED", "label"] = None
    frame["golden"] = np.where(frame["kind"] != "regular", rng.choice(["cat", "dog", "fox"], n), None)
    return build_run(frame, file="toy", labels=["ant", "cat", "dog", "fox"])  # "ant" (code 0) unused


def _kernel_case(run) -> Case:
    rows, t, w, lab = pool_codes(run)
    c = run.codes
    control = c.kind[rows] == 1
    return Case(t, w, lab, c.golden[rows].astype(np.int64), control, c.n_tasks, c.n_workers, c.n_labels)


def test_run_and_workspace_parquet_give_the_pool(tmp_path):
    run = _toy_run()
    path = tmp_path / "answers.parquet"
    write_answers(run.answers, path)
    from_file, from_memory = from_workspace_parquet(path), from_run(run)
    assert from_file.table.equals(from_memory.table)
    assert from_file[1:] == from_memory[1:] == (run.codes.n_tasks, run.codes.n_workers, run.codes.n_labels)
    assert from_memory.table.num_rows == len(pool_codes(run)[0])
    c = _kernel_case(run)
    with DuckDBRunner(path) as r:
        check_votes(r, c)
        check_workers(r, c)
        check_pairs(r, c, 2)
        check_ds(r, c, 3)


# --------------------------------------------------------------------------------------------
# the text is the common subset: no engine-specific construct, and it reads the same as Spark/Trino

FORBIDDEN = {
    "QUALIFY": r"\bQUALIFY\b",
    "FILTER (WHERE": r"\bFILTER\s*\(",
    "GROUP BY ALL / positional": r"GROUP BY\s+(ALL\b|\d)",
    "EXCLUDE/REPLACE": r"\b(EXCLUDE|REPLACE)\s*\(",
    ":: cast": r"::",
    "integer //": r"//",
    "GREATEST/LEAST": r"\b(GREATEST|LEAST)\s*\(",
    "LOG( (base differs)": r"\bLOG\s*\(",
    "list/array/struct functions": r"\b(LIST|ARRAY_AGG|UNNEST|STRUCT|LIST_\w+|ARRAY_\w+)\s*\(",
    "arg_max/max_by/count_if/bool_or": r"\b(ARG_MAX|ARG_MIN|MAX_BY|MIN_BY|COUNT_IF|BOOL_OR|BOOL_AND)\s*\(",
    "USING join": r"\bUSING\s*\(",
    "parameter marker / quoted name": r"[?$\"`]",
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_no_engine_specific_construct(name):
    text = render(name, min_shared=5)
    code = re.sub(r"'[^']*'", "''", text).upper()
    found = [what for what, pattern in FORBIDDEN.items() if re.search(pattern, code)]
    assert not found, f"{name} uses {found}"
    for division in re.finditer(r"(\S+)\s*/\s*", code):
        assert division.group(1).endswith(")"), f"{name}: a division whose numerator is not a CAST(...): {division[0]}"


@pytest.mark.parametrize("dialect", ["spark", "trino"])
@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_reads_the_same_in_spark_and_trino(name, dialect):
    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot (dev extra) parses Spark SQL and Trino")
    text = render(name, min_shared=5)
    native = sqlglot.parse_one(text, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    as_duckdb = sqlglot.parse_one(text, read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    # the same statement whether DuckDB or the other engine reads it: nothing dialect-dependent
    assert as_duckdb.sql(dialect=dialect) == native.sql(dialect=dialect)


@pytest.mark.parametrize("dialect", ["spark", "trino"])
def test_text_read_as_spark_or_trino_runs_to_the_kernels(dialect):
    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot (dev extra) parses Spark SQL and Trino")
    texts = {
        name: sqlglot.transpile(render(name, min_shared=2), read=dialect, write="duckdb")[0] for name in EXPRESSIONS
    }
    c = random_case(5, *SIZES["small"])
    with c.runner(texts=texts) as r:
        check_votes(r, c)
        check_workers(r, c)
        check_pairs(r, c, 2)
        check_ds(r, c, 3)


# --------------------------------------------------------------------------------------------
# real data: AdultContent2 (repeated answers, an unused label, gold urls as control tasks)


@pytest.mark.shared_data
def test_adultcontent2_expressions_equal_kernels():
    folder = shared("gal-adultcontent2")
    labels = (folder / "categories.txt").read_text().split()  # G P R X B; B is never used
    answers = pd.read_csv(folder / "labels.txt", sep="\t", header=None, names=["worker", "task", "label"], dtype=str)
    gold = pd.read_csv(folder / "gold.txt", sep="\t", header=None, names=["task", "golden"], dtype=str)
    gold = gold.drop_duplicates("task").set_index("task")["golden"]
    task = pd.Categorical(answers["task"])
    worker = pd.Categorical(answers["worker"])
    label = pd.Categorical(answers["label"], categories=labels)
    golden = pd.Categorical(answers["task"].map(gold), categories=labels).codes.astype(np.int64)
    c = Case(
        task=task.codes.astype(np.int64),
        worker=worker.codes.astype(np.int64),
        label=label.codes.astype(np.int64),
        golden=golden,
        control=golden >= 0,
        n_tasks=len(task.categories),
        n_workers=len(worker.categories),
        n_labels=len(labels),
    )
    assert len(c.task) == 92_721 and c.control.sum() > 0 and (c.label >= 0).all()
    with c.runner() as r:
        check_votes(r, c)
        check_workers(r, c)
        check_pairs(r, c, 10)
        for n_iter in ITERATIONS:
            check_ds(r, c, n_iter)


@pytest.mark.shared_data
def test_adultcontent2_read_as_a_run():
    folder = shared("gal-adultcontent2")
    run = read_files([folder / "labels.txt"], ReadOptions(names=["worker", "task", "label"]))
    c = _kernel_case(run)
    with DuckDBRunner(run) as r:
        check_votes(r, c)
        check_ds(r, c, 1)
