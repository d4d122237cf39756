"""The streamed import: batch-by-batch encoding gives the run a one-batch read and an independent csv read give."""

from __future__ import annotations

import codecs
import csv

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from toloka_fixtures import HEADER

from analytics.model import ValidationError
from analytics.sources import _fast_read, _stream, _stream_hash, read_files
from analytics.sources._files import count_lines, open_source
from analytics.sources._stream import IncrementalDictionary
from analytics.sources.workspace import Workspace
from analytics.versions import import_files

# canonical column -> the TSV column it is read from
CANONICAL = {
    "task_id": "ASSIGNMENT:task_id",
    "assignment_id": "ASSIGNMENT:assignment_id",
    "worker_id": "ASSIGNMENT:worker_id",
    "label": "OUTPUT:result",
    "golden": "GOLDEN:result",
}


def _rows(n_tasks: int = 40, overlap: int = 3, seed: int = 1) -> list[list[str]]:
    """An export where new tasks, workers and labels keep appearing in later rows (so in later batches)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_tasks * overlap):
        t = i // overlap if i % 5 else int(rng.integers(0, i // overlap + 1))
        label = ["cat", "dog", "bird", "fish"][min(3, i // 30)] if i % 7 else "dog"
        golden = "cat" if t % 9 == 0 else ""
        image = f"http://img/{t}.jpg" if t % 4 else f'"http://img/{t}\tq\nline.jpg"'  # quoted tab and newline
        rows.append(
            [
                image,
                label,
                golden,
                "look" if i == 50 else "",
                "https://platform.toloka.ai/task/777/x",
                f"t{t}",
                f"a{i % 3}-{i // 6}" if i % 5 else f"r{i}",  # never one task twice in a suite
                f"w{i % (3 + i // 20)}",
                ["APPROVED", "SUBMITTED", "REJECTED"][i % 3],
                f"2024-05-01T10:{i % 60:02d}:00",
                f"2024-05-01T11:{i % 60:02d}:00",
                "0.03",
            ]
        )
    return rows


def _write(path, rows, *, header=HEADER, bom=False, newline="\n", encoding="utf-8"):
    text = newline.join("\t".join(r) for r in [header, *rows]) + newline
    data = text.encode(encoding, "surrogateescape")
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def _with_block(monkeypatch, block: int):
    monkeypatch.setattr(_stream, "BLOCK", block)


def _assert_same_run(a, b):
    pd.testing.assert_frame_equal(a.answers, b.answers)
    for col in ("task_id", "worker_id", "assignment_id", "label", "golden", "pool_id"):
        assert list(a.answers[col].cat.categories) == list(b.answers[col].cat.categories)
        assert np.array_equal(a.answers[col].cat.codes.to_numpy(), b.answers[col].cat.codes.to_numpy())
    pd.testing.assert_frame_equal(a.tasks, b.tasks)
    assert a.meta == b.meta
    assert [str(n) for n in a.notes] == [str(n) for n in b.notes]
    for field in ("task", "worker", "label", "golden", "kind"):
        assert np.array_equal(getattr(a.codes, field), getattr(b.codes, field))
    assert (a.codes.n_tasks, a.codes.n_workers, a.codes.n_labels) == (
        b.codes.n_tasks,
        b.codes.n_workers,
        b.codes.n_labels,
    )


def _csv_reference(path) -> tuple[list[str], list[list[str | None]]]:
    """The export read by Python's csv module: header and rows, "" as None (independent of pyarrow)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        records = [r for r in csv.reader(f, delimiter="\t") if r]
    return records[0], [[v if v != "" else None for v in r] for r in records[1:]]


