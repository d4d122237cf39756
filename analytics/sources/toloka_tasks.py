"""A Toloka task upload (TSV): ``INPUT:<field>`` columns with the tasks' inputs, ``GOLDEN:<field>`` for control.

The file Toloka's "Upload tasks" takes (and toloka-kit's ``Task(input_values=...,
known_solutions=...)`` mirrors): one row per task, its input values, and for a control task its
known answer in ``GOLDEN:<output field>``. The input fields are the run's own (``run.tasks``);
a run read without input fields (a long table) gets one, ``INPUT:task_id``, holding the task id:
read back, a single-input export identifies its tasks by that value, so the ids round-trip.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.model import Run

DEFAULT_OUTPUT_FIELD = "result"
ID_FIELD = "task_id"


def task_upload_frame(run: Run, tasks: pd.Index, control: pd.Series | None = None) -> pd.DataFrame:
    """The upload's rows: ``tasks`` (task ids) with their inputs, then the control tasks (``control``:
    golden label per task id) with their inputs and ``GOLDEN:<field>`` (the run's label field)."""
    field = run.meta.label_field or DEFAULT_OUTPUT_FIELD
    ids = pd.Index(list(tasks) + ([] if control is None else list(control.index)), dtype="str")
    inputs = run.tasks.reindex(ids)
    if len(inputs.columns) == 0:
        inputs = pd.DataFrame({ID_FIELD: ids.to_numpy()}, index=ids)
    out = pd.DataFrame({f"INPUT:{c}": inputs[c].to_numpy() for c in inputs.columns})
    golden = [""] * len(tasks)
    if control is not None:
        golden += [str(x) for x in control.to_numpy()]
    out[f"GOLDEN:{field}"] = golden
    if control is None or len(control) == 0:
        out = out.drop(columns=f"GOLDEN:{field}")
    return out


def write_task_file(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the upload as Toloka's TSV (tab-separated, UTF-8, empty cells for no value)."""
    path = Path(path)
    frame.to_csv(path, sep="\t", index=False, na_rep="", lineterminator="\n")
    return path


__all__ = ["DEFAULT_OUTPUT_FIELD", "ID_FIELD", "task_upload_frame", "write_task_file"]
