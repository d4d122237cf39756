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


def without_huge_pages() -> None:
    """Turn transparent huge pages off for this process (Linux; elsewhere, or when refused, nothing).

    A large import or report frees and allocates arrays of tens of MB many times; with huge pages
    each fresh 2 MB page is zeroed (and compacted for) at its first touch. On the 2-core bench
    machine at 10^7 answers (the same code, run by turns) the import went from 13.2-13.4 s to
    12.0-12.9 s and the report from 17.7-18.4 s to 16.8-17.2 s; the report's peak fell from 1.90
    to 1.86 GB, the import's stayed at 2.1-2.3 GB. The dashboard keeps huge pages: its pages at 10^7
    answers (the bench's page stage, by turns, 2026-12-02) opened slower without them, the version
    in 6.9-7.3 s instead of 5.9 s and every page once in 6.1 s instead of 5.6 s. Since the C reader
    (2026-12-03, four runs each by turns at 10^7) ``crowdlens import`` keeps them too: 10.2-12.6 s
    (median 10.6) with them, 11.0-12.9 s (median 11.7) without, 7x fewer page faults, peak 1.39-1.42
    GB instead of 1.37-1.39 GB. The report showed no difference then (19.2-24.8 s against 19.5-21.8 s
    on a slow afternoon, the same JSON), so it keeps small pages.
    """
    if _LIBC is not None:
        try:
            _LIBC.prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)
        except AttributeError:  # pragma: no cover - a libc without prctl
            pass


def keep_freed_memory() -> None:
    """Have glibc keep the memory a step frees for the next one, until :func:`release_memory` hands it back.

    By default every array over 32 MB is a fresh mapping of its own, unmapped when freed, and a
    freed heap top is trimmed at once: each temporary of a 10^7-answer report was faulted in and
    zeroed again by the kernel. For ``crowdlens report`` at 10^7 answers (2026-12-02, two runs by
    turns on the same version) that took 10.9-11.4 s with 3.5 s of system time; keeping freed
    memory, 9.5-9.6 s with 1.7-2.3 s, the same JSON and the same 1.77 GB peak (the report hands
    memory back after each section). At 10^8 answers (2026-12-03, one run each): 331 s with 149 s
    of system time by default, 255 s with 82 s keeping it, the same JSON, peak 16.1 and 16.3 GB.
    The import keeps the defaults: there the kept memory raised the peak at 10^7 from 1.39 to
    1.55-1.60 GB. Elsewhere than glibc, nothing.
    """
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_MMAP_MAX, 0)  # large arrays from the heap, reused, not mapped anew each time
        _LIBC.mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # trimmed by release_memory, not at each free


_PR_SET_THP_DISABLE = 41  # linux/prctl.h
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # malloc.h


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
