"""Annotator and task ids to the run's integer codes, with the parameter error the people tables raise."""

from __future__ import annotations

from analytics.metrics._base import position
from analytics.model import Run


def worker_code(run: Run, worker_id: str, func: str) -> int:
    """The code of annotator ``worker_id``; a ValueError naming ``func``'s parameter for an unknown one."""
    names = run.codes.worker_names
    loc = position(names, worker_id)
    if loc < 0:
        raise ValueError(
            f"The 'worker_id' parameter of {func} must be an annotator of this run. Got {worker_id!r} instead."
        )
    return int(loc)


def task_code(run: Run, task_id: str, func: str) -> int:
    """The code of task ``task_id``; a ValueError naming ``func``'s parameter for an unknown one."""
    loc = position(run.codes.task_names, task_id)
    if loc < 0:
        raise ValueError(f"The 'task_id' parameter of {func} must be a task of this run. Got {task_id!r} instead.")
    return int(loc)
