"""Opening user files: paths or uploaded bytes, sniffed before parsing so bad input gets words."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Sequence, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from analytics.model import ProblemList, ValidationError

Source = Union[str, os.PathLike, bytes, IO[bytes], IO[str]]


@dataclass
class Opened:
    """A checked input, the name to use in messages, and a binary handle opened on first use.

    A file on disk is opened only when ``handle`` is first read (sniffing the first line needs
    no open handle), and closed by :meth:`close`; use it as a context manager::

        with open_source(path) as opened:
            table = read_table(opened, sep="\\t")
    """

    name: str
    path: Path | None
    first_line: str
    _handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def handle(self) -> IO[bytes]:
        if self._handle is None or self._handle.closed:
            if self.path is None:
                raise ValueError(f"the data of {self.name} was closed and cannot be read again.")
            self._handle = self.path.open("rb")
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> "Opened":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(source: Source, name: str | None = None) -> Opened:
    """Check ``source`` (a path, bytes or a file object) before it is parsed.

    Raises a ValidationError for missing, empty, binary or non-UTF-8 files. Bytes and file
    objects are held in memory; a path is opened lazily (see :class:`Opened`), so only a caller
    that reads ``handle`` needs to close it — ``with open_source(...) as opened:``.
    """
    problems = ProblemList(name or _name_of(source))
    path: Path | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        problems.file = name or str(path)
        if not path.exists():
            problems.add("the file does not exist.", "check the path.")
            raise ValidationError(problems.errors)
        if path.is_dir():
            problems.add("this is a folder, not a file.", "name the results file inside it.")
            raise ValidationError(problems.errors)
        with path.open("rb") as f:
            head = f.read(65536)
        handle: IO[bytes] | None = None
    elif isinstance(source, bytes):
        head = source[:65536]
        handle = io.BytesIO(source)
    else:
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        head = data[:65536]
        handle = io.BytesIO(data)
    if not head.strip():
        problems.add(
            "the file is empty.",
            "download the results again; an export has a header line and one line per answer.",
        )
        raise ValidationError(problems.errors)
    if b"\x00" in head:
        problems.add(
            "this is a binary file, not text (a spreadsheet or archive?).",
            "export or save it as tab-separated text (TSV) or CSV, UTF-8, and try again.",
        )
        raise ValidationError(problems.errors)
    try:
        text_head = head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # a cut multi-byte character at the 64 KiB edge is fine; anything earlier is not UTF-8
        if err.start < len(head) - 4:
            problems.add(
                f"the file is not UTF-8 text (undecodable byte at offset {err.start}).",
                "save it as UTF-8 (Toloka's download already is) and try again.",
            )
            raise ValidationError(problems.errors)
        text_head = head[: err.start].decode("utf-8-sig")
    first = text_head.splitlines()[0] if text_head.splitlines() else ""
    return Opened(name=problems.file, path=path, first_line=first, _handle=handle)


def header_fields(opened: Opened, sep: str) -> list[str]:
    """The header's field names, unquoted as a CSV reader would."""
    return next(csv.reader([opened.first_line], delimiter=sep)) if opened.first_line else []


def read_table(
    opened: Opened,
    *,
    sep: str,
    include: Sequence[str] | None = None,
    column_names: Sequence[str] | None = None,
) -> pa.Table:
    """Read a delimited file with pyarrow (multi-threaded) into string columns, "" as null.

    Every cell stays text ("NA" is a label, not a missing value); ``include`` limits the columns
    read; ``column_names`` names a headerless file's columns. Rows with the wrong number of fields
    are all collected and reported at once with their line numbers.
    """
    problems = ProblemList(opened.name)
    names = list(column_names) if column_names else header_fields(opened, sep)
    wanted = [c for c in names if include is None or c in include]
    bad_rows: list[tuple[int, int, str]] = []

    def on_invalid(row) -> str:
        bad_rows.append((row.expected_columns, row.actual_columns, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            opened.handle,
            read_options=pacsv.ReadOptions(
                block_size=32 << 20, column_names=list(column_names) if column_names else None
            ),
            parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={c: pa.string() for c in wanted},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        problems.add(
            f"the file could not be read as {'tab' if sep == chr(9) else 'comma'}-separated text: {err}.",
            "check that it is UTF-8 text with one record per line and the same number of fields on every line.",
        )
        raise ValidationError(problems.errors) from None
    if bad_rows:
        texts = {t for _, _, t in bad_rows}
        lines = _find_lines(opened, texts)
        expected = bad_rows[0][0]
        counts = sorted({a for _, a, _ in bad_rows})
        problems.add(
            f"{len(bad_rows):,} line(s) have the wrong number of fields (expected {expected}, found "
            + ", ".join(map(str, counts[:5]))
            + ").",
            "a value probably contains a tab or a line break; quote such values or remove the "
            "character, and make every line have as many fields as the header.",
            lines=lines,
            values=[t[:80] for _, _, t in bad_rows[:5]],
            count=len(bad_rows),
        )
        raise ValidationError(problems.errors)
    return table


def _find_lines(opened: Opened, texts: set[str]) -> list[int]:
    """Line numbers of lines whose text is one of ``texts`` (only used when rows are malformed)."""
    if opened.path is not None:
        stream = opened.path.open("r", encoding="utf-8-sig", errors="replace")
    else:
        opened.handle.seek(0)
        stream = io.TextIOWrapper(io.BytesIO(opened.handle.read()), encoding="utf-8-sig", errors="replace")
    with stream:
        return [i for i, line in enumerate(stream, start=1) if line.rstrip("\r\n") in texts]


def as_category(column: pa.ChunkedArray | pa.Array) -> pd.Categorical:
    """A string column as a pandas Categorical (codes int32, categories str), nulls as -1."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    enc = arr.dictionary_encode()
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    cats = pd.Index(enc.dictionary.to_numpy(zero_copy_only=False), dtype="str")
    return pd.Categorical.from_codes(codes, categories=cats, validate=False)


def as_categories(table: pa.Table, names: Sequence[str]) -> dict[str, pd.Categorical]:
    """Encode several columns at once; pyarrow releases the GIL, so two cores share the work."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, max(1, len(names)))) as pool:
        return dict(zip(names, pool.map(lambda n: as_category(table.column(n)), names)))


def _name_of(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", None) or "uploaded file"
