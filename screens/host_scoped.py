"""What the storage and networks screens share: a screen over one host or all of them.

The header's host selector (``host_select()``; ``e`` opens it), ``R`` reloads, escape
goes back, a status line at the bottom (``status()``), and a reload whenever a host
connects or drops (FollowsHosts). A subclass names its widgets' ids with ``NAME``
(``#NAME-status``), loads in ``reload()`` and, if it must, forgets what belonged to the
previous host in ``host_switched()``. Key bindings stay with each screen (their order is
its footer's)."""
from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.widgets import Select, Static

from tui.widgets.follow_hosts import FollowsHosts
from tui.workers import ReportsWorkerFailures

ALL = "*"  # the host selector's "every host"


class HostScopedScreen(FollowsHosts, ReportsWorkerFailures, Screen):
    NAME = ""

    def __init__(self, cloud, ctx, *, host: str | None = None) -> None:
        super().__init__()
        self.cloud = cloud
        self.ctx = ctx
        self.host = host  # None: every host

    def host_select(self) -> Select:
        hosts = list(self.cloud.registry.hosts)
        return Select([("all hosts", ALL)] + [(h, h) for h in hosts],
                      value=self.host or ALL, allow_blank=False, id="host-select",
                      compact=True)

    def reload(self) -> None:
        raise NotImplementedError

    def host_switched(self) -> None:
        """The selector moved to another host (before the reload)."""

    def hosts_changed(self) -> None:
        self.reload()

    def status(self, text: str, error: bool = False) -> None:
        status = self.query_one(f"#{self.NAME}-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @on(Select.Changed, "#host-select")
    def _host_chosen(self, event: Select.Changed) -> None:
        host = None if event.value in (ALL, Select.BLANK) else str(event.value)
        if host != self.host:
            self.host = host
            self.host_switched()
            self.reload()

    def action_choose_host(self) -> None:
        select = self.query_one("#host-select", Select)
        select.focus()
        select.action_show_overlay()

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
