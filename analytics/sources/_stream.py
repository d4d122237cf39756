"""Streaming a delimited file in batches: ids dictionary-encoded across batches, physical lines counted on the way."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analytics.sources._stream_hash import HashCollision, HashedDictionary
from analytics.sources.memory import release_memory

if TYPE_CHECKING:
    from analytics.sources import _fast_read

BLOCK = 8 << 20  # bytes per batch: bigger blocks parse no faster and hold more while the last is encoded
MAX_BLOCK = (1 << 31) - 1  # pyarrow's block size is an int32
AHEAD = 2  # parsed batches waiting for the encoder
TEXT = pa.large_string()  # 64-bit offsets: a dictionary of 10^8 long ids fits
_ENCODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdlens-encode")
_COUNT_SLICE = 1 << 18  # bytes compared at once when counting line breaks
_NEWLINE = ord("\n")
_QUOTE = ord('"')


class IncrementalDictionary:
    """One text column's integer codes over a stream of batches, and its dictionary.

    A column of few distinct values per batch (labels, statuses, workers, an assignment's times)
    has each batch dictionary-encoded alone and only the batch's dictionary looked up in the
    global one; a column of mostly distinct values (task ids) has its rows looked up directly.
    The global dictionary (:class:`HashedDictionary`) lives across batches: O(distinct values)
    work per batch, never a Python string per row, memory O(codes + distinct values). It lists
    values in the order they first appear in the column, with the codes ``dictionary_encode``
    of the whole column gives.

    ``companions`` names columns whose value at each dictionary value's first row is kept (the
    inputs of a task at its first answer): :meth:`first_values` gives them aligned with the dictionary.
    """

    def __init__(self, companions: Sequence[str] = ()):
        self.firsts: dict[str, list[pa.Array]] = {c: [] for c in companions}
        self.distinct: bool | None = None  # mostly distinct values: batches are not encoded alone
        self._global = HashedDictionary()
        self._values: list[pa.Array] = []
        self._codes: list[np.ndarray] = []
        self._count = 0

    def add(self, column: pa.Array, companions: dict[str, pa.Array] | None = None) -> None:
        """Take one batch's column; ``companions`` holds the batch's companion columns by name."""
        if self.distinct:
            codes, new = self._global.encode(column)
            values, rows = column, new
        else:
            encoded = pc.dictionary_encode(column)
            values, local = encoded.dictionary, _codes(encoded.indices)
            if self.distinct is None:
                self.distinct = 2 * len(values) > len(column)
            mapping, new = self._global.encode(values)
            codes = np.append(mapping, np.int32(-1))[local]  # a row's local -1 (no value) picks the appended -1
            rows = first_rows(local, -1)[new] if self.firsts else new
        self._count = self._global.count
        self._codes.append(codes.astype(code_type(self._count), copy=False))
        if len(new):
            self._values.append(values.take(pa.array(new)))
            for name, kept in self.firsts.items():
                kept.append((companions or {})[name].take(pa.array(rows)))

    def adopt(self, fast: "_fast_read.Dictionary", firsts: dict[str, list[pa.Array]]) -> None:
        """Take the codes, texts and companions the fast read (:mod:`analytics.sources._fast_read`) found."""
        self._codes, self._values, self._count = fast.codes, fast.values, fast.count
        for name in self.firsts:
            self.firsts[name] = firsts[name]

    def finish(self) -> tuple[np.ndarray, pa.Array]:
        """(codes of every row, -1 where empty; the dictionary), the batches' codes released."""
        dtype = code_type(self._count)
        codes = np.concatenate(self._codes, dtype=dtype) if self._codes else np.zeros(0, dtype)
        self._codes, self._global = [], HashedDictionary()  # the hash table is not needed past the last batch
        return codes, self.dictionary()

    def dictionary(self) -> pa.Array:
        """The global dictionary: each value once, in the order first met."""
        return pa.concat_arrays(self._values) if self._values else pa.array([], TEXT)

    def first_values(self, name: str) -> pa.ChunkedArray:
        """The companion ``name``'s value at each dictionary value's first row (aligned with :meth:`finish`),
        in the batches' chunks: not joined into one copy (a task's texts can be the largest column)."""
        kept = self.firsts[name]
        return pa.chunked_array([k if k.type == TEXT else k.cast(TEXT) for k in kept], type=TEXT)


def first_rows(codes: np.ndarray, known_max: int) -> np.ndarray:
    """Rows where a code above ``known_max`` and above every code before it appears: the first row of
    each new code, when codes are given in order of first appearance (as dictionary_encode gives them)."""
    if not len(codes):
        return np.zeros(0, np.int64)
    before = np.maximum.accumulate(np.concatenate(([known_max], codes[:-1])))
    return np.flatnonzero(codes > before)


