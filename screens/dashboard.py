"""The dashboard: every host's state and one table of the servers of all hosts.

Events first: the host registry's listener (called on libvirt's event thread) posts
messages here; host connections and domain lifecycle changes drive the table. Stats are
polled per connected host, only for the rows on screen, and the next tick of a host is armed
only when its last one finished, so a slow or hung host delays nobody but itself.
Every backend call runs in a thread worker; failures become notifications.
"""
from __future__ import annotations

import threading
from functools import partial
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from backend.errors import OperationFailed, VirtstackError
from tui.messages import (ActionDone, DomainEventsPending, HostEvent, HostRowsLoaded,
                          HostsUpdated, StatsUpdated)
from tui.widgets.hosts_panel import HostsPanel
from tui.widgets.status_bar import StatusBar
from tui.widgets.vm_table import SORTABLE, VMTable
from tui.workers import ReportsWorkerFailures

STATS_INTERVAL = 2.0     # seconds between two stats ticks of one host
HOST_CPU_EVERY = 5       # the host's own CPU % every this many ticks
HOSTS_DEBOUNCE = 0.3     # coalesce host-summary refreshes after bursts of events
FILTER_DEBOUNCE = 0.12   # filter-as-you-type waits for a pause in typing
NARROW = 110             # below this width the hosts panel collapses to one line per host

ACTIONS: dict[str, tuple[str, str]] = {
    # action: (palette label, past tense for the notification)
    "start": ("Start", "Started"),
    "shutdown": ("Shut down", "Shutting down"),
    "reboot": ("Reboot", "Rebooting"),
    "suspend": ("Pause (suspend)", "Paused"),
    "resume": ("Resume", "Resumed"),
    "destroy": ("Force off", "Forced off"),
    "delete": ("Delete", "Deleted"),
}

SORT_LABELS = {"vcpus": "vCPUs", "mem": "memory", "cpu": "CPU %"}


