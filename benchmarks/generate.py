"""Seeded synthetic Toloka exports at scale (10^5 … 10^7 answers) for `make bench`.

Overlap k, suites of 10 (9 regular + 1 control), 5 labels with a skewed prior, annotators whose
activity follows a heavy-tailed (Pareto) law, 5 % spammers answering at random and fast.
Vectorized throughout: 10^7 rows are written in well under a minute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

LABELS = np.array(["cat", "dog", "bird", "fish", "other"])
PRIOR = np.array([0.35, 0.3, 0.15, 0.12, 0.08])
SUITE = 10


def generate(n_answers: int, overlap: int = 3, seed: int = 0, n_workers: int | None = None) -> pa.Table:
    """A Toloka-results-shaped Arrow table of about ``n_answers`` rows (whole suites)."""
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
    truth = rng.choice(len(LABELS), size=n_tasks + n_control, p=PRIOR)
    # one shuffled pass over the tasks per overlap round, so a suite rarely holds a task twice
    regular = np.concatenate([rng.permutation(n_tasks) for _ in range(overlap + 1)])[:n_regular_slots]
    rows = regular.reshape(n_suites, SUITE - 1)
    srt = np.sort(rows, axis=1)
    for i in np.flatnonzero((np.diff(srt, axis=1) == 0).any(axis=1)):
        # the few suites that straddle two rounds: redraw repeated tasks
        seen: set[int] = set()
        for j in range(SUITE - 1):
            while int(rows[i, j]) in seen:
                rows[i, j] = rng.integers(0, n_tasks)
            seen.add(int(rows[i, j]))
    regular = rows.ravel()
    control = rng.integers(n_tasks, n_tasks + n_control, size=n_suites)
    tasks = np.concatenate([regular.reshape(n_suites, SUITE - 1), control[:, None]], axis=1)
    suite_of = np.repeat(np.arange(n_suites), SUITE)
    task = tasks.ravel()
    worker = suite_worker[suite_of]
    correct = rng.random(task.size) < skill[worker]
    wrong = (truth[task] + rng.integers(1, len(LABELS), size=task.size)) % len(LABELS)
    label = np.where(correct, truth[task], wrong)
    is_control = np.zeros((n_suites, SUITE), dtype=bool)
    is_control[:, -1] = True
    is_control = is_control.ravel()
    # ---- times: suites start over 3 days; seconds per suite from the annotator's speed
    t0 = np.datetime64("2025-03-01T08:00:00", "ms")
    start = t0 + (np.sort(rng.uniform(0, 3 * 86400, n_suites)) * 1000).astype("timedelta64[ms]")
    dur = (secs_per_task[suite_worker] * SUITE * rng.uniform(0.7, 1.4, n_suites) * 1000).astype("timedelta64[ms]")
    submit = start + dur

    def hexid(values: np.ndarray, prefix: str) -> pa.Array:
        return pa.array(np.char.add(prefix, np.char.zfill(np.char.mod("%x", values), 10)))

    task_ids = hexid(np.arange(n_tasks + n_control), "0000a1b2c3--")
    worker_ids = hexid(np.arange(n_workers) * 2654435761 % (1 << 40), "")
    assign_ids = hexid(np.arange(n_suites), "0000f0e1d2--")
    images = pa.array(
        np.char.add(
            np.char.add("https://bench.crowdlens.invalid/img/", np.char.mod("%08d", np.arange(n_tasks + n_control))),
            ".jpg",
        )
    )

    def take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
        return arr.take(pa.array(idx))

    start_s = pa.array(np.datetime_as_string(start, unit="ms"))
    submit_s = pa.array(np.datetime_as_string(submit, unit="ms"))
    return pa.table(
        {
            "INPUT:image": take(images, task),
            "OUTPUT:result": pa.array(LABELS[label]),
            "GOLDEN:result": pa.array(np.where(is_control, LABELS[truth[task]], "")),
            "ASSIGNMENT:link": pa.array(np.full(task.size, "https://platform.toloka.ai/task/90000001/x")),
            "ASSIGNMENT:task_id": take(task_ids, task),
            "ASSIGNMENT:assignment_id": take(assign_ids, suite_of),
            "ASSIGNMENT:worker_id": take(worker_ids, worker),
            "ASSIGNMENT:status": pa.array(np.where(spammer[worker], "REJECTED", "APPROVED")),
            "ASSIGNMENT:started": take(start_s, suite_of),
            "ASSIGNMENT:submitted": take(submit_s, suite_of),
            "ASSIGNMENT:reward": pa.array(np.full(task.size, "0.010")),
        }
    )


def write(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Toloka's download has a bare header line; pyarrow would quote it
    with path.open("wb") as f:
        f.write(("\t".join(table.column_names) + "\n").encode())
        pacsv.write_csv(
            table, f, write_options=pacsv.WriteOptions(delimiter="\t", quoting_style="none", include_header=False)
        )
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("answers", type=int)
    p.add_argument("out", type=Path)
    p.add_argument("--overlap", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    write(generate(a.answers, a.overlap, a.seed), a.out)


if __name__ == "__main__":
    main()
