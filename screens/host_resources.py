"""Hosts as resources (``cloud.compute.resources``): for each host its vCPU, RAM and disk as
gauges -- physical, allocation ratio, limit, allocated (claimed + unmanaged + reserved),
free -- what it runs that virtstack did not create, and whether it takes new servers
(a disabled host shows its reason). Refreshed every few seconds; the next refresh is armed
only when the last one finished."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from tui.widgets.gauge import Gauge
from tui.workers import ReportsWorkerFailures

REFRESH_S = 5.0
RESOURCES = ("vcpus", "memory_mb", "disk_gb")


class ResourcesLoaded(Message):
    def __init__(self, rows: list[dict[str, Any]] | None) -> None:
        super().__init__()
        self.rows = rows


def host_heading(r: dict[str, Any]) -> Content:
    """``● node1  az1  3 servers · 5 unmanaged VMs`` or ``○ node2 disabled: reason``."""
    enabled = r.get("enabled", True)
    parts: list[Any] = [("● " if enabled else "○ ", "$success" if enabled else "$error"),
                        (r["host"], "bold")]
    if r.get("az"):
        parts.append((f"  {r['az']}", "$text-muted"))
    n, un = r.get("instances") or 0, r.get("unmanaged_instances") or 0
    parts.append((f"  {n} server{'s' if n != 1 else ''} · {un} unmanaged VM"
                  f"{'s' if un != 1 else ''}", "$text-muted"))
    if not enabled:
        reason = r.get("disabled_reason")
        parts.append((f"  disabled{': ' + reason if reason else ''}", "$text-error"))
    return Content.assemble(*parts)


class HostResourceCard(Vertical):
    """One host: a heading and three gauges."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(classes="host-resources")
        self.host_name = row["host"]
        self.row = row

    def compose(self) -> ComposeResult:
        yield Static(host_heading(self.row), classes="host-heading")
        for key in RESOURCES:
            yield Gauge(key, self.row[key], classes=f"gauge-{key}")

    def update_row(self, row: dict[str, Any]) -> None:
        self.row = row
        self.query_one(".host-heading", Static).update(host_heading(row))
        for key in RESOURCES:
            self.query_one(f".gauge-{key}", Gauge).figures = row[key]
        self.set_class(not row.get("enabled", True), "-disabled")

    def gauge(self, key: str) -> Gauge:
        return self.query_one(f".gauge-{key}", Gauge)


class HostResourcesScreen(ReportsWorkerFailures, Screen):
    CSS_PATH = Path(__file__).resolve().parents[1] / "themes" / "compute.tcss"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self.rows: list[dict[str, Any]] = []
        self._timer = None

    def compose(self) -> ComposeResult:
        yield Label(Content.assemble(("Host resources", "bold"),
                                     ("  allocated/limit · free · physical×ratio", 
                                      "$text-muted")), id="resources-title")
        with VerticalScroll(id="resources-body"):
            yield Static("Loading…", id="resources-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_reload()

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    def action_reload(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._load()

    @work(thread=True, exclusive=True, group="resources", exit_on_error=False)
    def _load(self) -> None:
        rows = None
        try:
            rows = self.cloud.compute.resources(self.ctx)
        finally:
            self.post_message(ResourcesLoaded(rows))  # always: it arms the next refresh

    def on_resources_loaded(self, message: ResourcesLoaded) -> None:
        if message.rows is not None:
            self.show_rows(message.rows)
        if self.is_attached:
            self._timer = self.set_timer(REFRESH_S, self._load)

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        body = self.query_one("#resources-body", VerticalScroll)
        empty = self.query_one("#resources-empty", Static)
        empty.display = not rows
        if not rows:
            empty.update("No host has reported its resources yet (none connected).")
        cards = {c.host_name: c for c in self.query(HostResourceCard)}
        for r in rows:
            card = cards.pop(r["host"], None)
            if card is None:
                card = HostResourceCard(r)
                body.mount(card)
                card.set_class(not r.get("enabled", True), "-disabled")
            else:
                card.update_row(r)
        for gone in cards.values():
            gone.remove()

    def card(self, host: str) -> HostResourceCard | None:
        for c in self.query(HostResourceCard):
            if c.host_name == host:
                return c
        return None
