"""The hosts panel: one card per host with its connection state, allocation and VM counts.

Wide screens show a few lines per host; narrow ones (``compact``) one line each.
"""
from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

STATE_STYLE = {"connected": "$success", "connecting": "$warning", "disconnected": "$error"}
STATE_ICON = {"connected": "●", "connecting": "◌", "disconnected": "○"}


def _gib(mb: int | None) -> str:
    return f"{(mb or 0) / 1024:.0f}"


def bar(used: float, total: float, width: int = 10) -> Content:
    """A small usage bar; past 100 % (overcommit) it turns to the warning colour."""
    frac = used / total if total else 0.0
    filled = max(0, min(width, round(frac * width)))
    style = "$error" if frac > 1.5 else "$warning" if frac > 1.0 else "$primary"
    return Content.assemble(("█" * filled, style), ("░" * (width - filled), "$foreground 30%"))


class HostCard(Static):
    """One host. ``info`` is a ``cloud.hosts.list`` summary; ``cpu`` the host's CPU %."""

    DEFAULT_CSS = """
    HostCard { height: auto; padding: 0 1; margin: 0 0 1 0; }
    HostCard.-compact { margin: 0; }
    """

    info: reactive[dict[str, Any]] = reactive(dict, always_update=True, layout=True)
    cpu: reactive[float | None] = reactive(None)
    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_name = name
        self.info = {"name": name, "state": "connecting"}

    def render(self) -> Content:
        i = self.info
        state = i.get("state") or "disconnected"
        head = Content.assemble((STATE_ICON.get(state, "?") + " ", STATE_STYLE.get(state, "")),
                                (self.host_name, "bold"))
        total, running = i.get("vms_total"), i.get("vms_running")
        if state != "connected":
            err = i.get("error")
            detail = f"{state}: {err}" if err else state
            if self.compact:
                return Content.assemble(head, "  ", (detail, STATE_STYLE.get(state, "")))
            return Content.assemble(head, "\n  ", (detail, STATE_STYLE.get(state, "")))
        vcpu_used, vcpus = i.get("vcpus_allocated") or 0, i.get("vcpus") or 0
        mem_used, mem = i.get("memory_mb_allocated") or 0, i.get("memory_mb") or 0
        if self.compact:
            return Content.assemble(
                head, (f"  {running}/{total} VMs", ""),
                ("  vCPU ", "$text-muted"), f"{vcpu_used}/{vcpus}",
                ("  mem ", "$text-muted"), f"{_gib(mem_used)}/{_gib(mem)} GiB")
        az = i.get("availability_zone")
        return Content.assemble(
            head, ("  " + (az or ""), "$text-muted"), "\n",
            ("  vCPU ", "$text-muted"), bar(vcpu_used, vcpus), f" {vcpu_used}/{vcpus}\n",
            ("  mem  ", "$text-muted"), bar(mem_used, mem),
            f" {_gib(mem_used)}/{_gib(mem)} GiB\n",
            ("  VMs  ", "$text-muted"), f"{running} running / {total}",
            *((("   CPU ", "$text-muted"), f"{self.cpu:.0f}%") if self.cpu is not None else ()))


class HostsPanel(VerticalScroll, can_focus=False):
    """Cards for every host, in configuration order."""

    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._names = names

    def compose(self):
        for name in self._names:
            yield HostCard(name)

    def card(self, name: str) -> HostCard | None:
        for c in self.query(HostCard):
            if c.host_name == name:
                return c
        return None

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        for c in self.query(HostCard):
            c.compact = compact
            c.set_class(compact, "-compact")

    def update_hosts(self, hosts: list[dict[str, Any]],
                     states: dict[str, str] | None = None) -> None:
        """New figures; connection state stays what the events said (``states``), since a
        summary read a moment ago may be older than the last event."""
        for h in hosts:
            c = self.card(h["name"])
            if c is not None:
                info = dict(h)
                if states and h["name"] in states and states[h["name"]] != h.get("state"):
                    info["state"] = c.info.get("state", info.get("state"))
                    info["error"] = c.info.get("error")
                c.info = info

    def set_state(self, name: str, state: str, error: str | None) -> None:
        c = self.card(name)
        if c is not None:
            c.info = {**c.info, "state": state, "error": error}

    def set_cpu(self, name: str, cpu: float | None) -> None:
        c = self.card(name)
        if c is not None:
            c.cpu = cpu
