"""The worker's heap: fewer malloc arenas, and freed memory given back to the system.

The worker runs its jobs on a pool of threads (search follower, matching, deliveries,
checks, previews), each allocating and freeing large transients (a batch's rows, a
commit's postings). glibc gives each thread an arena of its own (up to 8 per core), and
memory freed in one arena is neither reused by another thread nor returned to the system
on its own: the worker's resident memory became the sum of every job's largest batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
TRIM_INTERVAL = 10.0  # seconds between trims at most: one costs up to ~0.1 s on a large heap

_lock = threading.Lock()
_last_trim = 0.0


def _glibc():
    """glibc's C library, or None (another libc: musl, macOS; nothing to tune)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_libc = _glibc()


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads started from now on, so a thread reuses what
    another freed. Call before the threads start. False where it does not apply."""
    return bool(_libc is not None and _libc.mallopt(_M_ARENA_MAX, arenas) == 1)


def trim_heap(force: bool = False) -> bool:
    """Give free heap pages back to the system (malloc_trim), at most every TRIM_INTERVAL
    seconds unless `force`; True when a trim ran."""
    global _last_trim
    if _libc is None:
        return False
    with _lock:
        now = time.monotonic()
        if not force and now - _last_trim < TRIM_INTERVAL:
            return False
        _last_trim = now
    _libc.malloc_trim(0)  # ctypes lets go of the interpreter lock meanwhile
    return True
