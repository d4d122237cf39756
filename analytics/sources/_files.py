"""Opening user files: paths or uploaded bytes, made UTF-8 and sniffed before parsing, so bad input gets words."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence, Union

import numpy as np
import pyarrow as pa

from analytics.model import Problem, ProblemList, ValidationError
from analytics.sources import _fast_read, _stream
from analytics.sources._stream import Consumer
from analytics.sources.memory import release_memory

Source = Union[str, os.PathLike, bytes, IO[bytes], IO[str]]

UTF8_FIX = (
    "save the file as UTF-8 (Excel: Save As → 'CSV UTF-8'; LibreOffice: character set 'Unicode (UTF-8)') "
    "and import it again."
)
_HEAD = 1 << 16
_CHUNK = 1 << 20
_MARK = "crowdlens-not-utf16"
# An undecodable UTF-16 unit becomes the byte 0xFF in the UTF-8 copy: not UTF-8, so the UTF-8
# check below reports it with its line and column like any other bad byte.
codecs.register_error(_MARK, lambda err: ("\udcff", err.end))
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


@dataclass
class Opened:
    """A checked input, the name to use in messages, and UTF-8 bytes opened on first use.

    A UTF-16 file is transcoded to a UTF-8 temporary file (in 1 MiB chunks) the first time
    ``path`` or ``handle`` is used, and the copy is deleted by :meth:`close`; use it as a
    context manager::

        with open_source(path) as opened:
            table = read_table(opened, sep="\\t")
    """

    name: str
    source_path: Path | None
    first_line: str
    size: int
    encoding: str = "utf-8"
    header_is_utf8: bool = True
    _handle: IO[bytes] | None = field(default=None, repr=False)
    _utf8_path: Path | None = field(default=None, repr=False)

    @property
    def path(self) -> Path | None:
        """The UTF-8 file to parse (the source itself, or its UTF-8 copy); None for bytes in memory."""
        if self.source_path is None:
            return None
        if self._utf8_path is None:
            self._utf8_path = (
                self.source_path if self.encoding == "utf-8" else _transcode_file(self.source_path, self.encoding)
            )
        return self._utf8_path

    @property
    def handle(self) -> IO[bytes]:
        if self._handle is None or self._handle.closed:
            if self.path is None:
                raise ValueError(f"the data of {self.name} was closed and cannot be read again.")
            self._handle = self.path.open("rb")
        self._handle.seek(0)
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._utf8_path is not None and self._utf8_path != self.source_path:
            self._utf8_path.unlink(missing_ok=True)
            self._utf8_path = None

    def __enter__(self) -> "Opened":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(source: Source, name: str | None = None) -> Opened:
    """Check ``source`` (a path, bytes or a file object) before it is parsed.

    Raises a ValidationError for a missing, empty or binary file. UTF-16 (with or without a
    byte-order mark) is read as text; bytes that are not UTF-8 are reported, with their line and
    column, when the file is parsed. A path is opened lazily (see :class:`Opened`).
    """
    problems = ProblemList(name or _name_of(source))
    path: Path | None = None
    data: bytes | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        problems.file = name or str(path)
        _check_path(path, problems)
        with path.open("rb") as f:
            head = f.read(_HEAD)
        size = path.stat().st_size
    else:
        data = source if isinstance(source, bytes) else _read_all(source)
        head, size = data[:_HEAD], len(data)
    if not head.strip():
        problems.add(
            "the file is empty.",
            "download the results again; an export has a header line and one line per answer.",
        )
        raise ValidationError(problems.errors)
    encoding = _utf16_encoding(head, whole=size <= len(head))
    if encoding:
        head = head.decode(encoding, _MARK).encode("utf-8", "surrogateescape")
        if data is not None:
            data = data.decode(encoding, _MARK).encode("utf-8", "surrogateescape")
            encoding, size = "utf-8", len(data)
    elif b"\x00" in head:
        problems.add(
            "this is a binary file, not text (a spreadsheet or archive?).",
            "export or save it as tab-separated text (TSV) or CSV, UTF-8, and try again.",
        )
        raise ValidationError(problems.errors)
    text = head.decode("utf-8-sig", "backslashreplace")
    first = text.splitlines()[0] if text.splitlines() else ""
    try:
        head.split(b"\n", 1)[0].decode("utf-8")
        header_is_utf8 = True
    except UnicodeDecodeError as err:
        header_is_utf8 = err.start >= _HEAD - 4  # a header line cut inside a character is fine
    handle = io.BytesIO(data) if data is not None else None
    return Opened(problems.file, path, first, size, encoding or "utf-8", header_is_utf8, _handle=handle)


def _check_path(path: Path, problems: ProblemList) -> None:
    if not path.exists():
        problems.add("the file does not exist.", "check the path.")
    elif path.is_dir():
        problems.add("this is a folder, not a file.", "name the results file inside it.")
    problems.raise_if_errors()


def _read_all(stream: IO) -> bytes:
    data = stream.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _utf16_encoding(head: bytes, *, whole: bool) -> str | None:
    """``utf-16`` / ``utf-16-le`` / ``-be`` when ``head`` is UTF-16 text (by its BOM or its zero bytes)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        even, odd = head[0::2], head[1::2]
        if len(odd) < 2:
            return None
        zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
        if zero_odd > 0.3 and zero_even < 0.02:
            encoding = "utf-16-le"
        elif zero_even > 0.3 and zero_odd < 0.02:
            encoding = "utf-16-be"
        else:
            return None
    # a head cut inside a character is still UTF-16; a few bad units are reported later by line
    text = (head if whole else head[: len(head) - 4]).decode(encoding, _MARK)
    if text.count("\udcff") > len(text) // 100:
        return None
    # a table has separators: bytes that only decode to UTF-16 nonsense are left to the UTF-8 check
    return encoding if any(c in text for c in "\t,\n") else None


