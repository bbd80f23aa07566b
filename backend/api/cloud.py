"""The front door: one object whose methods the faces (TUI, CLI) call.

Every method takes a RequestContext first, checks policy, does the work, writes an audit
record for mutations and returns plain data (dicts, lists) -- never libvirt objects.
Families hang off the Cloud as attributes: ``cloud.hosts``, ``cloud.servers``, ...
"""
from __future__ import annotations

import logging
from typing import Any

from backend.api.context import RequestContext
from backend.config import Settings

log = logging.getLogger(__name__)


class Cloud:
    def __init__(self, settings: Settings, *, connect: bool = True):
        from backend.hosts.registry import HostRegistry
        from backend.api.hosts import HostsAPI
        from backend.api.servers import ServersAPI

        self.settings = settings
        self.registry = HostRegistry(settings)
        self.hosts = HostsAPI(self)
        self.servers = ServersAPI(self)
        if connect:
            self.registry.connect_all()

    # -- policy and audit: every API call goes through these two ----------------------
    def authorize(self, ctx: RequestContext, action: str, target: dict[str, Any] | None = None):
        """Raise PolicyDenied unless ctx may do action on target."""
        from backend.errors import PolicyDenied
        if ctx is None:
            raise PolicyDenied(f"{action}: no credentials")
        if not ctx.is_admin and action.split(":")[0] in ("host",) and not action.endswith(
                (":list", ":show")):
            raise PolicyDenied(f"{action} denied: requires rule role:admin")

    def audit(self, ctx: RequestContext, action: str, target: str | None, outcome: str,
              reason: str | None = None) -> None:
        log.info("audit %s %s %s %s %s", ctx.user_name if ctx else None, action, target,
                 outcome, reason or "")

    def close(self) -> None:
        self.registry.close()
