"""Host interfaces: what a host has now, and Linux bridges and VLANs on it as plans
(``cloud.host_networks``).

The table at the top lists the chosen target's interfaces (name, kind, master, state,
addresses, MAC, MTU); it follows the Target/Namespace fields and is read again after an
apply (``ctrl+l`` reloads it).

A change is never applied blind: fill in the form, ``ctrl+r`` (or enter) shows the plan --
every step with its command and its undo -- computed by a dry run that changes nothing;
``ctrl+y`` applies exactly that plan after a confirmation. Changing any input after the plan
asks for a new plan first. A failing step rolls the applied ones back, and the screen says
which step failed and how many were undone.

Targets: a configured host (SSH when its URI is remote, pyroute2 when local) or, for labs
and tests, a network namespace of this machine. Test-driver hosts have no interfaces: the
backend says so.
"""
from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Select, Static

from backend.errors import InvalidInput
from screens.confirm import ConfirmScreen
from themes import HERE as THEMES_DIR
from tui.workers import ReportsWorkerFailures, describe_error

NETNS = "netns"
KINDS = (("bridge", "bridge + move NIC in"),      # short: the field is a third of 80 cols
         ("vlan", "VLAN NIC.ID + bridge"),
         ("unbridge", "remove bridge"))


class PlanShown(Message):
    def __init__(self, key: tuple, result: dict[str, Any] | None, error: str | None,
                 applied: bool) -> None:
        super().__init__()
        self.key = key
        self.result = result
        self.error = error
        self.applied = applied