def _transcode_file(path: Path, encoding: str) -> Path:
    """A UTF-8 copy of a UTF-16 file, written chunk by chunk (line breaks, so line numbers, unchanged)."""
    decoder = codecs.getincrementaldecoder(encoding)(_MARK)
    fd, name = tempfile.mkstemp(prefix="crowdlens-utf8-", suffix=path.suffix)
    with path.open("rb") as src, os.fdopen(fd, "wb") as out:
        while chunk := src.read(_CHUNK):
            out.write(decoder.decode(chunk).encode("utf-8", "surrogateescape"))
        out.write(decoder.decode(b"", final=True).encode("utf-8", "surrogateescape"))
    return Path(name)


def header_fields(opened: Opened, sep: str) -> list[str]:
    """The header's field names, unquoted as a CSV reader would."""
    return next(csv.reader([opened.first_line], delimiter=sep)) if opened.first_line else []


@dataclass
class Scan:
    """What :func:`scan` fed to its consumer: how many records, and the physical lines of the file."""

    consumer: Consumer
    rows: int
    physical_lines: int

    def lines(self, opened: Opened, sep: str, *, header: bool = True) -> np.ndarray | None:
        """The physical line of each record, or None where row i is line i + 1 + header (as :func:`record_lines`)."""
        return record_lines(opened, sep, self.rows, header=header, physical_lines=self.physical_lines)


class _Counted:
    """A consumer counting the records it passes on."""

    def __init__(self, consumer: Consumer):
        self.consumer, self.rows = consumer, 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.consumer.add(batch)


