"""Seeded synthetic Toloka exports at scale (10^5 … 10^8 answers) for `make bench`, written in chunks.

Overlap k, suites of 10 (9 regular + 1 control), 5 labels with a skewed prior, annotators whose
activity follows a heavy-tailed (Pareto) law, 5 % spammers answering at random and fast.

The random draws are made in the same order as when the whole table was built at once, so a
given (answers, overlap, seed) writes the same bytes as before; only the compact numeric arrays
(a few bytes per answer) are held, and the text is built and written :data:`CHUNK_SUITES`
suites at a time, so a 10^8-answer TSV (about 22 GB) never sits in memory.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

LABELS = np.array(["cat", "dog", "bird", "fish", "other"])
PRIOR = np.array([0.35, 0.3, 0.15, 0.12, 0.08])
SUITE = 10
CHUNK_SUITES = 50_000  # 500,000 rows of text at a time
T0 = np.datetime64("2025-03-01T08:00:00", "ms")
IMAGE_PREFIX = "https://bench.crowdlens.invalid/img/"
TASK_PREFIX = "0000a1b2c3--"
ASSIGNMENT_PREFIX = "0000f0e1d2--"
LINK = "https://platform.toloka.ai/task/90000001/x"
COLUMNS = (
    "INPUT:image",
    "OUTPUT:result",
    "GOLDEN:result",
    "ASSIGNMENT:link",
    "ASSIGNMENT:task_id",
    "ASSIGNMENT:assignment_id",
    "ASSIGNMENT:worker_id",
    "ASSIGNMENT:status",
    "ASSIGNMENT:started",
    "ASSIGNMENT:submitted",
    "ASSIGNMENT:reward",
)


@dataclass
class Draws:
    """Every random draw of a run, in compact numeric arrays (per suite, per task, per answer)."""

    n_suites: int
    tasks: np.ndarray  # (suites, 10): the tasks of each suite, the control task last
    suite_worker: np.ndarray  # per suite
    spammer: np.ndarray  # per annotator
    truth: np.ndarray  # per task (int8)
    correct: np.ndarray  # per answer (bool)
    wrong: np.ndarray  # per answer: the offset of a wrong label (int8)
    start: np.ndarray  # per suite (datetime64[ms])
    submit: np.ndarray  # per suite (datetime64[ms])
    worker_ids: pa.Array


def draw(n_answers: int, overlap: int = 3, seed: int = 0, n_workers: int | None = None) -> Draws:
    """The random draws, in the order the whole-table generator made them."""
    rng = np.random.default_rng([seed, n_answers, overlap])
    n_suites = max(1, n_answers // SUITE)
    n_regular_slots = n_suites * (SUITE - 1)
    n_tasks = max(1, n_regular_slots // overlap)
    n_control = max(1, n_tasks // 50)
    n_workers = n_workers or max(20, int(n_answers**0.62))
    # ---- annotators: heavy-tailed activity, 5 % spammers
    activity = rng.pareto(1.2, n_workers) + 0.05
    spammer = rng.random(n_workers) < 0.05
    skill = np.where(spammer, 0.2, np.clip(rng.beta(8, 2, n_workers), 0.35, 0.99))
    secs_per_task = np.where(spammer, rng.uniform(0.8, 1.5, n_workers), rng.lognormal(np.log(4.0), 0.4, n_workers))
    suite_worker = rng.choice(n_workers, size=n_suites, p=activity / activity.sum())
    # ---- tasks: regular slots are task ids repeated `overlap` times, shuffled into suites
    truth = rng.choice(len(LABELS), size=n_tasks + n_control, p=PRIOR).astype(np.int8)
    tasks = suite_tasks(rng, n_suites, n_tasks, n_control, overlap)
    # ---- answers: right with the annotator's skill, else one of the other labels
    correct = np.empty(tasks.size, dtype=bool)
    for lo in range(0, tasks.size, CHUNK_SUITES * SUITE):  # doubles: chunked draws are the same stream
        hi = min(tasks.size, lo + CHUNK_SUITES * SUITE)
        correct[lo:hi] = rng.random(hi - lo) < skill[suite_worker[np.arange(lo, hi) // SUITE]]
    wrong = rng.integers(1, len(LABELS), size=tasks.size).astype(np.int8)  # one call: same stream
    # ---- times: suites start over 3 days; seconds per suite from the annotator's speed
    start = T0 + (np.sort(rng.uniform(0, 3 * 86400, n_suites)) * 1000).astype("timedelta64[ms]")
    dur = (secs_per_task[suite_worker] * SUITE * rng.uniform(0.7, 1.4, n_suites) * 1000).astype("timedelta64[ms]")
    worker_ids = fixed_width(np.arange(n_workers) * 2654435761 % (1 << 40), "", 10, 16)
    return Draws(n_suites, tasks, suite_worker, spammer, truth, correct, wrong, start, start + dur, worker_ids)


def suite_tasks(rng: np.random.Generator, n_suites: int, n_tasks: int, n_control: int, overlap: int) -> np.ndarray:
    """(suites, 10) task indices: one shuffled pass over the tasks per overlap round (so a suite
    rarely holds a task twice), the few repeats redrawn, then one control task per suite."""
    regular = np.concatenate([rng.permutation(n_tasks) for _ in range(overlap + 1)])[: n_suites * (SUITE - 1)]
    rows = regular.reshape(n_suites, SUITE - 1)
    srt = np.sort(rows, axis=1)
    for i in np.flatnonzero((np.diff(srt, axis=1) == 0).any(axis=1)):
        seen: set[int] = set()
        for j in range(SUITE - 1):
            while int(rows[i, j]) in seen:
                rows[i, j] = rng.integers(0, n_tasks)
            seen.add(int(rows[i, j]))
    del srt
    control = rng.integers(n_tasks, n_tasks + n_control, size=n_suites)
    dtype = np.int32 if n_tasks + n_control < 2**31 else np.int64
    return np.concatenate([rows.astype(dtype), control.astype(dtype)[:, None]], axis=1)


def fixed_width(values: np.ndarray, prefix: str, width: int, base: int, suffix: str = "") -> pa.Array:
    """prefix + each value zero-padded to ``width`` digits in ``base`` (10 or 16) + suffix, as an
    Arrow string array: what np.char.zfill(np.char.mod(...)) gave, without per-element Python work."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size and int(v.max()) >= base**width:
        raise ValueError(f"{int(v.max())} needs more than {width} digits")
    head, tail = np.frombuffer(prefix.encode(), np.uint8), np.frombuffer(suffix.encode(), np.uint8)
    out = np.empty((v.size, head.size + width + tail.size), dtype=np.uint8)
    out[:, : head.size] = head
    out[:, head.size + width :] = tail
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    for i in range(width):
        out[:, head.size + width - 1 - i] = digits[(v // np.uint64(base**i)) % np.uint64(base)]
    offsets = np.arange(0, (v.size + 1) * out.shape[1], out.shape[1], dtype=np.int64)
    return pa.LargeStringArray.from_buffers(v.size, pa.py_buffer(offsets), pa.py_buffer(out)).cast(pa.string())


def chunk_table(d: Draws, s0: int, s1: int) -> pa.Table:
    """The TSV rows of suites s0..s1 as an Arrow table of strings."""
    task = d.tasks[s0:s1].ravel()
    suite_of = np.repeat(np.arange(s0, s1), SUITE)
    worker = d.suite_worker[suite_of]
    rows = slice(s0 * SUITE, s1 * SUITE)
    true = d.truth[task].astype(np.int64)
    label = np.where(d.correct[rows], true, (true + d.wrong[rows]) % len(LABELS))
    is_control = np.zeros((s1 - s0, SUITE), dtype=bool)
    is_control[:, -1] = True
    local = pa.array(suite_of - s0)
    n = task.size
    return pa.table(
        {
            "INPUT:image": fixed_width(task, IMAGE_PREFIX, 8, 10, ".jpg"),
            "OUTPUT:result": pa.array(LABELS[label]),
            "GOLDEN:result": pa.array(np.where(is_control.ravel(), LABELS[true], "")),
            "ASSIGNMENT:link": pa.repeat(pa.scalar(LINK), n),
            "ASSIGNMENT:task_id": fixed_width(task, TASK_PREFIX, 10, 16),
            "ASSIGNMENT:assignment_id": fixed_width(np.arange(s0, s1), ASSIGNMENT_PREFIX, 10, 16).take(local),
            "ASSIGNMENT:worker_id": d.worker_ids.take(pa.array(worker)),
            "ASSIGNMENT:status": pa.array(np.where(d.spammer[worker], "REJECTED", "APPROVED")),
            "ASSIGNMENT:started": pa.array(np.datetime_as_string(d.start[s0:s1], unit="ms")).take(local),
            "ASSIGNMENT:submitted": pa.array(np.datetime_as_string(d.submit[s0:s1], unit="ms")).take(local),
            "ASSIGNMENT:reward": pa.repeat(pa.scalar("0.010"), n),
        }
    )


def chunks(n_answers: int, overlap: int = 3, seed: int = 0, n_workers: int | None = None) -> Iterator[pa.Table]:
    """The run's rows, :data:`CHUNK_SUITES` suites at a time."""
    d = draw(n_answers, overlap, seed, n_workers)
    for s0 in range(0, d.n_suites, CHUNK_SUITES):
        yield chunk_table(d, s0, min(d.n_suites, s0 + CHUNK_SUITES))


def generate(n_answers: int, overlap: int = 3, seed: int = 0, n_workers: int | None = None) -> pa.Table:
    """A Toloka-results-shaped Arrow table of about ``n_answers`` rows (whole suites), in memory:
    for small sizes (tests); the bench writes with :func:`write_run`."""
    return pa.concat_tables(chunks(n_answers, overlap, seed, n_workers))


def write(tables: pa.Table | Iterable[pa.Table], path: Path) -> Path:
    """Write one table or a stream of tables as a Toloka TSV (a bare header line, no quoting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(tables, pa.Table):
        tables = [tables]
    options = pacsv.WriteOptions(delimiter="\t", quoting_style="none", include_header=False)
    with path.open("wb") as f:
        f.write(("\t".join(COLUMNS) + "\n").encode())  # pyarrow would quote the header
        for table in tables:
            pacsv.write_csv(table, f, write_options=options)
    return path


def write_run(n_answers: int, path: Path, overlap: int = 3, seed: int = 0) -> Path:
    """Generate and write a run chunk by chunk (memory: a few bytes per answer, not the text)."""
    return write(chunks(n_answers, overlap, seed), path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("answers", type=lambda s: int(float(s)))
    p.add_argument("out", type=Path)
    p.add_argument("--overlap", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    write_run(a.answers, a.out, a.overlap, a.seed)


if __name__ == "__main__":
    main()