@pytest.mark.parametrize(("bom", "newline"), [(False, "\n"), (True, "\r\n")])
def test_many_small_batches_give_the_one_batch_run_and_the_csv_reference(tmp_path, monkeypatch, bom, newline):
    path = _write(tmp_path / "r.tsv", _rows(), bom=bom, newline=newline)
    _with_block(monkeypatch, 1 << 24)
    whole = read_files([path])
    _with_block(monkeypatch, 300)  # a few rows per batch: dozens of batches
    batches = []
    original = _stream.stream_file

    def counting(*args, **kwargs):
        batches.append(kwargs["block"])
        return original(*args, **kwargs)

    monkeypatch.setattr(_stream, "stream_file", counting)
    streamed = read_files([path])
    assert batches and batches[-1] <= 2400  # read in small blocks, not in one
    _assert_same_run(streamed, whole)

    header, rows = _csv_reference(path)
    for canon, tcol in CANONICAL.items():
        expected = [r[header.index(tcol)] for r in rows]
        got = streamed.answers[canon].astype(object).where(streamed.answers[canon].notna(), None).tolist()
        assert got == expected, canon
    # categories in the order first met, as one dictionary_encode of the whole column gives them
    tasks = [r[header.index("ASSIGNMENT:task_id")] for r in rows]
    assert list(streamed.answers["task_id"].cat.categories) == list(dict.fromkeys(tasks))
    first_image = {}
    for r in rows:
        first_image.setdefault(r[header.index("ASSIGNMENT:task_id")], r[header.index("INPUT:image")])
    assert streamed.tasks["image"].to_dict() == first_image
    assert streamed.answers.loc[50, "kind"] == "training"
    assert (streamed.answers["kind"] == "control").sum() == sum(
        r[header.index("GOLDEN:result")] is not None for r in rows
    )


def test_lines_past_quoted_line_breaks_are_physical_in_small_batches(tmp_path, monkeypatch):
    rows = _rows()
    rows[100][7] = ""  # no worker on the 101st answer
    path = _write(tmp_path / "r.tsv", rows)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        starts, line = [], 1
        for _ in reader:
            starts.append(line)
            line = reader.line_num + 1
    _with_block(monkeypatch, 300)
    with pytest.raises(ValidationError) as err:
        read_files([path])
    (problem,) = err.value.problems
    assert problem.rows == (starts[101],) and problem.column == "ASSIGNMENT:worker_id"
    assert starts[101] > 102  # quoted line breaks came before it


@pytest.mark.parametrize("block", [300, 1 << 24])
def test_bad_lines_in_later_batches_are_all_reported_at_once(tmp_path, monkeypatch, block):
    rows = _rows()
    rows[10] = rows[10][:5]  # too few fields
    rows[90] = [*rows[90], "extra"]
    path = _write(tmp_path / "r.tsv", rows)
    _with_block(monkeypatch, block)
    with pytest.raises(ValidationError) as err:
        read_files([path])
    (problem,) = err.value.problems
    assert problem.count == 2 and "wrong number of fields" in problem.message
    assert problem.rows[0] > 11 and problem.rows[1] > problem.rows[0]  # physical lines, past multi-line values
    assert str(path) in str(err.value)


def test_non_utf8_bytes_in_a_later_batch_name_line_and_column(tmp_path, monkeypatch):
    rows = _rows()
    rows[80][7] = "w\udce9"  # a Latin-1 é
    path = _write(tmp_path / "r.tsv", rows)
    _with_block(monkeypatch, 300)
    with pytest.raises(ValidationError) as err:
        read_files([path])
    (problem,) = err.value.problems
    assert problem.column == "ASSIGNMENT:worker_id" and "UTF-8" in problem.fix and problem.count == 1


def test_a_bad_file_imports_nothing(tmp_path, monkeypatch):
    rows = _rows()
    rows[20][8] = "LOST"
    path = _write(tmp_path / "r.tsv", rows)
    _with_block(monkeypatch, 300)
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(ValidationError, match="unknown assignment status"):
        import_files(ws, [path], name="n", version="1")
    assert ws.versions() == [] and not list((tmp_path / "ws").glob("versions/*"))


def test_task_identified_by_several_inputs_streams_like_one_batch(tmp_path, monkeypatch):
    header = ["INPUT:a", "INPUT:b", "OUTPUT:result", "ASSIGNMENT:worker_id", "ASSIGNMENT:assignment_id"]
    rows = [
        [f"x{i % 13}", f"y{i % 7}" if i % 11 else "", "cat" if i % 3 else "dog", f"w{i % 5}", f"a{i}"]
        for i in range(120)
    ]
    path = _write(tmp_path / "r.tsv", rows, header=header)
    _with_block(monkeypatch, 1 << 24)
    whole = read_files([path])
    _with_block(monkeypatch, 64)
    streamed = read_files([path])
    _assert_same_run(streamed, whole)
    keys = [f"{a} | {b}".strip() for a, b, *_ in rows]  # ids are stripped, as every reader's
    assert list(streamed.answers["task_id"].cat.categories) == list(dict.fromkeys(keys))
    assert streamed.tasks.loc["x2 | y2", "a"] == "x2"


