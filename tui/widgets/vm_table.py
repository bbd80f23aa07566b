"""One table of the servers of every host: filter, sort, marks, live cells.

A Line API widget (ScrollView): the table keeps its own model (uuid -> row dict) and a
*view* of it (``order``: the uuids that match the filter, in the chosen order), and draws
only the lines on screen, each straight from the model when Textual asks for it. Nothing
is built per row that is not on screen: 2,000 servers cost 2,000 small dicts, not 14,000
styled cells, and a host's rows arriving is a sort, not thousands of widget rows.

A change to one server (a state event, a stats tick) repaints that line if it is on
screen and nothing otherwise; only a change of the view's membership or order (a host's
rows arriving, a filter, a sort) rebuilds ``order``, and those are coalesced.
"""
from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

# key, label, fixed width (None = fit the content), right-aligned
COLUMNS: list[tuple[str, str, int | None, bool]] = [
    ("mark", "", 1, False),
    ("name", "Name", None, False),
    ("host", "Host", None, False),
    ("state", "State", 11, False),
    ("vcpus", "vCPU", 6, True),
    ("mem", "Memory", 9, True),
    ("cpu", "CPU %", 7, True),
]
PADDING = 1  # cells either side of a column
SORTABLE = ["name", "host", "state", "vcpus", "mem", "cpu"]
_STATE_ORDER = {"running": 0, "blocked": 0, "paused": 1, "pmsuspended": 2, "shutdown": 3,
                "crashed": 4, "shutoff": 5, "unknown": 6}
ARROWS = {False: " ▲", True: " ▼"}
# model field -> column it shows in
_FIELD_COLUMN = {"name": "name", "host": "host", "state": "state", "vcpus": "vcpus",
                 "memory_mb": "mem", "cpu_percent": "cpu"}
_COLUMN_FIELD = {column: field for field, column in _FIELD_COLUMN.items()}


def format_memory(mb: int | None) -> str:
    if mb is None:
        return "–"
    if mb >= 1024:
        return f"{mb / 1024:.1f} GiB"
    return f"{mb} MiB"


def format_cpu(pct: float | None) -> str:
    return "–" if pct is None else f"{pct:3.0f}%"


def _sort_key(column: str):
    if column == "name":
        return lambda r: (r["name"].lower(), r["host"])
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


