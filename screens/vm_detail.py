"""One server's overview: state, vCPUs, memory, disks and NICs (``cloud.servers.get``)."""
from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from tui.messages import ServerLoaded
from tui.workers import ReportsWorkerFailures
from tui.widgets.vm_table import format_memory


class VMDetailScreen(ReportsWorkerFailures, Screen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self.uuid, self.host, self.server_name = uuid, host, name

    def compose(self) -> ComposeResult:
        yield Label(Content.assemble(("Server ", "$text-muted"), (self.server_name, "bold"),
                                     ("  on ", "$text-muted"), self.host), id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static("Loading…", id="overview")
            yield Label("Disks", classes="section")
            yield DataTable(id="disks", cursor_type="row", show_cursor=False)
            yield Label("Network interfaces", classes="section")
            yield DataTable(id="nics", cursor_type="row", show_cursor=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        disks = self.query_one("#disks", DataTable)
        disks.add_columns("Target", "Bus", "Device", "Format", "Source")
        nics = self.query_one("#nics", DataTable)
        nics.add_columns("Interface", "Type", "Source", "Model", "MAC")
        self.action_reload()

    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="server-get", exit_on_error=False)
    def _load(self) -> None:
        info = self.cloud.servers.get(self.ctx, self.uuid, host=self.host)
        self.post_message(ServerLoaded(info))

    def on_server_loaded(self, message: ServerLoaded) -> None:
        i = message.info
        rows = [
            ("Name", i.get("name")), ("UUID", i.get("uuid")), ("Host", i.get("host")),
            ("State", i.get("state")), ("vCPUs", i.get("vcpus")),
            ("Memory", format_memory(i.get("memory_mb"))
             + (f" (current {format_memory(i.get('current_memory_mb'))})"
                if i.get("current_memory_mb") not in (None, i.get("memory_mb")) else "")),
            ("Architecture", " / ".join(x for x in (i.get("arch"), i.get("machine")) if x)),
            ("Boot", ", ".join(b for b in i.get("boot") or [] if b) or "–"),
            ("Autostart", "yes" if i.get("autostart") else "no"),
            ("Persistent", "yes" if i.get("persistent") else "no"),
            ("Snapshots", i.get("snapshots", 0)),
        ]
        if i.get("description"):
            rows.append(("Description", i["description"]))
        parts: list[Any] = []
        for label, value in rows:
            parts += [(f"{label:<13}", "$text-muted"), str(value if value is not None else "–"),
                      "\n"]
        self.query_one("#overview", Static).update(Content.assemble(*parts[:-1]))
        disks = self.query_one("#disks", DataTable)
        disks.clear()
        for d in i.get("disks") or []:
            disks.add_row(*(_cell(d.get(k)) for k in ("target", "bus", "device", "format",
                                                      "source")))
        nics = self.query_one("#nics", DataTable)
        nics.clear()
        for n in i.get("interfaces") or []:
            nics.add_row(*(_cell(n.get(k)) for k in ("interface", "type", "source", "model",
                                                     "mac")))


def _cell(value: Any):
    from rich.text import Text
    return Text("–" if value in (None, "") else str(value))
