"""Create servers: name, flavor, image, network, availability zone, server group, count.

As the choices change, the scheduler's preview (``cloud.compute.preview``: the same select
the create path runs, writing nothing) shows which hosts pass, which filter removed each
other host and why, and each host's vCPU/RAM/disk after placement. Create runs
``cloud.compute.create`` and reports BUILD -> ACTIVE, or ERROR with the reason. Every
backend call runs in a thread worker; a request the backend refuses (unknown flavor, bad
name, quota) shows the backend's own message and creates nothing.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Input, Label, Select, Static

from backend.errors import VirtstackError
from tui.workers import ReportsWorkerFailures, describe_error

log = logging.getLogger(__name__)
PREVIEW_DEBOUNCE = 0.25  # seconds of quiet after a change before asking the scheduler
STAND_IN_NAME = "new-server"  # the preview's name while the name box is still empty
NARROW = 110


# -- messages from the workers ---------------------------------------------------------------
class ChoicesLoaded(Message):
    def __init__(self, choices: dict[str, list]) -> None:
        super().__init__()
        self.choices = choices


class PreviewReady(Message):
    def __init__(self, seq: int, result: dict | None, error: str | None) -> None:
        super().__init__()
        self.seq, self.result, self.error = seq, result, error


class CreateProgress(Message):
    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class CreateDone(Message):
    def __init__(self, servers: list[dict] | None, error: str | None) -> None:
        super().__init__()
        self.servers, self.error = servers, error


# -- what the preview shows ------------------------------------------------------------------
def _gib(mb: float) -> str:
    return f"{mb / 1024:.1f}"


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def preview_content(p: dict[str, Any]) -> Content:
    """The scheduler's answer as lines: verdict, the filter chain with the hosts left after
    each filter, then per host its figures after placement and, if rejected, why."""
    chosen = p.get("chosen") or []
    lines: list[Any] = []
    if p.get("ok"):
        counts = {h: chosen.count(h) for h in dict.fromkeys(chosen)}
        where = ", ".join(h if n == 1 else f"{h} ×{n}" for h, n in counts.items())
        lines.append(Content.assemble(("▶ ", "bold $success"), "Would place on ",
                                      (where, "bold $success"),
                                      ("  (figures after placement)", "$text-muted")))
    else:
        lines.append(Content.assemble(("✗ ", "$error"),
                                      (p.get("reason") or "no valid host", "$text-error")))
    # The filter chain, shortened to the filters that removed someone.
    filters = p.get("filters") or []
    start = len(p.get("hosts") or [])
    chain: list[Any] = [(f"{len(filters)} filters  ", "$text-muted"),
                        f"{start} host{'s' if start != 1 else ''}"]
    left = start
    for f in filters:
        if len(f["hosts"]) != left:
            left = len(f["hosts"])
            chain += [(" → ", "$text-muted"), (f["filter"], "bold"), f" {left}"]
    if left == start:
        chain.append((" (none removed)", "$text-muted"))
    lines.append(Content.assemble(*chain))
    weights = p.get("weights") or {}
    hosts = p.get("hosts") or []
    width = max([len(h["host"]) for h in hosts] + [4])
    for h in hosts:
        name = h["host"]
        n = chosen.count(name)
        if n:
            mark, style = "▶", "bold $success"
        elif h.get("passes"):
            mark, style = "✓", "$success"
        else:
            mark, style = "✗", "$error"
        row: list[Any] = [(f"{mark} ", style), (f"{name:<{width}}", "bold"),
                          ("  vCPU ", "$text-muted"),
                          f"{_num(h['vcpus_used'])}/{_num(h['vcpus_limit'])}",
                          ("  RAM ", "$text-muted"),
                          f"{_gib(h['memory_mb_used'])}/{_gib(h['memory_mb_limit'])} GiB",
                          ("  disk ", "$text-muted"),
                          f"{_num(h['disk_gb_used'])}/{_num(h['disk_gb_limit'])} GB"]
        if name in weights:
            row += [("  w ", "$text-muted"), f"{weights[name]:.2f}"]
        if n > 1:
            row.append((f"  ×{n}", "bold $success"))
        lines.append(Content.assemble(*row))
        if h.get("rejected_by"):
            lines.append(Content.assemble(("    " + h["rejected_by"], "$text-warning")))
    return Content("\n").join(lines)


def flavor_label(f: dict[str, Any]) -> str:
    """Short enough for a list at 80 columns: ``m1.small  1 vCPU 2G 20G``."""
    ram = f["ram_mb"]
    ram_s = f"{ram // 1024}G" if ram % 1024 == 0 else f"{ram}M"
    return f"{f['name']}  {f['vcpus']} vCPU {ram_s} {f['disk_gb']}G"


def _label(text: str) -> Label:
    return Label(text, classes="field-label")


class CreateWizardScreen(ReportsWorkerFailures, Screen):
    """Pushed from the dashboard (``c``); escape goes back, ctrl+s (or the button) creates."""

    CSS_PATH = Path(__file__).resolve().parents[1] / "themes" / "compute.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "create", "Create"),
        Binding("ctrl+r", "refresh_preview", "Preview"),
    ]

    def __init__(self, cloud, ctx) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self._seq = 0
        self._timer: Timer | None = None
        self._loaded = False
        self.preview: dict[str, Any] | None = None
        self.preview_error: str | None = None
        self.creating = False
        self.result: list[dict] | None = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Label(Content.assemble(("Create server", "bold"),
                                     (f"  project {self.ctx.project_name or '–'}",
                                      "$text-muted")), id="wizard-title")
        with Grid(id="wizard-form"):
            yield _label("Name")
            yield Input(placeholder="server name", id="name", compact=True)
            yield _label("Flavor")
            yield Select([], prompt="flavor", id="flavor", compact=True)
            yield _label("Image")
            yield Select([], prompt="image", id="image", compact=True)
            yield _label("Network")
            yield Select([], prompt="no network", id="network", compact=True)
            yield _label("Zone")
            yield Select([], prompt="any zone", id="az", compact=True)
            yield _label("Group")
            yield Select([], prompt="no server group", id="group", compact=True)
            yield _label("Count")
            yield Input("1", type="integer", id="count", compact=True)
            with Horizontal(id="wizard-buttons"):
                yield Button("Create", id="create", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Static("Loading flavors and images…", id="wizard-status", markup=False)
        with VerticalScroll(id="preview-box"):
            yield Static("", id="preview")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self._load_choices()

    # -- choices ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="wizard-choices", exit_on_error=False)
    def _load_choices(self) -> None:
        c, ctx = self.cloud, self.ctx
        choices: dict[str, list] = {
            "flavor": [(flavor_label(f), f["name"]) for f in c.flavors.list(ctx)],
            "image": [(f"{i['name']}  {i['disk_format']}", i["name"])
                      for i in c.images.list(ctx) if i["status"] == "active"],
            "group": [(f"{g['name']}  {g['policy']}", g["name"])
                      for g in c.server_groups.list(ctx)],
        }
        # Lists a member may be refused or a host may fail to answer: the wizard works
        # without them (no network, any zone).
        try:
            choices["network"] = [(n, n) for n in sorted({r["name"] for r in
                                                          c.networks.list(ctx)})]
        except VirtstackError:
            choices["network"] = []
        try:
            choices["az"] = [(z, z) for z in sorted({h["availability_zone"] for h in
                                                     c.hosts.list(ctx)
                                                     if h.get("availability_zone")})]
        except VirtstackError:
            choices["az"] = []
        self.post_message(ChoicesLoaded(choices))

    def on_choices_loaded(self, message: ChoicesLoaded) -> None:
        for key, options in message.choices.items():
            sel = self.query_one(f"#{key}", Select)
            sel.set_options(options)
            if key in ("flavor", "image") and options:
                sel.value = options[0][1]
        self._loaded = True
        ch = message.choices
        missing = [k for k in ("flavor", "image") if not ch.get(k)]
        if missing:
            self._status(f"No {' and no '.join(m + 's' for m in missing)} to choose from: "
                         "an admin adds flavors (virtstack flavor create), anyone in the "
                         "project can add images (virtstack image create).", "warning")
        else:
            self._status("Choose, then Create (ctrl+s). The preview follows your choices.")
        self._changed()

    # -- the request ------------------------------------------------------------------------
    def _value(self, key: str) -> str | None:
        v = self.query_one(f"#{key}", Select).selection  # None while blank
        return None if v is None else str(v)

    def request(self, for_preview: bool = False) -> dict[str, Any]:
        name = self.query_one("#name", Input).value.strip()
        raw = self.query_one("#count", Input).value.strip()
        try:
            count: Any = int(raw)
        except ValueError:
            count = raw  # the backend says what is wrong with it
        return {"name": name or (STAND_IN_NAME if for_preview else ""),
                "flavor": self._value("flavor") or "", "image": self._value("image") or "",
                "network": self._value("network"), "availability_zone": self._value("az"),
                "group": self._value("group"), "min_count": count, "max_count": count}

    # -- the live preview -------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, _event: Message | None = None) -> None:
        if not self._loaded:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PREVIEW_DEBOUNCE, self.action_refresh_preview)

    def action_refresh_preview(self) -> None:
        self._timer = None
        self._seq += 1
        self._run_preview(self._seq, self.request(for_preview=True))

    @work(thread=True, exclusive=True, group="wizard-preview", exit_on_error=False)
    def _run_preview(self, seq: int, req: dict[str, Any]) -> None:
        try:
            result = self.cloud.compute.preview(self.ctx, req)
        except VirtstackError as exc:  # bad input: the backend's own words, in the preview
            self.post_message(PreviewReady(seq, None, exc.message))
            return
        self.post_message(PreviewReady(seq, result, None))

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.seq != self._seq:
            return  # an older answer that arrived late
        self.preview, self.preview_error = message.result, message.error
        box = self.query_one("#preview", Static)
        if message.error:
            box.update(Content.assemble(("✗ ", "$error"), (message.error, "$text-error")))
        else:
            box.update(preview_content(message.result))

    # -- create -------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "create":
            self.action_create()
        else:
            self.app.pop_screen()

    def action_create(self) -> None:
        if self.creating:
            self.notify("Already creating; wait for it to finish.", severity="warning")
            return
        req = self.request()
        self.creating = True
        self.query_one("#create", Button).disabled = True
        self._status(f"Creating {req['name'] or '…'}…")
        self._run_create(req)

    @work(thread=True, exclusive=True, group="wizard-create", exit_on_error=False)
    def _run_create(self, req: dict[str, Any]) -> None:
        try:
            servers = self.cloud.compute.create(
                self.ctx, req, progress=lambda e: self.post_message(CreateProgress(e)))
        except VirtstackError as exc:
            self.post_message(CreateDone(None, exc.message))
            return
        except Exception as exc:  # noqa: BLE001 -- a bug: shown once, traceback logged
            log.exception("server create failed")
            self.post_message(CreateDone(None, describe_error(exc)))
            return
        self.post_message(CreateDone(servers, None))

    def on_create_progress(self, message: CreateProgress) -> None:
        e = message.event
        self._status(f"{e['server']}: {e['status']} on {e.get('host') or '?'}")

    def on_create_done(self, message: CreateDone) -> None:
        self.creating = False
        self.query_one("#create", Button).disabled = False
        if message.error:
            self._status(f"Not created: {message.error}", "error")
            self.notify(message.error, title="Create failed", severity="error", timeout=8,
                        markup=False)
            return
        servers = message.servers or []
        self.result = servers
        bad = [s for s in servers if s["status"] != "ACTIVE"]
        good = [s for s in servers if s["status"] == "ACTIVE"]
        if good:
            where = ", ".join(f"{s['name']} on {s['host']}" for s in good[:4])
            more = f" and {len(good) - 4} more" if len(good) > 4 else ""
            self.notify(f"ACTIVE: {where}{more}", title="Server created", timeout=6,
                        markup=False)
        for s in bad:
            self.notify(f"{s['name']}: {s.get('fault') or 'no reason given'}",
                        title="Server in ERROR", severity="error", timeout=10, markup=False)
        if bad:
            self._status("ERROR: " + "; ".join(f"{s['name']}: {s.get('fault')}"
                                                for s in bad), "error")
            self.action_refresh_preview()
        else:
            self.app.pop_screen()

    def _status(self, text: str, severity: str = "") -> None:
        status = self.query_one("#wizard-status", Static)
        status.update(text)
        status.set_class(severity == "error", "-error")
        status.set_class(severity == "warning", "-warning")
