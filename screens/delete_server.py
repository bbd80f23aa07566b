"""Delete servers? And their disk volumes too? ``ModalScreen[dict | None]``."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static


class DeleteServerScreen(ModalScreen[dict | None]):
    """Dismisses with ``{"delete_volumes": bool}`` to delete, or None to keep everything."""

    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("v", "toggle_volumes", "Volumes too", show=False),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__(classes="dialog")
        self.names = names

    def compose(self) -> ComposeResult:
        n = len(self.names)
        shown = ", ".join(self.names[:8]) + (f" and {n - 8} more" if n > 8 else "")
        with Vertical(id="dialog"):
            yield Label(f"Delete {n} server{'s' if n != 1 else ''}?", id="dialog-title")
            yield Static(f"{shown}\n\nRunning servers are powered off first. "
                         "This cannot be undone.", id="dialog-message", markup=False)
            yield Checkbox("Also delete their disk volumes (v)", False, id="volumes",
                           compact=True)
            with Horizontal(id="dialog-buttons"):
                yield Button("Delete", id="confirm", variant="error", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.dismiss({"delete_volumes": self.query_one("#volumes", Checkbox).value})
        else:
            self.dismiss(None)

    def action_toggle_volumes(self) -> None:
        box = self.query_one("#volumes", Checkbox)
        box.value = not box.value

    def action_cancel(self) -> None:
        self.dismiss(None)
