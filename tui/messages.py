"""Messages the TUI's workers and the libvirt event bridge post to screens.

Workers never touch widgets: they post one of these and the screen's handler (on the UI
thread) updates the widgets. High-rate messages replace their own pending copies.
"""
from __future__ import annotations

from typing import Any

from textual.message import Message


class HostEvent(Message):
    """A host changed connection state (connecting / connected / disconnected)."""

    def __init__(self, host: str, state: str, error: str | None, *,
                 snapshot: bool = False) -> None:
        super().__init__()
        self.host = host
        self.state = state
        self.error = error
        #: True when read from the registry at start-up rather than sent by it: a real
        #: event already received for the host is more recent and wins.
        self.snapshot = snapshot


class DomainEventsPending(Message):
    """Domain lifecycle events are waiting in the bridge's queue; drain them in one go.

    Only one is ever pending: events arriving before the drain join the same batch."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DomainEventsPending)


class HostsUpdated(Message):
    """Fresh host summaries (``cloud.hosts.list``)."""

    def __init__(self, hosts: list[dict[str, Any]]) -> None:
        super().__init__()
        self.hosts = hosts

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostsUpdated)


class HostRowsLoaded(Message):
    """Every server of one host (``cloud.servers.list(ctx, host=...)``)."""

    def __init__(self, host: str, rows: list[dict[str, Any]], seq: int = 0) -> None:
        super().__init__()
        self.host = host
        self.rows = rows
        self.seq = seq  # which load of this host it answers (an older one is stale)


class StatsUpdated(Message):
    """One stats tick of one host finished; ``stats`` is None when it failed;
    ``host_cpu`` is False when the host's CPU % was not asked this tick."""

    def __init__(self, host: str, stats: dict[str, dict[str, Any]] | None,
                 host_cpu: float | None | bool = False) -> None:
        super().__init__()
        self.host = host
        self.stats = stats
        self.host_cpu = host_cpu

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatsUpdated) and message.host == self.host


class ActionDone(Message):
    """A (bulk) server action finished; ``rows`` are the servers it succeeded on."""

    def __init__(self, action: str, rows: list[dict[str, Any]], failed: int = 0) -> None:
        super().__init__()
        self.action = action
        self.rows = rows
        self.failed = failed


class ServerLoaded(Message):
    """A server's full description (``cloud.servers.get``)."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info
