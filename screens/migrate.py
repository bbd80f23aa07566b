"""Live-migrate one server: ``ModalScreen[dict | None]``.

The destination is a named host or "let the scheduler choose" (filters, claims and quotas
apply; the dialog shows the host it would pick). Copy storage for disks that are not on
storage both hosts see. While it runs, a progress bar follows the job info and ``x`` (or
escape) cancels; the backend aborts the job and the server keeps running on its source.
Dismisses with the backend's result after a migration, else None."""
from __future__ import annotations

import threading
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from backend.errors import VirtstackError
from tui.workers import ReportsWorkerFailures

SCHEDULER = "__scheduler__"


class MigrateProgress(Message):
    """A progress event of the backend (phase, percent, data figures)."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MigrateProgress)


class MigrateFinished(Message):
    def __init__(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.result, self.error = result, error


class SchedulerPick(Message):
    def __init__(self, host: str | None, reason: str | None = None) -> None:
        super().__init__()
        self.host, self.reason = host, reason


def progress_text(ev: dict[str, Any]) -> str:
    """One line about a migration progress event."""
    from tui.widgets.sparkline_panel import human_bytes
    phase = ev.get("phase") or "migrating"
    who = ev.get("server")
    head = f"{who}: {phase}" if who else phase
    if ev.get("percent") is not None:
        head += f" {ev['percent']:.0f} %"
    if ev.get("data_total"):
        head += (f" · {human_bytes(ev.get('data_processed') or 0)} of "
                 f"{human_bytes(ev['data_total'])}")
    if ev.get("memory_dirty_rate"):
        head += f" · dirtying {ev['memory_dirty_rate']} pages/s"
    if ev.get("elapsed_s") is not None:
        head += f" · {ev['elapsed_s']:.0f} s"
    return head


class MoveDialog(ReportsWorkerFailures, ModalScreen[dict | None]):
    """What the migrate and evacuate dialogs share: the storage-copy toggle, the buttons,
    cancelling the running move (``x``) and leaving (escape: cancels first while running).
    Subclasses set CANCELLING (what the phase line says meanwhile), ``running`` and
    ``result`` (what closing returns)."""

    BINDINGS = [
        Binding("escape", "close", "Close / cancel"),
        Binding("x", "cancel_move", "Cancel"),
        Binding("s", "toggle_copy", "Copy storage", show=False),
    ]
    CANCELLING = "Cancelling…"

    def __init__(self, cloud, ctx, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cloud, self.ctx = cloud, ctx
        self.running = False
        self.result: dict[str, Any] | None = None
        self.cancel = threading.Event()

    def action_start(self) -> None:
        raise NotImplementedError

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.action_start()
        else:
            self.action_close()

    def action_toggle_copy(self) -> None:
        if not self.running:
            box = self.query_one("#copy", Checkbox)
            box.value = not box.value

    def action_cancel_move(self) -> None:
        if self.running and not self.cancel.is_set():
            self.cancel.set()
            self.query_one("#phase", Static).update(self.CANCELLING)

    def action_close(self) -> None:
        if self.running:
            self.action_cancel_move()
            return
        self.dismiss(self.result)


class MigrateScreen(MoveDialog):
    BINDINGS = [Binding("x", "cancel_move", "Cancel migration")]
    CANCELLING = "Cancelling: the job is aborted, the server stays on its source…"

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str) -> None:
        super().__init__(cloud, ctx, classes="dialog info migrate")
        self.uuid, self.host, self.server_name = uuid, host, name

    def compose(self) -> ComposeResult:
        options = [Option("Let the scheduler choose", id=SCHEDULER)]
        for name, h in self.cloud.registry.hosts.items():
            if name == self.host:
                continue
            state = getattr(h, "state", "unknown")
            options.append(Option(f"{name}" + ("" if state == "connected" else f"  ({state})"),
                                  id=name, disabled=state != "connected"))
        with Vertical(id="dialog"):
            yield Label(f"Migrate {self.server_name} from {self.host}", id="dialog-title")
            yield Static("Live migration, peer to peer over SSH. Choose where to:",
                         id="dialog-message", markup=False)
            yield OptionList(*options, id="dest")
            yield Static("", id="sched-hint", markup=False)
            yield Checkbox("Copy storage (s): disks are not on shared storage", False,
                           id="copy", compact=True)
            yield ProgressBar(total=100, show_eta=False, id="progress")
            yield Static("", id="phase", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Migrate", id="confirm", variant="primary", compact=True)
                yield Button("Close", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        dest = self.query_one("#dest", OptionList)
        dest.highlighted = 0
        dest.focus()
        self.run_worker(self._preview, name="ask the scheduler", group="migrate-preview",
                        thread=True, exclusive=True, exit_on_error=False)

    # -- the scheduler's pick ---------------------------------------------------------------
    def _preview(self) -> None:
        try:
            host = self.cloud.server_ops.choose_destination(self.ctx, self.uuid,
                                                            host=self.host)
        except VirtstackError as exc:
            self.post_message(SchedulerPick(None, exc.message))
            return
        self.post_message(SchedulerPick(host))

    def on_scheduler_pick(self, message: SchedulerPick) -> None:
        hint = self.query_one("#sched-hint", Static)
        if message.host:
            hint.update(f"The scheduler would pick {message.host}.")
        else:
            hint.update(f"The scheduler has no host: {message.reason}")

    # -- starting ---------------------------------------------------------------------------
    def destination(self) -> str | None:
        """The chosen host, or None for the scheduler."""
        dest = self.query_one("#dest", OptionList)
        if dest.highlighted is None:
            return None
        opt = dest.get_option_at_index(dest.highlighted)
        return None if opt.id == SCHEDULER else opt.id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_start()

    def action_start(self) -> None:
        if self.running:
            return
        dest = self.destination()
        copy = self.query_one("#copy", Checkbox).value
        self.running = True
        self.cancel = threading.Event()
        for w in ("#dest", "#copy", "#confirm"):
            self.query_one(w).disabled = True
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        phase = self.query_one("#phase", Static)
        phase.remove_class("error")
        phase.update(f"Starting: to {dest or 'the scheduler’s pick'}"
                     f"{', copying storage' if copy else ''}… (x cancels)")
        self.query_one("#cancel", Button).label = "Cancel (x)"
        self.run_worker(partial(self._migrate, dest, copy, self.cancel),
                        name=f"migrate {self.server_name}", group="migrate", thread=True,
                        exclusive=True, exit_on_error=False)

    def _migrate(self, dest: str | None, copy: bool, cancel: threading.Event) -> None:
        try:
            result = self.cloud.server_ops.migrate(
                self.ctx, self.uuid, dest, host=self.host, copy_storage=copy,
                progress=lambda ev: self.post_message(MigrateProgress(dict(ev))),
                cancel=cancel)
        except VirtstackError as exc:
            self.post_message(MigrateFinished(None, exc.message))
            return
        self.post_message(MigrateFinished(result))

    # -- progress ---------------------------------------------------------------------------
    def on_migrate_progress(self, message: MigrateProgress) -> None:
        if not self.running:
            return
        ev = message.event
        bar = self.query_one("#progress", ProgressBar)
        if ev.get("percent") is not None:
            bar.update(total=100, progress=ev["percent"])
        self.query_one("#phase", Static).update(progress_text(ev))

    def on_migrate_finished(self, message: MigrateFinished) -> None:
        self.running = False
        self.query_one("#cancel", Button).label = "Close"
        phase = self.query_one("#phase", Static)
        if message.error is not None:
            self.query_one("#progress", ProgressBar).display = False
            phase.update(f"Not migrated: {message.error}")
            phase.add_class("error")
            for w in ("#dest", "#copy", "#confirm"):
                self.query_one(w).disabled = False
            return
        r = message.result or {}
        self.query_one("#progress", ProgressBar).update(total=100, progress=100)
        self.notify(f"Migrated {r.get('name')} to {r.get('destination')} in "
                    f"{r.get('elapsed_s')} s; it is {r.get('state') or 'there'}.",
                    timeout=6, markup=False)
        self.dismiss(r)
