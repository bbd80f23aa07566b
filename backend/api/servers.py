"""Front door: servers (VMs) across every host."""
from __future__ import annotations

from typing import Any

from backend import errors
from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.virt.libvirt.host import ACTIONS, LibvirtHost


# backend action -> policy action, where their names differ (shutdown is nova's "stop")
POLICY_ACTION = {"shutdown": "server:stop"}


class ServersAPI(APIFamily):
    def list(self, ctx: RequestContext, host: str | None = None) -> list[dict[str, Any]]:
        self.cloud.authorize(ctx, "server:list", {"project_id": ctx.project_id})
        self.cloud.ensure_hosts()
        hosts = [self.cloud.registry.get(host)] if host else list(
            self.cloud.registry.hosts.values())
        rows: list[dict[str, Any]] = []
        for h in hosts:
            if h.state != "connected":
                if host:
                    h.conn()  # raises HostUnavailable with the reason
                continue
            rows.extend(h.list_domains())
        rows = self.cloud.scope_servers(ctx, rows)
        rows.sort(key=lambda r: (r["name"], r["host"]))
        return rows

    def locate(self, ref: str, host: str | None = None) -> tuple[LibvirtHost, dict[str, Any]]:
        """Find a server by name or UUID; ambiguity and absence are clear errors."""
        self.cloud.ensure_hosts()
        reg = self.cloud.registry
        if host:
            h = reg.get(host)
            h.conn()
            row = h.find(ref)
            if row is None:
                raise errors.NotFound(f"no server {ref!r} on host {host}")
            return h, row
        found = [(h, r) for h in reg.connected() if (r := h.find(ref)) is not None]
        if not found:
            down = [h.name for h in reg.hosts.values() if h.state != "connected"]
            extra = f" (hosts not reachable: {', '.join(down)})" if down else ""
            raise errors.NotFound(f"no server named {ref!r}{extra}")
        if len(found) > 1:
            raise errors.Conflict(f"server name {ref!r} exists on hosts "
                                  f"{', '.join(h.name for h, _ in found)}: pass --host")
        return found[0]

    def get(self, ctx: RequestContext, ref: str, host: str | None = None) -> dict[str, Any]:
        h, row = self.locate(ref, host)
        self.cloud.authorize(ctx, "server:show", self.cloud.server_target(row))
        return h.domain_info(row["uuid"])

    def action(self, ctx: RequestContext, ref: str, action: str,
               host: str | None = None) -> dict[str, Any]:
        if action not in ACTIONS:
            raise errors.InvalidInput(f"unknown server action {action!r}; expected one of "
                                      f"{', '.join(ACTIONS)}")
        h, row = self.locate(ref, host)
        with self.mutation(ctx, POLICY_ACTION.get(action, f"server:{action}"),
                           f"{h.name}/{row['name']}",
                           self.cloud.server_target(row)):
            return h.domain_action(row["uuid"], action)

    def start(self, ctx, ref, host=None):
        return self.action(ctx, ref, "start", host)

    def shutdown(self, ctx, ref, host=None):
        return self.action(ctx, ref, "shutdown", host)

    def reboot(self, ctx, ref, host=None):
        return self.action(ctx, ref, "reboot", host)

    def suspend(self, ctx, ref, host=None):
        return self.action(ctx, ref, "suspend", host)

    def resume(self, ctx, ref, host=None):
        return self.action(ctx, ref, "resume", host)

    def destroy(self, ctx, ref, host=None):
        return self.action(ctx, ref, "destroy", host)

    def delete(self, ctx: RequestContext, ref: str, host: str | None = None,
               delete_volumes: bool = False) -> dict[str, Any]:
        h, row = self.locate(ref, host)
        with self.mutation(ctx, "server:delete", f"{h.name}/{row['name']}",
                           self.cloud.server_target(row)):
            result = h.delete_domain(row["uuid"], delete_volumes=delete_volumes)
            self.cloud.forget_server(row)
            for ref in result["deleted_volumes"]:
                if "/" in ref and not ref.startswith("/"):  # pool/volume: drop its record
                    pool, name = ref.split("/", 1)
                    self.cloud.volumes.book.forget(h.name, pool, name)
            return result

    def stats(self, ctx: RequestContext, host: str,
              visible: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """One bulk stats call on one host (the TUI's tick)."""
        self.cloud.authorize(ctx, "server:list", {"project_id": ctx.project_id})
        return self.cloud.registry.get(host).bulk_stats(visible)

    def threads(self, ctx: RequestContext, ref: str, host: str | None = None) -> dict[str, Any]:
        """On a local host (no remote transport, or SSH to loopback): the VM's qemu process
        and one row per vCPU thread with its CPU time."""
        from backend.hosts.local import is_local_uri, qemu_threads
        h, row = self.locate(ref, host)
        self.cloud.authorize(ctx, "server:show", self.cloud.server_target(row))
        if not is_local_uri(h.cfg.uri):
            raise errors.NotSupported(f"{h.name} is a remote host: qemu threads are read "
                                      "with psutil on the local host only")
        if row["state"] not in ("running", "paused", "blocked"):
            raise errors.Conflict(f"server {row['name']} is {row['state']}: no qemu process")
        data = qemu_threads(row["name"])
        data.update({"name": row["name"], "host": h.name, "vcpus": row["vcpus"]})
        return data