def test_a_hash_collision_reads_again_and_gives_the_same_run(tmp_path, monkeypatch):
    path = _write(tmp_path / "r.tsv", _rows())
    _with_block(monkeypatch, 300)
    reference = read_files([path])
    real = _stream_hash.text_keys
    seed = _stream_hash._SEED[0]
    calls = []

    def colliding(values):
        first, second = real(values)
        calls.append(_stream_hash._SEED[0])
        if _stream_hash._SEED[0] == seed:
            first = np.zeros_like(first)  # every text the same first key: caught by the second
        return first, second

    monkeypatch.setattr(_stream_hash, "text_keys", colliding)
    again = read_files([path])
    assert seed in calls and seed + 1 in calls  # the first read met the collision, the second did not
    _assert_same_run(again, reference)


@pytest.mark.parametrize("cardinality", [3, 5000])
def test_incremental_dictionary_equals_one_dictionary_encode(cardinality):
    rng = np.random.default_rng(7)
    values = [f"v{int(x)}" if x % 17 else None for x in rng.integers(0, cardinality, 6000)]
    values[:3] = ["", "é", "v1"]
    column = pa.array(values, pa.large_string())
    companion = pa.array([f"c{i}" for i in range(len(values))], pa.large_string())
    encoder = IncrementalDictionary(companions=["c"])
    cuts = np.sort(rng.choice(np.arange(1, len(values)), 40, replace=False))
    for start, stop in zip([0, *cuts], [*cuts, len(values)], strict=True):
        encoder.add(column.slice(start, stop - start), {"c": companion.slice(start, stop - start)})
    codes, dictionary = encoder.finish()
    expected = pc.dictionary_encode(column)
    assert dictionary.to_pylist() == expected.dictionary.to_pylist()
    assert codes.tolist() == expected.indices.fill_null(-1).to_pylist()
    firsts = [values.index(v) for v in expected.dictionary.to_pylist()]
    assert encoder.first_values("c").to_pylist() == [f"c{i}" for i in firsts]
    assert codes.dtype == (np.int8 if cardinality < 100 else np.int16)


def test_the_opened_run_is_the_imported_one_in_lean_dtypes(tmp_path, monkeypatch):
    path = _write(tmp_path / "r.tsv", _rows())
    _with_block(monkeypatch, 300)
    ws = Workspace(tmp_path / "ws")
    info = import_files(ws, [path], name="n", version="1")
    run = read_files([path])
    opened = ws.open_run(info.id)
    _assert_same_run(opened, run)
    a = opened.answers
    assert a["task_id"].cat.categories.dtype == "str" and a["worker_id"].cat.codes.dtype == np.int8
    assert a["status"].cat.codes.dtype == np.int8 and opened.tasks["image"].dtype == "str"
    # the tasks table is indexed by the answers' own task ids, in their order
    assert opened.tasks.index.equals(a["task_id"].cat.categories)
    assert info.metadata["answers"] == len(a) and info.metadata["tasks"] == opened.codes.n_tasks


def test_the_line_count_counts_the_lines_it_passes(tmp_path):
    data = b"h1\th2\n1\t2\r\n\n3\t4\n\n\n"
    lines = _stream.LineCount()
    stream = pa.TransformInputStream(pa.BufferReader(data), lines)
    while stream.read(3):
        pass
    assert lines.physical_lines() == len(data.rstrip(b"\r\n").split(b"\n")) == 4
    many = b"a\n" * 300_000 + b"b"  # past one counting slice
    lines = _stream.LineCount()
    lines(pa.py_buffer(many))
    assert lines.physical_lines() == many.count(b"\n") + 1


def _attempts(monkeypatch) -> list[bool]:
    """The ``quoted`` of every read of a file stream_file makes from now on."""
    attempts, original = [], _stream.stream_file

    def recording(*args, **kwargs):
        attempts.append(kwargs["quoted"])
        return original(*args, **kwargs)

    monkeypatch.setattr(_stream, "stream_file", recording)
    return attempts


