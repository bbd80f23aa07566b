"""Helpers shared by the screens' thread workers."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from textual.worker import Worker, WorkerState

from backend.errors import VirtstackError

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """What the user reads: a VirtstackError's message, else the exception's type and text."""
    if isinstance(exc, VirtstackError):
        return exc.message
    text = str(exc) or type(exc).__name__
    return f"unexpected error ({type(exc).__name__}): {text}"


class FailureNotifier:
    """Turns failed workers into notifications, without repeating the same message every
    stats tick (a message already shown within ``quiet_s`` seconds is only logged)."""

    def __init__(self, quiet_s: float = 15.0):
        self.quiet_s = quiet_s
        self._last: dict[str, float] = {}

    def __call__(self, app, worker: Worker, state: WorkerState) -> None:
        if state != WorkerState.ERROR or worker.error is None:
            return
        err = worker.error
        message = describe_error(err)
        if not isinstance(err, VirtstackError):
            log.error("worker %s failed", worker.name, exc_info=err)
        now = time.monotonic()
        if now - self._last.get(message, -1e9) < self.quiet_s:
            log.info("worker %s failed again: %s", worker.name, message)
            return
        self._last[message] = now
        title = f"{(worker.name or 'task').capitalize()} failed"
        app.notify(message, title=title, severity="error", timeout=8, markup=False)


def report_worker_failure(app, worker: Worker, state: WorkerState) -> None:
    """The one place a failed worker becomes a notification (deduplicated per app)."""
    notifier = getattr(app, "_failure_notifier", None)
    if notifier is None:
        notifier = app._failure_notifier = FailureNotifier()
    notifier(app, worker, state)


class ReportsWorkerFailures:
    """Mixin for screens: their workers' failures go to ``report_worker_failure``.

    (``Worker.StateChanged`` does not bubble, so each screen that runs workers forwards it.)"""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self.app, event.worker, event.state)


class DaemonThreadExecutor(ThreadPoolExecutor):
    """The event loop's default executor for the TUI: Textual runs thread workers through
    ``loop.run_in_executor(None, ...)``, and the stock ThreadPoolExecutor makes quitting
    wait for every running job. A call stuck on a hung host must not keep the user from
    quitting, so every thread is a daemon and shutting down waits for none; and a hung call
    holds only its own thread: a job never waits for a thread, it takes an idle one or a
    new one. Idle threads are kept ``keep_s`` seconds for the next job (the stats ticks of
    every host, every two seconds, reuse them instead of starting a thread each).
    (A ThreadPoolExecutor subclass only because asyncio insists on one.)"""

    def __init__(self, keep_s: float = 30.0) -> None:
        super().__init__(max_workers=1)
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._idle: list["_Slot"] = []  # threads waiting for a job, most recent last

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        job = (future, fn, args, kwargs)
        with self._lock:
            slot = self._idle.pop() if self._idle else None
            if slot is not None:
                slot.job = job
                slot.ready.set()
                return future
        slot = _Slot(job)
        threading.Thread(target=self._serve, args=(slot,), daemon=True,
                         name="tui-worker").start()
        return future

    def _serve(self, slot: "_Slot") -> None:
        while True:
            future, fn, args, kwargs = slot.job
            slot.job = None
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to the awaiting worker
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args, kwargs
            slot.ready.clear()
            with self._lock:
                self._idle.append(slot)
            if not slot.ready.wait(self.keep_s):
                with self._lock:
                    if slot in self._idle:  # nobody handed it a job meanwhile: retire
                        self._idle.remove(slot)
                        return
                slot.ready.wait()  # taken just as it timed out: the job is on its way

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


class _Slot:
    """One executor thread: the job handed to it and the event that wakes it."""

    __slots__ = ("job", "ready")

    def __init__(self, job) -> None:
        self.job = job
        self.ready = threading.Event()
