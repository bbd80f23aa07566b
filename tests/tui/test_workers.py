"""The TUI's executor for thread workers: daemon threads, reused while idle, and a job
never waits behind a hung one."""
from __future__ import annotations

import threading
import time

import pytest

from tui.workers import DaemonThreadExecutor


def test_results_errors_and_reuse():
    ex = DaemonThreadExecutor(keep_s=5)
    names = []

    def job(i):
        names.append(threading.current_thread())
        return i * 2
    for i in range(10):  # one after another: the same thread serves them all
        assert ex.submit(job, i).result(timeout=5) == i * 2
        time.sleep(0.01)  # (let it get back to the idle list)
    assert len(set(names)) == 1 and names[0].daemon

    def boom():
        raise ValueError("no such host")
    with pytest.raises(ValueError, match="no such host"):
        ex.submit(boom).result(timeout=5)


def test_a_hung_job_holds_only_its_own_thread():
    ex = DaemonThreadExecutor(keep_s=5)
    release = threading.Event()
    hung = ex.submit(release.wait, 10)
    try:
        # the hung job's thread is busy: others still run at once, on other threads
        t = time.monotonic()
        assert [ex.submit(lambda i=i: i).result(timeout=2) for i in range(5)] == list(range(5))
        assert time.monotonic() - t < 1 and not hung.done()
    finally:
        release.set()
    assert hung.result(timeout=5) is True


def test_idle_threads_retire():
    ex = DaemonThreadExecutor(keep_s=0.2)
    before = threading.active_count()
    assert ex.submit(lambda: 1).result(timeout=5) == 1
    deadline = time.monotonic() + 5
    while threading.active_count() > before:
        assert time.monotonic() < deadline, "the idle thread never retired"
        time.sleep(0.05)
    assert ex.submit(lambda: 2).result(timeout=5) == 2  # and a new one comes when needed