def _images(path) -> dict[str, str]:
    header, rows = _csv_reference(path)
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r[header.index("ASSIGNMENT:task_id")], r[header.index("INPUT:image")])
    return out


@pytest.mark.parametrize("late_quote", [False, True])
def test_a_file_is_read_the_fast_way_until_a_quote_opens_a_value(tmp_path, monkeypatch, late_quote):
    rows = _rows()
    for r in rows:  # no value opens with a quote; some hold one inside (a literal quote)
        r[0] = r[0].strip('"').replace("\t", " ").replace("\n", " ").replace("/img/", '/i"m"g/')
    if late_quote:  # one quoted tab and line break, dozens of blocks in
        rows[100][0], rows[100][5] = '"http://img/late\tq\nline.jpg"', "t-late"
    path = _write(tmp_path / "r.tsv", rows)
    _with_block(monkeypatch, 300)
    monkeypatch.setattr(_fast_read, "AVAILABLE", False)  # pyarrow's two ways, not the C reader
    attempts = _attempts(monkeypatch)
    run = read_files([path])
    assert attempts == ([False, True] if late_quote else [False])
    assert run.tasks["image"].to_dict() == _images(path)
    assert len(run.answers) == len(rows)
    if late_quote:
        assert run.tasks["image"]["t-late"] == "http://img/late\tq\nline.jpg"


def test_the_line_count_sees_a_quote_open_a_field_not_one_inside_it():
    def quoted(*blocks: bytes, sep: str = "\t") -> bool:
        lines = _stream.LineCount(sep)
        for b in blocks:
            lines(pa.py_buffer(b))
        return lines.quoted

    assert not quoted(b'a\tb\nx"y\tz"\n')  # inside values: literal
    assert quoted(b'a\tb\n"x\ny"\tz\n') and quoted(b'a\t"b"\n') and quoted(b'"a"\tb\n')
    assert quoted(b"a\tb\n", b'"x"\tz\n') and quoted(b"a\t", b'"b"\n')  # at a block's start
    assert not quoted(b"a\tb", b'"c\n')  # the last block's value goes on
    assert quoted(b'a,"b"\n', sep=",") and not quoted(b'a\t"b"\n', sep=",")
    assert quoted(b"x" * 300_000 + b'\t"q"\n')  # past one counting slice


# --------------------------------------------------------------------------------------------
# the C reader (analytics.sources._fast_read) against the pyarrow one


def _plain_rows(n_tasks: int = 40) -> list[list[str]]:
    """An export no value of which opens with a quote (a literal quote inside some), so the C reader reads it."""
    rows = _rows(n_tasks)
    for r in rows:
        r[0] = r[0].strip('"').replace("\t", " ").replace("\n", " ").replace("/img/", '/i"m"g/é')
    return rows


def _both_ways(monkeypatch, path):
    """(the run the C reader gives, how many times it read the file; the run pyarrow alone gives)."""
    calls, original = [], _fast_read.read

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_fast_read, "read", counting)
    fast = read_files([path])
    monkeypatch.setattr(_fast_read, "AVAILABLE", False)
    slow = read_files([path])
    monkeypatch.setattr(_fast_read, "AVAILABLE", True)
    return fast, len(calls), slow


needs_c = pytest.mark.skipif(not _fast_read.AVAILABLE, reason="the C reader was not built (no C compiler at install)")


