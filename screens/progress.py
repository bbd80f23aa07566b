"""Long work in a dialog: a ProgressBar driven by a backend progress callback, with cancel.

The job runs in a thread worker and gets two things from here: ``progress(done, total)``
(the backend's ``Progress`` callback; it only posts a message, which replaces its own
pending copy, so a fast stream never floods the UI) and a ``threading.Event`` the backend
checks between chunks. Escape or ``c`` sets the event; the backend stops and cleans up
(an upload removes its partial volume) and says so, and that message is shown here.

The dialog dismisses with the job's result when it succeeds (after a short look at the
full bar), and stays open with the error when it fails or is cancelled, until closed --
a long transfer's outcome is never only a toast that vanishes.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, ProgressBar, Static

from tui.workers import describe_error
from themes import HERE as THEMES_DIR

#: job(progress, cancel, phase) -> result; phase(name) announces a new phase (import:
#: "convert" then "upload"), resetting the bar.
Job = Callable[[Callable[[int, int], None], threading.Event, Callable[[str], None]], Any]


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


class ProgressScreen(ModalScreen[Any]):
    """Runs ``job`` in a thread; dismisses with its result, or None when it failed or was
    cancelled (after the user read why)."""

    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [Binding("escape,c", "cancel", "Cancel / close")]

    class Progressed(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done = done
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ProgressScreen.Progressed)

    class Phase(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Finished(Message):
        def __init__(self, result: Any = None, error: str | None = None,
                     cancelled: bool = False) -> None:
            super().__init__()
            self.result = result
            self.error = error
            self.cancelled = cancelled

    def __init__(self, title: str, job: Job, *, unit: str = "bytes",
                 done_delay: float = 0.4) -> None:
        super().__init__(classes="dialog progress-dialog")
        self.title_text = title
        self.job = job
        self.unit = unit            # "bytes" (sizes and rate) or "steps" (a percentage)
        self.done_delay = done_delay
        self.cancel_event = threading.Event()
        self.finished = False
        self.outcome: Finished | None = None
        self._phase: str | None = None
        self.phases: list[str] = []     # the phases announced so far, in order
        self._dismissed = False
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            yield Static("starting…", id="progress-status", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel", id="progress-cancel", compact=True, variant="error")

    def on_mount(self) -> None:
        self.query_one("#progress-cancel", Button).focus()
        self._run()

    # -- the worker (never touches widgets) ------------------------------------------------
    @work(thread=True, exclusive=True, group="progress", exit_on_error=False)
    def _run(self) -> None:
        def progress(done: int, total: int) -> None:
            self.post_message(self.Progressed(int(done), int(total)))

        def phase(name: str) -> None:
            self.post_message(self.Phase(name))

        try:
            result = self.job(progress, self.cancel_event, phase)
        except Exception as exc:  # noqa: BLE001 - every failure is shown in the dialog
            self.post_message(self.Finished(error=describe_error(exc),
                                            cancelled=self.cancel_event.is_set()))
        else:
            self.post_message(self.Finished(result=result))

    # -- handlers on the UI thread ------------------------------------------------------------
    def on_progress_screen_progressed(self, message: Progressed) -> None:
        if self.finished:
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)
        self.query_one("#progress-status", Static).update(self._status(message.done,
                                                                      message.total))

    def _status(self, done: int, total: int) -> str:
        prefix = f"{self._phase}: " if self._phase else ""
        if self.unit != "bytes" or self._phase == "convert":
            return f"{prefix}{done * 100 / max(total, 1):.0f}%"
        rate = done / max(time.monotonic() - self._started, 1e-6)
        return f"{prefix}{human_bytes(done)} of {human_bytes(total)} · {human_bytes(rate)}/s"

    def on_progress_screen_phase(self, message: Phase) -> None:
        self._phase = message.name
        self.phases.append(message.name)
        self._started = time.monotonic()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#progress-status", Static).update(f"{message.name}…")

    def on_progress_screen_finished(self, message: Finished) -> None:
        self.finished = True
        self.outcome = message
        status = self.query_one("#progress-status", Static)
        button = self.query_one("#progress-cancel", Button)
        button.label = "Close"
        button.variant = "default"
        if message.error is None:
            bar = self.query_one(ProgressBar)
            bar.update(total=bar.total or 1, progress=bar.total or 1)
            status.update("done")
            self.set_class(True, "-done")
            self.set_timer(self.done_delay, lambda: self._close(message.result))
            return
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=0)  # stop the "waiting" animation
        self.set_class(True, "-cancelled" if message.cancelled else "-failed")
        self.query_one("#dialog-title", Label).update(
            f"{self.title_text}: {'cancelled' if message.cancelled else 'failed'}")
        status.update(message.error)

    # -- cancel / close -----------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.finished:
            ok = self.outcome is not None and self.outcome.error is None
            self._close(self.outcome.result if ok else None)
            return
        if not self.cancel_event.is_set():
            self.cancel_event.set()
            self.query_one("#progress-status", Static).update(
                "cancelling… (the backend stops at the next chunk and cleans up)")

    def _close(self, result: Any) -> None:
        if not self._dismissed:
            self._dismissed = True
            self.dismiss(result)
