"""A large version's task texts are read when first used: the report never reads them, a page gets the same frame."""

import dataclasses
import shutil

import pandas as pd
import pytest

from analytics.model import Run
from analytics.report import build_report
from analytics.sources import run_files
from analytics.sources.store import DamagedVersionError
from analytics.sources.workspace import Workspace

SLOT = Run.__dict__["tasks"]


@pytest.fixture
def workspace(demo_workspace, tmp_path):
    """A copy of the demo workspace (this test damages a file)."""
    shutil.copytree(demo_workspace.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def annotated(ws: Workspace) -> str:
    return next(v.id for v in ws.versions() if v.version == "1.1.0")


def test_small_task_files_are_read_on_open(workspace):
    run = workspace.open_run(annotated(workspace))
    assert SLOT.is_read(run)


def test_a_large_version_reports_without_its_task_texts(workspace, monkeypatch):
    version = annotated(workspace)
    eager = workspace.open_run(version).tasks
    monkeypatch.setattr(run_files, "DEFER_TASKS_BYTES", 0)
    run = workspace.open_run(version)
    assert not SLOT.is_read(run)
    rep = build_report(run, method="mv")
    assert rep["aggregation"]["method"] == "mv"
    assert not SLOT.is_read(run), "the report read the task texts"
    pd.testing.assert_frame_equal(run.tasks, eager)
    assert SLOT.is_read(run) and run.tasks is run.tasks  # read once, then kept
    assert len(eager.columns) > 0


def test_a_replaced_run_keeps_the_texts(workspace, monkeypatch):
    monkeypatch.setattr(run_files, "DEFER_TASKS_BYTES", 0)
    run = workspace.open_run(annotated(workspace))
    changed = dataclasses.replace(run, notes=())
    pd.testing.assert_frame_equal(changed.tasks, run.tasks)


def test_task_texts_damaged_after_opening_name_the_file(workspace, monkeypatch):
    monkeypatch.setattr(run_files, "DEFER_TASKS_BYTES", 0)
    version = annotated(workspace)
    run = workspace.open_run(version)
    path = workspace.files_of(version) / "tasks.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedVersionError) as err:
        run.tasks  # noqa: B018
    assert "tasks.parquet" in str(err.value)
    assert str(path) in err.value.damaged.file


def test_the_field_stays_required():
    with pytest.raises(TypeError, match="tasks"):
        Run(answers=pd.DataFrame(), restrictions=pd.DataFrame(), pricing=None, meta=None)


def test_one_tasks_inputs_without_reading_the_texts(workspace, monkeypatch):
    from analytics.people import task_inputs

    version = annotated(workspace)
    eager = workspace.open_run(version)
    monkeypatch.setattr(run_files, "DEFER_TASKS_BYTES", 0)
    run = workspace.open_run(version)
    names = list(run.codes.task_names)
    for task in (names[0], names[len(names) // 2], names[-1]):
        want = {k: (None if pd.isna(v) else v) for k, v in eager.tasks.loc[task].items()}
        assert task_inputs(run, task) == want
    assert not SLOT.is_read(run)
    assert task_inputs(eager, names[0]) == {k: v for k, v in eager.tasks.loc[names[0]].items()}


def test_a_tasks_file_in_another_order_falls_back_to_the_whole_file(workspace, tmp_path):
    from analytics.people import task_inputs
    from analytics.sources.task_texts import TaskTexts

    run = workspace.open_run(annotated(workspace))
    path = tmp_path / "tasks.parquet"
    run.tasks.rename_axis("task_id").reset_index().iloc[::-1].to_parquet(path, index=False)
    texts = TaskTexts(path, lambda: run.tasks, lambda err: err)
    task = run.codes.task_names[0]
    assert texts.part(0, task) is None  # row 0 of this file is the last task
    assert texts.part(10**9, task) is None  # past the end
    other = dataclasses.replace(run, tasks=texts)
    assert not SLOT.is_read(other)
    want = {k: (None if pd.isna(v) else v) for k, v in run.tasks.loc[task].items()}
    assert task_inputs(other, task) == want
    assert SLOT.is_read(other)
    reordered = dataclasses.replace(run, tasks=run.tasks.iloc[::-1])  # an eager frame in another order
    assert task_inputs(reordered, task) == want
    assert task_inputs(reordered, "no such task") is None


def test_a_what_if_copy_leaves_the_texts_unread(workspace, monkeypatch):
    from analytics.model._deferred import replace_run

    monkeypatch.setattr(run_files, "DEFER_TASKS_BYTES", 0)
    run = workspace.open_run(annotated(workspace))
    copies = [replace_run(run, notes=()), run.with_meta(project="other")]
    assert not SLOT.is_read(run) and not any(SLOT.is_read(c) for c in copies)
    pd.testing.assert_frame_equal(copies[0].tasks, run.tasks)  # one read, shared by both
    assert copies[1].tasks is run.tasks