@needs_c
@pytest.mark.parametrize("block", [64, 300, 1 << 20])
@pytest.mark.parametrize("shape", ["lf", "crlf+bom", "blank lines", "no last break"])
def test_the_c_reader_gives_the_run_pyarrow_and_the_csv_module_give(tmp_path, monkeypatch, block, shape):
    rows = _plain_rows()
    path = _write(tmp_path / "r.tsv", rows, bom=shape == "crlf+bom", newline="\r\n" if shape == "crlf+bom" else "\n")
    if shape == "blank lines":  # blank lines inside and at the end: no records, lines still counted
        lines = path.read_bytes().split(b"\n")
        path.write_bytes(b"\n".join(lines[:7] + [b""] + lines[7:30] + [b"", b""] + lines[30:]) + b"\n\n")
    if shape == "no last break":
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
    monkeypatch.setattr(_fast_read, "BLOCK", block)  # 64: every line longer than a block
    monkeypatch.setattr(_fast_read, "FIRST_SLOTS", 4)  # the tables grow, many times within a block
    fast, reads, slow = _both_ways(monkeypatch, path)
    assert reads == 1
    _assert_same_run(fast, slow)
    header, reference = _csv_reference(path)
    for canon, tcol in CANONICAL.items():
        got = fast.answers[canon].astype(object).where(fast.answers[canon].notna(), None).tolist()
        assert got == [r[header.index(tcol)] for r in reference], canon
    assert fast.tasks["image"].to_dict() == _images(path)
    plan = _fast_read.Plan(HEADER, ["OUTPUT:result"], "ASSIGNMENT:task_id")
    with open(path, "rb") as stream:
        _fast_read.read(stream, plan, sep="\t", header=True)
    with open_source(path) as opened:  # counted on the way: the file is not read again for its lines
        assert (plan.rows, plan.physical_lines()) == (len(reference), count_lines(opened))


@needs_c
@pytest.mark.parametrize(
    "damage", ["late quote", "lone carriage return", "a field too many", "not UTF-8", "a bad time past blank lines"]
)
def test_what_only_the_slow_way_reads_exactly_is_left_to_it(tmp_path, monkeypatch, damage):
    rows = _plain_rows()
    if damage == "late quote":
        rows[100][0] = '"http://img/late\tq\nline.jpg"'
    elif damage == "lone carriage return":
        rows[90][7] = "w\rx"
    elif damage == "a field too many":
        rows[95].append("extra")
    elif damage == "a bad time past blank lines":
        rows[60][9] = "soon"
    path = _write(tmp_path / "r.tsv", rows)
    if damage == "not UTF-8":
        data = path.read_bytes()
        path.write_bytes(data.replace(b"w1\t", b"w\xff1\t", 1))
    if damage == "a bad time past blank lines":  # the bad time is on physical line 1 + 61 + 3
        lines = path.read_bytes().split(b"\n")
        path.write_bytes(b"\n".join(lines[:5] + [b"", b"\r", b""] + lines[5:]))
        with pytest.raises(ValidationError, match="line 65"):
            read_files([path])
        return _compare_both_ways(monkeypatch, path)
    names = HEADER
    plan = _fast_read.Plan(names, ["ASSIGNMENT:worker_id", "OUTPUT:result"], "ASSIGNMENT:task_id", ["INPUT:image"])
    with open(path, "rb") as stream, pytest.raises(_fast_read.NotFast):
        _fast_read.read(stream, plan, sep="\t", header=True)
    _compare_both_ways(monkeypatch, path)


def _compare_both_ways(monkeypatch, path) -> None:
    monkeypatch.setattr(_fast_read, "BLOCK", 300)
    outcomes = []
    for available in (True, False):  # the same run, or the same message by physical line
        monkeypatch.setattr(_fast_read, "AVAILABLE", available)
        try:
            outcomes.append(read_files([path]).answers)
        except ValidationError as err:
            outcomes.append(str(err))
    if isinstance(outcomes[0], str):
        assert outcomes[0] == outcomes[1] and "line" in outcomes[0]
    else:
        pd.testing.assert_frame_equal(outcomes[0], outcomes[1])


@needs_c
def test_a_hash_collision_in_the_c_reader_reads_again(tmp_path, monkeypatch):
    path = _write(tmp_path / "r.tsv", _plain_rows())
    calls, original = [], _fast_read.read

    def colliding_once(*args, **kwargs):
        calls.append(_stream_hash._SEED[0])
        if len(calls) == 1:
            raise _stream_hash.HashCollision()
        return original(*args, **kwargs)

    monkeypatch.setattr(_fast_read, "read", colliding_once)
    run = read_files([path])
    monkeypatch.setattr(_fast_read, "AVAILABLE", False)
    _assert_same_run(run, read_files([path]))
    assert len(calls) == 2 and calls[1] == calls[0] + 1  # read again, hashed with the next seed


@needs_c
def test_the_c_reader_stops_at_a_collision_and_at_a_full_table():
    for status, raised in ((-4, _stream_hash.HashCollision), (-1, _fast_read.NotFast), (-2, _fast_read.NotFast)):
        with pytest.raises(raised):
            _fast_read._check(status)
    _fast_read._check(0)
