"""The audit log: time, user, project, action, target, outcome, reason; newest first.

The last ``LIMIT`` records are read in a thread worker (``cloud.identity.audit.list``,
admin only: anyone else reads the backend's denial); the filter box narrows them as you
type (every word must appear in the row); ``R`` reads them again.
"""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.widgets.status_bar import StatusBar
from themes import HERE as THEMES_DIR
from tui.workers import describe_error

IDENTITY_CSS = THEMES_DIR / "identity.tcss"

LIMIT = 1000
COLUMNS = ("time", "user", "project", "action", "outcome", "target", "reason")
#: Widest a column grows (its cells are cut there), so the outcome stays on a narrow screen.
MAX_WIDTH = {"user": 16, "project": 16, "action": 20, "target": 32}


def _clip(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


def row_matches(row: dict, words: list[str]) -> bool:
    text = " ".join(str(row.get(c) or "") for c in COLUMNS).lower()
    return all(w in text for w in words)


class AuditScreen(Screen):
    CSS_PATH = IDENTITY_CSS
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("R", "reload", "Reload"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[dict] | None, error: str | None = None) -> None:
            super().__init__()
            self.rows = rows
            self.error = error

    def __init__(self, cloud, ctx) -> None:
        super().__init__()
        self.cloud = cloud
        self.ctx = ctx
        self.rows: list[dict] = []
        self.shown: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Static("Audit log", id="audit-title", classes="screen-title")
        yield Input(placeholder="/ filter: words found in any column (user, action, "
                    "outcome, …)", id="audit-filter", compact=True)
        yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("Loading…", id="audit-status", markup=False)
        yield StatusBar(self.cloud.identity, self.ctx)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for c in COLUMNS:
            table.add_column("time (UTC)" if c == "time" else c, key=c)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.query_one("#audit-status", Static).update("Loading…")
        self._load()

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def _load(self) -> None:
        try:
            rows = self.cloud.identity.audit.list(self.ctx, limit=LIMIT)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            self.post_message(self.Loaded(None, describe_error(exc)))
            return
        self.post_message(self.Loaded(rows))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        status = self.query_one("#audit-status", Static)
        if message.rows is None:
            self.rows = []
            self._fill()
            status.update(f"Denied: {message.error}")
            status.add_class("-error")
            return
        status.remove_class("-error")
        self.rows = message.rows
        self._fill()

    @on(Input.Changed, "#audit-filter")
    def _filter_changed(self, _event: Input.Changed) -> None:
        if self.rows:
            self._fill()

    @on(Input.Submitted, "#audit-filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def _fill(self) -> None:
        words = self.query_one("#audit-filter", Input).value.lower().split()
        self.shown = [r for r in self.rows if row_matches(r, words)]
        table = self.query_one(DataTable)
        table.clear()
        theme = self.app.current_theme
        styles = {"success": theme.success or "green", "failure": f"bold {theme.error or 'red'}",
                  "denied": theme.warning or "yellow"}
        for r in self.shown:
            cells: list[str | Text] = [_clip(str(r.get(c) or ""), MAX_WIDTH.get(c))
                                       for c in COLUMNS]
            cells[0] = str(cells[0]).replace("T", " ")[:19]
            outcome = r.get("outcome") or ""
            cells[COLUMNS.index("outcome")] = Text(outcome, style=styles.get(outcome, ""))
            table.add_row(*cells, key=str(r.get("id")))
        if self.rows or not self.query_one("#audit-status").has_class("-error"):
            total = len(self.rows)
            more = f" (the newest {LIMIT})" if total >= LIMIT else ""
            self.query_one("#audit-status", Static).update(
                f"{len(self.shown)} of {total} records{more} · newest first"
                if words else f"{total} records{more} · newest first")

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_back(self) -> None:
        filt = self.query_one("#audit-filter", Input)
        if filt.has_focus:
            self.query_one(DataTable).focus()
        else:
            self.app.pop_screen()
