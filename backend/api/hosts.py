"""Front door: hypervisor hosts."""
from __future__ import annotations

from typing import Any

from backend.api.base import APIFamily
from backend.api.context import RequestContext


class HostsAPI(APIFamily):
    def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        self.cloud.authorize(ctx, "host:list", {})
        self.cloud.ensure_hosts()
        return [self._summary(ctx, h) for h in self.cloud.registry.hosts.values()]

    def _summary(self, ctx: RequestContext, h) -> dict[str, Any]:
        info = h.host_info()
        if not ctx.is_admin and h.state == "connected":
            # a member's counts are of its own projects' servers, not everybody's
            mine = self.cloud.scope_servers(ctx, h.list_domains())
            active = ("running", "blocked", "paused")
            info.update(vms_total=len(mine),
                        vms_running=sum(r["state"] in ("running", "blocked") for r in mine),
                        vcpus_allocated=sum(r["vcpus"] or 0 for r in mine
                                            if r["state"] in active),
                        memory_mb_allocated=sum(r["memory_mb"] or 0 for r in mine
                                                if r["state"] in active))
        return {k: info.get(k) for k in (
            "name", "state", "uri", "availability_zone", "hypervisor", "vcpus", "memory_mb",
            "vms_total", "vms_running", "vcpus_allocated", "memory_mb_allocated", "error")}

    def get(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        self.cloud.authorize(ctx, "host:show", {})
        self.cloud.ensure_hosts()
        host = self.cloud.registry.get(name)
        info = host.host_info()
        if host.state == "connected":
            info["cpu_percent"] = host.host_cpu_percent()
        return info

    def probe(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        """KVM prerequisites of a host: over SSH (paramiko) for remote URIs, locally else."""
        self.cloud.authorize(ctx, "host:probe", {})
        from backend.hosts.probe import probe_host
        host = self.cloud.registry.get(name)
        return probe_host(host.cfg, libvirt_host=host)

    def local_usage(self, ctx: RequestContext) -> dict[str, Any]:
        """CPU and memory of the machine virtstack runs on (psutil)."""
        self.cloud.authorize(ctx, "host:show", {})
        from backend.hosts.local import host_usage
        return host_usage()
