"""How a version's answers name their tasks on disk: task codes into tasks.parquet, and the older dictionary layout."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analytics.engine import from_run, from_workspace_parquet
from analytics.sources.long_table import read_long_table
from analytics.sources.run_files import TASK_CODE, TASK_IDS_KEY, read_run_files, write_answers, write_run_files
from analytics.sources.store import DamagedVersionError
from analytics.sources.workspace import Workspace
from analytics.versions import import_run

ROWS = "task,worker,label,golden\nt3,w1,x,x\nt1,w2,y,x\nt3,w2,y,\nt2,w1,y,\nt1,w1,x,\nt2,w2,y,\n"


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(ROWS)
    return read_long_table(path)


def test_answers_hold_task_codes_and_the_ids_are_stored_once(tmp_path, run):
    folder = tmp_path / "files"
    write_run_files(run, folder)
    stored = pq.read_table(folder / "answers.parquet")
    assert TASK_CODE in stored.column_names and "task_id" not in stored.column_names
    assert TASK_IDS_KEY in stored.schema.metadata
    ids = pq.read_table(folder / "tasks.parquet").column("task_id").to_pylist()
    # each answer's code is the row of its task in tasks.parquet, as a reader without crowdlens can join them
    assert [ids[c] for c in stored.column(TASK_CODE).to_pylist()] == list(run.answers["task_id"].astype(str))
    back = read_run_files(folder)
    pd.testing.assert_frame_equal(back.answers, run.answers)
    assert list(back.answers.columns) == list(run.answers.columns)  # task_id where it was
    assert list(back.tasks.index) == list(run.answers["task_id"].cat.categories)


def test_a_version_in_the_older_dictionary_layout_still_opens(tmp_path, run):
    folder = tmp_path / "files"
    write_run_files(run, folder)
    write_answers(run.answers, folder / "answers.parquet", task_codes=False)  # as versions before task codes
    assert "task_id" in pq.read_schema(folder / "answers.parquet").names
    back = read_run_files(folder)
    pd.testing.assert_frame_equal(back.answers, run.answers)
    assert list(back.tasks.index) == list(run.tasks.index)


def test_tasks_out_of_code_order_keep_the_dictionary_layout(tmp_path, run):
    shuffled = dataclasses.replace(run, tasks=run.tasks.iloc[::-1])
    assert not shuffled.tasks.index.equals(run.answers["task_id"].cat.categories)
    folder = tmp_path / "files"
    write_run_files(shuffled, folder)
    assert "task_id" in pq.read_schema(folder / "answers.parquet").names
    back = read_run_files(folder)
    pd.testing.assert_frame_equal(back.answers, run.answers)
    assert list(back.tasks.index) == list(shuffled.tasks.index)


def test_task_codes_past_the_tasks_file_make_the_version_damaged(tmp_path, run):
    folder = tmp_path / "files"
    write_run_files(run, folder)
    short = pq.read_table(folder / "tasks.parquet").slice(0, 2)  # a tasks file of another version
    pq.write_table(short, folder / "tasks.parquet")
    with pytest.raises(DamagedVersionError) as err:
        read_run_files(folder)
    shown = str(err.value)
    assert "answers.parquet" in shown and "run from 0 to 2" in shown and "2 task ids" in shown, shown


def test_the_engine_reads_both_layouts_as_the_run(tmp_path, run):
    ws = Workspace(tmp_path / "ws")
    info = import_run(ws, run, name="toy", version="1")
    coded = ws.files_of(info.id) / "answers.parquet"
    assert TASK_CODE in pq.read_schema(coded).names
    older = tmp_path / "older" / "answers.parquet"
    older.parent.mkdir()
    write_answers(run.answers, older, task_codes=False)
    expected = from_run(run)
    for path in (coded, older):
        got = from_workspace_parquet(path)
        assert got.table.equals(expected.table), path
        assert got[1:] == expected[1:] == (3, 2, 2)


def test_an_import_of_many_tasks_writes_codes_not_ids(tmp_path):
    n = 40_000  # over int16's codes: the stored codes are read back into int32 categories
    path = tmp_path / "many.csv"
    ids = np.arange(n)
    lines = [f"t{i},w{i % 7},{'xy'[i % 2]}," for i in ids] + [f"t{i},w{(i + 3) % 7},x," for i in ids]
    path.write_text("task,worker,label,golden\n" + "\n".join(lines) + "\n")
    big = read_long_table(path)
    ws = Workspace(tmp_path / "ws")
    info = import_run(ws, big, name="many", version="1")
    stored = pq.ParquetFile(ws.files_of(info.id) / "answers.parquet")
    assert stored.schema_arrow.field(TASK_CODE).type == "int32"
    back = ws.open_run(info.id)
    assert back.answers["task_id"].cat.codes.dtype == np.int32
    pd.testing.assert_frame_equal(back.answers, big.answers)


def test_the_readmes_duckdb_join_gives_each_answer_its_task_id(tmp_path, run):
    import re
    from pathlib import Path

    import duckdb

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    query = re.search(r"`(SELECT t\.task_id.*?file_row_number)`", readme, re.S).group(1).replace("\n", " ")
    folder = tmp_path / "files"
    write_run_files(run, folder)
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{folder}'")
    joined = con.execute(query).df()  # a join keeps no row order: compared as sets of answers
    got = set(zip(joined["task_id"], joined["worker_id"], joined["label"], strict=True))
    a = run.answers.astype({c: str for c in ("task_id", "worker_id", "label")})
    assert got == set(zip(a["task_id"], a["worker_id"], a["label"], strict=True)) and len(joined) == len(a)


def test_stored_times_of_any_unit_and_zone_are_read_as_utc(tmp_path):
    import pyarrow as pa

    from analytics.sources.run_files import read_answers

    table = pa.table(
        {
            "naive_ms": pa.array([0, None, 1_700_000_000_123], pa.timestamp("ms")),
            "berlin_s": pa.array([0, None, 5], pa.timestamp("s", tz="Europe/Berlin")),
            "utc_ns": pa.array([1, 2, 3], pa.timestamp("ns", tz="UTC")),
        }
    )
    path = tmp_path / "answers.parquet"
    pq.write_table(table, path, row_group_size=2)  # two row groups: two chunks per column
    got = read_answers(path)
    for name in table.column_names:
        stamps = table.column(name).to_pandas()
        want = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
        pd.testing.assert_series_equal(got[name], want.astype("datetime64[ns, UTC]"), check_names=False)
    assert got["naive_ms"].isna().tolist() == [False, True, False]
