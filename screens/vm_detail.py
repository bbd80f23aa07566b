"""One server: its overview from the domain XML, live graphs, devices and (on the local host)
its qemu process; from here its console, snapshots, edits, resize, clone and migration.

Graphs come from the same bulk stats call the dashboard makes (``cloud.servers.stats`` with
``visible={uuid}``), one per tick, and the next tick is armed only when the last one finished.
The dashboard does not poll while this screen is on top, so nothing is asked twice. Lifecycle
events from the host registry keep the state current (and follow the server when it moves).
"""
from __future__ import annotations

import time
from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Label, Static

from backend.errors import VirtstackError
from tui.messages import ServerLoaded
from tui.widgets.sparkline_panel import StatsGraphs, human_bytes
from tui.widgets.vm_table import format_memory
from tui.workers import ReportsWorkerFailures

GRAPH_INTERVAL = 2.0    # seconds between two stats ticks of this server
THREADS_EVERY = 5       # the qemu threads are re-read every this many ticks
NARROW = 110            # below this width the graphs go under the overview
ACTIVE = ("running", "paused", "blocked")


class DetailStats(Message):
    """One stats tick finished: this server's entry, or None (not running, or failed)."""

    def __init__(self, entry: dict[str, Any] | None, at: float) -> None:
        super().__init__()
        self.entry, self.at = entry, at

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DetailStats)


class ThreadsLoaded(Message):
    def __init__(self, data: dict[str, Any] | None, note: str | None = None) -> None:
        super().__init__()
        self.data, self.note = data, note


