"""The Toloka results TSV reader: columns, kinds, statuses, times, task identity, bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from toloka_fixtures import HEADER, ROWS, col, write_tsv

from analytics.model import ValidationError
from analytics.sources import ReadOptions, read_files
from analytics.sources.toloka_tsv import output_fields, read_toloka_tsv


def test_reads_a_full_export(tmp_path):
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv"))
    a = run.answers
    assert len(a) == 9
    assert set(a["worker_id"]) == {"w1", "w2", "w3"}
    assert a["kind"].value_counts()["control"] == 3
    assert a["kind"].value_counts()["regular"] == 6
    # APPROVED is Toloka's download word for ACCEPTED
    assert a["status"].value_counts().to_dict() == {
        "ACCEPTED": 3,
        "SUBMITTED": 3,
        "REJECTED": 3,
        "SKIPPED": 0,
        "EXPIRED": 0,
    }
    # the pool comes from ASSIGNMENT:link
    assert set(a["pool_id"]) == {"777"}
    assert run.meta.label_field == "result"
    assert list(run.labels) == ["cat", "dog"]
    assert run.tasks.loc["t1", "image"] == "http://img/1.jpg"
    assert a["reward"].iloc[0] == pytest.approx(0.03)


def test_times_are_utc(tmp_path):
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv"))
    a = run.answers
    assert str(a["started_at"].dt.tz) == "UTC"
    # naive Toloka times are UTC; "+02:00" ones are converted
    assert a.loc[0, "started_at"] == pd.Timestamp("2024-05-01T10:00:00Z")
    assert a.loc[6, "started_at"] == pd.Timestamp("2024-05-01T10:00:00Z")
    assert (a.loc[6, "submitted_at"] - a.loc[6, "started_at"]).total_seconds() == 60


def test_exam_pool_rows_are_exam(tmp_path):
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv"), pool_kind="exam")
    assert set(run.answers["kind"].astype(str)) == {"exam"}
    assert run.meta.pools[0].kind == "exam"


def test_training_rows_are_recognised_by_their_hint(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[2][col("HINT:text")] = "look at the ears"
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv", rows))
    assert run.answers.loc[2, "kind"] == "training"


def test_default_toloka_kit_export_without_task_id_uses_the_input(tmp_path):
    # toloka-kit's default fields: link, assignment_id, worker_id, status, started
    path = write_tsv(
        tmp_path / "r.tsv",
        drop=("ASSIGNMENT:task_id", "ASSIGNMENT:submitted", "ASSIGNMENT:reward", "GOLDEN:result", "HINT:text"),
    )
    run = read_toloka_tsv(path)
    assert set(run.answers["task_id"]) == {"http://img/1.jpg", "http://img/2.jpg", "http://img/3.jpg"}
    assert run.answers["submitted_at"].isna().all()
    assert any("ASSIGNMENT:submitted" in n.message and "speed" in n.message for n in run.notes)


def test_several_output_fields_need_a_choice(tmp_path):
    header = HEADER + ["OUTPUT:comment"]
    rows = [r + ["<b>looks fine</b>"] for r in ROWS]
    path = write_tsv(tmp_path / "r.tsv", rows, header)
    assert output_fields(path) == ["result", "comment"]
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    assert "--label-field" in str(err.value)
    run = read_toloka_tsv(path, label_field="result")
    assert len(run.answers) == 9


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda rows: [r[: col("ASSIGNMENT:worker_id")] + r[col("ASSIGNMENT:worker_id") + 1 :] for r in rows],
            "ASSIGNMENT:worker_id",
        ),
    ],
)
def test_missing_worker_column(tmp_path, mutate, expected):
    path = write_tsv(tmp_path / "r.tsv", drop=("ASSIGNMENT:worker_id",))
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    assert len(err.value.problems) == 1
    p = err.value.problems[0]
    assert p.column == expected and "missing" in p.message and "worker_id" in p.fix


def test_every_problem_is_reported_at_once_with_lines_and_fixes(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[1][col("ASSIGNMENT:status")] = "DONE"  # line 3
    rows[2][col("GOLDEN:result")] = "kat"  # line 4: golden outside the label set
    rows[4][col("ASSIGNMENT:started")] = "yesterday noon"  # line 6
    rows.append(list(rows[0]))  # line 11: duplicate (assignment, task)
    path = write_tsv(tmp_path / "bad.tsv", rows)
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    probs = {p.column: p for p in err.value.problems}
    assert len(err.value.problems) == 4
    assert probs["ASSIGNMENT:status"].rows == (3,) and "DONE" in probs["ASSIGNMENT:status"].values
    assert probs["GOLDEN:result"].rows == (4,) and "kat" in str(probs["GOLDEN:result"])
    assert probs["ASSIGNMENT:started"].rows == (6,) and "ISO 8601" in probs["ASSIGNMENT:started"].fix
    dup = probs["ASSIGNMENT:assignment_id + ASSIGNMENT:task_id"]
    assert dup.rows == (2, 11)
    text = str(err.value)
    assert "bad.tsv" in text and "Fix:" in text and "nothing was imported" in text
    table = err.value.table()
    assert list(table.columns) == ["file", "column", "lines", "rows affected", "problem", "fix"]
    assert len(table) == 4


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"\x00\x01\x02PK\x03\x04 binary", "binary"),
        ('{"results": [1, 2, 3]}\n'.encode(), "looks like JSON"),
        (b'{"results"}\n', "not a comma- or tab-separated table"),
        (b"\xff\xfe\xfa bad bytes\tx\n", "not UTF-8"),
    ],
)
def test_not_a_tsv(tmp_path, content, words):
    path = tmp_path / "x.tsv"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        read_files([path])
    assert words in str(err.value)
    assert "x.tsv" in str(err.value)


def test_a_tsv_that_is_not_a_toloka_export(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    assert "does not look like a Toloka results TSV" in str(err.value)


def test_label_na_is_a_label_not_missing(tmp_path):
    rows = [list(r) for r in ROWS]
    for r in rows:
        r[col("OUTPUT:result")] = "NA" if r[col("OUTPUT:result")] == "dog" else r[col("OUTPUT:result")]
    run = read_toloka_tsv(write_tsv(tmp_path / "r.tsv", rows))
    assert "NA" in run.labels


def test_exam_and_main_pools_merge_into_one_run(tmp_path):
    main = write_tsv(tmp_path / "main.tsv")
    exam_rows = [list(r) for r in ROWS[:3]]
    for r in exam_rows:
        r[col("ASSIGNMENT:link")] = "https://platform.toloka.ai/task/555/e1"
        r[col("ASSIGNMENT:assignment_id")] = "e1"
        r[col("GOLDEN:result")] = "cat"
    exam = write_tsv(tmp_path / "exam.tsv", exam_rows)
    run = read_files([main], exam=[exam])
    a = run.answers
    assert len(a) == 12
    assert (a["kind"] == "exam").sum() == 3
    assert set(a.loc[a["kind"] == "exam", "pool_id"]) == {"555"}
    assert {p.kind for p in run.meta.pools} == {"main", "exam"}


def test_problems_of_several_files_come_together(tmp_path):
    a = write_tsv(tmp_path / "a.tsv", drop=("ASSIGNMENT:worker_id",))
    b = tmp_path / "b.tsv"
    b.write_text("")
    with pytest.raises(ValidationError) as err:
        read_files([a, b], ReadOptions())
    files = {p.file for p in err.value.problems}
    assert files == {str(a), str(b)}