def scan(
    opened: Opened,
    start: Callable[[list[str]], Consumer],
    *,
    sep: str,
    include: Sequence[str] | None = None,
    column_names: Sequence[str] | None = None,
) -> Scan:
    """Stream a delimited file in batches of string columns ("" as null) into ``start(columns)``'s consumer.

    Every cell stays text ("NA" is a label, not a missing value); ``include`` limits the columns
    read; ``column_names`` names a headerless file's columns. The file is read once, in blocks
    of :data:`analytics.sources._stream.BLOCK` bytes, never whole: what is held is what the
    consumer keeps; a consumer with a plan for the C reader (``fast_plan``) has the file read by
    it, where it can read it exactly, and by pyarrow otherwise. Quoted values may span lines and
    be of any size (a value longer than a block restarts the read with a fresh consumer and
    bigger blocks). Rows with the wrong number of
    fields and cells that are not UTF-8 are all collected and reported at once, by physical line
    (and column), in one ValidationError.
    """
    names = list(column_names) if column_names else header_fields(opened, sep)
    if not opened.header_is_utf8 and not column_names:
        raise ValidationError(not_utf8_problems(opened, sep, names))
    _check_unique(opened, names)
    wanted = [c for c in names if include is None or c in include]
    fast = None if column_names else _fast_scan(opened, start, names, wanted, sep)
    if fast is not None:
        return fast
    bad_rows: list[tuple[int, int, str]] = []

    def on_invalid(row) -> str:
        bad_rows.append((row.expected_columns, row.actual_columns, row.text))
        return "skip"

    block, collisions, quoted = _stream.BLOCK, 0, False  # read the fast way until a quote opens a value
    while True:
        bad_rows.clear()
        counted = _Counted(start(wanted))
        try:
            with _native(opened) as raw:
                counting = _stream.stream_file(
                    raw,
                    counted,
                    sep=sep,
                    block=block,
                    wanted=wanted,
                    column_names=column_names,
                    on_invalid=on_invalid,
                    quoted=quoted,
                )
            break
        except _stream.QuotedValues:
            quoted = True  # read again, values across lines allowed (once per file at most)
            continue
        except _stream.HashCollision:
            collisions += 1  # two values shared a key: read again, hashed differently (once in ~10^9 reads)
            if collisions > 3:
                raise RuntimeError(
                    f"{opened.name}: the ids could not be told apart by hashing; report this file."
                ) from None
            continue
        except (pa.ArrowInvalid, UnicodeDecodeError) as err:
            too_small = "straddl" in str(err) or "Empty CSV file" in str(err)  # a value or the header past a block
            if too_small and block < min(opened.size + 1, _stream.MAX_BLOCK):
                block = min(block * 8, _stream.MAX_BLOCK)  # read bigger blocks
                continue
            if "Empty CSV file" in str(err) and names and not column_names:
                return Scan(start(wanted), 0, 1)  # a header without a line break
            raise ValidationError(_unreadable(opened, sep, names, err, not column_names)) from None
    if bad_rows:
        raise ValidationError(wrong_field_counts(opened, sep, len(names), header=not column_names))
    return Scan(counted.consumer, counted.rows, counting.physical_lines())


def _fast_scan(opened: Opened, start: Callable[[list[str]], Consumer], names: list[str], wanted: list[str], sep: str):
    """The file read by the C reader (:mod:`analytics.sources._fast_read`) where its consumer has a plan for
    it, else None: also when the file holds what only the slow way reads exactly (quotes opening
    values, rows with the wrong number of fields, text that is not UTF-8), which explains it."""
    for _ in range(4):  # a hash collision (once in ~10^9 reads) reads it again, hashed differently
        consumer = start(wanted)
        plan = consumer.fast_plan(names) if hasattr(consumer, "fast_plan") else None
        if plan is None:
            return None
        try:
            with _binary(opened) as stream:
                _fast_read.read(stream, plan, sep=sep, header=True)
        except _fast_read.NotFast:
            return None
        except _stream.HashCollision:
            continue
        consumer.adopt(plan)
        rows, lines = plan.rows, plan.physical_lines()
        del plan
        release_memory()
        return Scan(consumer, rows, lines)
    return None


class _Batches:
    """A consumer keeping every batch (the whole string table: for small files only)."""

    def __init__(self, names: list[str]):
        self.names, self.batches = names, []

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def table(self) -> pa.Table:
        if not self.batches:
            return pa.table({c: pa.array([], pa.string()) for c in self.names})
        return pa.Table.from_batches(self.batches)


def read_table(
    opened: Opened,
    *,
    sep: str,
    include: Sequence[str] | None = None,
    column_names: Sequence[str] | None = None,
) -> tuple[pa.Table, Scan]:
    """A delimited file as one table of string columns, and its :class:`Scan` (for the records' lines).

    Holds the whole string table: a reader of large files passes its own consumer to :func:`scan`.
    """
    scanned = scan(opened, _Batches, sep=sep, include=include, column_names=column_names)
    return scanned.consumer.table(), scanned


def _check_unique(opened: Opened, names: list[str]) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        problems = ProblemList(opened.name)
        for n in sorted(seen):
            problems.add(
                f"the header names the column {n!r} {names.count(n)} times, so its values are ambiguous.",
                "rename or delete the repeated columns so every header name is different.",
                column=n,
                lines=[1],
            )
        problems.raise_if_errors()


def _unreadable(opened: Opened, sep: str, names: list[str], err: Exception, header: bool) -> list[Problem]:
    """The problems behind a parse error: cells that are not UTF-8, else the parser's own words."""
    found = not_utf8_problems(opened, sep, names, header=header)
    if found:
        return found
    problems = ProblemList(opened.name)
    problems.add(
        f"the file could not be read as {_sep_name(sep)}-separated text: {err}.",
        "check that it is UTF-8 text with one record per line and the same number of fields on every line.",
    )
    return problems.errors


