"""The fast read of a delimited file: C splits each block's fields and dictionary-encodes the ids in one pass.

The C functions (fast_read.c, built with the package) are called through ctypes, which lets
go of the GIL for each call: one thread encodes a block's per-answer columns while another
encodes the last block's task ids. What the fast way cannot read exactly as pyarrow would (a
quote opening a field, a lone carriage return, a row with the wrong number of fields, text
that is not UTF-8) raises :class:`NotFast` before anything is kept, and the caller reads the
file the slow way, which explains every problem by physical line.
"""

from __future__ import annotations

import ctypes
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Sequence

import numpy as np
import pyarrow as pa

from analytics.sources import _stream_hash
from analytics.sources._stream import code_type, physical_lines
from analytics.sources._stream_hash import HashCollision

try:
    from analytics.sources import _fast_read_c
except ImportError:  # pragma: no cover - built without a C compiler: the slow way reads every file
    _fast_read_c = None

BLOCK = 8 << 20  # bytes read at once (a longer line is read on to its end)
FIRST_SLOTS = 1 << 16  # a column's hash table at first: doubled whenever half full
_SKIP, _ENCODE, _SPANS = 0, 1, 2
_STATUS = {-1: "a quote opens a field", -2: "a row has the wrong number of fields", -3: "a lone carriage return"}
_COLLISION, _FULL = -4, -5
_PAD = 64
_FILL = 0.5  # a table is grown to twice its slots when half of them are used
_SLOT = np.dtype([("key", "<u8"), ("check", "<u4"), ("code", "<i4")])
_P = ctypes.c_void_p
_I64 = ctypes.c_int64


class NotFast(Exception):
    """The file holds something only the slow way reads exactly: read it again that way."""


class _Table(ctypes.Structure):
    _fields_ = [
        ("slots", _P),
        ("mask", _I64),
        ("count", _I64),
        ("limit", _I64),
        ("codes", _P),
        ("new_start", _P),
        ("new_len", _P),
        ("new_row", _P),
        ("new_count", _I64),
        ("last", _P),
        ("last_len", _I64),
        ("last_code", ctypes.c_int32),
    ]


class _Spans(ctypes.Structure):
    _fields_ = [("start", _P), ("len", _P)]


def _library() -> ctypes.CDLL | None:
    if _fast_read_c is None:
        return None
    lib = ctypes.CDLL(_fast_read_c.__file__)
    lib.crowdlens_read_block.restype = _I64
    lib.crowdlens_read_block.argtypes = [_P, _I64, ctypes.c_uint8, ctypes.c_int32, _P, _P, _P, _P]
    lib.crowdlens_read_block.argtypes += [ctypes.c_uint64, _P, _P]
    lib.crowdlens_rehash.restype = None
    lib.crowdlens_rehash.argtypes = [_P, _I64, _P, _I64]
    lib.crowdlens_encode_spans.restype = _I64
    lib.crowdlens_encode_spans.argtypes = [_P, _P, _P, _P, _I64, ctypes.c_uint64, _P]
    lib.crowdlens_gather.restype = None
    lib.crowdlens_gather.argtypes = [_P, _P, _P, _I64, _P, _P]
    return lib


_LIB = _library()
AVAILABLE = _LIB is not None


def _ptr(array: np.ndarray) -> int:
    return array.ctypes.data


class Dictionary:
    """One column's codes, in the order its texts are first met, over the blocks of a file (a C hash table)."""

    def __init__(self):
        slots = FIRST_SLOTS
        self.slots = np.zeros(slots, _SLOT)
        self.table = _Table(slots=_ptr(self.slots), mask=slots - 1, limit=int(slots * _FILL))
        self.codes: list[np.ndarray] = []
        self.values: list[pa.Array] = []
        self._row_arrays = 0

    @property
    def count(self) -> int:
        return int(self.table.count)

    def prepare(self, rows: int) -> None:
        """Room for a block of up to ``rows`` rows: its codes and its new texts."""
        if rows > self._row_arrays:
            self._row_arrays = rows
            self._codes = np.empty(rows, np.int32)
            self._new_start, self._new_len = np.empty(rows, np.int64), np.empty(rows, np.int32)
            self._new_row = np.empty(rows, np.int64)
            t = self.table
            t.codes, t.new_start = _ptr(self._codes), _ptr(self._new_start)
            t.new_len, t.new_row = _ptr(self._new_len), _ptr(self._new_row)
        self.table.new_count = 0
        self.table.last = None  # the last text was in the block before

    def grow(self) -> None:
        """Twice the slots (a block stopped because the table was half full)."""
        old, size = self.slots, 2 * len(self.slots)
        self.slots = np.zeros(size, _SLOT)
        _LIB.crowdlens_rehash(_ptr(old), len(old) - 1, _ptr(self.slots), size - 1)
        self.table.slots, self.table.mask, self.table.limit = _ptr(self.slots), size - 1, int(size * _FILL)

    def keep(self, data: np.ndarray, rows: int) -> np.ndarray:
        """Keep the block's codes and its new texts (checked UTF-8); the rows where those first appear
        (valid until the next block is prepared)."""
        self.codes.append(self._codes[:rows].astype(code_type(self.count)))
        new = int(self.table.new_count)
        if new:
            self.values.append(_texts(data, self._new_start[:new], self._new_len[:new]))
        return self._new_row[:new]


