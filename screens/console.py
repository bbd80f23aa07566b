"""A server's serial console in a pane (``cloud.server_ops.console``: a libvirt stream).

The session is opened in a thread worker, which then writes what the user types to the guest
(one writer, in order; a full stream never blocks the UI). The guest's output arrives on
libvirt's event thread, is buffered, and reaches the pane in one message per batch. Every key
typed in the pane goes to the guest -- escape, ctrl+c and ctrl+p included -- except ctrl+],
which leaves. A host that cannot open a console (the test driver) is said so in the pane.
"""
from __future__ import annotations

import codecs
import queue
import re
import textwrap
import threading

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Log, Static

from backend.errors import VirtstackError
from tui.workers import ReportsWorkerFailures

LEAVE_KEY = "ctrl+right_square_bracket"  # ctrl+], as in virsh console
MAX_LINES = 5000

#: Keys without a character of their own, as a terminal sends them.
SPECIAL_KEYS = {
    "enter": b"\r", "tab": b"\t", "shift+tab": b"\x1b[Z", "backspace": b"\x7f",
    "escape": b"\x1b", "up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C",
    "left": b"\x1b[D", "home": b"\x1b[H", "end": b"\x1b[F", "insert": b"\x1b[2~",
    "delete": b"\x1b[3~", "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
}

CTRL_SYMBOLS = {"ctrl+@": b"\x00", "ctrl+space": b"\x00", "ctrl+backslash": b"\x1c",
                "ctrl+circumflex_accent": b"\x1e", "ctrl+underscore": b"\x1f"}

# CSI / OSC / two-character escape sequences: a Log shows text, not a terminal's cursor moves.
# (ESC c, the reset SeaBIOS starts with, is one of the two-character ones.)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]"                 # CSI: colours, cursor
                      r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"     # OSC: titles
                      r"|\x1b[ -/]+[0-~]"                        # charset selection
                      r"|\x1b[0-Z\\^-~]")                        # ESC c, ESC 7, ESC M...
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def key_bytes(event: events.Key) -> bytes | None:
    """What a terminal would send the guest for this key, or None for keys it ignores."""
    if event.key in SPECIAL_KEYS:
        return SPECIAL_KEYS[event.key]
    key = event.key
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) - 96])  # ctrl+a .. ctrl+z
    if key in CTRL_SYMBOLS:
        return CTRL_SYMBOLS[key]
    if event.character:
        return event.character.encode("utf-8", "replace")
    return None


class ConsoleText:
    """Turns the guest's bytes into text for a Log: UTF-8 across chunk boundaries, escape
    sequences and carriage returns dropped, lines kept."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail = ""  # an escape sequence cut by the chunk boundary

    def feed(self, data: bytes) -> str:
        text = self._tail + self._decoder.decode(data)
        self._tail = ""
        cut = text.rfind("\x1b")
        if cut != -1 and not _ESCAPES.match(text, cut) and len(text) - cut < 32:
            text, self._tail = text[:cut], text[cut:]
        text = _ESCAPES.sub("", text).replace("\r\n", "\n")
        return _CONTROLS.sub("", text.replace("\r", ""))


class ConsoleOutputPending(Message):
    """The guest printed something; drain the buffer. Only one is ever pending."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConsoleOutputPending)


class ConsoleOpened(Message):
    pass


class ConsoleClosed(Message):
    """The session could not open (``opened`` False) or ended; ``reason`` says why."""

    def __init__(self, reason: str, *, opened: bool) -> None:
        super().__init__()
        self.reason, self.opened = reason, opened


class ConsoleView(Log):
    """The pane: shows the guest's output; its key presses go to the screen's session."""

    ALLOW_SELECT = True
    can_focus = True

    async def _on_key(self, event: events.Key) -> None:
        screen = self.screen
        if not isinstance(screen, ConsoleScreen) or event.key == LEAVE_KEY:
            return
        if not screen.is_open:
            return  # nothing to type into: escape and q work as on any screen
        data = key_bytes(event)
        if data is not None:
            event.stop()
            event.prevent_default()
            screen.send(data)

    def on_paste(self, event: events.Paste) -> None:
        screen = self.screen
        if isinstance(screen, ConsoleScreen) and screen.is_open and event.text:
            event.stop()
            screen.send(event.text.replace("\n", "\r").encode("utf-8", "replace"))


