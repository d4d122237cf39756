"""Bad or unusual input to the file readers: empty pools, huge cells, UTF-16, bytes that are not UTF-8,
quoted multi-line values (messages give physical lines and column names), and the source's field names."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from toloka_fixtures import HEADER, ROWS, col

from analytics.model import ValidationError
from analytics.sources import ReadOptions, read_files
from analytics.sources.long_table import COLUMN_KEYS, SHORT_NAMES, read_long_table
from analytics.sources.toloka_tsv import read_toloka_tsv


def tsv(rows=None, header=None) -> str:
    rows = ROWS if rows is None else rows
    return "\n".join(["\t".join(header or HEADER)] + ["\t".join(r) for r in rows]) + "\n"


def rows_copy() -> list[list[str]]:
    return [list(r) for r in ROWS]


def utf8_copies() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("crowdlens-utf8-*"))


def only_problem(err) -> object:
    assert len(err.value.problems) == 1, str(err.value)
    return err.value.problems[0]


# ---- an empty pool


def test_header_only_toloka_export_says_the_pool_has_no_answers(tmp_path):
    path = tmp_path / "empty-pool.tsv"
    path.write_text("\t".join(HEADER) + "\n")
    for read in (lambda: read_toloka_tsv(path), lambda: read_files([path])):
        with pytest.raises(ValidationError) as err:
            read()
        p = only_problem(err)
        assert p.message == "the export has no answers: the pool has no submitted assignments."
        assert p.file == str(path) and "empty-pool.tsv" in str(err.value)


def test_header_only_toloka_export_without_assignment_ids_or_newline(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_text("INPUT:image\tOUTPUT:result\tASSIGNMENT:worker_id")
    with pytest.raises(ValidationError) as err:
        read_files([path], names=["upload.tsv"])
    p = only_problem(err)
    assert "no submitted assignments" in p.message and p.file == "upload.tsv"


def test_header_only_long_table(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\n")
    with pytest.raises(ValidationError) as err:
        read_files([path])
    p = only_problem(err)
    assert "no answers" in p.message and p.file == str(path)


# ---- cells of any size


def test_a_cell_over_128_kib_in_the_first_row(tmp_path):
    rows = rows_copy()
    big = "x" * (200 << 10)
    rows[0][col("INPUT:image")] = big
    rows[0][col("ASSIGNMENT:link")] = "https://platform.toloka.ai/task/777/" + "y" * (200 << 10)
    run = read_toloka_tsv(_write(tmp_path, tsv(rows)))
    assert run.tasks.loc["t1", "image"] == big
    assert set(run.answers["pool_id"]) == {"777"}


def test_a_cell_larger_than_a_read_block(tmp_path):
    big = "z" * (40 << 20)  # pyarrow reads 32 MiB blocks
    path = tmp_path / "big.csv"
    path.write_text(f"task,worker,label,note\nt1,w1,x,{big}\nt2,w2,y,short\n")
    run = read_long_table(path)
    assert len(run.answers) == 2 and run.tasks.loc["t1", "note"] == big


def _write(tmp_path: Path, text: str, name: str = "r.tsv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ---- UTF-16


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_toloka_export_is_read_like_utf8(tmp_path, encoding):
    rows = rows_copy()
    rows[0][col("INPUT:image")] = "http://img/1.jpg?q=кот"
    expected = read_toloka_tsv(_write(tmp_path, tsv(rows), "utf8.tsv"))
    before = utf8_copies()
    run = read_toloka_tsv(_write(tmp_path, tsv(rows), "utf16.tsv", encoding))
    assert utf8_copies() == before  # the UTF-8 copy is deleted after reading
    assert run.answers.astype(str).equals(expected.answers.astype(str))
    assert run.tasks.equals(expected.tasks)
    assert run.meta.source_files == (str(tmp_path / "utf16.tsv"),)


def test_utf16_long_table_and_uploaded_bytes(tmp_path):
    text = "question,worker,answer\nq1,w1,да\nq1,w2,нет\n"
    run = read_long_table(_write(tmp_path, text, "a.csv", "utf-16"))
    assert list(run.answers["label"]) == ["да", "нет"]
    run = read_files([text.encode("utf-16-le")], names=["upload.csv"])
    assert list(run.answers["label"]) == ["да", "нет"]


def test_broken_utf16_is_reported_by_line(tmp_path):
    text = tsv()
    data = text.encode("utf-16-le")
    cut = len(tsv(header=HEADER, rows=ROWS[:2]).encode("utf-16-le"))  # start of line 4
    data = data[:cut] + b"\x00\xd8" + data[cut:]  # a lone surrogate at the start of line 4
    path = tmp_path / "r.tsv"
    path.write_bytes(data)
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    p = only_problem(err)
    assert p.rows == (4,) and p.column == "INPUT:image" and "UTF-8" in p.fix


# ---- bytes that are not UTF-8


def test_a_later_non_utf8_byte_names_line_and_column(tmp_path):
    rows = [list(ROWS[i % len(ROWS)]) for i in range(3000)]
    for i, r in enumerate(rows):
        r[col("ASSIGNMENT:assignment_id")] = f"a{i}"
    rows[0][col("HINT:text")] = '"a hint\nover two lines"'
    bad_row = 2500  # record 2500 starts on physical line 2 + 2500 + 1 (the quoted line break)
    rows[bad_row][col("OUTPUT:result")] = "c\udce4t"  # the byte 0xE4 alone: Latin-1 "ä"
    data = tsv(rows).encode("utf-8", "surrogateescape")
    assert data.index(b"\xe4") > 1 << 16
    path = tmp_path / "later.tsv"
    path.write_bytes(data)
    with pytest.raises(ValidationError) as err:
        read_files([path])
    p = only_problem(err)
    assert p.column == "OUTPUT:result" and p.rows == (bad_row + 3,)
    assert "not UTF-8" in p.message and p.fix.startswith("save the file as UTF-8")
    assert "later.tsv" in str(err.value)


def test_every_non_utf8_column_is_reported_at_once(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes(b'task,worker,label\nt1,w1,x\n"t\n2",w\xe9,y\nt3,w1,caf\xe9\nt4,w\xe9,x\n')
    with pytest.raises(ValidationError) as err:
        read_long_table(path)
    by_column = {p.column: p for p in err.value.problems}
    assert set(by_column) == {"worker", "label"}
    assert by_column["worker"].rows == (4, 6) and by_column["worker"].count == 2
    assert by_column["label"].rows == (5,) and "caf\\xe9" in by_column["label"].values
    assert all("save the file as UTF-8" in p.fix for p in err.value.problems)


# ---- physical lines


def test_problem_lines_are_physical_lines_past_multiline_values(tmp_path):
    rows = rows_copy()
    rows[0][col("HINT:text")] = '"three\nline\nhint"'  # record 1 takes lines 2-4
    rows[1][col("ASSIGNMENT:status")] = "DONE"  # record 2: line 5
    path = _write(tmp_path, tsv(rows).replace("\n", "\n\n", 1))  # and a blank line 2
    with pytest.raises(ValidationError) as err:
        read_toloka_tsv(path)
    p = only_problem(err)
    assert p.column == "ASSIGNMENT:status" and p.rows == (6,)


def test_long_table_lines_past_multiline_values_and_wrong_field_counts(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('task,worker,label\n"t\n1",w1,x\nt2,,y\n')
    with pytest.raises(ValidationError) as err:
        read_long_table(path)
    assert only_problem(err).rows == (4,)
    path.write_text('task,worker,label\n"t\n1",w1,x\nt2,w1\nt3,w1,x,extra\n')
    with pytest.raises(ValidationError) as err:
        read_long_table(path)
    p = only_problem(err)
    assert p.rows == (4, 5) and "wrong number of fields" in p.message


def test_repeated_header_names_are_named(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label,label\nt1,w1,x,y\n")
    with pytest.raises(ValidationError) as err:
        read_long_table(path)
    p = only_problem(err)
    assert p.column == "label" and "2 times" in p.message


# ---- the source's names of the canonical fields


def test_toloka_source_fields_name_every_field_even_absent_ones(tmp_path):
    path = _write(tmp_path, tsv())
    meta = read_files([path]).meta
    assert meta.source_kind == "Toloka TSV"
    assert meta.source_fields["submitted_at"] == "ASSIGNMENT:submitted"
    assert meta.source_fields["golden"] == "GOLDEN:result"
    keep = [h for h in HEADER if h not in ("ASSIGNMENT:task_id", "ASSIGNMENT:submitted", "ASSIGNMENT:reward")]
    rows = [[r[HEADER.index(h)] for h in keep] for r in ROWS]
    meta = read_toloka_tsv(_write(tmp_path, tsv(rows, keep), "default.tsv")).meta
    expected = {
        "submitted_at": "ASSIGNMENT:submitted",
        "started_at": "ASSIGNMENT:started",
        "reward": "ASSIGNMENT:reward",
        "assignment_id": "ASSIGNMENT:assignment_id",
        "status": "ASSIGNMENT:status",
        "golden": "GOLDEN:result",
        "label": "OUTPUT:result",
        "task_id": "INPUT:image",
        "worker_id": "ASSIGNMENT:worker_id",
    }
    assert {k: meta.source_fields[k] for k in expected} == expected
    assert meta.source_name("truth") != "truth"


def test_long_table_source_fields_say_how_to_map_absent_ones(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("question,annotator,answer,end\nq1,w1,x,2024-01-01T00:00:00\n")
    meta = read_files([path], ReadOptions(columns={"submitted": "end"})).meta
    assert meta.source_kind == "long table"
    assert meta.source_fields["task_id"] == "question" and meta.source_fields["submitted_at"] == "end"
    assert meta.source_fields["started_at"] == "started (--columns started=COL)"
    assert meta.source_fields["status"] == "status (--columns status=COL)"
    assert "--columns truth=COL" in meta.source_fields["truth"]
    for field in ("assignment_id", "reward", "golden"):
        assert f"--columns {field.replace('_id', '')}=COL" in meta.source_fields[field]


def test_column_keys_document_every_key_and_status_maps(tmp_path):
    assert set(COLUMN_KEYS) == set(SHORT_NAMES) and all(COLUMN_KEYS.values())
    path = _write(tmp_path, tsv(), "export.tsv")
    columns = {
        "task": "ASSIGNMENT:task_id",
        "worker": "ASSIGNMENT:worker_id",
        "label": "OUTPUT:result",
        "status": "ASSIGNMENT:status",
        "assignment": "ASSIGNMENT:assignment_id",
    }
    run = read_files([path], ReadOptions(format="long", columns=columns))
    assert run.answers["status"].value_counts()["REJECTED"] == 3
    assert run.meta.source_fields["status"] == "ASSIGNMENT:status"


def test_an_unknown_columns_key_lists_the_keys(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("task,worker,label,who\nt1,w1,x,y\n")
    with pytest.raises(ValidationError) as err:
        read_long_table(path, columns={"annotator": "who"})
    p = only_problem(err)
    assert "'annotator'" in p.message and all(k in p.fix for k in COLUMN_KEYS)
