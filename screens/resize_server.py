"""Resize a server to another flavor: ``ModalScreen[dict | None]``.

Lists the flavors the server's project may use, with the server's own marked and those with
a smaller root disk greyed out (a root disk never shrinks). Enter resizes through
``cloud.compute.resize`` in a thread worker; a refusal -- quota, the host's limits, a host
that cannot grow volumes, a server virtstack does not manage -- is shown in place and
nothing changed. Dismisses with the backend's result (what applied live, what at the next
boot), or None."""
from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from backend.errors import VirtstackError
from tui.widgets.vm_table import format_memory
from tui.workers import ReportsWorkerFailures


class FlavorsLoaded(Message):
    def __init__(self, flavors: list[dict[str, Any]], record: dict[str, Any] | None,
                 error: str | None = None) -> None:
        super().__init__()
        self.flavors, self.record, self.error = flavors, record, error


class ResizeDone(Message):
    def __init__(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.result, self.error = result, error


def flavor_line(f: dict[str, Any]) -> str:
    return (f"{f['name']:<16} {f['vcpus']:>3} vCPU  {format_memory(f['ram_mb']):>9}  "
            f"{f['root_gb']:>4} GB root")


def resize_summary(r: dict[str, Any]) -> str:
    """'web1: m1.small → m1.medium (2 vCPU, 4.0 GiB, 40 GB root); next boot (why)'."""
    line = (f"{r['name']}: {r['old_flavor']} → {r['flavor']} ({r['vcpus']} vCPU, "
            f"{format_memory(r['memory_mb'])}, {r['root_gb']} GB root); {r['applied']}")
    return line + (f" ({r['note']})" if r.get("note") else "")


class ResizeServerScreen(ReportsWorkerFailures, ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str) -> None:
        super().__init__(classes="dialog info resize")
        self.cloud, self.ctx = cloud, ctx
        self.uuid, self.host, self.server_name = uuid, host, name
        self.record: dict[str, Any] | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Resize {self.server_name}", id="dialog-title")
            yield Static("Loading flavors…", id="dialog-message", markup=False)
            yield OptionList(id="flavors", compact=True)
            yield Static("", id="resize-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Resize", id="confirm", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#flavors", OptionList).focus()
        self._load()

    @work(thread=True, exclusive=True, group="resize-load", exit_on_error=False,
          name="load flavors")
    def _load(self) -> None:
        try:
            flavors = self.cloud.flavors.list(self.ctx)
            record = next((r for r in self.cloud.compute.records(self.ctx)
                           if r["uuid"] == self.uuid), None)
        except VirtstackError as exc:
            self.post_message(FlavorsLoaded([], None, exc.message))
            return
        self.post_message(FlavorsLoaded(flavors, record))

    def on_flavors_loaded(self, message: FlavorsLoaded) -> None:
        note = self.query_one("#dialog-message", Static)
        if message.error:
            note.update(message.error)
            return
        rec = self.record = message.record
        if rec is None or not rec.get("flavor"):
            note.update(f"{self.server_name} was not created by virtstack from a flavor: "
                        "adopt it first, or change its vCPUs and memory with e (Edit).")
            return
        current = next((f for f in message.flavors if f["name"] == rec["flavor"]), None)
        root = current["root_gb"] if current else 0
        note.update(f"Now {rec['flavor']} on {rec['host']}. The difference is claimed on the "
                    "same host and in the project's quota; vCPUs and memory change live where "
                    "the guest allows it, otherwise at its next boot.")
        options = []
        for f in sorted(message.flavors, key=lambda f: (f["vcpus"], f["ram_mb"], f["name"])):
            line = flavor_line(f)
            disabled = f["name"] == rec["flavor"] or f["root_gb"] < root
            if f["name"] == rec["flavor"]:
                line += "  · current"
            elif f["root_gb"] < root:
                line += "  · smaller root"
            options.append(Option(line, id=f["name"], disabled=disabled))
        ol = self.query_one("#flavors", OptionList)
        ol.clear_options()
        ol.add_options(options)
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        if first is not None:
            ol.highlighted = first

    # -- resizing --------------------------------------------------------------------------
    def _chosen(self) -> str | None:
        ol = self.query_one("#flavors", OptionList)
        if ol.highlighted is None:
            return None
        opt = ol.get_option_at_index(ol.highlighted)
        return None if opt.disabled else opt.id

    def _start(self) -> None:
        flavor = self._chosen()
        if self.running:
            return
        if flavor is None:
            self.notify("Choose a flavor.", severity="warning", timeout=3)
            return
        self.running = True
        self.query_one("#resize-error", Static).update(f"Resizing to {flavor}…")
        self._resize(flavor)

    @work(thread=True, exclusive=True, group="resize", exit_on_error=False,
          name="resize server")
    def _resize(self, flavor: str) -> None:
        try:
            result = self.cloud.compute.resize(self.ctx, self.uuid, flavor, host=self.host)
        except VirtstackError as exc:
            self.post_message(ResizeDone(None, exc.message))
            return
        self.post_message(ResizeDone(result))

    def on_resize_done(self, message: ResizeDone) -> None:
        self.running = False
        if message.error:
            self.query_one("#resize-error", Static).update(
                f"Not resized: {message.error}")
            return
        self.dismiss(message.result)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._start()
        elif not self.running:
            self.dismiss(None)

    def action_cancel(self) -> None:
        if not self.running:
            self.dismiss(None)
