"""The worker's heap: arenas capped at start, free pages trimmed after job runs."""

from __future__ import annotations

import pytest

from subscribe.jobs import memory, runner
from subscribe.jobs.registry import JobSpec


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_libc", fake)
    monkeypatch.setattr(memory, "_last_trim", 0.0)
    return fake


def test_arenas_are_capped(libc):
    assert memory.limit_arenas(2) is True
    assert libc.calls == [("mallopt", -8, 2)]


def test_trims_are_rate_limited(libc, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: clock[0])
    assert memory.trim_heap() is True
    assert memory.trim_heap() is False  # within TRIM_INTERVAL
    assert memory.trim_heap(force=True) is True
    clock[0] += memory.TRIM_INTERVAL
    assert memory.trim_heap() is True
    assert libc.calls == [("malloc_trim", 0)] * 3


def test_nothing_to_do_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_libc", None)
    assert memory.limit_arenas() is False and memory.trim_heap(force=True) is False


def test_a_job_run_trims_the_heap(app, libc):
    spec = JobSpec("fine", lambda: 1, 60, "works", leader_only=False)
    runner.sync_jobs([spec])
    assert runner.run_job(app, spec, "w1").outcome == "succeeded"
    assert ("malloc_trim", 0) in libc.calls


def test_the_real_library_is_callable():
    """On glibc (the deployment target) both calls work; elsewhere they are no-ops."""
    if memory._libc is None:
        pytest.skip("not glibc")
    assert memory.trim_heap(force=True) is True
