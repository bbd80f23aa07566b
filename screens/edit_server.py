"""Edit a server's vCPUs, memory and autostart: ``ModalScreen[dict | None]``.

Dismisses with only what changed (``{"vcpus": 4, "memory_mb": 2048, "autostart": True}``);
the details screen applies it through ``cloud.server_ops`` and says, per setting, whether it
took effect live or at the next boot (the backend decides: a running guest takes a change
live only up to the maximum it was started with)."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


class EditServerScreen(ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(classes="dialog info")
        self.info = info

    def compose(self) -> ComposeResult:
        i = self.info
        running = i.get("state") in ("running", "paused", "blocked")
        when = ("It is running: a change applies live where the guest allows it, otherwise "
                "at its next boot — you are told which." if running else
                f"It is {i.get('state') or 'not running'}: changes apply when it next starts.")
        with Vertical(id="dialog"):
            yield Label(f"Edit {i.get('name')}", id="dialog-title")
            yield Static(when, id="dialog-message", markup=False)
            with Grid(id="edit-grid"):
                yield Label("vCPUs")
                yield Input(str(i.get("vcpus") or ""), type="integer", id="vcpus",
                            compact=True)
                yield Label("Memory (MiB)")
                yield Input(str(i.get("memory_mb") or ""), type="integer", id="memory",
                            compact=True)
            yield Checkbox("Start with the host (autostart)", bool(i.get("autostart")),
                           id="autostart", compact=True)
            with Horizontal(id="dialog-buttons"):
                yield Button("Apply", id="confirm", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#vcpus", Input).focus()

    def changes(self) -> dict[str, Any] | None:
        """What differs from the server now; None (and a warning) when a field is invalid."""
        out: dict[str, Any] = {}
        for field, key, minimum in (("#vcpus", "vcpus", 1), ("#memory", "memory_mb", 16)):
            text = self.query_one(field, Input).value.strip()
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value < minimum:
                label = "vCPUs" if key == "vcpus" else "Memory"
                self.notify(f"{label}: a whole number of at least {minimum}.",
                            severity="warning", timeout=4)
                return None
            if value != self.info.get(key):
                out[key] = value
        autostart = self.query_one("#autostart", Checkbox).value
        if autostart != bool(self.info.get("autostart")):
            out["autostart"] = autostart
        return out

    def _apply(self) -> None:
        changes = self.changes()
        if changes is None:
            return
        self.dismiss(changes)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._apply()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