def records(opened: Opened, sep: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, its fields) for every record, the header included.

    Slow (Python speed): only for explaining a problem or placing multi-line records. Bytes that
    are not UTF-8 come through as U+DC80..U+DCFF (``surrogateescape``).
    """
    csv.field_size_limit(max(csv.field_size_limit(), min(opened.size + 1, sys.maxsize)))
    with io.TextIOWrapper(_binary(opened), encoding="utf-8-sig", errors="surrogateescape", newline="") as text:
        reader = csv.reader(text, delimiter=sep)
        start = 1
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1


def not_utf8_problems(opened: Opened, sep: str, names: Sequence[str], *, header: bool = True) -> list[Problem]:
    """One problem per column holding bytes that are not UTF-8, naming the lines and the fix."""
    found: dict[str, tuple[list[int], list[str]]] = {}
    counts: dict[str, int] = {}
    for start, fields in records(opened, sep):
        for i, value in enumerate(fields):
            bad = _NOT_UTF8.search(value)
            if bad is None:
                continue
            line = start + sum(f.count("\n") for f in fields[:i]) + value.count("\n", 0, bad.start())
            column = _shown(names[i]) if i < len(names) else f"field {i + 1} (beyond the header)"
            if header and start == 1:
                column = f"the header ({_shown(value)})"
            lines, values = found.setdefault(column, ([], []))
            counts[column] = counts.get(column, 0) + 1
            if len(lines) < 1000:
                lines.append(line)
                values.append(_shown(value)[:60])
    problems = ProblemList(opened.name)
    for column, (lines, values) in found.items():
        problems.add(
            f"{counts[column]:,} cell(s) are not UTF-8 text (the file was probably saved as Latin-1, "
            "Windows-1252 or another legacy encoding).",
            UTF8_FIX,
            column=column,
            lines=lines,
            values=values[:5],
            count=counts[column],
        )
    return problems.errors


def wrong_field_counts(opened: Opened, sep: str, expected: int, *, header: bool = True) -> list[Problem]:
    """The records whose number of fields differs from the header's, by physical line."""
    lines, texts, counts = [], [], set()
    for start, fields in records(opened, sep):
        if (header and start == 1) or len(fields) == expected:
            continue
        lines.append(start)
        counts.add(len(fields))
        if len(texts) < 5:
            texts.append(_shown(sep.join(fields))[:80])
    problems = ProblemList(opened.name)
    problems.add(
        f"{len(lines):,} line(s) have the wrong number of fields (expected {expected}, found "
        + ", ".join(map(str, sorted(counts)[:5]))
        + ").",
        "a value probably contains a tab or a line break; quote such values or remove the "
        "character, and make every line have as many fields as the header.",
        lines=lines,
        values=texts,
        count=len(lines),
    )
    return problems.errors


def record_lines(
    opened: Opened, sep: str, n_rows: int, *, header: bool = True, physical_lines: int | None = None
) -> np.ndarray | None:
    """The physical line of each of the ``n_rows`` data records, or None where row i is line i + 1 + header.

    Counting line breaks is fast (``physical_lines``, when the reader counted them on its way, saves
    reading the file again); only a file whose records do not each sit on one line (quoted line
    breaks, blank lines) is walked record by record.
    """
    if (physical_lines if physical_lines is not None else count_lines(opened)) == n_rows + header:
        return None
    starts = np.fromiter((start for start, _ in records(opened, sep)), dtype=np.int64)
    starts = starts[1:] if header else starts
    return starts if len(starts) == n_rows else None


def count_lines(opened: Opened) -> int:
    """Physical lines in the file, not counting blank lines at its end."""
    total, tail = 0, b""
    with _binary(opened) as stream:
        while chunk := stream.read(16 << 20):
            total += chunk.count(b"\n")
            tail = (tail + chunk[-64:])[-64:]
    return _stream.physical_lines(total, tail)


def _native(opened: Opened) -> pa.NativeFile:
    """A fresh Arrow stream over the UTF-8 data, read without Python in between (the caller closes it)."""
    if opened.path is not None:
        return pa.OSFile(str(opened.path))
    return pa.BufferReader(pa.py_buffer(opened.handle.getvalue()))


def _binary(opened: Opened) -> IO[bytes]:
    """A fresh binary stream over the UTF-8 data (the caller closes it)."""
    return opened.path.open("rb") if opened.path is not None else io.BytesIO(opened.handle.getvalue())


def _shown(text: str) -> str:
    """Text as a message can show it: bytes that are not UTF-8 written as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _sep_name(sep: str) -> str:
    return "tab" if sep == "\t" else "comma" if sep == "," else repr(sep)


def _name_of(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", None) or "uploaded file"
