"""Front door: libvirt virtual networks across hosts (``cloud.networks``) and host
networking -- Linux bridges and VLANs as plans with rollback (``cloud.host_networks``)."""
from __future__ import annotations

from typing import Any

from backend import errors
from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.network import networks as N
from backend.network.xml import network_xml


def _target(host: str | None = None) -> dict[str, Any]:
    return {"project_id": None, "host": host}


class NetworksAPI(APIFamily):
    def _hosts(self, hosts: list[str] | str | None):
        self.cloud.ensure_hosts()
        reg = self.cloud.registry
        if isinstance(hosts, str):
            hosts = [hosts]
        if hosts:
            out = []
            for name in dict.fromkeys(hosts):
                h = reg.get(name)
                h.conn()
                out.append(h)
            return out
        return reg.connected()

    def _net_host(self, name: str, host: str | None):
        if host:
            h = self._hosts(host)[0]
            N.lookup(h, name)
            return h
        found = [h for h in self._hosts(None) if N.exists(h, name)]
        if not found:
            raise errors.NotFound(f"no network named {name!r} on any connected host")
        if len(found) > 1:
            raise errors.Conflict(f"network {name!r} exists on hosts "
                                  f"{', '.join(h.name for h in found)}: pass --host")
        return found[0]

    def list(self, ctx: RequestContext, host: str | None = None) -> list[dict[str, Any]]:
        self.cloud.authorize(ctx, "network:list", _target(host))
        rows: list[dict[str, Any]] = []
        for h in self._hosts(host):
            rows.extend(N.list_networks(h))
        return sorted(rows, key=lambda r: (r["name"], r["host"]))

    def get(self, ctx: RequestContext, name: str, host: str | None = None) -> dict[str, Any]:
        self.cloud.authorize(ctx, "network:show", _target(host))
        return N.show_network(self._net_host(name, host), name)

    def leases(self, ctx: RequestContext, name: str, host: str | None = None):
        self.cloud.authorize(ctx, "network:show", _target(host))
        return N.dhcp_leases(self._net_host(name, host), name)

    def create(self, ctx: RequestContext, name: str, mode: str = "nat",
               hosts: list[str] | str | None = None, *, subnet: str | None = None,
               bridge: str | None = None, dhcp: bool = True, start: bool = True,
               autostart: bool = True) -> list[dict[str, Any]]:
        """Define the same network on every host given (all connected hosts when none).
        All or nothing: when one host refuses, the hosts already done are undone."""
        xml = network_xml(name, mode, subnet=subnet, bridge=bridge, dhcp=dhcp)
        targets = self._hosts(hosts)
        if not targets:
            raise errors.HostUnavailable("no connected host to define the network on")
        clash = [h.name for h in targets if N.exists(h, name)]
        if clash:
            raise errors.Conflict(f"network {name!r} already exists on {', '.join(clash)}")
        label = f"{','.join(h.name for h in targets)}/{name}"
        done: list = []
        with self.mutation(ctx, "network:create", label, _target()):
            try:
                for h in targets:
                    done.append((h, N.define_network(h, xml, start=start,
                                                     autostart=autostart)))
            except errors.VirtstackError as exc:
                for h, _row in done:
                    try:
                        N.delete_network(h, name)
                    except errors.VirtstackError:
                        pass
                undone = f" (undone on {', '.join(h.name for h, _ in done)})" if done else ""
                raise type(exc)(exc.message + undone) from None
            return [row for _h, row in done]

    def _act(self, ctx, action, name, host, fn, *a):
        h = self._net_host(name, host)
        with self.mutation(ctx, f"network:{action}", f"{h.name}/{name}", _target(h.name)):
            return fn(h, name, *a)

    def start(self, ctx, name, host=None):
        return self._act(ctx, "start", name, host, N.start_network)

    def stop(self, ctx, name, host=None):
        return self._act(ctx, "stop", name, host, N.stop_network)

    def autostart(self, ctx, name, on: bool = True, host=None):
        return self._act(ctx, "autostart", name, host, N.set_autostart, on)

    def delete(self, ctx, name, host=None):
        return self._act(ctx, "delete", name, host, N.delete_network)

    def drift(self, ctx: RequestContext, name: str,
              hosts: list[str] | None = None) -> dict[str, Any]:
        """How the hosts' definitions of ``name`` differ (empty ``differences``: in sync)."""
        self.cloud.authorize(ctx, "network:show", _target())
        defs = {h.name: N.definition(h, name) for h in self._hosts(hosts)}
        if all(d is None for d in defs.values()):
            raise errors.NotFound(f"no network named {name!r} on any connected host")
        diffs = N.drift(defs)
        return {"network": name, "hosts": sorted(defs), "in_sync": not diffs,
                "differences": diffs}