class ConsoleScreen(ReportsWorkerFailures, Screen):
    BINDINGS = [
        Binding(LEAVE_KEY, "leave", "Leave console", key_display="^]", priority=True),
        Binding("escape,q", "leave", "Back", show=False),
    ]

    def __init__(self, cloud, ctx, uuid: str, host: str, name: str, *,
                 force: bool = False) -> None:
        super().__init__()
        self.cloud, self.ctx = cloud, ctx
        self.uuid, self.host, self.server_name = uuid, host, name
        self.force = force
        self.is_open = False
        self.closed_reason: str | None = None
        self._writes: queue.Queue[bytes | None] = queue.Queue()
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._text = ConsoleText()
        self._left = False

    def compose(self) -> ComposeResult:
        yield Label(Content.assemble(("Console of ", "$text-muted"),
                                     (self.server_name, "bold"), ("  on ", "$text-muted"),
                                     self.host), id="detail-title")
        yield Static(f"Opening the serial console of {self.server_name}…",
                     id="console-status", markup=False)
        yield ConsoleView(max_lines=MAX_LINES, id="console-log", auto_scroll=True)
        yield Footer(compact=True)

    @property
    def log_view(self) -> ConsoleView:
        return self.query_one(ConsoleView)

    def output(self) -> str:
        """Everything the pane shows now (for tests and copy)."""
        return "\n".join(self.log_view.lines)

    def on_mount(self) -> None:
        self.log_view.focus()
        self.run_worker(self._session, name=f"console of {self.server_name}",
                        group="console", thread=True, exclusive=True, exit_on_error=False)

    def on_unmount(self) -> None:
        self._writes.put(None)  # the worker closes the session

    # -- the worker: open, then write what the user types ------------------------------------
    def _session(self) -> None:
        try:
            session = self.cloud.server_ops.console(
                self.ctx, self.uuid, self._on_output, self._on_close, host=self.host,
                force=self.force)
        except VirtstackError as exc:
            self.post_message(ConsoleClosed(exc.message, opened=False))
            return
        try:
            if self._left:
                return
            self.post_message(ConsoleOpened())
            while True:
                data = self._writes.get()
                if data is None or session.closed:
                    return
                try:
                    session.write(data)
                except VirtstackError as exc:
                    self.post_message(ConsoleClosed(exc.message, opened=True))
                    return
        finally:
            session.close()

    def _on_output(self, data: bytes) -> None:
        """libvirt's event thread: buffer, and ask the UI to drain."""
        with self._lock:
            self._pending.extend(data)
        self.post_message(ConsoleOutputPending())

    def _on_close(self, reason: str) -> None:
        if reason != "closed":  # not our own close()
            self.post_message(ConsoleClosed(reason, opened=True))

    # -- the UI side ------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.is_open:
            self._writes.put(data)

    def on_console_output_pending(self, _message: ConsoleOutputPending) -> None:
        with self._lock:
            data, self._pending = bytes(self._pending), bytearray()
        if data:
            text = self._text.feed(data)
            if text:
                self.log_view.write(text)

    def on_console_opened(self, _message: ConsoleOpened) -> None:
        self.is_open = True
        status = self.query_one("#console-status", Static)
        status.update(f"Connected to {self.server_name} on {self.host} — type into the guest;"
                      " ctrl+] leaves. (Press enter if it shows nothing.)")
        status.set_class(False, "error")

    def on_console_closed(self, message: ConsoleClosed) -> None:
        self.is_open = False
        self.closed_reason = message.reason
        self._writes.put(None)
        status = self.query_one("#console-status", Static)
        status.add_class("error")
        if message.opened:
            status.update(f"Console closed: {message.reason}. Escape goes back.")
        else:
            status.update(f"No console: {message.reason}. Escape goes back.")
            width = max(20, self.log_view.scrollable_content_region.width - 1)
            for line in textwrap.wrap(f"[virtstack] {message.reason}", width):
                self.log_view.write_line(line)

    def action_leave(self) -> None:
        self._left = True
        self._writes.put(None)
        self.app.pop_screen()