def code_type(count: int) -> type:
    """The smallest signed integer type holding codes 0 .. count - 1 and -1 (as pandas keeps a Categorical's codes)."""
    return np.int8 if count < 1 << 7 else np.int16 if count < 1 << 15 else np.int32


def _codes(indices: pa.Array) -> np.ndarray:
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


# what reading a damaged or cut-short stored file raises (a version's files are checked whole on open)
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, pa.ArrowException)


def categorical(codes: np.ndarray, values: pa.Array) -> pd.Categorical:
    """Codes and their dictionary as a pandas Categorical with Arrow-backed ``str`` categories (no copy of the text)."""
    categories = pd.Index(pd.array(values.cast(TEXT) if values.type != TEXT else values, dtype="str"))
    try:
        dtype = pd.CategoricalDtype._from_fastpath(categories, False)  # distinct by construction: skip the re-check
    except AttributeError:  # pragma: no cover - a pandas without the fast path
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


class EncodedColumns:
    """A consumer of a file's batches keeping integer codes, never the text.

    ``encode``: columns each dictionary-encoded across batches (:class:`IncrementalDictionary`).
    ``key``: the columns identifying a row's item (a task): one column, encoded with the others,
    or several, joined with ``joiner`` (nulls as "") and encoded under :attr:`key_name`; the
    ``companions`` (the item's inputs) are kept at each item's first row. ``flags``: columns of
    which only "has a value" matters (any of them, per row: :attr:`flagged`).
    """

    def __init__(
        self,
        encode: Sequence[str],
        *,
        key: Sequence[str] = (),
        companions: Sequence[str] = (),
        flags: Sequence[str] = (),
        joiner: str = " | ",
    ):
        self.key_name = key[0] if len(key) == 1 else " + ".join(key)
        self.key, self.joiner, self.flags = list(key), joiner, list(flags)
        self.companions = [c for c in companions if c != self.key_name]
        names = list(dict.fromkeys([*encode, *([self.key_name] if key else [])]))
        self.encoders = {c: IncrementalDictionary(self.companions if c == self.key_name else ()) for c in names}
        self._flagged: list[np.ndarray] = []

    def add(self, batch: pa.RecordBatch) -> None:
        key = None
        if self.key:  # the costliest column, encoded on a thread of its own beside the others
            encoder = self.encoders[self.key_name]
            key = _ENCODER.submit(encoder.add, self._key(batch), {c: batch.column(c) for c in self.companions})
        try:
            for name, encoder in self.encoders.items():
                if name != self.key_name:
                    encoder.add(batch.column(name))
        finally:
            if key is not None:
                key.result()
        if self.flags:
            flagged = np.zeros(batch.num_rows, dtype=bool)
            for c in self.flags:
                flagged |= batch.column(c).is_valid().to_numpy(zero_copy_only=False)
            self._flagged.append(flagged)

    def _key(self, batch: pa.RecordBatch) -> pa.Array:
        if len(self.key) == 1:
            return batch.column(self.key[0])
        parts = [pc.fill_null(batch.column(c), pa.scalar("", batch.column(c).type)) for c in self.key]
        return pc.binary_join_element_wise(*parts, pa.scalar(self.joiner, parts[0].type))

    def fast_plan(self, names: Sequence[str]) -> "_fast_read.Plan | None":
        """What the fast read is to do with each of the file's columns ``names`` (None: read the slow way)."""
        from analytics.sources import _fast_read

        if not _fast_read.AVAILABLE or len(self.key) != 1:
            return None
        encode = [c for c in self.encoders if c != self.key_name]
        return _fast_read.Plan(list(names), encode, self.key_name, self.companions, self.flags)

    def adopt(self, plan: "_fast_read.Plan") -> None:
        """Take what the fast read of ``plan`` found, as if its batches had been added."""
        for name, encoder in self.encoders.items():
            encoder.adopt(plan.dictionaries[name], plan.firsts if name == self.key_name else {})
        self._flagged = plan.flagged

    def categorical(self, name: str) -> pd.Categorical:
        """Column ``name`` as a Categorical (its encoder's codes released)."""
        return categorical(*self.encoders[name].finish())

    def flagged(self) -> np.ndarray:
        """Per row: does any of the ``flags`` columns hold a value."""
        return np.concatenate(self._flagged) if self._flagged else np.zeros(0, dtype=bool)

    def key_firsts(self, name: str) -> pa.Array | pa.ChunkedArray:
        """Column ``name``'s value at each key's first row, aligned with the key's categories."""
        encoder = self.encoders[self.key_name]
        return encoder.dictionary() if name == self.key_name else encoder.first_values(name)


# --------------------------------------------------------------------------------------------
# reading the batches


class Consumer(Protocol):
    """What a reader feeds the batches of a file to (a fresh one for every attempt at reading it)."""

    def add(self, batch: pa.RecordBatch) -> None: ...


