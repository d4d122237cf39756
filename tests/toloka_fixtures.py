"""Small Toloka-shaped exports written by hand, for reader and validation tests."""

from __future__ import annotations

from pathlib import Path

HEADER = [
    "INPUT:image",
    "OUTPUT:result",
    "GOLDEN:result",
    "HINT:text",
    "ASSIGNMENT:link",
    "ASSIGNMENT:task_id",
    "ASSIGNMENT:assignment_id",
    "ASSIGNMENT:worker_id",
    "ASSIGNMENT:status",
    "ASSIGNMENT:started",
    "ASSIGNMENT:submitted",
    "ASSIGNMENT:reward",
]

# 3 tasks x 3 workers, one control task (t3, golden "cat"), one assignment per worker
ROWS = [
    [
        "http://img/1.jpg",
        "cat",
        "",
        "",
        "https://platform.toloka.ai/task/777/a1",
        "t1",
        "a1",
        "w1",
        "APPROVED",
        "2024-05-01T10:00:00.000",
        "2024-05-01T10:00:30.000",
        "0.030",
    ],
    [
        "http://img/2.jpg",
        "dog",
        "",
        "",
        "https://platform.toloka.ai/task/777/a1",
        "t2",
        "a1",
        "w1",
        "APPROVED",
        "2024-05-01T10:00:00.000",
        "2024-05-01T10:00:30.000",
        "0.030",
    ],
    [
        "http://img/3.jpg",
        "cat",
        "cat",
        "",
        "https://platform.toloka.ai/task/777/a1",
        "t3",
        "a1",
        "w1",
        "APPROVED",
        "2024-05-01T10:00:00.000",
        "2024-05-01T10:00:30.000",
        "0.030",
    ],
    [
        "http://img/1.jpg",
        "cat",
        "",
        "",
        "https://platform.toloka.ai/task/777/a2",
        "t1",
        "a2",
        "w2",
        "SUBMITTED",
        "2024-05-01T11:00:00.000",
        "2024-05-01T11:00:09.000",
        "0.030",
    ],
    [
        "http://img/2.jpg",
        "cat",
        "",
        "",
        "https://platform.toloka.ai/task/777/a2",
        "t2",
        "a2",
        "w2",
        "SUBMITTED",
        "2024-05-01T11:00:00.000",
        "2024-05-01T11:00:09.000",
        "0.030",
    ],
    [
        "http://img/3.jpg",
        "dog",
        "cat",
        "",
        "https://platform.toloka.ai/task/777/a2",
        "t3",
        "a2",
        "w2",
        "SUBMITTED",
        "2024-05-01T11:00:00.000",
        "2024-05-01T11:00:09.000",
        "0.030",
    ],
    [
        "http://img/1.jpg",
        "dog",
        "",
        "",
        "https://platform.toloka.ai/task/777/a3",
        "t1",
        "a3",
        "w3",
        "REJECTED",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:01:00+02:00",
        "0.030",
    ],
    [
        "http://img/2.jpg",
        "dog",
        "",
        "",
        "https://platform.toloka.ai/task/777/a3",
        "t2",
        "a3",
        "w3",
        "REJECTED",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:01:00+02:00",
        "0.030",
    ],
    [
        "http://img/3.jpg",
        "cat",
        "cat",
        "",
        "https://platform.toloka.ai/task/777/a3",
        "t3",
        "a3",
        "w3",
        "REJECTED",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:01:00+02:00",
        "0.030",
    ],
]


def write_tsv(path: Path, rows=None, header=None, drop: tuple[str, ...] = ()) -> Path:
    header = list(header or HEADER)
    rows = [list(r) for r in (ROWS if rows is None else rows)]
    keep = [i for i, h in enumerate(header) if h not in drop]
    lines = ["\t".join(header[i] for i in keep)] + ["\t".join(r[i] for i in keep) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def col(name: str) -> int:
    return HEADER.index(name)
