"""Opening user files: paths or uploaded bytes, sniffed before parsing so bad input gets words."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union

from analytics.model import ProblemList, ValidationError

Source = Union[str, os.PathLike, bytes, IO[bytes], IO[str]]


@dataclass
class Opened:
    """A file's text handle and the name to use in messages."""

    name: str
    handle: IO[str] | IO[bytes]
    path: Path | None
    first_line: str


def open_source(source: Source, name: str | None = None) -> Opened:
    """Open ``source`` for pandas; raise a ValidationError for missing, empty or binary files."""
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
        head = path.open("rb").read(65536)
        handle: IO = path.open("rb")
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
    return Opened(name=problems.file, handle=handle, path=path, first_line=first)


def _name_of(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "name", None) or "uploaded file"