class _Kept:
    """One column kept as spans (offset, length) per row of the current block."""

    def __init__(self):
        self.spans, self._rows = _Spans(), 0

    def prepare(self, rows: int) -> None:
        if rows > self._rows:
            self._rows = rows
            self.start, self.len = np.empty(rows, np.int64), np.empty(rows, np.int32)
            self.spans.start, self.spans.len = _ptr(self.start), _ptr(self.len)


def _texts(data: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> pa.Array:
    """The texts at starts/lens of data as a large_string array ("" as null), or NotFast where one is not UTF-8."""
    n, total = len(starts), int(lens.sum())
    starts, lens = np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(lens, np.int32)
    offsets, out = np.empty(n + 1, np.int64), np.empty(max(total, 1), np.uint8)
    _LIB.crowdlens_gather(_ptr(data), _ptr(starts), _ptr(lens), n, _ptr(offsets), _ptr(out))
    valid = lens > 0
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    texts = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out[:total]), bitmap)
    try:
        texts.validate(full=True)
    except pa.ArrowInvalid:
        raise NotFast("a value is not UTF-8") from None
    return texts


@dataclass
class Plan:
    """What becomes of each column of a file: ``encode`` and ``key`` encoded, the ``companions`` kept at each
    key's first row, the ``flags`` only as "has a value"; filled by :func:`read`."""

    names: Sequence[str]
    encode: Sequence[str]
    key: str
    companions: Sequence[str] = ()
    flags: Sequence[str] = ()
    dictionaries: dict[str, Dictionary] = field(default_factory=dict)
    firsts: dict[str, list[pa.Array]] = field(default_factory=dict)
    flagged: list[np.ndarray] = field(default_factory=list)
    rows: int = 0
    newlines: int = 0
    tail: bytes = b""

    def physical_lines(self) -> int:
        """Physical lines of the file read, not counting blank lines at its end (as ``count_lines``)."""
        return physical_lines(self.newlines, self.tail)


def read(stream: IO[bytes], plan: Plan, *, sep: str, header: bool) -> Plan:
    """Read every record of ``stream`` into ``plan``: the task ids on a thread of their own, a block behind."""
    if _LIB is None:
        raise NotFast("built without the C reader")
    main = [c for c in dict.fromkeys(plan.encode) if c != plan.key]
    plan.dictionaries = {c: Dictionary() for c in [*main, plan.key]}
    plan.firsts = {c: [] for c in plan.companions}
    spans = list(dict.fromkeys([plan.key, *plan.companions, *plan.flags]))
    block = _Block(plan.names, sep, {c: plan.dictionaries[c] for c in main}, spans)
    seed = _stream_hash.seed_now()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdlens-fast-keys") as keys:
        pending = None
        try:
            for data in _blocks(stream, plan, header=header):
                rows, kept = block.read(data, seed)
                plan.rows, plan.newlines = plan.rows + rows, plan.newlines + block.newlines
                if plan.flags:
                    plan.flagged.append(np.logical_or.reduce([kept[c][1] > 0 for c in plan.flags]))
                if pending is not None:
                    pending.result()
                pending = keys.submit(_encode_keys, plan, data, kept, seed)
        finally:
            if pending is not None:
                pending.result()
    return plan