class LineCount:
    """Counts the line breaks of the blocks a native stream passes on (as Arrow's TransformInputStream
    calls it: each block as read, no copy, no Python bytes), so the file is read once.

    It also notes a quote opening a field (after ``sep``, a line break or at the start):
    :attr:`quoted`. Only such a value can hold a line break, and only then must the reader find
    the blocks' last lines the slow way (pyarrow's ``newlines_in_values``).
    """

    def __init__(self, sep: str = "\t") -> None:
        self.newlines = 0
        self.quoted = False
        self._tail = b""
        self._openers = np.array([_NEWLINE, ord("\r"), ord(sep)], dtype=np.uint8)

    def __call__(self, block: pa.Buffer) -> pa.Buffer:
        data = np.frombuffer(block, dtype=np.uint8)
        for start in range(0, len(data), _COUNT_SLICE):  # slices: the comparison's scratch stays in cache
            part = data[start : start + _COUNT_SLICE]
            self.newlines += int(np.count_nonzero(part == _NEWLINE))
            if not self.quoted and np.count_nonzero(part == _QUOTE):
                self.quoted = self._opens_field(data, start + np.flatnonzero(part == _QUOTE))
        if len(data):
            self._tail = (self._tail + data[-64:].tobytes())[-64:]
        return block

    def _opens_field(self, data: np.ndarray, quotes: np.ndarray) -> bool:
        before = data[np.maximum(quotes - 1, 0)]
        if quotes[0] == 0:  # the byte before is the last block's (or none: the file's start)
            before[0] = self._tail[-1] if self._tail else _NEWLINE
        return bool(np.isin(before, self._openers).any())

    def physical_lines(self) -> int:
        """Physical lines of what was read, not counting blank lines at its end (as :func:`count_lines`)."""
        return physical_lines(self.newlines, self._tail)


def physical_lines(newlines: int, tail: bytes) -> int:
    """Physical lines of a text with ``newlines`` line breaks ending in ``tail`` (its last bytes), not
    counting blank lines at its end."""
    trailing = tail[len(tail.rstrip(b"\r\n")) :]
    return newlines - trailing.count(b"\n") + 1


class QuotedValues(Exception):
    """A file read as if no value spanned lines has a quoted value: it is read again the slow way."""


class _Parsed:
    """The batches of a pyarrow CSV reader, parsed on a thread of their own while the caller encodes the last."""

    def __init__(self, reader: pacsv.CSVStreamingReader):
        self._queue: queue.Queue = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(reader,), daemon=True, name="crowdlens-parse")
        self._thread.start()

    def _run(self, reader: pacsv.CSVStreamingReader) -> None:
        try:
            for batch in reader:
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as err:  # handed to the caller, raised there
            self._put(err)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def stream_file(
    raw: pa.NativeFile,
    consumer: Consumer,
    *,
    sep: str,
    block: int,
    wanted: Sequence[str],
    column_names: Sequence[str] | None,
    on_invalid: Callable,
    quoted: bool = True,
) -> LineCount:
    """Feed every batch of the file ``raw`` (an Arrow stream) to ``consumer``; the pyarrow errors are
    the caller's to explain. The lines are counted on the way (the returned :class:`LineCount`).

    ``quoted=False`` reads faster, as if no value spanned lines (at 10^7 answers pyarrow parses in
    4.1 s instead of 5.5): the first quote opening a field raises :class:`QuotedValues`, before any
    batch from its block is consumed, for the caller to read the file again with ``quoted=True``.
    """
    lines = LineCount(sep)
    reader = pacsv.open_csv(
        pa.TransformInputStream(raw, lines),
        read_options=pacsv.ReadOptions(block_size=block, column_names=list(column_names or []) or None),
        parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=quoted, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(wanted),
            column_types={c: TEXT for c in wanted},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    parsed = _Parsed(reader)
    try:
        for batch in parsed:
            if not quoted and lines.quoted:  # its block was read (and the quote seen) before it was parsed
                raise QuotedValues
            consumer.add(batch)
    except pa.ArrowInvalid:
        if not quoted and lines.quoted:  # a value across blocks the fast way cannot parse
            raise QuotedValues from None
        raise
    finally:
        parsed.close()
    if not quoted and lines.quoted:
        raise QuotedValues
    # the parser's blocks are freed now: handed back before the columns are built on top of them
    # (at 10^7 answers the process held 0.5 GB more than its live data at this point)
    release_memory()
    return lines


__all__ = [
    "BLOCK",
    "Consumer",
    "EncodedColumns",
    "HashCollision",
    "IncrementalDictionary",
    "LineCount",
    "QuotedValues",
    "categorical",
    "code_type",
    "first_rows",
    "physical_lines",
    "stream_file",
]
