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

        from backend.api.identity import IdentityAPI
        from backend.db import Database

        self.settings = settings
        self.db = Database(settings.resolved_db_url())  # migrated to head on open
        self.identity = IdentityAPI(settings, self.db)
        self.registry = HostRegistry(settings)
        self.hosts = HostsAPI(self)
        self.servers = ServersAPI(self)
        self._hosts_started = False
        if connect:
            self.ensure_hosts()

    # -- hosts ------------------------------------------------------------------------
    def ensure_hosts(self) -> None:
        """Connect every host once, in parallel (the CLI); the TUI calls start_hosts()."""
        if not self._hosts_started:
            self._hosts_started = True
            self.registry.connect_all()

    def start_hosts(self) -> None:
        """Long-lived faces: connect in the background and keep reconnecting (also for
        hosts a blocking ensure_hosts() already tried)."""
        self._hosts_started = True
        self.registry.connect_async()

    # -- server ownership (project scoping) ---------------------------------------------
    def server_owner(self, row: dict[str, Any]) -> str | None:
        """The project a server belongs to; None means the admin project (not adopted)."""
        return None

    def server_target(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"project_id": self.server_owner(row), "host": row.get("host"),
                "name": row.get("name")}

    def scope_servers(self, ctx: RequestContext, rows: list[dict[str, Any]]):
        for r in rows:
            r["project_id"] = self.server_owner(r)
        if ctx.is_admin:
            return rows
        return [r for r in rows if r["project_id"] is not None
                and r["project_id"] == ctx.project_id]

    def forget_server(self, row: dict[str, Any]) -> None:
        """Drop what the DB knows of a deleted server."""

    # -- policy and audit: every API call goes through these two ----------------------
    def authorize(self, ctx: RequestContext, action: str, target: dict[str, Any] | None = None):
        """Raise PolicyDenied unless ctx may do action on target (backend.identity.policy)."""
        self.identity.policy.enforce(ctx, action, target)

    def audit(self, ctx: RequestContext, action: str, target: str | None, outcome: str,
              reason: str | None = None) -> None:
        """Append a record to the audit log (outcome: success, failure or denied)."""
        self.identity.record(ctx, action, target, outcome, reason)

    def close(self) -> None:
        self.registry.close()
        self.db.close()
