"""Evacuate a host: live-migrate every running server off it, one at a time, each to the
host the scheduler picks (``cloud.server_ops.evacuate``). ``ModalScreen[dict | None]``.

Two bars: the servers done so far and the current server's migration (from the job info).
It stops at the first server that cannot move, and the dialog says which and why, and what
was already moved. ``x`` (or escape) cancels: the running migration is aborted."""
from __future__ import annotations

import threading
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Label, ProgressBar, Static

from backend.errors import VirtstackError
from screens.migrate import MoveDialog, progress_text


class EvacuateProgress(Message):
    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # A newer event of the same server supersedes; a new server's first one must show.
        return (isinstance(message, EvacuateProgress)
                and message.event.get("index") == self.event.get("index"))


class EvacuateFinished(Message):
    def __init__(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.result, self.error = result, error


class EvacuateScreen(MoveDialog):
    CANCELLING = "Cancelling: the running migration is aborted…"

    def __init__(self, cloud, ctx, host: str) -> None:
        super().__init__(cloud, ctx, classes="dialog evacuate")
        self.host = host
        self.error: str | None = None
        self._moved: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Evacuate {self.host}?", id="dialog-title")
            yield Static(f"Every running server on {self.host} is live-migrated, one at a "
                         "time, to the host the scheduler picks. It stops at the first "
                         "server that cannot move.", id="dialog-message", markup=False)
            yield Checkbox("Copy storage (s): disks are not on shared storage", False,
                           id="copy", compact=True)
            yield ProgressBar(total=None, show_eta=False, id="overall")
            yield ProgressBar(total=100, show_eta=False, id="current")
            yield Static("", id="phase", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Evacuate", id="confirm", variant="error", compact=True)
                yield Button("Close", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#overall").display = False
        self.query_one("#current").display = False
        self.query_one("#cancel", Button).focus()

    def action_start(self) -> None:
        if self.running or self.result is not None:
            return
        copy = self.query_one("#copy", Checkbox).value
        self.running = True
        self.cancel = threading.Event()
        self._moved = []
        self.query_one("#copy").disabled = True
        self.query_one("#confirm").disabled = True
        self.query_one("#cancel", Button).label = "Cancel (x)"
        for bar in ("#overall", "#current"):
            self.query_one(bar).display = True
        self.query_one("#current", ProgressBar).update(total=None, progress=0)
        phase = self.query_one("#phase", Static)
        phase.remove_class("error")
        phase.update(f"Evacuating {self.host}… (x cancels)")
        self.run_worker(partial(self._evacuate, copy, self.cancel),
                        name=f"evacuate {self.host}", group="evacuate", thread=True,
                        exclusive=True, exit_on_error=False)

    def _evacuate(self, copy: bool, cancel: threading.Event) -> None:
        try:
            result = self.cloud.server_ops.evacuate(
                self.ctx, self.host, copy_storage=copy, cancel=cancel,
                progress=lambda ev: self.post_message(EvacuateProgress(dict(ev))))
        except VirtstackError as exc:
            self.post_message(EvacuateFinished(None, exc.message))
            return
        self.post_message(EvacuateFinished(result))

    def on_evacuate_progress(self, message: EvacuateProgress) -> None:
        if not self.running:
            return
        ev = message.event
        index, count = ev.get("index") or 0, ev.get("count") or 0
        overall = self.query_one("#overall", ProgressBar)
        done = index - (0 if ev.get("phase") == "done" else 1)
        overall.update(total=count or None, progress=max(0, done))
        current = self.query_one("#current", ProgressBar)
        if ev.get("percent") is not None:
            current.update(total=100, progress=ev["percent"])
        else:
            current.update(total=None)
        if ev.get("phase") == "done" and ev.get("server"):
            self._moved.append(f"{ev['server']} → {ev.get('destination')}")
        where = f"server {index} of {count}: " if count else ""
        self.query_one("#phase", Static).update(where + progress_text(ev))

    def on_evacuate_finished(self, message: EvacuateFinished) -> None:
        self.running = False
        self.query_one("#cancel", Button).label = "Close"
        self.query_one("#current").display = False
        phase = self.query_one("#phase", Static)
        if message.error is not None:
            self.error = message.error
            self.query_one("#overall").display = False
            phase.update(f"Stopped: {message.error}")
            phase.add_class("error")
            self.query_one("#dialog-title", Label).update(f"Evacuation of {self.host} "
                                                          "stopped")
            return
        self.result = r = message.result or {}
        overall = self.query_one("#overall", ProgressBar)
        overall.update(total=max(1, r.get("count", 0)), progress=max(1, r.get("count", 0)))
        moved = [f"{m['name']} → {m['destination']}" for m in r.get("moved") or []]
        phase.update(f"{self.host} is empty: moved {len(moved)} server"
                     f"{'s' if len(moved) != 1 else ''}"
                     + (": " + ", ".join(moved) if moved else " (none was running)") + ".")
        self.query_one("#dialog-title", Label).update(f"{self.host} evacuated")
