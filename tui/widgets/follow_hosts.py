"""A screen whose contents depend on which hosts are up."""
from __future__ import annotations

from typing import Any

from tui.messages import HostEvent


class FollowsHosts:
    """Mixin: call ``follow_hosts()`` on mount; ``hosts_changed()`` runs on the UI thread
    whenever a host connects or drops. Registry events come on libvirt's thread, so they
    are only posted here."""

    def follow_hosts(self) -> None:
        self.cloud.registry.add_listener(self._relay_host_event)

    def on_unmount(self) -> None:
        self.cloud.registry.remove_listener(self._relay_host_event)

    def _relay_host_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "host":
            self.post_message(HostEvent(event["host"], event["state"], event.get("error")))

    def on_host_event(self, message: HostEvent) -> None:
        if message.state in ("connected", "disconnected"):
            self.hosts_changed()

    def hosts_changed(self) -> None:
        raise NotImplementedError
