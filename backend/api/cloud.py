"""The front door: one object whose methods the faces (TUI, CLI) call.

Every method takes a RequestContext first, checks policy, does the work, writes an audit
record for mutations and returns plain data (dicts, lists) -- never libvirt objects.
Families hang off the Cloud as attributes: ``cloud.hosts``, ``cloud.servers``, ...
"""
from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from backend.api.context import RequestContext
from backend.config import Settings

log = logging.getLogger(__name__)


class Cloud:
    def __init__(self, settings: Settings, *, connect: bool = True, background: bool = False):
        """connect: connect every host now, in parallel, and wait (the CLI).
        background: start connecting at once, in the background, with reconnect (the TUI):
        the hosts open while the state database and identity load."""
        from backend.hosts.registry import HostRegistry

        self.settings = settings
        self._hosts_started = False
        self.registry = HostRegistry(settings)
        if background:
            self.start_hosts()

        from backend.api.hosts import HostsAPI
        from backend.api.identity import IdentityAPI
        from backend.api.servers import ServersAPI
        from backend.db import Database

        self.db = Database(settings.resolved_db_url())  # migrated to head on open
        self.identity = IdentityAPI(settings, self.db)
        self.hosts = HostsAPI(self)
        self.servers = ServersAPI(self)
        from backend.api.compute import attach
        attach(self)  # cloud.compute, .flavors, .images, .quotas, .server_groups
        if connect and not background:
            self.ensure_hosts()

    # -- families made on first use (their modules load only then) -------------------------
    # Listing hosts and servers needs none of these. They hold no state of their own, so
    # two threads racing for the first use at worst make one spare.
    @cached_property
    def server_ops(self):
        """Snapshots, clone, console, edits, migration."""
        from backend.api.server_ops import ServerOpsAPI
        return ServerOpsAPI(self)

    @cached_property
    def pools(self):
        from backend.api.storage import PoolsAPI
        return PoolsAPI(self)

    @cached_property
    def volumes(self):
        from backend.api.storage import VolumesAPI
        return VolumesAPI(self)

    @cached_property
    def networks(self):
        from backend.api.networks import NetworksAPI
        return NetworksAPI(self)

    @cached_property
    def host_networks(self):
        from backend.api.networks import HostNetworksAPI
        return HostNetworksAPI(self)

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
        """The project a server belongs to: its servers-table row, else (a VM virtstack did
        not create, until adopted) the admin project."""
        return self.compute.manager.owner(row.get("uuid")) or self.identity.admin_project_id()

    def server_target(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"project_id": self.server_owner(row), "host": row.get("host"),
                "name": row.get("name")}

    def scope_servers(self, ctx: RequestContext, rows: list[dict[str, Any]]):
        owners, admin_project = self.compute.manager.owners(), self.identity.admin_project_id()
        for r in rows:
            r["project_id"] = owners.get(r.get("uuid")) or admin_project
        if ctx.is_admin:
            return rows
        return [r for r in rows if r["project_id"] is not None
                and r["project_id"] == ctx.project_id]

    def forget_server(self, row: dict[str, Any]) -> None:
        """Drop what the DB knows of a deleted server: release its claim, mark DELETED."""
        self.compute.manager.forget(row)

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