class DomainChanged(Message):
    """A lifecycle event of this server (posted from libvirt's event thread)."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class EditsApplied(Message):
    def __init__(self, results: list[dict[str, Any]], error: str | None = None) -> None:
        super().__init__()
        self.results, self.error = results, error


class VMDetailScreen(ReportsWorkerFailures, Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("c", "console", "Console"),
        Binding("e", "edit", "Edit"),
        Binding("n", "snapshots", "Snapshots"),
        Binding("C", "clone", "Clone"),
        Binding("m", "migrate", "Migrate"),
        Binding("z", "resize", "Resize"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self.uuid, self.host, self.server_name = uuid, host, name
        self.info: dict[str, Any] = {}
        self.state: str | None = None
        self.ticks = 0
        self._timer: Timer | None = None
        self._threads_supported = True
        self._reload_on_resume = False

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Label(self._title(), id="detail-title")
        with VerticalScroll(id="detail-body"):
            with Horizontal(id="detail-top"):
                yield Static("Loading…", id="overview")
                with Vertical(id="graphs-box"):
                    yield Label("Live", classes="section")
                    yield StatsGraphs(id="graphs")
                    yield Static("", id="graph-note", markup=False)
            yield Label("Disks", classes="section")
            yield DataTable(id="disks", cursor_type="none", show_cursor=False)
            yield Label("Network interfaces", classes="section")
            yield DataTable(id="nics", cursor_type="none", show_cursor=False)
            yield Static("", id="devices")
            yield Label("qemu process", classes="section")
            yield Static("", id="proc-summary", markup=False)
            yield DataTable(id="threads", cursor_type="none", show_cursor=False)
        yield Footer(compact=True)

    def _title(self) -> Content:
        parts: list[Any] = [("Server ", "$text-muted"), (self.server_name, "bold"),
                            ("  on ", "$text-muted"), self.host]
        if self.state:
            style = {"running": "$text-success", "paused": "$text-warning"}.get(
                self.state, "$text-muted")
            parts += ["  ", (self.state, style)]
        return Content.assemble(*parts)

    @property
    def graphs(self) -> StatsGraphs:
        return self.query_one(StatsGraphs)

    def on_mount(self) -> None:
        disks = self.query_one("#disks", DataTable)
        disks.add_columns("Target", "Bus", "Device", "Format", "Pool", "Size", "Source")
        nics = self.query_one("#nics", DataTable)
        nics.add_columns("Interface", "Type", "Source", "Model", "MAC")
        threads = self.query_one("#threads", DataTable)
        threads.add_columns("vCPU", "Thread ID", "Thread", "User s", "System s")
        for table in (disks, nics, threads):
            table.can_focus = False
        self.query_one("#threads").display = False
        self.query_one("#detail-body").focus()
        self.cloud.registry.add_listener(self._on_registry_event)
        self.action_reload()
        self._arm(0.2)

    def on_screen_resume(self) -> None:
        if self._reload_on_resume:
            self._reload_on_resume = False
            self.action_reload()

    def on_unmount(self) -> None:
        self.cloud.registry.remove_listener(self._on_registry_event)
        if self._timer is not None:
            self._timer.stop()

    # -- loading ----------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="server-get", exit_on_error=False,
          name="show server")
    def _load(self) -> None:
        info = self.cloud.servers.get(self.ctx, self.uuid, host=self.host)
        self.post_message(ServerLoaded(info))

    def on_server_loaded(self, message: ServerLoaded) -> None:
        i = self.info = message.info
        self._set_state(i.get("state"))
        memory = format_memory(i.get("memory_mb"))
        if i.get("current_memory_mb") not in (None, i.get("memory_mb")):
            memory += f" (current {format_memory(i.get('current_memory_mb'))})"
        vcpus = str(i.get("vcpus"))
        if i.get("vcpus_max") not in (None, i.get("vcpus")):
            vcpus += f" (max {i['vcpus_max']})"
        later = i.get("next_boot") or {}
        if "vcpus" in later:
            vcpus += f", {later['vcpus']} at next boot"
        if "memory_mb" in later:
            memory += f", {format_memory(later['memory_mb'])} at next boot"
        rows = [
            ("UUID", i.get("uuid")), ("State", i.get("state")), ("vCPUs", vcpus),
            ("Memory", memory),
            ("Arch", " / ".join(x for x in (i.get("arch"), i.get("machine")) if x)),
            ("Boot order", " → ".join(b for b in i.get("boot") or [] if b) or "–"),
            ("Autostart", "yes" if i.get("autostart") else "no"),
            ("Persistent", "yes" if i.get("persistent") else "no"),
            ("Snapshots", i.get("snapshots", 0)),
        ]
        if i.get("description"):
            rows.append(("Description", i["description"]))
        parts: list[Any] = []
        for label, value in rows:
            parts += [(f"{label:<12}", "$text-muted"), str(value if value is not None else "–"),
                      "\n"]
        self.query_one("#overview", Static).update(Content.assemble(*parts[:-1]))
        self._fill_disks()
        nics = self.query_one("#nics", DataTable)
        nics.clear()
        for n in i.get("interfaces") or []:
            nics.add_row(*(_cell(n.get(k)) for k in ("interface", "type", "source", "model",
                                                     "mac")))
        consoles = ", ".join(f"{c.get('kind')} ({c.get('type') or '?'})"
                             for c in i.get("consoles") or []) or "none"
        graphics = ", ".join(
            f"{g.get('type')} {g.get('listen') or '*'}:{g.get('port') or 'auto'}"
            for g in i.get("graphics") or []) or "none"
        self.query_one("#devices", Static).update(Content.assemble(
            ("Serial/console ", "$text-muted"), consoles, "\n",
            ("Graphics       ", "$text-muted"), graphics))
        self._load_threads()

    def _fill_disks(self) -> None:
        disks = self.query_one("#disks", DataTable)
        disks.clear()
        for d in self.info.get("disks") or []:
            size = d.get("capacity_bytes")
            disks.add_row(_cell(d.get("target")), _cell(d.get("bus")), _cell(d.get("device")),
                          _cell(d.get("format")), _cell(d.get("pool")),
                          _cell(human_bytes(size) if size is not None else None),
                          _cell(self._short_path(d.get("source"))))

    def _short_path(self, path: str | None) -> str | None:
        """Narrow screens: a long disk path keeps its file name (the pool says where)."""
        if path and self.has_class("-narrow") and len(path) > 30 and "/" in path:
            return "…/" + path.rsplit("/", 1)[1]
        return path

    def on_resize(self) -> None:
        if self.info:
            self.call_after_refresh(self._fill_disks)  # after the width class is set

    # -- qemu process (local hosts) ---------------------------------------------------------
    def _load_threads(self) -> None:
        if not self._threads_supported:
            return
        if self.state not in ACTIVE:
            self._show_threads(None, f"the server is {self.state}: no qemu process")
            return
        self.run_worker(self._fetch_threads, name="qemu threads", group="threads",
                        thread=True, exclusive=True, exit_on_error=False)

    def _fetch_threads(self) -> None:
        try:
            data = self.cloud.servers.threads(self.ctx, self.uuid, host=self.host)
        except VirtstackError as exc:
            self.post_message(ThreadsLoaded(None, exc.message))
            return
        self.post_message(ThreadsLoaded(data))

    def on_threads_loaded(self, message: ThreadsLoaded) -> None:
        if message.data is None and "remote host" in (message.note or ""):
            self._threads_supported = False
        self._show_threads(message.data, message.note)

    def _show_threads(self, data: dict[str, Any] | None, note: str | None) -> None:
        summary = self.query_one("#proc-summary", Static)
        table = self.query_one("#threads", DataTable)
        if data is None:
            summary.update(f"Not shown: {note}")
            table.display = False
            return
        summary.update(f"pid {data.get('pid')} · {data.get('threads')} threads · RSS "
                       f"{format_memory(data.get('rss_mb'))} · CPU user "
                       f"{data.get('cpu_user_s', 0):.1f} s, system "
                       f"{data.get('cpu_system_s', 0):.1f} s")
        table.clear()
        for t in data.get("vcpu_threads") or []:
            table.add_row(_cell(t.get("vcpu")), _cell(t.get("tid")), _cell(t.get("thread")),
                          _cell(f"{t.get('user_s', 0):.2f}"),
                          _cell(f"{t.get('system_s', 0):.2f}"))
        table.display = bool(data.get("vcpu_threads"))

    # -- live graphs --------------------------------------------------------------------------
    def _arm(self, delay: float | None = None) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(GRAPH_INTERVAL if delay is None else delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.state != "running" or self.app.screen is not self:
            self._arm()  # nothing to measure (or hidden): no backend call at all
            return
        self.ticks += 1
        self.run_worker(partial(self._fetch_stats, self.host), name="stats",
                        group="detail-stats", thread=True, exclusive=True,
                        exit_on_error=False)

    def _fetch_stats(self, host: str) -> None:
        entry = None
        try:
            entry = self.cloud.servers.stats(self.ctx, host, visible={self.uuid}).get(
                self.uuid)
        finally:
            # Always report back: the handler arms the next tick (never two in flight).
            self.post_message(DetailStats(entry, time.monotonic()))

    def on_detail_stats(self, message: DetailStats) -> None:
        note = self.query_one("#graph-note", Static)
        if message.entry:
            self.graphs.add_sample(message.entry, message.at)
            note.update("")
        if self.ticks % THREADS_EVERY == 0 and self._threads_supported:
            self._load_threads()
        self._arm()

    # -- lifecycle events -------------------------------------------------------------------
    def _on_registry_event(self, event: dict[str, Any]) -> None:
        """libvirt's event thread: only post."""
        if event.get("type") == "domain" and event.get("uuid") == self.uuid:
            self.post_message(DomainChanged(dict(event)))

    def on_domain_changed(self, message: DomainChanged) -> None:
        ev = message.event
        host, kind = ev.get("host"), ev.get("event")
        if kind == "undefined" and host == self.host:
            self._set_state("gone")
            return
        if host != self.host and kind in ("defined", "state"):
            self.host = host  # it moved here (migration, evacuation)
            self.graphs.reset()
            self.action_reload()
        if ev.get("state"):
            self._set_state(ev["state"])
        if kind == "defined":
            self.action_reload()

    def _set_state(self, state: str | None) -> None:
        if state == self.state:
            return
        self.state = state
        self.query_one("#detail-title", Label).update(self._title())
        note = self.query_one("#graph-note", Static)
        if state != "running":
            self.graphs.reset()
            note.update(f"The server is {state}: no live figures.")
        else:
            note.update("")

    # -- console, snapshots ------------------------------------------------------------------
    def action_console(self) -> None:
        from screens.console import ConsoleScreen
        self.app.push_screen(ConsoleScreen(self.cloud, self.ctx, self.uuid, self.host,
                                           self.server_name))

    def action_snapshots(self) -> None:
        from screens.snapshots import SnapshotsScreen
        self._reload_on_resume = True  # the snapshot count, and a reverted state
        self.app.push_screen(SnapshotsScreen(self.cloud, self.ctx, self.uuid, self.host,
                                             self.server_name))

    # -- edits ------------------------------------------------------------------------------
    def action_edit(self) -> None:
        from screens.edit_server import EditServerScreen
        if not self.info:
            self.notify("Still loading.", severity="warning", timeout=2)
            return

        def done(changes: dict | None) -> None:
            if changes:
                self.run_worker(partial(self._apply_edits, changes), name="edit server",
                                group="edit", thread=True, exit_on_error=False)
            elif changes is not None:
                self.notify("Nothing changed.", timeout=2)
        self.app.push_screen(EditServerScreen(dict(
            self.info, state=self.state,
            vcpus=self.info.get("vcpus"))), done)

    def _apply_edits(self, changes: dict[str, Any]) -> None:
        ops, results = self.cloud.server_ops, []
        try:
            if "vcpus" in changes:
                results.append(ops.set_vcpus(self.ctx, self.uuid, changes["vcpus"],
                                             host=self.host))
            if "memory_mb" in changes:
                results.append(ops.set_memory(self.ctx, self.uuid, changes["memory_mb"],
                                              host=self.host))
            if "autostart" in changes:
                results.append(ops.set_autostart(self.ctx, self.uuid, changes["autostart"],
                                                 host=self.host))
        except VirtstackError as exc:
            self.post_message(EditsApplied(results, exc.message))
            return
        self.post_message(EditsApplied(results))

    def on_edits_applied(self, message: EditsApplied) -> None:
        lines = [edit_summary(r) for r in message.results]
        if lines:
            self.notify("\n".join(lines), title="Applied", timeout=10, markup=False)
        if message.error:
            self.notify(message.error, title="Edit failed", severity="error", timeout=10,
                        markup=False)
        self.action_reload()

    def action_resize(self) -> None:
        from screens.resize_server import ResizeServerScreen, resize_summary

        def done(result: dict | None) -> None:
            if result:
                self.notify(resize_summary(result), title="Resized", timeout=10,
                            markup=False)
                self.action_reload()
        self.app.push_screen(ResizeServerScreen(self.cloud, self.ctx, self.uuid, self.host,
                                                self.server_name), done)

    # -- clone, migrate -------------------------------------------------------------------------
    def action_clone(self) -> None:
        open_clone(self, self.cloud, self.ctx, self.uuid, self.host, self.server_name)

    def action_migrate(self) -> None:
        from screens.migrate import MigrateScreen

        def done(result: dict | None) -> None:
            if result and result.get("destination"):
                self.host = result["destination"]
                self.graphs.reset()
                self.query_one("#detail-title", Label).update(self._title())
                self.action_reload()
        self.app.push_screen(MigrateScreen(self.cloud, self.ctx, self.uuid, self.host,
                                           self.server_name), done)


