"""Lower CPU priority (nice) for background work: a thread, or a process's main thread.

On Linux a nice value belongs to a thread (setpriority with a thread id), and threads
and processes it starts inherit it. Without privileges it can only be raised (lower
priority), never lowered again: so background work gets threads or processes of its
own, lowered once when they start. Values are relative to a base (the process's main
thread, or the parent process), so a service an operator runs niced keeps the same order.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)
MAX_NICE = 19


def lower_thread_priority(by: int, base_pid: int | None = None) -> bool:
    """Make the calling thread's nice value at least `by` more than the base's: the nice
    value of the process `base_pid` (its main thread), by default this process's. A higher
    value is kept (work started from an already lowered thread is not lowered twice).
    False where it does not apply (not Linux) or the system refused."""
    if sys.platform != "linux":
        return False
    thread = threading.get_native_id()
    try:
        base = os.getpriority(os.PRIO_PROCESS, base_pid or os.getpid())
        wanted = min(MAX_NICE, base + by)
        if os.getpriority(os.PRIO_PROCESS, thread) < wanted:
            os.setpriority(os.PRIO_PROCESS, thread, wanted)
        return True
    except OSError as error:  # a sandbox without setpriority: run at the priority we have
        log.warning("could not lower the priority of thread %s: %s", thread, error)
        return False
