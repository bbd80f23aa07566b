"""Ask for one line of text (a clone's name, a snapshot's name): ``ModalScreen[str | None]``."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the text typed (stripped; may be empty when ``allow_empty``), or None
    when cancelled (escape, the Cancel button)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, message: str, *, placeholder: str = "",
                 value: str = "", ok_label: str = "OK", allow_empty: bool = False) -> None:
        super().__init__(classes="dialog info")
        self.title_text, self.message = title, message
        self.placeholder, self.value = placeholder, value
        self.ok_label, self.allow_empty = ok_label, allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.message, id="dialog-message", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            with Horizontal(id="dialog-buttons"):
                yield Button(self.ok_label, id="confirm", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        text = self.query_one(Input).value.strip()
        if not text and not self.allow_empty:
            self.notify("Type a name first.", severity="warning", timeout=3)
            return
        self.dismiss(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
