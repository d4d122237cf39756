"""Text values as 64-bit keys (numpy over Arrow's buffers) and a global dictionary of them that grows batch by batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pandas._libs import hashtable

_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_OTHER = np.uint64(0xD6E8FEB86659FD93)
_SEED = [0]  # raised after a collision, so the next read hashes differently


class HashCollision(Exception):
    """Two different texts got the same 64-bit key: the read starts again with other hash functions."""

    def __init__(self):
        _SEED[0] += 1
        super().__init__("two different values got the same 64-bit key")


def seed_now() -> int:
    """The hash functions' seed for this read (changed after a collision), as a uint64 value."""
    return _SEED[0] * int(_OTHER) % (1 << 64)  # wraps as uint64 arithmetic would, without its warning


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX[0]
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX[1]
    return x ^ (x >> np.uint64(31))


def _words(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """The texts at ``starts`` (each ``lengths`` bytes, at most ``width`` words) as zero-padded 64-bit words."""
    n = len(starts)
    same = int(lengths[0]) if n and (lengths == lengths[0]).all() else -1
    if same >= 0 and n and int(starts[-1]) - int(starts[0]) == same * (n - 1):
        # texts of one length, one after the other (ids, times): a reshape, not a gather
        block = data[int(starts[0]) : int(starts[0]) + same * n].reshape(n, same)
        if same == width * 8:
            return np.ascontiguousarray(block).view(np.uint64).reshape(n, width)
        padded = np.zeros((n, width * 8), np.uint8)
        padded[:, :same] = block
        return padded.view(np.uint64).reshape(n, width)
    pos = np.arange(width * 8)
    index = starts[:, None] + pos
    inside = pos < lengths[:, None]
    if len(data):
        padded = np.where(inside, data[np.minimum(index, len(data) - 1)], 0).astype(np.uint8)
    else:
        padded = np.zeros(index.shape, np.uint8)
    return padded.view(np.uint64).reshape(n, width)


def text_keys(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit keys of each text of a (large_)string array (a null's keys are those of "")."""
    n = len(values)
    offsets_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[values.offset : values.offset + n + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    seed = np.uint64(seed_now())
    first = _mix(lengths.astype(np.uint64) ^ seed)
    second = _mix(lengths.astype(np.uint64) * _GOLDEN + seed + _OTHER)
    widths = (lengths + 7) // 8
    if not n:
        return first, second
    narrow, wide = int(widths.min()), int(widths.max())
    for width in range(narrow, wide + 1) if wide - narrow < 8 else np.unique(widths):
        rows = None if narrow == wide else np.flatnonzero(widths == width)
        if rows is not None and not len(rows):
            continue
        starts, lens = (offsets[:-1], lengths) if rows is None else (offsets[:-1][rows], lengths[rows])
        words = _words(data, starts, lens, int(width))
        a, b = (first, second) if rows is None else (first[rows], second[rows])
        total = b
        for j in range(int(width)):
            a = _mix(a ^ words[:, j])  # chained: the order of the words counts
            total = total + words[:, j] * (_GOLDEN + np.uint64(2 * j))  # weighted sum: another family of hash
        b = _mix(total)
        if rows is None:
            first, second = a, b
        else:
            first[rows], second[rows] = a, b
    return first, second


class HashedDictionary:
    """Global integer codes of texts, in the order they are first met, kept as one hash table of 64-bit keys.

    Each text is hashed twice: the first key finds its code, the second is kept per code and
    checked on every lookup, so two texts that share a first key are caught
    (:class:`HashCollision`), never merged.
    """

    def __init__(self):
        self._table = hashtable.Int64HashTable(1 << 12)
        self._checks = np.zeros(1 << 12, np.uint64)
        self.count = 0

    def encode(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(code of each value, -1 where null; the positions where codes new to the dictionary first appear)."""
        first, second = text_keys(values)
        valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False)) if values.null_count else None
        if valid is not None:
            first, second = first[valid], second[valid]
        start = self.count
        # one pass: a known key gets its code, a new one the next code (in the order first met)
        codes = self._table.get_labels(first.view(np.int64), hashtable.Int64Vector(), start, -1)
        self.count = len(self._table)
        firsts = np.zeros(0, np.int64)
        if self.count > start:
            firsts = np.flatnonzero(codes > np.maximum.accumulate(np.append(start - 1, codes[:-1])))
            self._grow(self.count)
            self._checks[start : self.count] = second[firsts]
        if not np.array_equal(self._checks[codes], second):
            raise HashCollision()
        codes = codes.astype(np.int32)
        if valid is None:
            return codes, firsts
        out = np.full(len(values), -1, np.int32)
        out[valid] = codes
        return out, valid[firsts]

    def _grow(self, size: int) -> None:
        if size > len(self._checks):
            grown = np.zeros(max(size, 2 * len(self._checks)), np.uint64)
            grown[: len(self._checks)] = self._checks
            self._checks = grown
