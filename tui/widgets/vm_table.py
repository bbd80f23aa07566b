"""One table of the servers of every host: filter, sort, marks, live cells.

The table keeps its own model (uuid -> row dict) and shows a *view* of it: the rows that
match the filter, in the chosen order. Frequent changes (a state event, a stats tick) update
cells in place (``update_cell`` on row key = uuid); only changes of the view's membership or
order (a host's rows arriving, a filter, a sort) rebuild it, and those are coalesced.
"""
from __future__ import annotations

from typing import Any, Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.widgets import DataTable
from textual._two_way_dict import TwoWayDict
from textual.widgets.data_table import CellDoesNotExist, RowKey

# key, label, fixed width (None = fit the content)
COLUMNS: list[tuple[str, str, int | None]] = [
    ("mark", "", 1),
    ("name", "Name", None),
    ("host", "Host", None),
    ("state", "State", 11),
    ("vcpus", "vCPU", 6),
    ("mem", "Memory", 9),
    ("cpu", "CPU %", 7),
]
SORTABLE = ["name", "host", "state", "vcpus", "mem", "cpu"]
_STATE_ORDER = {"running": 0, "blocked": 0, "paused": 1, "pmsuspended": 2, "shutdown": 3,
                "crashed": 4, "shutoff": 5, "unknown": 6}
ARROWS = {False: " ▲", True: " ▼"}


def format_memory(mb: int | None) -> str:
    if mb is None:
        return "–"
    if mb >= 1024:
        return f"{mb / 1024:.1f} GiB"
    return f"{mb} MiB"


def format_cpu(pct: float | None) -> str:
    return "–" if pct is None else f"{pct:3.0f}%"


def _sort_key(column: str):
    def name_key(r):
        return (r["name"].lower(), r["host"])
    if column == "name":
        return name_key
    if column == "host":
        return lambda r: (r["host"], r["name"].lower())
    if column == "state":
        return lambda r: (_STATE_ORDER.get(r["state"], 9), r["state"], r["name"].lower())
    if column == "vcpus":
        return lambda r: (r.get("vcpus") or 0, r["name"].lower())
    if column == "mem":
        return lambda r: (r.get("memory_mb") or 0, r["name"].lower())
    if column == "cpu":
        return lambda r: (r.get("cpu_percent") if r.get("cpu_percent") is not None else -1.0,
                          r["name"].lower())
    raise ValueError(f"cannot sort by {column!r}")


