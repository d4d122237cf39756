"""Handing memory a finished step freed back to the system, so a large run's peak is its working set."""

from __future__ import annotations

import ctypes

import pyarrow as pa


def release_memory() -> None:
    """Hand memory freed by the last step back to the system (Arrow's pool, and glibc's heap where it keeps it).

    Without it, the temporaries of encoding 10^7 rows stay counted in the process's resident
    memory (hundreds of MB) long after they were freed.
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
