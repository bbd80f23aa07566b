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
    quitting, so each job gets its own daemon thread and shutting down waits for none.
    (A ThreadPoolExecutor subclass only because asyncio insists on one; no pool is used.)"""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the awaiting worker
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, daemon=True, name="tui-worker").start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None