class DashboardCommands(Provider):
    """Command palette: the dashboard's actions, its hosts and its servers."""

    def _items(self):
        screen = self.screen
        if not isinstance(screen, DashboardScreen):
            return
        for action, (label, _) in ACTIONS.items():
            if action == "destroy":
                cb = screen.action_force_off
            elif action == "delete":
                cb = screen.action_delete
            else:
                cb = partial(screen.action_server, action)
            yield f"{label} selected servers", cb, "Applies to the marked rows or the cursor row"
        yield "Filter servers", screen.action_focus_filter, "Filter by name, host or state"
        yield "Toggle hosts panel", screen.action_toggle_hosts, None
        yield "Create server", screen.action_create_server, "Flavor, image, live placement"
        yield "Host resources", screen.action_host_resources, "vCPU, RAM and disk gauges"
        yield "Migrate server", screen.action_migrate, "Live-migrate the cursor row's server"
        yield "Clone server", screen.action_clone, "A copy of the cursor row's server"
        for name in screen.host_states:
            yield (f"Evacuate host {name}", partial(screen.evacuate_host, name),
                   "Live-migrate its running servers to the scheduler's picks")
        yield "Storage pools and volumes", screen.action_storage, "Every host's pools"
        yield "Virtual networks", screen.action_networks, "Networks, drift, DHCP leases"
        yield ("Host interfaces", screen.action_host_interfaces,
               "Bridge and VLAN changes as plans")
        yield "Switch project", screen.action_switch_project, "Re-scope to another project"
        yield ("Identity: users, projects, roles, assignments", screen.action_identity_admin,
               "Admin only")
        yield "Audit log", screen.action_audit, "Logins and every change (admin only)"
        yield "Clear marks and filter", screen.action_clear, None
        for column in SORTABLE:
            yield (f"Sort by {SORT_LABELS.get(column, column)}",
                   partial(screen.table.sort_by, column), None)
        for name, state in screen.host_states.items():
            yield (f"Host {name}", partial(screen.show_host, name),
                   f"{state} — show its servers")
        for uuid, r in list(screen.table.servers.items()):
            yield (f"Server {r['name']} ({r['host']})", partial(screen.open_server, uuid),
                   f"{r['state']} — open details")

    async def discover(self) -> Hits:
        for text, callback, help_text in self._items():
            if text.startswith("Server "):
                break
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._items():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class DashboardScreen(ReportsWorkerFailures, Screen):
    COMMANDS = {DashboardCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("s", "server('start')", "Start"),
        Binding("S,o", "server('shutdown')", "Shut down", key_display="S/o"),
        Binding("r", "server('reboot')", "Reboot"),
        Binding("p", "server('suspend')", "Pause"),
        Binding("u", "server('resume')", "Resume"),
        Binding("f", "force_off", "Force off"),
        Binding("D", "delete", "Delete"),
        Binding("1", "sort('name')", "Sort", key_display="1-6"),
        Binding("2", "sort('host')", "Sort by host", show=False),
        Binding("3", "sort('state')", "Sort by state", show=False),
        Binding("4", "sort('vcpus')", "Sort by vCPUs", show=False),
        Binding("5", "sort('mem')", "Sort by memory", show=False),
        Binding("6", "sort('cpu')", "Sort by CPU", show=False),
        Binding("h", "toggle_hosts", "Hosts"),
        Binding("c", "create_server", "Create"),
        Binding("H", "host_resources", "Resources"),
        Binding("escape", "clear", "Clear", show=False),
        Binding("down", "focus_table", "Table", show=False),
        Binding("P", "switch_project", "Project"),
        Binding("A", "identity_admin", "Identity"),
        Binding("L", "audit", "Audit"),
        Binding("m", "migrate", "Migrate"),
        Binding("C", "clone", "Clone"),
        Binding("v", "storage", "Storage"),
        Binding("n", "networks", "Networks"),
        Binding("i", "host_interfaces", "Interfaces"),
    ]

    def __init__(self, cloud, ctx) -> None:
        super().__init__()
        self.cloud = cloud
        self.ctx = ctx
        self.host_states: dict[str, str] = {name: "connecting" for name in cloud.registry.hosts}
        self._seen_event: set[str] = set()
        self._pending: list[dict[str, Any]] = []
        self._pending_lock = threading.Lock()
        self._stats_timers: dict[str, Timer] = {}
        self._ticks: dict[str, int] = {}
        self._no_host_cpu: set[str] = set()
        self._hosts_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self._rows_seq: dict[str, int] = {}  # host -> number of its newest rows load
        self._tick_callbacks: dict[str, Any] = {}

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield HostsPanel(list(self.cloud.registry.hosts), id="hosts")
            with Vertical(id="main"):
                yield Input(placeholder="/ filter by name, host or state", id="filter",
                            compact=True)
                yield VMTable(id="vms")
                yield Static("", id="status")
        yield StatusBar(self.cloud.identity, self.ctx, id="identity-bar")
        yield Footer(compact=True)

    @property
    def table(self) -> VMTable:
        return self.query_one(VMTable)

    @property
    def hosts_panel(self) -> HostsPanel:
        return self.query_one(HostsPanel)

    def on_mount(self) -> None:
        self.table.focus()
        self.cloud.registry.add_listener(self._on_registry_event)
        self._start()

    def on_unmount(self) -> None:
        self.cloud.registry.remove_listener(self._on_registry_event)
        for t in self._stats_timers.values():
            t.stop()

    def on_resize(self) -> None:
        self.hosts_panel.compact = self.size.width < NARROW

    # -- events from libvirt's thread ---------------------------------------------------------
    def _on_registry_event(self, event: dict[str, Any]) -> None:
        """Runs on libvirt's event thread: never touch widgets, only post messages."""
        if event.get("type") == "host":
            self.post_message(HostEvent(event["host"], event["state"], event.get("error")))
        elif event.get("type") == "domain":
            with self._pending_lock:
                self._pending.append(event)
            self.post_message(DomainEventsPending())

    @work(thread=True, exclusive=True, group="start", exit_on_error=False)
    def _start(self) -> None:
        """Snapshot the hosts (some may be connected already), then connect the rest in the
        background with reconnect."""
        # Background connects first: a blocking connect-all here would hold every host's
        # summary hostage to the slowest one.
        self.cloud.start_hosts()
        try:
            hosts = self.cloud.hosts.list(self.ctx)
            self.post_message(HostsUpdated(hosts))
            for h in hosts:
                self.post_message(HostEvent(h["name"], h["state"], h.get("error"),
                                            snapshot=True))
        finally:
            self.cloud.start_hosts()  # even if the summary was refused: events still come

    def on_host_event(self, message: HostEvent) -> None:
        name = message.host
        if name not in self.host_states:
            return
        if message.snapshot:
            if name in self._seen_event:
                return  # a real event already told us more recent news
        else:
            self._seen_event.add(name)
        previous = self.host_states.get(name)
        self.host_states[name] = message.state
        self.hosts_panel.set_state(name, message.state, message.error)
        if message.state == "connected" and previous != "connected":
            self._load_host(name)
            self._arm_stats(name, 0.5)
        elif message.state != "connected" and previous == "connected":
            self.table.host_down(name)
            timer = self._stats_timers.pop(name, None)
            if timer is not None:
                timer.stop()
        self._hosts_changed()
        self._update_status()

    def on_domain_events_pending(self, _message: DomainEventsPending) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        table = self.table
        reload: set[str] = set()
        for ev in batch:
            uuid, kind = ev.get("uuid"), ev.get("event")
            if kind == "undefined":
                table.remove_server(uuid)
            elif kind in ("defined", "figures"):  # figures: vCPUs/memory read after connect
                reload.add(ev["host"])
            elif uuid in table.servers:
                state = ev.get("state")
                fields: dict[str, Any] = {"state": state}
                if state != "running":
                    fields["cpu_percent"] = None
                table.update_server(uuid, **fields)
        for host in reload:
            self._load_host(host)
        self._hosts_changed()

    # -- loading ------------------------------------------------------------------------------
    def _load_host(self, host: str) -> None:
        # Loads of one host may overlap (a reload asked while one runs): each is numbered
        # and only the newest one's rows are taken, so an older, slower one can never
        # put back what a newer one already replaced.
        seq = self._rows_seq[host] = self._rows_seq.get(host, 0) + 1
        self.run_worker(partial(self._fetch_host_rows, host, seq),
                        name=f"list servers of {host}", group=f"rows:{host}", thread=True,
                        exit_on_error=False)

    def _fetch_host_rows(self, host: str, seq: int) -> None:
        rows = self.cloud.servers.list(self.ctx, host=host)
        self.post_message(HostRowsLoaded(host, rows, seq))

    def on_host_rows_loaded(self, message: HostRowsLoaded) -> None:
        if message.seq != self._rows_seq.get(message.host):
            return  # a newer load of this host is on its way
        self.table.set_host_rows(message.host, message.rows)
        self._update_status()

    def _hosts_changed(self) -> None:
        """Refresh the host summaries soon (once per burst of events)."""
        if self._hosts_timer is None:
            self._hosts_timer = self.set_timer(HOSTS_DEBOUNCE, self._refresh_hosts)

    @work(thread=True, exclusive=True, group="hosts", exit_on_error=False)
    def _refresh_hosts(self) -> None:
        self._hosts_timer = None
        self.post_message(HostsUpdated(self.cloud.hosts.list(self.ctx)))

    def on_hosts_updated(self, message: HostsUpdated) -> None:
        self.hosts_panel.update_hosts(message.hosts, states=self.host_states)

    # -- stats --------------------------------------------------------------------------------
    def _arm_stats(self, host: str, delay: float = STATS_INTERVAL) -> None:
        old = self._stats_timers.pop(host, None)
        if old is not None:
            old.stop()
        tick = self._tick_callbacks.get(host)
        if tick is None:
            # one callback per host, reused: Textual inspects a new callable's signature on
            # every call (a new partial each tick was a visible share of idle CPU)
            tick = self._tick_callbacks[host] = partial(self._stats_tick, host)
        self._stats_timers[host] = self.set_timer(delay, tick)

    def _stats_tick(self, host: str) -> None:
        self._stats_timers.pop(host, None)
        if self.host_states.get(host) != "connected":
            return  # re-armed when it reconnects
        visible = set()
        if self.app.screen is self:
            servers = self.table.servers
            visible = {u for u in self.table.visible_uuids()
                       if servers[u]["host"] == host and servers[u]["state"] == "running"}
        if not visible:
            self._arm_stats(host)  # nothing to measure: no backend call at all
            return
        # The host's own CPU % every HOST_CPU_EVERY ticks, and never again once the host
        # said it cannot tell (the test driver).
        tick = self._ticks[host] = self._ticks.get(host, 0) + 1
        want_cpu = host not in self._no_host_cpu and tick % HOST_CPU_EVERY == 1
        self.run_worker(partial(self._fetch_stats, host, visible, want_cpu),
                        name=f"stats of {host}", group=f"stats:{host}", thread=True,
                        exclusive=True, exit_on_error=False)

    def _fetch_stats(self, host: str, visible: set[str], want_cpu: bool) -> None:
        stats = None
        host_cpu: float | None | bool = False  # False: not asked this tick
        try:
            stats = self.cloud.servers.stats(self.ctx, host, visible=visible)
            if want_cpu:
                try:
                    host_cpu = self.cloud.hosts.get(self.ctx, host).get("cpu_percent")
                except VirtstackError:
                    host_cpu = None
        finally:
            # Always report back: the handler arms the next tick (never two in flight).
            self.post_message(StatsUpdated(host, stats, host_cpu))

    def on_stats_updated(self, message: StatsUpdated) -> None:
        if message.stats:
            self.table.apply_stats(message.stats)
        if message.host_cpu is not False:
            if message.host_cpu is None and self._ticks.get(message.host, 0) > 1:
                self._no_host_cpu.add(message.host)
            self.hosts_panel.set_cpu(message.host, message.host_cpu)
        if self.host_states.get(message.host) == "connected":
            self._arm_stats(message.host)

    # -- the filter ---------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE, partial(self._apply_filter, value))

    def _apply_filter(self, value: str) -> None:
        self._filter_timer = None
        self.table.set_filter(value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value)
        self.table.focus()

    def action_clear(self) -> None:
        """Escape: leave the filter box, else drop the marks, else clear the filter."""
        filt = self.query_one("#filter", Input)
        if filt.has_focus:
            self.table.focus()
        elif self.table.marked:
            self.table.clear_marks()
        elif filt.value:
            filt.value = ""
            self._apply_filter("")

    def show_host(self, name: str) -> None:
        filt = self.query_one("#filter", Input)
        filt.value = name
        self._apply_filter(name)
        self.table.focus()

    # -- view ---------------------------------------------------------------------------------
    def action_sort(self, column: str) -> None:
        self.table.sort_by(column)

    def action_toggle_hosts(self) -> None:
        panel = self.hosts_panel
        panel.display = not panel.display

    def action_create_server(self) -> None:
        from screens.create_wizard import CreateWizardScreen
        self.app.push_screen(CreateWizardScreen(self.cloud, self.ctx))

    def action_host_resources(self) -> None:
        from screens.host_resources import HostResourcesScreen
        self.app.push_screen(HostResourcesScreen(self.cloud, self.ctx))

    def on_vm_table_view_changed(self, _message: VMTable.ViewChanged) -> None:
        self._update_status()

    def _update_status(self) -> None:
        table = self.table
        total = len(table.servers)
        shown = len(table.order)
        running = sum(1 for r in table.servers.values() if r["state"] == "running")
        up = sum(1 for s in self.host_states.values() if s == "connected")
        parts = [f"{shown} of {total} servers" if table.filter_text else f"{total} servers",
                 f"{running} running", f"{up}/{len(self.host_states)} hosts up"]
        if table.marked:
            parts.append(f"{len(table.marked)} marked")
        arrow = "▼" if table.sort_reverse else "▲"
        parts.append(f"sort: {table.sort_column} {arrow}")
        self.query_one("#status", Static).update(" · ".join(parts))

    def on_vm_table_row_selected(self, event: VMTable.RowSelected) -> None:
        self.open_server(event.uuid)

    def open_server(self, uuid: str) -> None:
        r = self.table.servers.get(uuid)
        if r is None:
            return
        self.table.select_uuid(uuid)
        from screens.vm_detail import VMDetailScreen  # (loaded when first opened)
        self.app.push_screen(VMDetailScreen(self.cloud, self.ctx, uuid, r["host"], r["name"]))

    # -- identity: project switch, admin and audit screens -------------------------------------
    def action_switch_project(self) -> None:
        from screens.project_switch import ProjectSwitchScreen

        def switched(ctx) -> None:
            if ctx is not None:
                self.notify(f"Now in project {ctx.project_name}.", timeout=3, markup=False)
                self.app.switch_context(ctx)
        self.app.push_screen(ProjectSwitchScreen(self.cloud, self.app.settings, self.ctx),
                             switched)

    def action_identity_admin(self) -> None:
        from screens.identity_admin import IdentityAdminScreen
        self.app.push_screen(IdentityAdminScreen(self.cloud, self.ctx))

    def action_audit(self) -> None:
        from screens.audit import AuditScreen
        self.app.push_screen(AuditScreen(self.cloud, self.ctx))

    # -- migration, clone, evacuation (screens/migrate.py, evacuate.py, vm_detail.py) ---------
    def _cursor_server(self) -> dict[str, Any] | None:
        uuid = self.table.cursor_uuid
        if uuid not in self.table.servers:
            self.notify("No server selected.", severity="warning")
            return None
        return self.table.servers[uuid]

    def action_migrate(self) -> None:
        from screens.migrate import MigrateScreen
        r = self._cursor_server()
        if r is not None:
            self.app.push_screen(MigrateScreen(self.cloud, self.ctx, r["uuid"], r["host"],
                                               r["name"]))

    def action_clone(self) -> None:
        from screens.vm_detail import open_clone
        r = self._cursor_server()
        if r is not None:
            open_clone(self, self.cloud, self.ctx, r["uuid"], r["host"], r["name"])

    def evacuate_host(self, host: str) -> None:
        from screens.evacuate import EvacuateScreen
        self.app.push_screen(EvacuateScreen(self.cloud, self.ctx, host),
                             lambda _result: self._hosts_changed())

    # -- storage and networks (issue 5) ---------------------------------------------------------
    def action_storage(self) -> None:
        from screens.storage import StorageScreen
        self.app.push_screen(StorageScreen(self.cloud, self.ctx))

    def action_networks(self) -> None:
        from screens.networks import NetworksScreen
        self.app.push_screen(NetworksScreen(self.cloud, self.ctx))

    def action_host_interfaces(self) -> None:
        from screens.host_interfaces import HostInterfacesScreen
        self.app.push_screen(HostInterfacesScreen(self.cloud, self.ctx))

    # -- actions ------------------------------------------------------------------------------
    def _targets(self) -> list[dict[str, Any]]:
        targets = self.table.targets()
        if not targets:
            self.notify("No server selected.", severity="warning")
        return targets

    def action_server(self, action: str) -> None:
        targets = self._targets()
        if targets:
            self._run_action(action, targets)

    def action_force_off(self) -> None:
        targets = self._targets()
        if not targets:
            return
        names = ", ".join(t["name"] for t in targets[:8]) + (
            f" and {len(targets) - 8} more" if len(targets) > 8 else "")
        message = (f"{names}\n\nPower off immediately, like pulling the plug? "
                   "Unsaved data in the guest is lost.")

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._run_action("destroy", targets)
        from screens.confirm import ConfirmScreen
        self.app.push_screen(ConfirmScreen(f"Force off {len(targets)} server"
                                           f"{'s' if len(targets) != 1 else ''}?", message,
                                           confirm_label="Force off"), done)

    def action_delete(self) -> None:
        targets = self._targets()
        if not targets:
            return

        def done(answer: dict | None) -> None:
            if answer:
                self._run_action("delete", targets,
                                 delete_volumes=bool(answer.get("delete_volumes")))
        from screens.delete_server import DeleteServerScreen
        self.app.push_screen(DeleteServerScreen([t["name"] for t in targets]), done)

    def _run_action(self, action: str, targets: list[dict[str, Any]], **options: Any) -> None:
        # Not exclusive: a second bulk action must not cancel the first one's bookkeeping.
        self.run_worker(partial(self._do_action, action, targets, options),
                        name=f"{action} servers", group=f"action-{action}", thread=True,
                        exit_on_error=False)

    def _do_action(self, action: str, targets: list[dict[str, Any]],
                   options: dict[str, Any]) -> None:
        done: list[dict[str, Any]] = []
        failures: list[tuple[dict[str, Any], VirtstackError]] = []
        servers = self.cloud.servers
        for t in targets:
            try:
                if action == "delete":
                    done.append(servers.delete(self.ctx, t["uuid"], host=t["host"],
                                               delete_volumes=options.get("delete_volumes",
                                                                          False)))
                else:
                    done.append(servers.action(self.ctx, t["uuid"], action, host=t["host"]))
            except VirtstackError as exc:
                failures.append((t, exc))
        self.post_message(ActionDone(action, done, len(failures)))
        if len(failures) == 1 and len(targets) == 1:
            raise failures[0][1]
        if failures:
            detail = "; ".join(f"{t['name']}: {e.message}" for t, e in failures[:3])
            more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
            raise OperationFailed(f"{ACTIONS[action][0].lower()} failed on {len(failures)} "
                                  f"of {len(targets)} servers: {detail}{more}")

    def on_action_done(self, message: ActionDone) -> None:
        table = self.table
        for r in message.rows:
            if message.action == "delete":
                table.remove_server(r["uuid"])
            else:
                fields = {"state": r.get("state")}
                if r.get("state") != "running":
                    fields["cpu_percent"] = None
                table.update_server(r["uuid"], **fields)
        if message.rows:
            verb = ACTIONS[message.action][1]
            what = (message.rows[0]["name"] if len(message.rows) == 1
                    else f"{len(message.rows)} servers")
            extra = ""
            if message.action == "delete":
                vols = sum(len(r.get("deleted_volumes") or []) for r in message.rows)
                extra = f" and {vols} volume{'s' if vols != 1 else ''}" if vols else ""
            self.notify(f"{verb} {what}{extra}.", timeout=4, markup=False)
        self._hosts_changed()
        self._update_status()
