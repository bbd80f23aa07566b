"""One server's snapshots: list, create, revert, delete (``cloud.server_ops.snapshot_*``).

Internal snapshots only (qcow2 disks): where the host or the disks cannot take one, the
backend says why and the screen shows it above the table. Revert and delete ask first."""
from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from backend.errors import VirtstackError
from screens.confirm import ConfirmScreen
from screens.prompt import PromptScreen
from tui.workers import ReportsWorkerFailures

COLUMNS = [("name", "Name"), ("state", "State"), ("created", "Created"),
           ("parent", "Parent"), ("current", "Current"), ("description", "Description")]


class SnapshotsLoaded(Message):
    def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows, self.error = rows, error


class SnapshotDone(Message):
    """A create/revert/delete finished; ``error`` is the backend's message when it failed."""

    def __init__(self, verb: str, name: str | None, detail: str = "",
                 error: str | None = None) -> None:
        super().__init__()
        self.verb, self.name, self.detail, self.error = verb, name, detail, error


class SnapshotsScreen(ReportsWorkerFailures, Screen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("c", "create", "Create"),
        Binding("r", "revert", "Revert"),
        Binding("d,delete", "delete", "Delete", key_display="d"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self.uuid, self.host, self.server_name = uuid, host, name
        self.rows: list[dict[str, Any]] = []
        self._focus_name: str | None = None

    def compose(self) -> ComposeResult:
        yield Label(Content.assemble(("Snapshots of ", "$text-muted"),
                                     (self.server_name, "bold"), ("  on ", "$text-muted"),
                                     self.host), id="detail-title")
        with Vertical(id="snap-body"):
            yield Static("Loading…", id="snap-status", markup=False)
            yield DataTable(id="snapshots", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self.action_reload()

    # -- loading ----------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.run_worker(self._load, name="list snapshots", group="snap-list", thread=True,
                        exclusive=True, exit_on_error=False)

    def _load(self) -> None:
        try:
            rows = self.cloud.server_ops.snapshot_list(self.ctx, self.uuid, host=self.host)
        except VirtstackError as exc:
            self.post_message(SnapshotsLoaded(None, exc.message))
            return
        self.post_message(SnapshotsLoaded(rows))

    def on_snapshots_loaded(self, message: SnapshotsLoaded) -> None:
        status = self.query_one("#snap-status", Static)
        if message.rows is None:
            status.update(message.error or "cannot list snapshots")
            status.add_class("error")
            return
        self.rows = message.rows
        table = self.query_one(DataTable)
        keep = self.selected()
        table.clear()
        for r in self.rows:
            table.add_row(*(_cell(key, r.get(key)) for key, _ in COLUMNS), key=r["name"])
        keep = self._focus_name or keep
        self._focus_name = None
        if keep and keep in {r["name"] for r in self.rows}:
            table.move_cursor(row=table.get_row_index(keep))
        n = len(self.rows)
        status.remove_class("error")
        status.update(f"{n} snapshot{'s' if n != 1 else ''} · c create · r revert · "
                      "d delete" if n else "No snapshots yet: press c to take one.")

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.rows or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    # -- actions ----------------------------------------------------------------------------
    def action_create(self) -> None:
        def done(name: str | None) -> None:
            if name is not None:
                self._run("create", name or None)
        self.app.push_screen(PromptScreen(
            f"Snapshot {self.server_name}",
            "Name of the new snapshot (empty: snap-<date>-<time>). A running guest's memory "
            "is saved with its disks.", placeholder="snap-…", ok_label="Create",
            allow_empty=True), done)

    def _ask(self, verb: str, title: str, message: str, label: str) -> None:
        name = self.selected()
        if name is None:
            self.notify("No snapshot selected.", severity="warning", timeout=3)
            return

        def done(ok: bool | None) -> None:
            if ok:
                self._run(verb, name)
        self.app.push_screen(ConfirmScreen(title.format(name=name),
                                           message.format(name=name,
                                                          server=self.server_name),
                                           confirm_label=label), done)

    def action_revert(self) -> None:
        self._ask("revert", "Revert to {name}?",
                  "{server} goes back to snapshot {name}: its disks (and memory, for a "
                  "running snapshot) as they were then. What changed since is lost.",
                  "Revert")

    def action_delete(self) -> None:
        self._ask("delete", "Delete snapshot {name}?",
                  "Snapshot {name} of {server} is removed; the server itself is not "
                  "changed. This cannot be undone.", "Delete")

    def _run(self, verb: str, name: str | None) -> None:
        self.query_one("#snap-status", Static).update(
            {"create": "Taking a snapshot…", "revert": f"Reverting to {name}…",
             "delete": f"Deleting {name}…"}[verb])
        self.run_worker(partial(self._do, verb, name), name=f"{verb} snapshot",
                        group="snap-action", thread=True, exit_on_error=False)

    def _do(self, verb: str, name: str | None) -> None:
        ops = self.cloud.server_ops
        try:
            if verb == "create":
                name = ops.snapshot_create(self.ctx, self.uuid, name, host=self.host)["name"]
                detail = ""
            elif verb == "revert":
                row = ops.snapshot_revert(self.ctx, self.uuid, name, host=self.host)
                detail = f"; {self.server_name} is {row.get('server_state')}"
            else:
                ops.snapshot_delete(self.ctx, self.uuid, name, host=self.host)
                detail = ""
        except VirtstackError as exc:
            self.post_message(SnapshotDone(verb, name, error=exc.message))
            return
        self.post_message(SnapshotDone(verb, name, detail))

    def on_snapshot_done(self, message: SnapshotDone) -> None:
        if message.error:
            status = self.query_one("#snap-status", Static)
            status.update(message.error)
            status.add_class("error")
            self.notify(message.error, title=f"Snapshot {message.verb} failed",
                        severity="error", timeout=8, markup=False)
            return
        text = {"create": f"Snapshot {message.name} taken",
                "revert": f"Reverted to {message.name}",
                "delete": f"Deleted snapshot {message.name}"}[message.verb]
        self.notify(f"{text}{message.detail}.", timeout=4, markup=False)
        self._focus_name = message.name if message.verb == "create" else None
        self.action_reload()


def _cell(key: str, value: Any) -> Text:
    if key == "current":
        return Text("●" if value else "", style="bold")
    return Text("–" if value in (None, "") else str(value))