def edit_summary(r: dict[str, Any]) -> str:
    """'vCPUs → 4: next boot (why)' for one result of cloud.server_ops.set_*."""
    if "vcpus" in r:
        what = f"vCPUs → {r['vcpus']}"
    elif "memory_mb" in r:
        what = f"memory → {format_memory(r['memory_mb'])}"
    else:
        what = f"autostart {'on' if r.get('autostart') else 'off'}"
    line = f"{what}: {r.get('applied')}"
    return line + (f" ({r['note']})" if r.get("note") else "")


def open_clone(screen: Screen, cloud, ctx, uuid: str, host: str, name: str) -> None:
    """Ask for the clone's name, then clone in a thread worker of ``screen`` (which reports
    worker failures); the new server is announced when it exists (the dashboard's table
    gets it from the host's "defined" event)."""
    from screens.prompt import PromptScreen

    def done(new_name: str | None) -> None:
        if not new_name:
            return
        screen.notify(f"Cloning {name} as {new_name}…", timeout=3, markup=False)

        def work() -> None:
            result = cloud.server_ops.clone(ctx, uuid, new_name, host=host)
            screen.app.call_from_thread(screen.notify, clone_message(result), timeout=6,
                                        markup=False)
        screen.run_worker(work, name=f"clone {name}", group="clone", thread=True,
                          exit_on_error=False)
    screen.app.push_screen(PromptScreen(
        f"Clone {name}", f"A new server on {host}: new MAC addresses, its disks copied in "
        "the same pool. The source must be shut off or paused.",
        placeholder="new server name", value=f"{name}-clone", ok_label="Clone"), done)


def clone_message(result: dict[str, Any]) -> str:
    vols = len(result.get("volumes") or [])
    return (f"Cloned {result.get('source')} as {result.get('name')} on {result.get('host')} "
            f"({vols} disk{'s' if vols != 1 else ''} copied; it is {result.get('state')}).")


def _cell(value: Any) -> Text:
    return Text("–" if value in (None, "") else str(value))