class VMTable(DataTable):
    """The servers of every host in one table. Row keys are server UUIDs."""

    DEFAULT_CSS = """
    VMTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", key_display="space"),
        Binding("home,g", "first_row", "First", show=False),
        Binding("end,G", "last_row", "Last", show=False),
    ]

    class ViewChanged(Message, namespace="vm_table"):
        """The view's size, marks, filter or order changed (for a status line)."""

        def __init__(self, table: "VMTable") -> None:
            super().__init__()
            self.table = table

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, VMTable.ViewChanged)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.servers: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False
        self._rebuild_pending = False
        self._styles: dict[str, str] = {}

    # -- set-up ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(self._label(key, label), key=key, width=width)
        self._compute_styles()
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _label(self, key: str, label: str) -> Text:
        if key == "mark":
            return Text("")
        arrow = ARROWS[self.sort_reverse] if key == self.sort_column else "  "
        justify = "right" if key in ("vcpus", "mem", "cpu") else "left"
        return Text(label + arrow, justify=justify)

    def _compute_styles(self) -> None:
        theme = self.app.current_theme
        ok = theme.success or "green"
        warn = theme.warning or "yellow"
        err = theme.error or "red"
        self._styles = {"running": f"bold {ok}", "blocked": ok, "paused": warn,
                        "pmsuspended": warn, "shutdown": warn, "crashed": f"bold {err}",
                        "shutoff": "dim", "unknown": f"dim italic {err}",
                        "mark": f"bold {theme.accent or 'yellow'}"}

    def _on_theme_changed(self, _theme) -> None:
        self._compute_styles()
        self.request_rebuild()

    # -- cells ----------------------------------------------------------------------------
    def _update_dimensions(self, new_rows: Iterable) -> None:
        """Column widths from the new rows' cells. Every cell here is one line of plain or
        styled text, so its width is its cell length; DataTable's generic version measures
        each cell through Rich (a terminal-size syscall per cell), which made 2,000 rows
        take 0.6 s to appear."""
        columns = self.ordered_columns
        data = self._data
        for row_key in new_rows:
            cells = data.get(row_key)
            if cells is None:
                continue  # removed before the idle pass
            for column in columns:
                value = cells.get(column.key)
                if value is None:
                    continue
                width = cell_len(value.plain if isinstance(value, Text) else str(value))
                if width > column.content_width:
                    column.content_width = width
        width = sum(c.get_render_width(self) for c in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + self._row_label_column_width,
                                 self._total_row_height + header)

    def _cells(self, r: dict[str, Any]) -> dict[str, Text]:
        return {
            "mark": Text("●" if r["uuid"] in self.marked else " ", style=self._styles["mark"]),
            "name": Text(r["name"]),
            "host": Text(r["host"]),
            "state": Text(r["state"], style=self._styles.get(r["state"], "")),
            "vcpus": Text(str(r.get("vcpus") or 0), justify="right"),
            "mem": Text(format_memory(r.get("memory_mb")), justify="right"),
            "cpu": Text(format_cpu(r.get("cpu_percent")), justify="right"),
        }

    def _set_cells(self, uuid: str, columns: Iterable[str]) -> None:
        r = self.servers.get(uuid)
        if r is None or uuid not in self._row_set:
            return
        cells = self._cells(r)
        for col in columns:
            try:
                self.update_cell(uuid, col, cells[col])
            except CellDoesNotExist:
                return

    @property
    def _row_set(self):
        return self.rows  # dict keyed by RowKey; RowKey hashes like its str value

    # -- the model ------------------------------------------------------------------------
    def matches(self, r: dict[str, Any]) -> bool:
        if not self.filter_text:
            return True
        hay = f"{r['name']} {r['host']} {r['state']}".lower()
        return all(word in hay for word in self.filter_text.lower().split())

    def set_host_rows(self, host: str, rows: list[dict[str, Any]]) -> None:
        """Replace what the table knows of one host's servers (a (re)connect or a reload)."""
        fresh = {r["uuid"]: r for r in rows}
        gone = [u for u, r in self.servers.items() if r["host"] == host and u not in fresh]
        membership = bool(gone)
        for u in gone:
            del self.servers[u]
            self.marked.discard(u)
        for u, r in fresh.items():
            old = self.servers.get(u)
            row = {k: r.get(k) for k in ("uuid", "name", "host", "state", "vcpus",
                                         "memory_mb", "cpu_percent")}
            if old is None:
                self.servers[u] = row
                membership = True
                continue
            changed = [k for k in row if old.get(k) != row[k]]
            if row["cpu_percent"] is None and old.get("cpu_percent") is not None \
                    and row["state"] == "running":
                row["cpu_percent"] = old["cpu_percent"]  # keep the last figure until a tick
                changed = [k for k in changed if k != "cpu_percent"]
            old.update(row)
            if changed:
                self._changed(u, changed)
        if membership:
            self.request_rebuild()

    def update_server(self, uuid: str, **fields: Any) -> None:
        """Change a few fields of one server (a lifecycle event, an action's result)."""
        r = self.servers.get(uuid)
        if r is None:
            return
        changed = [k for k, v in fields.items() if k in r and r[k] != v]
        if "cpu_percent" in changed and (format_cpu(r["cpu_percent"])
                                         == format_cpu(fields["cpu_percent"])):
            changed.remove("cpu_percent")  # same on screen: no repaint
        r.update({k: v for k, v in fields.items() if k in r})
        if changed:
            self._changed(uuid, changed)

    def _changed(self, uuid: str, fields: list[str]) -> None:
        cols = {"name": "name", "host": "host", "state": "state", "vcpus": "vcpus",
                "memory_mb": "mem", "cpu_percent": "cpu"}
        columns = [cols[f] for f in fields if f in cols]
        if self.filter_text and uuid in self.servers and (
                self.matches(self.servers[uuid]) != (uuid in self._row_set)):
            self.request_rebuild()
        elif columns:
            self._set_cells(uuid, columns)

    def remove_server(self, uuid: str) -> None:
        if self.servers.pop(uuid, None) is not None:
            self.marked.discard(uuid)
            self.request_rebuild()

    def host_down(self, host: str) -> None:
        """A host dropped: what its servers do is unknown until it reconnects."""
        for u, r in self.servers.items():
            if r["host"] == host and r["state"] != "unknown":
                r["state"] = "unknown"
                r["cpu_percent"] = None
                self._set_cells(u, ("state", "cpu"))

    def apply_stats(self, stats: dict[str, dict[str, Any]]) -> None:
        for uuid, entry in stats.items():
            if "cpu_percent" in entry:
                self.update_server(uuid, cpu_percent=entry["cpu_percent"])

    # -- the view -------------------------------------------------------------------------
    def request_rebuild(self) -> None:
        """Rebuild the view soon, once, however many changes ask for it meanwhile."""
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_later(self.rebuild)

    def rebuild(self) -> None:
        self._rebuild_pending = False
        cursor = self.cursor_uuid
        cursor_index = self.cursor_row
        rows = [r for r in self.servers.values() if self.matches(r)]
        rows.sort(key=_sort_key(self.sort_column), reverse=self.sort_reverse)
        self.order = [r["uuid"] for r in rows]
        scroll_y = self.scroll_y
        shown = {key.value for key in self.rows}
        wanted = set(self.order)
        if shown <= wanted:
            # Only additions (a host connecting, a server defined): add the new rows and
            # reorder; re-adding thousands of unchanged rows is what made start-up slow.
            for r in rows:
                if r["uuid"] not in shown:
                    cells = self._cells(r)
                    self.add_row(*(cells[k] for k, _, _ in COLUMNS), key=r["uuid"])
            self._row_locations = TwoWayDict({RowKey(u): i for i, u in enumerate(self.order)})
            self._update_count += 1
            self.refresh()
        else:
            self.clear()
            for r in rows:
                cells = self._cells(r)
                self.add_row(*(cells[k] for k, _, _ in COLUMNS), key=r["uuid"])
        if self.order:
            if cursor in self.servers and cursor in self.rows:
                index = self.get_row_index(cursor)
            else:
                index = min(cursor_index, len(self.order) - 1)
            self.scroll_y = scroll_y
            self.move_cursor(row=index, animate=False)
        self.post_message(self.ViewChanged(self))

    def set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.rebuild()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if column not in SORTABLE:
            return
        if reverse is None:
            reverse = (not self.sort_reverse) if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        for key, label, _ in COLUMNS:
            self.columns[self._column_key(key)].label = self._label(key, label)
        self.rebuild()

    def _column_key(self, key: str):
        for ck in self.columns:
            if ck.value == key:
                return ck
        raise KeyError(key)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_key.value)

    # -- cursor, marks and targets ----------------------------------------------------------
    @property
    def cursor_uuid(self) -> str | None:
        if not self.order or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def action_toggle_mark(self) -> None:
        uuid = self.cursor_uuid
        if uuid is None:
            return
        if uuid in self.marked:
            self.marked.discard(uuid)
        else:
            self.marked.add(uuid)
        self._set_cells(uuid, ("mark",))
        if self.cursor_row < len(self.order) - 1:
            self.move_cursor(row=self.cursor_row + 1)
        self.post_message(self.ViewChanged(self))

    def action_first_row(self) -> None:
        if self.order:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.order:
            self.move_cursor(row=len(self.order) - 1)

    def clear_marks(self) -> None:
        marked, self.marked = self.marked, set()
        for u in marked:
            self._set_cells(u, ("mark",))
        self.post_message(self.ViewChanged(self))

    def targets(self) -> list[dict[str, Any]]:
        """What a bulk action applies to: the marked servers, else the cursor's."""
        if self.marked:
            return [dict(self.servers[u]) for u in self.order if u in self.marked]
        uuid = self.cursor_uuid
        return [dict(self.servers[uuid])] if uuid in self.servers else []

    def select_uuid(self, uuid: str) -> bool:
        """Put the cursor on a server (clearing the filter if it hides it)."""
        if uuid not in self.servers:
            return False
        if uuid not in self.rows:
            self.filter_text = ""
            self.rebuild()
        self.move_cursor(row=self.get_row_index(uuid))
        return True

    def visible_uuids(self) -> list[str]:
        """The servers whose rows are on screen now (the only ones that get stats)."""
        if not self.order:
            return []
        start = max(0, int(self.scroll_y))
        height = max(1, self.scrollable_content_region.height - (1 if self.show_header else 0))
        return self.order[start:start + height]
