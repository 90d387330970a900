"""What the benchmarks share for their helper processes: a free local port, waiting for
a server to answer, and what Linux's /proc tells of a process (memory, CPU, children)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def private_mb(pid: int) -> float:
    """Memory only this process holds (Private_Clean + Private_Dirty): a forked segment
    writer's RSS also counts the worker's pages it shares copy-on-write."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = dict(line.split(":", 1) for line in text.splitlines()[1:])
    kb = sum(int(fields.get(f, "0 kB").split()[0]) for f in ("Private_Clean", "Private_Dirty"))
    return kb / 1024


def is_harvest(pid: int) -> bool:
    """The worker's harvest process (catalog/harvest_process.py; `flask sources
    run-claimed` before it), not a forked writer."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"harvest_process" in command or b"run-claimed" in command
    except (FileNotFoundError, ProcessLookupError):
        return False


def is_matcher(pid: int) -> bool:
    """The worker's matching process (scenarios/match_process.py, kept between runs)."""
    try:
        return b"match_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads started them."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int, reaped: bool = False, own: bool = True) -> float:
    """User + system CPU seconds of a process (and, with ``reaped``, of its children that
    it has waited for: the worker's harvest processes; without ``own``, only those)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) if own else 0
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def serve_file(path: Path, prefix: str) -> tuple[Path, subprocess.Popen, str]:
    """Copy `path` to a new work folder as export.csv and serve it with `python -m
    http.server` on a free loopback port: (work folder, server process, its URL)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copy(path, workdir / "export.csv")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/export.csv"
    wait_for(url, server)
    return workdir, server, url


def postgres_processes() -> dict[int, str]:
    """The local PostgreSQL server's processes: pid -> process title ("postgres: 15/main:
    walwriter", "postgres: 15/main: postgres DB 127.0.0.1(PORT) idle"; the postmaster's
    own command line). Readable for another user's processes: /proc's cmdline and stat."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if title.startswith("postgres:") or "/bin/postgres " in title:
            found[int(entry.name)] = title
    return found


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (/proc/PID/fd against /proc/net/tcp)."""
    inodes = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def postgres_cpu(database: str) -> tuple[float, float]:
    """CPU-s so far of the local PostgreSQL server's backends connected to ``database``
    and of its own processes (WAL writer, checkpointer, …, the postmaster): a backend that
    has ended is no longer counted, so read before and after with the connections open."""
    backends = server = 0.0
    for pid, title in postgres_processes().items():
        if title.startswith("postgres:") and f" {database} " in title:
            backends += cpu_seconds(pid)
        else:
            server += cpu_seconds(pid)
    return backends, server
