"""Live graphs of one server: CPU %, memory, disk read/write and network rx/tx.

Fed with the entries of the host's bulk stats (``cloud.servers.stats``), one per tick: CPU %
and memory are plotted as they come, the cumulative byte counters as rates (bytes/s between
two ticks). One row per series: a label with the latest value, then a ``Sparkline``.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

#: (key, label) of each series, in display order.
SERIES: list[tuple[str, str]] = [
    ("cpu", "CPU"), ("memory", "Memory"), ("disk_read", "Disk read"),
    ("disk_write", "Disk write"), ("net_rx", "Net rx"), ("net_tx", "Net tx"),
]
#: Counters turned into rates: series key -> the stats entry's cumulative field.
COUNTERS = {"disk_read": "rd_bytes", "disk_write": "wr_bytes", "net_rx": "rx_bytes",
            "net_tx": "tx_bytes"}
HISTORY = 90  # points kept per series (the sparkline squeezes them into its width)


def human_bytes(n: float | None, suffix: str = "") -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}{suffix}" if unit == "B" else f"{n:.1f} {unit}{suffix}"
        n /= 1024
    return f"{n:.1f}"  # not reached


def memory_used_kib(entry: dict[str, Any]) -> int | None:
    """The guest's memory in use: balloon size less what the guest reports unused (the
    latter only when the balloon stats period is set), else the balloon size."""
    current = entry.get("memory_kib")
    if current is None:
        return None
    unused = entry.get("memory_unused_kib")
    return current - unused if unused is not None else current


def padded(history: deque[float]) -> list[float]:
    """What a Sparkline is given: the history right-aligned on HISTORY + 1 points with zeros
    before it. A Sparkline scales between its data's min and max; the zeros pin the bottom
    at 0, so a steady 50 % is not drawn as a full bar after a dip, an idle series stays on
    the baseline, and a new graph fills in from the right."""
    return [0.0] * (HISTORY + 1 - len(history)) + list(history)


class StatsGraphs(Vertical):
    """Six labelled sparklines. ``add_sample(entry, now)`` per stats tick."""

    DEFAULT_CSS = """
    StatsGraphs { height: auto; }
    StatsGraphs > Horizontal { height: 1; }
    StatsGraphs .graph-label { width: 26; color: $text-muted; }
    StatsGraphs Sparkline { width: 1fr; height: 1; }
    StatsGraphs Sparkline > .sparkline--max-color { color: $accent; }
    StatsGraphs Sparkline > .sparkline--min-color { color: $primary 60%; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: dict[str, deque[float]] = {k: deque(maxlen=HISTORY) for k, _ in SERIES}
        self._prev: tuple[float, dict[str, int]] | None = None
        self._memory_note = ""

    def compose(self) -> ComposeResult:
        for key, label in SERIES:
            with Horizontal():
                yield Label(f"{label:<11}–", id=f"label-{key}", classes="graph-label")
                yield Sparkline(padded(self.history[key]), summary_function=max,
                                id=f"spark-{key}")

    def points(self, key: str) -> int:
        return len(self.history[key])

    def reset(self) -> None:
        """Forget the counters (the server stopped or moved): rates restart from zero."""
        self._prev = None

    def add_sample(self, entry: dict[str, Any] | None, now: float) -> None:
        if not entry:
            return
        values: dict[str, float | None] = {"cpu": entry.get("cpu_percent")}
        used = memory_used_kib(entry)
        values["memory"] = None if used is None else used * 1024.0
        counters = {k: entry.get(field) for k, field in COUNTERS.items()}
        if self._prev is not None and now > self._prev[0]:
            dt = now - self._prev[0]
            for k, v in counters.items():
                old = self._prev[1].get(k)
                values[k] = (None if v is None or old is None or v < old
                             else (v - old) / dt)
        self._prev = (now, {k: v for k, v in counters.items() if v is not None})
        for key, label in SERIES:
            value = values.get(key)
            if value is not None:
                history = self.history[key]
                history.append(float(value))
                self.query_one(f"#spark-{key}", Sparkline).data = padded(history)
            self.query_one(f"#label-{key}", Label).update(
                f"{label:<11}{self._format(key, value)}")

    def _format(self, key: str, value: float | None) -> str:
        if value is None:
            if key == "memory":
                return "– (no balloon)"
            return "–"
        if key == "cpu":
            return f"{value:.1f} %"
        if key == "memory":
            return human_bytes(value)
        return human_bytes(value, "/s")
