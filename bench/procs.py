"""What the benchmarks share for their helper processes: a free local port, waiting for
a server to answer, and a child process's peak memory."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen | None = None, seconds: float = 10.0) -> None:
    """Return once `url` answers; else stop `process` (if given) and exit the benchmark."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5).close()
            return
        except requests.RequestException:
            time.sleep(0.1)
    if process is not None:
        process.kill()
        process.wait()
    raise SystemExit(f"{url} did not start")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) so far, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_peak_rss_mb(process: subprocess.Popen, interval: float) -> float:
    """Wait for `process` to end; its peak RSS, sampled every `interval` seconds (VmHWM:
    ru_maxrss would count the parent's pages)."""
    peak = 0.0
    while process.poll() is None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            peak = max(peak, peak_rss_mb(process.pid))
        time.sleep(interval)
    return peak
