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


# --------------------------------------------------------------------------------------------
# a Toloka "Download results" export of the loopback stub's assignments (tests/toloka_payloads.py)

EXPORT_HEADER = [
    "INPUT:image",
    "OUTPUT:result",
    "GOLDEN:result",
    "HINT:text",
    "ASSIGNMENT:link",
    "ASSIGNMENT:task_id",
    "ASSIGNMENT:assignment_id",
    "ASSIGNMENT:task_suite_id",
    "ASSIGNMENT:worker_id",
    "ASSIGNMENT:status",
    "ASSIGNMENT:started",
    "ASSIGNMENT:submitted",
    "ASSIGNMENT:reward",
]
# the API says ACCEPTED where the download says APPROVED; ACTIVE suites have no results yet
EXPORT_STATUS = {"ACCEPTED": "APPROVED", "SUBMITTED": "SUBMITTED", "REJECTED": "REJECTED", "SKIPPED": "SKIPPED"}


def _answer(a: dict, i: int, task: dict) -> str:
    """The answer a results row shows: a training task's first answer where Toloka recorded one
    (the answer before the hint, which the API import reads too), else the solution."""
    first = a.get("first_declined_solution_attempt") or []
    if task.get("message_on_unknown_solution") and i < len(first):
        return str(first[i]["output_values"]["result"])
    solutions = a.get("solutions") or []
    return str(solutions[i]["output_values"]["result"]) if i < len(solutions) else ""


def export_rows(assignments: list[dict]) -> list[list[str]]:
    """One results row per task of each assignment (payload dicts as the stub serves them)."""
    rows = []
    for a in assignments:
        status = EXPORT_STATUS.get(a["status"])
        if status is None:
            continue
        for i, t in enumerate(a["tasks"]):
            known = (t.get("known_solutions") or [{}])[0].get("output_values", {}).get("result", "")
            rows.append(
                [
                    t["input_values"]["image"],
                    _answer(a, i, t),
                    known,
                    t.get("message_on_unknown_solution", ""),
                    f"https://platform.toloka.ai/task/{a['pool_id']}/{a['task_suite_id']}",
                    t["id"],
                    a["id"],
                    a["task_suite_id"],
                    a.get("user_id", ""),
                    status,
                    a["created"],
                    a.get("submitted", ""),
                    f"{a['reward']:.3f}",
                ]
            )
    return rows


def write_export(path: Path, assignments: list[dict]) -> Path:
    """A Toloka results TSV of ``assignments`` (stub payloads), with the columns of a full download."""
    return write_tsv(path, export_rows(assignments), header=EXPORT_HEADER)
