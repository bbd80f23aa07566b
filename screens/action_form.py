"""A form dialog whose submit is a backend call: the fields' values go to ``action`` in a
thread worker; the backend validates them and, when it refuses, its message is shown in the
dialog (which stays open, the values kept, nothing changed) instead of a toast. When the call
succeeds the dialog dismisses with what it returned.

Used by the storage and network screens (create pool / volume / network, resize, clone,
upload). A field is a text ``Input``, a ``Select`` of choices, or a list of checkboxes
(``SelectionList``: "on which hosts").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from themes import HERE as THEMES_DIR
from tui.workers import describe_error


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    placeholder: str = ""
    value: str = ""
    #: choices: a Select with these (value, label) pairs
    choices: tuple[tuple[str, str], ...] = ()
    #: many: a SelectionList; ``selected`` are checked at start
    many: tuple[str, ...] = ()
    selected: tuple[str, ...] = field(default=())
    required: bool = False
    help: str = ""


class ActionFormScreen(ModalScreen[Any]):
    """Dismisses with ``action(values)``'s result, or None when cancelled."""

    CSS_PATH = THEMES_DIR / "storage.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "submit", "Submit", show=False)]

    class Done(Message):
        def __init__(self, result: Any = None, error: str | None = None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, title: str, fields: list[Field],
                 action: Callable[[dict[str, Any]], Any], *, submit_label: str = "Create",
                 note: str = "", danger: bool = False) -> None:
        super().__init__(classes="dialog form-dialog")
        self.title_text = title
        self.fields = fields
        self.action = action
        self.submit_label = submit_label
        self.note = note
        self.danger = danger
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            with VerticalScroll(id="form-fields"):
                if self.note:
                    yield Static(self.note, id="form-note", markup=False)
                for f in self.fields:
                    yield Label(f.label, classes="form-label", markup=False)
                    if f.choices:
                        yield Select(list((lbl, val) for val, lbl in f.choices),
                                     value=f.value or f.choices[0][0], allow_blank=False,
                                     id=f"field-{f.key}", compact=True)
                    elif f.many:
                        yield SelectionList(*((h, h, h in f.selected) for h in f.many),
                                            id=f"field-{f.key}", compact=True)
                    else:
                        yield Input(value=f.value, placeholder=f.placeholder,
                                    id=f"field-{f.key}", compact=True)
                    if f.help:
                        yield Static(f.help, classes="form-help", markup=False)
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(self.submit_label, id="submit", compact=True,
                             variant="error" if self.danger else "primary")
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error").display = False
        first = self.query(f"#field-{self.fields[0].key}") if self.fields else None
        if first:
            first.first().focus()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.query_one(f"#field-{f.key}")
            if isinstance(w, Select):
                out[f.key] = w.value
            elif isinstance(w, SelectionList):
                out[f.key] = list(w.selected)
            else:
                out[f.key] = w.value.strip()
        return out

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        """Enter moves to the next text field; from the last one it submits."""
        event.stop()
        inputs = list(self.query(Input))
        i = inputs.index(event.input)
        if i + 1 < len(inputs):
            inputs[i + 1].focus()
        else:
            self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def show_error(self, text: str) -> None:
        err = self.query_one("#form-error", Static)
        err.update(text)
        err.display = True

    def action_submit(self) -> None:
        if self.busy:
            return
        values = self.values()
        missing = [f.label for f in self.fields if f.required and not values[f.key]]
        if missing:
            self.show_error(f"{missing[0]}: required.")
            return
        self.busy = True
        self.query_one("#submit", Button).disabled = True
        self.show_error("working…")
        self.query_one("#form-error").set_class(True, "-busy")
        self._call(values)

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _call(self, values: dict[str, Any]) -> None:
        try:
            self.post_message(self.Done(result=self.action(values)))
        except Exception as exc:  # noqa: BLE001 - the backend's refusal is shown here
            self.post_message(self.Done(error=describe_error(exc)))

    def on_action_form_screen_done(self, message: Done) -> None:
        self.busy = False
        self.query_one("#submit", Button).disabled = False
        self.query_one("#form-error").set_class(False, "-busy")
        if message.error is not None:
            self.show_error(message.error)
            return
        self.dismiss(message.result)

    def action_cancel(self) -> None:
        self.dismiss(None)