class _Block:
    """The first pass over a block: the per-answer columns encoded, the others kept as spans."""

    def __init__(self, names: Sequence[str], sep: str, dictionaries: dict[str, Dictionary], spans: list[str]):
        self.sep, self.columns, self.dictionaries = ord(sep), len(names), dictionaries
        self.spans = {c: _Kept() for c in spans}
        at = {c: i for i, c in enumerate(dictionaries)}
        kept_at = {c: i for i, c in enumerate(spans)}
        self.kind = np.array([_ENCODE if c in at else _SPANS if c in kept_at else _SKIP for c in names], np.int32)
        self.target = np.array([at.get(c, kept_at.get(c, 0)) for c in names], np.int32)
        self._tables = (ctypes.POINTER(_Table) * max(len(dictionaries), 1))()
        self._kept = (ctypes.POINTER(_Spans) * max(len(spans), 1))()
        for i, d in enumerate(dictionaries.values()):
            self._tables[i] = ctypes.pointer(d.table)
        for i, k in enumerate(self.spans.values()):
            self._kept[i] = ctypes.pointer(k.spans)

    def read(self, data: np.ndarray, seed: int) -> tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Rows read and the kept columns' (starts, lengths), the dictionaries' codes and new texts kept."""
        rows_max = len(data) // max(self.columns, 1) + 2
        for d in self.dictionaries.values():
            d.prepare(rows_max)
        for k in self.spans.values():
            k.prepare(rows_max)
        newlines, where = _I64(), _I64()
        args = (_ptr(data), len(data), self.sep, self.columns, _ptr(self.kind), _ptr(self.target))
        while True:
            rows = _LIB.crowdlens_read_block(
                *args, self._tables, self._kept, seed, ctypes.byref(newlines), ctypes.byref(where)
            )
            if rows != _FULL:
                break
            for d in self.dictionaries.values():  # read the block again: what it added is kept, in order
                if d.table.count >= d.table.limit:
                    d.grow()
        _check(rows)
        self.newlines = newlines.value
        for d in self.dictionaries.values():
            d.keep(data, rows)
        return rows, {c: (k.start[:rows].copy(), k.len[:rows].copy()) for c, k in self.spans.items()}


def _check(status: int) -> None:
    if status == _COLLISION:
        raise HashCollision()
    if status < 0:
        raise NotFast(_STATUS.get(status, f"status {status}"))


def _encode_keys(plan: Plan, data: np.ndarray, kept: dict, seed: int) -> None:
    """The block's task ids encoded (after the last block's), and the companions at each new id's first row."""
    keys = plan.dictionaries[plan.key]
    starts, lens = kept[plan.key]
    keys.prepare(len(starts))
    where = _I64()
    while True:
        status = _LIB.crowdlens_encode_spans(
            ctypes.byref(keys.table), _ptr(data), _ptr(starts), _ptr(lens), len(starts), seed, ctypes.byref(where)
        )
        if status != _FULL:
            break
        keys.grow()
    _check(status)
    rows = keys.keep(data, len(starts))
    for c in plan.companions:
        c_starts, c_lens = kept[c]
        plan.firsts[c].append(_texts(data, c_starts[rows], c_lens[rows]))


def _blocks(stream: IO[bytes], plan: Plan, *, header: bool):
    """Blocks of whole lines (the header line left out), in two buffers by turns: a block is read while the
    last is encoded (its buffer is not touched until the caller asks for the next block but one). The
    header's line break is counted into ``plan.newlines``."""
    carry = np.zeros(0, np.uint8)
    skip_header = header
    ring = [np.zeros(0, np.uint8), np.zeros(0, np.uint8)]  # two buffers, reused: no fresh pages per block
    while True:
        if len(ring[0]) < len(carry) + BLOCK + _PAD:  # C reads up to _PAD bytes past a block's end
            ring[0] = np.empty(len(carry) + BLOCK + _PAD, np.uint8)
        data = ring[0]
        data[: len(carry)] = carry
        got = stream.readinto(memoryview(data)[len(carry) : len(carry) + BLOCK])
        end = len(carry) + (got or 0)
        data = data[:end]
        if got:
            plan.tail = (plan.tail + data[-64:].tobytes())[-64:]
        last = end if not got else _last_break(data)
        if last < 0:  # no line break in the block: a longer line, read on (into a bigger buffer)
            carry = data.copy()
            continue
        whole, carry = data[:last], data[last:].copy()
        if skip_header:
            first = _first_break(whole)
            if first < 0:
                if not got:
                    return
                carry = np.concatenate([whole, carry])
                continue
            if np.count_nonzero(whole[:first] == ord('"')):
                raise NotFast("a quote in the header")
            plan.newlines += 1
            whole, skip_header = whole[first + 1 :], False
        if len(whole):
            yield whole
            ring.reverse()  # the other buffer: the block before may still be encoded
        if not got:
            return


def _last_break(data: np.ndarray) -> int:
    """The offset just past the last line break of data, or -1."""
    at = bytes(data[-(1 << 16) :]).rfind(b"\n") if len(data) else -1
    if at >= 0:
        return len(data) - min(len(data), 1 << 16) + at + 1
    at = data.tobytes().rfind(b"\n")
    return at + 1 if at >= 0 else -1


def _first_break(data: np.ndarray) -> int:
    found = np.flatnonzero(data == ord("\n"))
    return int(found[0]) if len(found) else -1