class LinksLoaded(Message):
    def __init__(self, key: tuple, rows: list[dict[str, Any]] | None,
                 error: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.rows = rows
        self.error = error


LINK_COLUMNS = (("name", "Name"), ("kind", "Kind"), ("master", "Master"),
                ("state", "State"), ("addresses", "Addresses"), ("mac", "MAC"),
                ("mtu", "MTU"))


def link_state(row: dict[str, Any]) -> str:
    """``ip``'s UP flag and operstate in words: down, up, or up without a carrier."""
    if not row.get("up"):
        return "down"
    if row.get("state") in ("up", "unknown", None):
        return "up"
    return "up, no link" if row.get("state") in ("lowerlayerdown", "down") else \
        f"up ({row['state']})"


def link_cells(row: dict[str, Any]) -> list[str]:
    """The table's cells; IPv6 link-local (fe80::) addresses left out -- every up link has
    one, and they push MAC and MTU off a narrow screen (the CLI lists them all)."""
    v6 = [a for a in row.get("ipv6", []) if not a.lower().startswith("fe80:")]
    addrs = ", ".join([*row.get("ipv4", []), *v6])
    return [row["name"], row.get("kind") or "", row.get("master") or "", link_state(row),
            addrs, row.get("mac") or "", str(row.get("mtu") or "")]


class HostInterfacesScreen(ReportsWorkerFailures, Screen):
    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "plan", "Plan (dry run)"),
        Binding("ctrl+y", "apply", "Apply plan"),
        Binding("ctrl+l", "load_links", "Reload interfaces"),
    ]

    def __init__(self, cloud, ctx, *, host: str | None = None,
                 netns: str | None = None) -> None:
        super().__init__()
        self.cloud = cloud
        self.ctx = ctx
        self.initial_target = NETNS if netns else (f"host:{host}" if host else None)
        self.initial_netns = netns or ""
        self.planned: tuple | None = None      # the inputs the plan on screen is for
        self.plan: dict[str, Any] | None = None
        self.busy = False
        self.links: dict[str, dict[str, Any]] = {}   # name -> row, of ``links_of``
        self.links_of: tuple | None = None            # (target, netns) the table shows
        self._links_timer = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        hosts = list(self.cloud.registry.hosts)
        targets = [(f"host {h}", f"host:{h}") for h in hosts] + [
            ("network namespace", NETNS)]
        with Horizontal(id="iface-head", classes="screen-head"):
            yield Label("Host interfaces", classes="screen-name")
            yield Static("bridges and VLANs: plan (dry run) first, then apply", markup=False)
        yield Static("Interfaces", id="links-title", classes="table-title", markup=False)
        yield DataTable(id="links", cursor_type="row", zebra_stripes=True)
        with Vertical(id="iface-form"):
            with Horizontal(classes="iface-row"):
                with Vertical(classes="iface-field"):
                    yield Label("Target")
                    yield Select(targets, value=self.initial_target or targets[0][1],
                                 allow_blank=False, id="target", compact=True)
                with Vertical(classes="iface-field", id="netns-field"):
                    yield Label("Namespace")
                    yield Input(self.initial_netns, placeholder="vst-lab", id="netns",
                                compact=True)
                with Vertical(classes="iface-field"):
                    yield Label("Change")
                    yield Select([(label, k) for k, label in KINDS], value="bridge",
                                 allow_blank=False, id="kind", compact=True)
            with Horizontal(classes="iface-row"):
                with Vertical(classes="iface-field"):
                    yield Label("Bridge")
                    yield Input(placeholder="br0", id="bridge", compact=True)
                with Vertical(classes="iface-field", id="port-field"):
                    yield Label("NIC (port / parent)", id="port-label")
                    yield Input(placeholder="eth0", id="port", compact=True)
                with Vertical(classes="iface-field", id="vlan-field"):
                    yield Label("VLAN id")
                    yield Input(placeholder="10", id="vlan", compact=True)
                with Vertical(classes="iface-field", id="network-field"):
                    yield Label("libvirt network (opt.)")
                    yield Input(placeholder="vlan10", id="network", compact=True)
            with Horizontal(id="iface-buttons"):
                yield Button("Plan (dry run)", id="plan-button", compact=True,
                             variant="primary")
                yield Button("Apply", id="apply-button", compact=True, variant="error",
                             disabled=True)
        yield Static("No plan yet.", id="plan-title", classes="table-title", markup=False)
        yield DataTable(id="plan", cursor_type="row", zebra_stripes=True)
        yield Static("", id="iface-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#plan", DataTable).add_columns("#", "Step", "Command", "Undo")
        links = self.query_one("#links", DataTable)
        for key, label in LINK_COLUMNS:
            links.add_column(label, key=key)
        self._fields_for_kind()
        self.query_one("#bridge", Input).focus()
        self.action_load_links()

    # -- the interfaces table ----------------------------------------------------------------
    def links_key(self) -> tuple:
        v = self.inputs()
        return (v["target"], v["netns"] if v["target"] == NETNS else "")

    def action_load_links(self) -> None:
        target, netns = key = self.links_key()
        title = self.query_one("#links-title", Static)
        if target == NETNS and not netns:
            self.links_of, self.links = key, {}
            self.query_one("#links", DataTable).clear()
            title.set_class(False, "-error")
            title.update("Interfaces: type a namespace name")
            return
        where = f"netns {netns}" if target == NETNS else target.replace(":", " ", 1)
        title.update(f"Interfaces on {where}: reading…")
        self._load_links(key)

    def _links_soon(self) -> None:
        """Typing a namespace name: read its interfaces once the typing pauses."""
        if self.links_key() == self.links_of:
            return
        if self._links_timer is not None:
            self._links_timer.stop()
        self._links_timer = self.set_timer(0.4, self.action_load_links)

    @work(thread=True, exclusive=True, group="links", exit_on_error=False)
    def _load_links(self, key: tuple) -> None:
        target, netns = key
        try:
            rows = self.cloud.host_networks.interfaces(
                self.ctx, **({"netns": netns} if target == NETNS
                             else {"host": target.split(":", 1)[1]}))
        except Exception as exc:  # noqa: BLE001 - shown above the table
            self.post_message(LinksLoaded(key, None, describe_error(exc)))
        else:
            self.post_message(LinksLoaded(key, rows))

    def on_links_loaded(self, message: LinksLoaded) -> None:
        if message.key != self.links_key():
            return   # the target changed meanwhile
        self.links_of = message.key
        target, netns = message.key
        where = f"netns {netns}" if target == NETNS else target.replace(":", " ", 1)
        table = self.query_one("#links", DataTable)
        title = self.query_one("#links-title", Static)
        table.clear()
        table.display = message.error is None
        title.set_class(message.error is not None, "-error")
        if message.error is not None:
            self.links = {}
            title.update(f"Interfaces: {message.error}")
            return
        self.links = {r["name"]: r for r in message.rows or []}
        for name, r in self.links.items():
            table.add_row(*link_cells(r), key=name)
        bridges = sum(1 for r in self.links.values() if r.get("kind") == "bridge")
        title.update(f"Interfaces on {where}: {len(self.links)} "
                     f"({bridges} bridge{'s' if bridges != 1 else ''})")

    # -- the form -------------------------------------------------------------------------------
    def inputs(self) -> dict[str, Any]:
        v = {k: self.query_one(f"#{k}", Input).value.strip()
             for k in ("netns", "bridge", "port", "vlan", "network")}
        v["target"] = str(self.query_one("#target", Select).value)
        v["kind"] = str(self.query_one("#kind", Select).value)
        return v

    @staticmethod
    def key_of(v: dict[str, Any]) -> tuple:
        return tuple(sorted(v.items()))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        self._fields_for_kind()
        self._inputs_changed()
        if event.select.id == "target" and self.links_key() != self.links_of:
            self.action_load_links()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self._inputs_changed()
        if event.input.id == "netns":
            self._links_soon()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_plan()

    def _fields_for_kind(self) -> None:
        v = self.inputs()
        self.query_one("#netns-field").display = v["target"] == NETNS
        self.query_one("#vlan-field").display = v["kind"] == "vlan"
        self.query_one("#network-field").display = v["kind"] == "vlan"
        self.query_one("#port-label", Label).update(
            {"bridge": "NIC to move in", "vlan": "Parent NIC",
             "unbridge": "Port (opt.)"}[v["kind"]])

    def _inputs_changed(self) -> None:
        stale = self.planned is not None and self.planned != self.key_of(self.inputs())
        self.query_one("#apply-button", Button).disabled = (
            self.plan is None or stale or self.busy or bool(self.plan.get("applied")))
        if stale:
            self.query_one("#plan-title", Static).update(
                "Inputs changed since this plan: plan again (ctrl+r) before applying.")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "plan-button":
            self.action_plan()
        elif event.button.id == "apply-button":
            self.action_apply()

    # -- plan and apply -------------------------------------------------------------------------
    def _call(self, v: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        """The backend call for the form's values (runs in a worker)."""
        hn = self.cloud.host_networks
        where: dict[str, Any] = {"dry_run": dry_run}
        if v["target"] == NETNS:
            if not v["netns"]:
                raise InvalidInput("Namespace: required for a network-namespace target.")
            where["netns"] = v["netns"]
        else:
            where["host"] = v["target"].split(":", 1)[1]
        if not v["bridge"]:
            raise InvalidInput("Bridge: required.")
        if v["kind"] == "bridge":
            if not v["port"]:
                raise InvalidInput("NIC to move in: required.")
            return hn.bridge_create(self.ctx, v["bridge"], v["port"], **where)
        if v["kind"] == "unbridge":
            return hn.bridge_delete(self.ctx, v["bridge"], [v["port"]] if v["port"] else None,
                                    **where)
        if not v["port"]:
            raise InvalidInput("Parent NIC: required.")
        try:
            vlan_id = int(v["vlan"])
        except ValueError:
            raise InvalidInput(f"VLAN id: expected a number 1-4094, not {v['vlan']!r}.") \
                from None
        return hn.vlan_create(self.ctx, v["port"], vlan_id, v["bridge"],
                              network=v["network"] or None, **where)

    def action_plan(self) -> None:
        if self.busy:
            return
        v = self.inputs()
        self._set_busy(True, "planning (dry run: nothing changes)…")
        self._run(v, dry_run=True)

    def action_apply(self) -> None:
        if self.busy:
            return
        v = self.inputs()
        if self.plan is None or self.planned != self.key_of(v):
            self._status("Plan first (ctrl+r): apply runs only the plan shown.", error=True)
            return
        if self.plan.get("applied"):
            self._status("This plan was applied already; plan again for a new change.",
                         error=True)
            return
        steps = self.plan["steps"]
        lines = "\n".join(f"{s['n']}. {s['step']}" for s in steps[:10])
        more = f"\n… and {len(steps) - 10} more" if len(steps) > 10 else ""

        def answered(yes: bool | None) -> None:
            if yes:
                self._set_busy(True, "applying…")
                self._run(v, dry_run=False)
        self.app.push_screen(ConfirmScreen(
            f"Apply {len(steps)} step{'s' if len(steps) != 1 else ''} on "
            f"{self.plan['target']}?",
            f"{self.plan['plan']}\n\n{lines}{more}\n\nIf a step fails, the steps done are "
            "undone.", confirm_label="Apply"), answered)

    @work(thread=True, exclusive=True, group="hostnet", exit_on_error=False)
    def _run(self, v: dict[str, Any], dry_run: bool) -> None:
        key = self.key_of(v)
        try:
            result = self._call(v, dry_run)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            self.post_message(PlanShown(key, None, describe_error(exc), not dry_run))
        else:
            self.post_message(PlanShown(key, result, None, not dry_run))

    def on_plan_shown(self, message: PlanShown) -> None:
        self._set_busy(False)
        if message.error is not None:
            if not message.applied:
                self.plan = self.planned = None
                self._show_steps([], "No plan.")
            self._status(message.error, error=True)
            self._inputs_changed()
            if message.applied:
                self.action_load_links()   # rolled back: show what is
            return
        r = message.result or {}
        self.planned = message.key
        if message.applied:
            self.plan = dict(self.plan or {}, applied=True)
            title = f"Applied on {r.get('target')}: {r.get('plan')}"
            self._status(f"Applied {r.get('applied', len(r.get('steps', [])))} step(s) on "
                         f"{r.get('target')}.", ok=True)
            self.notify(f"Applied: {r.get('plan')}.", timeout=4, markup=False)
            self.action_load_links()
        else:
            self.plan = r
            title = f"Plan (dry run, nothing changed) on {r.get('target')}: {r.get('plan')}"
            self._status("Review the steps; ctrl+y applies them (asks first).")
        self._show_steps(r.get("steps", []), title)
        self._inputs_changed()

    def _show_steps(self, steps: list[dict[str, Any]], title: str) -> None:
        self.query_one("#plan-title", Static).update(title)
        table = self.query_one("#plan", DataTable)
        table.clear()
        for s in steps:
            table.add_row(str(s.get("n", "")), s.get("step", ""), s.get("command", ""),
                          s.get("undo") or "-")

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.query_one("#plan-button", Button).disabled = busy
        if busy:
            self.query_one("#apply-button", Button).disabled = True
            self._status(text)

    def _status(self, text: str, error: bool = False, ok: bool = False) -> None:
        status = self.query_one("#iface-status", Static)
        status.update(text)
        status.set_class(error, "-error")
        status.set_class(ok, "-ok")

    def action_back(self) -> None:
        self.app.pop_screen()