class VMTable(ScrollView, can_focus=True):
    """The servers of every host in one table, addressed by server UUID."""

    COMPONENT_CLASSES = {"vm-table--header", "vm-table--cursor"}

    DEFAULT_CSS = """
    VMTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        & > .vm-table--header {
            background: $panel;
            color: $text;
            text-style: bold;
        }
        & > .vm-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .vm-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("enter", "select", "Open", show=False),
        Binding("space", "toggle_mark", "Mark", key_display="space"),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
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

    class RowSelected(Message, namespace="vm_table"):
        """Enter (or a click on the cursor's row): open this server."""

        def __init__(self, table: "VMTable", uuid: str) -> None:
            super().__init__()
            self.table = table
            self.uuid = uuid

        @property
        def control(self) -> "VMTable":
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.servers: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self._index: dict[str, int] = {}  # uuid -> position in order
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False
        self.cursor_row = 0
        self._cursor_placed = False  # until someone moves it, the cursor stays on top
        self._widths: dict[str, int] = {}
        self._rebuild_pending = False
        self._styles: dict[str, Style] = {}
        self._measure(refresh=False)

    # -- set-up and looks -------------------------------------------------------------------
    def on_mount(self) -> None:
        self._compute_styles()
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _compute_styles(self) -> None:
        theme = self.app.current_theme
        ok = theme.success or "green"
        warn = theme.warning or "yellow"
        err = theme.error or "red"
        spec = {"running": f"bold {ok}", "blocked": ok, "paused": warn,
                "pmsuspended": warn, "shutdown": warn, "crashed": f"bold {err}",
                "shutoff": "dim", "unknown": f"dim italic {err}",
                "mark": f"bold {theme.accent or 'yellow'}"}
        self._styles = {k: Style.parse(v) for k, v in spec.items()}

    def _on_theme_changed(self, _theme) -> None:
        self._compute_styles()
        self.refresh()

    def _label(self, key: str, label: str) -> str:
        if key == "mark":
            return ""
        return label + (ARROWS[self.sort_reverse] if key == self.sort_column else "  ")

    def _measure(self, refresh: bool = True) -> None:
        """Column widths: fixed ones as set, name and host as wide as the widest value."""
        widths = {}
        for key, label, fixed, _right in COLUMNS:
            if fixed is not None:
                widths[key] = max(fixed, cell_len(self._label(key, label)))
            else:
                field = "name" if key == "name" else "host"
                longest = max((cell_len(r[field]) for r in self.servers.values()), default=0)
                widths[key] = max(longest, cell_len(self._label(key, label)))
        if widths != self._widths:
            self._widths = widths
            if refresh:
                self._resize_virtual()
                self.refresh()

    @property
    def content_width(self) -> int:
        return sum(w + 2 * PADDING for w in self._widths.values())

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.content_width, len(self.order) + 1)

    def column_x(self, key: str) -> int:
        """Where a column starts, in cells from the table's left edge (unscrolled)."""
        x = 0
        for k, _label, _fixed, _right in COLUMNS:
            if k == key:
                return x
            x += self._widths[k] + 2 * PADDING
        raise KeyError(key)

    # -- cells ----------------------------------------------------------------------------
    def _text(self, r: dict[str, Any], key: str) -> str:
        if key == "mark":
            return "●" if r["uuid"] in self.marked else " "
        if key == "name":
            return r["name"]
        if key == "host":
            return r["host"]
        if key == "state":
            return r["state"]
        if key == "vcpus":
            return "–" if r.get("vcpus") is None else str(r["vcpus"])
        if key == "mem":
            return format_memory(r.get("memory_mb"))
        return format_cpu(r.get("cpu_percent"))

    def get_cell(self, uuid: str, column: str) -> str:
        """What the table shows for one server in one column."""
        return self._text(self.servers[uuid], column)

    def _cell(self, text: str, width: int, right: bool) -> str:
        pad = width - cell_len(text)
        if pad < 0:
            text, pad = text[:width], 0  # (only a fixed column can be too narrow)
        body = " " * pad + text if right else text + " " * pad
        return " " * PADDING + body + " " * PADDING

    # -- drawing: the Line API ------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("vm-table--header", partial=True)
            segments = [Segment(self._cell(self._label(k, label), self._widths[k], right), style)
                        for k, label, _fixed, right in COLUMNS]
        else:
            index = scroll_y + y - 1
            if index >= len(self.order):
                return Strip.blank(width, base)
            r = self.servers.get(self.order[index])
            if r is None:  # removed; the view's rebuild is on its way
                return Strip.blank(width, base)
            if index == self.cursor_row:
                row = base + self.get_component_rich_style("vm-table--cursor", partial=True)
                styles = {k: row for k, *_ in COLUMNS}
            else:  # the mark and the state in their colours
                styles = {k: base for k, *_ in COLUMNS}
                for k, look in (("mark", "mark"), ("state", r["state"])):
                    if look in self._styles:
                        styles[k] = base + self._styles[look]
            segments = [Segment(self._cell(self._text(r, k), self._widths[k], right), styles[k])
                        for k, _label, _fixed, right in COLUMNS]
        strip = Strip(segments, self.content_width)
        return strip.crop_extend(scroll_x, scroll_x + width, segments[-1].style)

    def _refresh_uuid(self, uuid: str) -> None:
        """Repaint one server's line, if it is on screen (else nothing to do)."""
        index = self._index.get(uuid)
        if index is None:
            return
        y = index - int(self.scroll_y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _refresh_row(self, index: int) -> None:
        if 0 <= index < len(self.order):
            self._refresh_uuid(self.order[index])

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
        resort = False  # a reload changed what the view is sorted by (not so for live ticks)
        sort_field = _COLUMN_FIELD.get(self.sort_column)
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
                resort = resort or sort_field in changed
                self._changed(u, changed)
        if membership or resort:
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
        if self.filter_text and uuid in self.servers and (
                self.matches(self.servers[uuid]) != (uuid in self._index)):
            self.request_rebuild()
            return
        if "name" in fields or "host" in fields:
            self._measure()
        if any(f in _FIELD_COLUMN for f in fields):
            self._refresh_uuid(uuid)

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
                self._refresh_uuid(u)

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
        """Filter and sort the model into ``order``; the cursor stays on its server."""
        self._rebuild_pending = False
        cursor = self.cursor_uuid
        rows = [r for r in self.servers.values() if self.matches(r)]
        rows.sort(key=_sort_key(self.sort_column), reverse=self.sort_reverse)
        self.order = [r["uuid"] for r in rows]
        self._index = {u: i for i, u in enumerate(self.order)}
        self._measure()
        self._resize_virtual()
        if cursor in self._index and self._cursor_placed:
            self.cursor_row = self._index[cursor]  # it stays on its server
        else:
            self.cursor_row = max(0, min(self.cursor_row, len(self.order) - 1))
        self._scroll_to_cursor()
        self.refresh()
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
        self.rebuild()

    # -- cursor, keys and mouse -----------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def get_row_index(self, uuid: str) -> int:
        try:
            return self._index[uuid]
        except KeyError:
            raise KeyError(f"no row for server {uuid}") from None

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        if not self.order:
            self.cursor_row = 0
            return
        row = max(0, min(row, len(self.order) - 1))
        old, self.cursor_row = self.cursor_row, row
        self._cursor_placed = True
        if scroll:
            self._scroll_to_cursor()
        self._refresh_row(old)
        self._refresh_row(row)

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + self._page:
            self.scroll_to(y=self.cursor_row - self._page + 1, animate=False)

    @property
    def cursor_uuid(self) -> str | None:
        if 0 <= self.cursor_row < len(self.order):
            uuid = self.order[self.cursor_row]
            return uuid if uuid in self.servers else None
        return None

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._page)

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._page)

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=len(self.order) - 1)

    def action_select(self) -> None:
        uuid = self.cursor_uuid
        if uuid is not None:
            self.post_message(self.RowSelected(self, uuid))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:  # the header: sort by the column clicked
            x = offset.x + int(self.scroll_x)
            for key, _label, _fixed, _right in COLUMNS:
                start = self.column_x(key)
                if start <= x < start + self._widths[key] + 2 * PADDING:
                    self.sort_by(key)
                    return
            return
        index = int(self.scroll_y) + offset.y - 1
        if index >= len(self.order):
            return
        if index == self.cursor_row or event.chain > 1:
            self.move_cursor(row=index)
            self.action_select()
        else:
            self.move_cursor(row=index)

    # -- marks and targets -------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        uuid = self.cursor_uuid
        if uuid is None:
            return
        if uuid in self.marked:
            self.marked.discard(uuid)
        else:
            self.marked.add(uuid)
        self._refresh_uuid(uuid)
        if self.cursor_row < len(self.order) - 1:
            self.move_cursor(row=self.cursor_row + 1)
        self.post_message(self.ViewChanged(self))

    def clear_marks(self) -> None:
        marked, self.marked = self.marked, set()
        for u in marked:
            self._refresh_uuid(u)
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
        if uuid not in self._index:
            self.filter_text = ""
            self.rebuild()
        self.move_cursor(row=self._index[uuid])
        return True

    def visible_uuids(self) -> list[str]:
        """The servers whose rows are on screen now (the only ones that get stats)."""
        if not self.order:
            return []
        start = max(0, int(self.scroll_y))
        return [u for u in self.order[start:start + self._page] if u in self.servers]
