"""The hypervisor-host interface (like nova's ComputeDriver). The rest of the backend talks to
this; ``backend.virt.libvirt.host.LibvirtHost`` is the implementation."""
from __future__ import annotations

import abc
from typing import Any, Callable

# Plain-string VM states shown everywhere (libvirt's virDomainState, named).
STATES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed",
          "pmsuspended")


class HostDriver(abc.ABC):
    """One hypervisor host. Methods raise backend.errors exceptions, return plain data."""

    name: str
    state: str  # "connecting" | "connected" | "disconnected"
    last_error: str | None

    @abc.abstractmethod
    def connect(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def host_info(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def list_domains(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def domain_info(self, ref: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def domain_action(self, ref: str, action: str) -> dict[str, Any]:
        """action: start | shutdown | reboot | suspend | resume | destroy"""

    @abc.abstractmethod
    def delete_domain(self, ref: str, delete_volumes: bool = False) -> dict[str, Any]: ...

    @abc.abstractmethod
    def define_domain(self, xml: str, start: bool = False) -> dict[str, Any]: ...

    @abc.abstractmethod
    def bulk_stats(self, visible: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """uuid -> {cpu_time_ns, ...}: one bulk call per tick; per-domain calls only for
        ``visible`` uuids where the bulk call lacks the figures."""

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(cb)
