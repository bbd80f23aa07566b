"""libvirt virtual networks on one host or across every host (``cloud.networks``).

One table (host, name, mode, bridge, subnet, active, autostart); under it the highlighted
network's gateway, DHCP range and the hosts that define it. ``n`` defines a network (nat,
routed, isolated or bridge) on one or several hosts at once (all or nothing), ``s``/``x``
start/stop, ``a`` autostart, ``d`` delete (asks), ``f`` shows drift -- how the hosts'
definitions of that name differ --, ``l`` its DHCP leases, ``e`` the host, ``R`` reload.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Label, Static

from backend.errors import VirtstackError
from screens.action_form import ActionFormScreen, Field
from screens.confirm import ConfirmScreen
from themes import HERE as THEMES_DIR
from screens.host_scoped import HostScopedScreen

COLUMNS = (("host", "Host"), ("name", "Network"), ("mode", "Mode"), ("bridge", "Bridge"),
           ("subnet", "Subnet"), ("active", "Active"), ("autostart", "Auto"))
MODES = (("nat", "nat (NAT to the host's uplink, DHCP)"),
         ("routed", "routed (no NAT)"),
         ("isolated", "isolated (VMs and host only)"),
         ("bridge", "bridge (onto an existing host bridge)"))


def cell(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "-"
    return "-" if value in (None, "") else str(value)


def net_key(row: dict[str, Any]) -> str:
    return f"{row['host']}/{row['name']}"


class NetworksLoaded(Message):
    def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class NetworksChanged(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class DriftLoaded(Message):
    def __init__(self, drift: dict[str, Any]) -> None:
        super().__init__()
        self.drift = drift


class LeasesLoaded(Message):
    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info


class TableDialog(ModalScreen[None]):
    """A read-only table in a dialog (drift, leases): a title, a line, the rows, Close."""

    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, message: str, columns: list[str],
                 rows: list[list[str]], *, ok: bool = False) -> None:
        super().__init__(classes="dialog table-dialog")
        self.title_text = title
        self.message = message
        self.columns = columns
        self.rows = rows
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(self.message, id="dialog-message", markup=False,
                         classes="-ok" if self.ok else "")
            if self.rows:
                yield DataTable(id="dialog-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="dialog-buttons"):
                yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        if self.rows:
            table = self.query_one(DataTable)
            table.add_columns(*self.columns)
            for r in self.rows:
                table.add_row(*r)
            table.focus()
        else:
            self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def drift_dialog(drift: dict[str, Any]) -> TableDialog:
    hosts = drift["hosts"]
    name = drift["network"]
    if drift["in_sync"]:
        return TableDialog(f"Drift of {name}", f"In sync: the same definition on "
                           f"{', '.join(hosts)}.", [], [], ok=True)
    rows = [[d["field"], *(cell(d["values"].get(h)) for h in hosts)]
            for d in drift["differences"]]
    fields = ", ".join(d["field"] for d in drift["differences"])
    return TableDialog(f"Drift of {name}",
                       f"The hosts' definitions differ in: {fields}.",
                       ["Field", *hosts], rows)


def leases_dialog(info: dict[str, Any]) -> TableDialog:
    title = f"DHCP leases of {info['name']} on {info['host']}"
    leases = info.get("leases")
    if leases is None:
        return TableDialog(title, info.get("leases_note") or "No lease information.", [], [])
    if not leases:
        return TableDialog(title, "No leases.", [], [])
    keys = ["ipaddr", "mac", "hostname", "expirytime"]
    keys = [k for k in keys if any(k in r for r in leases)] or sorted(leases[0])
    return TableDialog(title, f"{len(leases)} lease{'s' if len(leases) != 1 else ''}.",
                       keys, [[cell(r.get(k)) for k in keys] for r in leases])


class NetworksScreen(HostScopedScreen):
    NAME = "networks"
    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "new", "New"),
        Binding("s", "act('start')", "Start"),
        Binding("x", "act('stop')", "Stop"),
        Binding("a", "autostart", "Autostart"),
        Binding("d", "delete", "Delete"),
        Binding("f", "drift", "Drift"),
        Binding("l", "leases", "Leases"),
        Binding("e", "choose_host", "Host"),
        Binding("R", "reload", "Reload"),
    ]

    def __init__(self, cloud, ctx, *, host: str | None = None) -> None:
        super().__init__(cloud, ctx, host=host)
        self.networks: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="networks-head", classes="screen-head"):
            yield Label("Networks", classes="screen-name")
            yield self.host_select()
            yield Static("", id="networks-summary", markup=False)
        with Vertical(id="networks-body"):
            yield DataTable(id="networks", cursor_type="row", zebra_stripes=True)
            yield Static("", id="network-detail", markup=False)
        yield Static("", id="networks-status", markup=False)
        yield Footer(compact=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#networks", DataTable)

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        self.table.focus()
        self.follow_hosts()
        self.load()

    def reload(self) -> None:
        self.load()

    # -- loading ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="networks", exit_on_error=False)
    def load(self) -> None:
        try:
            self.post_message(NetworksLoaded(self.cloud.networks.list(self.ctx,
                                                                      host=self.host)))
        except VirtstackError as exc:
            self.post_message(NetworksLoaded(None, exc.message))

    def on_networks_loaded(self, message: NetworksLoaded) -> None:
        table = self.table
        if message.error is not None:
            table.clear()
            self.networks = {}
            self.status(message.error, error=True)
            return
        keep = self.current()
        self.networks = {net_key(r): r for r in message.rows or []}
        table.clear()
        for k, r in self.networks.items():
            table.add_row(*(cell(r.get(c)) for c, _ in COLUMNS), key=k)
        if keep and net_key(keep) in self.networks:
            table.move_cursor(row=table.get_row_index(net_key(keep)))
        names = {r["name"] for r in self.networks.values()}
        active = sum(1 for r in self.networks.values() if r.get("active"))
        self.query_one("#networks-summary", Static).update(
            f"{len(self.networks)} network{'s' if len(self.networks) != 1 else ''} "
            f"({len(names)} name{'s' if len(names) != 1 else ''}) · {active} active")
        self.status("")
        self._show_detail()

    def current(self) -> dict[str, Any] | None:
        table = self.table
        if not self.networks or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001
            return None
        return self.networks.get(key)

    @on(DataTable.RowHighlighted, "#networks")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        r = self.current()
        detail = self.query_one("#network-detail", Static)
        if r is None:
            detail.update("No networks." if not self.networks else "")
            return
        on_hosts = sorted(x["host"] for x in self.networks.values() if x["name"] == r["name"])
        lines = [f"{r['name']} on {r['host']}: {r.get('mode')}, bridge {cell(r.get('bridge'))}"
                 f", gateway {cell(r.get('gateway'))}, DHCP {cell(r.get('dhcp_ranges'))}",
                 f"defined on {', '.join(on_hosts)} — f: drift between hosts, l: leases"]
        detail.update("\n".join(lines))


    # -- changes --------------------------------------------------------------------------------
    def _need(self) -> dict[str, Any] | None:
        r = self.current()
        if r is None:
            self.notify("No network selected.", severity="warning")
        return r

    def _change(self, name: str, fn, done_text: str) -> None:
        def run() -> None:
            fn()
            self.post_message(NetworksChanged(done_text))
        self.run_worker(run, name=name, group="change", thread=True, exit_on_error=False)

    def on_networks_changed(self, message: NetworksChanged) -> None:
        self.notify(message.text, timeout=4, markup=False)
        self.load()

    def on_worker_state_changed(self, event) -> None:
        super().on_worker_state_changed(event)
        if event.worker.group == "change" and event.state.name == "ERROR":
            self.load()

    def action_new(self) -> None:
        hosts = list(self.cloud.registry.hosts)
        checked = (self.host,) if self.host else tuple(hosts)

        def create(v: dict[str, Any]) -> Any:
            if not v["hosts"]:
                from backend.errors import InvalidInput
                raise InvalidInput("Check at least one host (space toggles).")
            return self.cloud.networks.create(
                self.ctx, v["name"], v["mode"], hosts=v["hosts"],
                subnet=v["subnet"] or None, bridge=v["bridge"] or None)
        fields = [Field("name", "Name", "lab", required=True),
                  Field("mode", "Mode", choices=MODES),
                  Field("subnet", "Subnet (IPv4 CIDR)", "192.168.150.0/24",
                        help="nat and routed need one; optional for isolated"),
                  Field("bridge", "Bridge", "br0",
                        help="bridge mode: an existing host bridge; else optional"),
                  Field("hosts", "On hosts (space toggles)", many=tuple(hosts),
                        selected=checked)]

        def done(rows: Any) -> None:
            if rows:
                self.notify(f"Created network {rows[0]['name']} on "
                            f"{', '.join(r['host'] for r in rows)}.", timeout=4,
                            markup=False)
            self.load()
        self.app.push_screen(ActionFormScreen(
            "New virtual network", fields, create,
            note="Defined, started and autostarted on every checked host; if one host "
                 "refuses, the others are undone."), done)

    def action_act(self, verb: str) -> None:
        r = self._need()
        if r is None:
            return
        past = {"start": "Started", "stop": "Stopped"}[verb]
        self._change(f"{verb} network {r['name']}",
                     partial(getattr(self.cloud.networks, verb), self.ctx, r["name"],
                             host=r["host"]),
                     f"{past} network {r['name']} on {r['host']}.")

    def action_autostart(self) -> None:
        r = self._need()
        if r is None:
            return
        on = not r.get("autostart")
        self._change(f"autostart network {r['name']}",
                     partial(self.cloud.networks.autostart, self.ctx, r["name"], on=on,
                             host=r["host"]),
                     f"Network {r['name']} {'now starts' if on else 'no longer starts'} "
                     f"with {r['host']}.")

    def action_delete(self) -> None:
        r = self._need()
        if r is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._change(f"delete network {r['name']}",
                             partial(self.cloud.networks.delete, self.ctx, r["name"],
                                     host=r["host"]),
                             f"Deleted network {r['name']} on {r['host']}.")
        self.app.push_screen(ConfirmScreen(
            f"Delete network {r['name']} on {r['host']}?",
            f"Stops and undefines the {r.get('mode')} network {r['name']} "
            f"(bridge {cell(r.get('bridge'))}). VMs attached to it lose their link.\n"
            "Other hosts' networks of the same name stay.",
            confirm_label="Delete"), answered)

    # -- drift and leases ---------------------------------------------------------------------
    def action_drift(self) -> None:
        r = self._need()
        if r is not None:
            self._load_drift(r["name"])

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def _load_drift(self, name: str) -> None:
        self.post_message(DriftLoaded(self.cloud.networks.drift(self.ctx, name)))

    def on_drift_loaded(self, message: DriftLoaded) -> None:
        self.app.push_screen(drift_dialog(message.drift))

    def action_leases(self) -> None:
        r = self._need()
        if r is not None:
            self._load_leases(r["name"], r["host"])

    @work(thread=True, exclusive=True, group="leases", exit_on_error=False)
    def _load_leases(self, name: str, host: str) -> None:
        self.post_message(LeasesLoaded(self.cloud.networks.get(self.ctx, name, host=host)))

    def on_leases_loaded(self, message: LeasesLoaded) -> None:
        self.app.push_screen(leases_dialog(message.info))
