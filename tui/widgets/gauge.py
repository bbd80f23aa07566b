"""A resource gauge: one line per resource of a host (vCPU, RAM or disk).

The bar spans the host's *limit* (physical x allocation ratio). What is allocated is
drawn in parts -- claimed by virtstack's servers, used by what the host runs that
virtstack did not create (unmanaged), reserved for the host itself -- and the rest is
free. A tick marks the physical size where the ratio overcommits. The figures follow
the bar: ``allocated/limit``, free, physical x ratio, and the unmanaged share.

``figures`` is one resource of ``cloud.compute.resources()`` as it is:
``{"physical", "ratio", "limit", "claimed", "unmanaged", "reserved", "allocated", "free"}``.
"""
from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

#: resource key -> (label, unit, how to show an amount of it)
UNITS = {"vcpus": ("vCPU", "", 1.0), "memory_mb": ("RAM", "GiB", 1024.0),
         "disk_gb": ("Disk", "GB", 1.0)}
MIN_BAR, MAX_BAR = 8, 48
#: Room kept for the figures, so that the bars of one host line up whatever their text.
TEXT_COLS = 58


def amount(value: float | int | None, key: str) -> str:
    """A resource amount as the gauges show it: vCPUs whole (or one decimal when
    fractional), RAM in GiB with one decimal, disk in GB with up to one decimal."""
    _label, _unit, div = UNITS[key]
    v = (value or 0) / div
    if key == "memory_mb":
        return f"{v:.1f}"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def figures_text(figures: dict[str, Any], key: str) -> str:
    """The numbers after the bar, e.g. ``20/128 free 108 · 8×16.0 · unmanaged 20``."""
    f = figures
    unit = UNITS[key][1]
    unit_s = f" {unit}" if unit else ""
    parts = [f"{amount(f['allocated'], key)}/{amount(f['limit'], key)}{unit_s}",
             f"free {amount(f['free'], key)}",
             f"{amount(f['physical'], key)}×{f['ratio']:g}"]
    if f.get("unmanaged"):
        parts.append(f"unmanaged {amount(f['unmanaged'], key)}")
    if f.get("reserved"):
        parts.append(f"reserved {amount(f['reserved'], key)}")
    return " · ".join(parts)


def gauge_bar(figures: dict[str, Any], width: int) -> Content:
    """Claimed | unmanaged | reserved | free over the limit, a tick at the physical size;
    past the limit (a host that shrank, or unmanaged growth) the whole bar is red."""
    limit = float(figures.get("limit") or 0)
    if width <= 0:
        return Content("")
    if limit <= 0:
        return Content.styled("·" * width, "$foreground 30%")
    allocated = float(figures.get("allocated") or 0)
    if allocated > limit:
        return Content.styled("█" * width, "$error")
    cells = []
    for part, style in (("claimed", "$primary"), ("unmanaged", "$warning"),
                        ("reserved", "$foreground 50%")):
        cells.append((round(float(figures.get(part) or 0) / limit * width), style))
    used = 0
    out: list[tuple[str, str]] = []
    for n, style in cells:
        n = max(0, min(width - used, n))
        out.append(("█" * n, style))
        used += n
    free = width - used
    tick = round(float(figures.get("physical") or 0) / limit * width)
    if figures.get("ratio", 1) > 1 and used <= tick < width:
        out.append(("░" * (tick - used), "$foreground 30%"))
        out.append(("│", "$text-muted"))
        out.append(("░" * (width - tick - 1), "$foreground 30%"))
    else:
        out.append(("░" * free, "$foreground 30%"))
    return Content.assemble(*out)


class Gauge(Widget):
    """One resource of one host: label, bar, figures (one line)."""

    DEFAULT_CSS = """
    Gauge { height: 1; width: 1fr; }
    """

    figures: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def __init__(self, key: str, figures: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if key not in UNITS:
            raise ValueError(f"unknown resource {key!r}")
        super().__init__(**kwargs)
        self.key = key
        if figures:
            self.figures = figures

    @property
    def text(self) -> str:
        """The figures as shown (no bar): what a reader compares with the backend."""
        return figures_text(self.figures, self.key) if self.figures else ""

    def render(self) -> Content:
        label = f"{UNITS[self.key][0]:<5}"
        if not self.figures:
            return Content.assemble((label, "$text-muted"), ("…", "$text-muted"))
        text = self.text
        width = max(MIN_BAR, min(MAX_BAR, self.size.width - len(label) - 1 - TEXT_COLS))
        return Content.assemble((label, "$text-muted"), gauge_bar(self.figures, width), " ",
                                text)
