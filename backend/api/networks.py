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

    def server_interfaces(self, ctx: RequestContext, server: str,
                          host: str | None = None) -> list[dict[str, Any]]:
        """What ``virsh domiflist`` shows for one VM: host device (vnetN/tap, while it
        runs), type, source network or bridge, model, MAC."""
        info = self.cloud.servers.get(ctx, server, host=host)
        return [{"interface": i.get("interface") or "-", "type": i.get("type"),
                 "source": i.get("source"), "model": i.get("model"), "mac": i.get("mac")}
                for i in info.get("interfaces", [])]

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


class HostNetworksAPI(APIFamily):
    """Linux bridges and VLANs on a host, each change a plan shown first and rolled back
    entirely when a step fails. A host is a configured host (over SSH when its URI is
    remote, pyroute2 when local) or, for tests and labs, a network namespace of this machine."""

    def executor(self, host: str | None = None, netns: str | None = None,
                 transport: str = "auto"):
        from backend.network import hostnet as H
        if netns:
            from backend.network.xml import validate_ifname
            validate_ifname(netns, "network namespace")  # same character rules
            if transport == "ip":
                return H.IpCommandNet(H.local_runner(netns), f"netns {netns}",
                                      script_runner=H.local_runner(netns))
            return H.LocalNet(netns)
        if not host:
            raise errors.InvalidInput("pass --host H (a configured host) or --netns NAME")
        cfg = self.cloud.registry.get(host).cfg
        from urllib.parse import urlsplit
        parts = urlsplit(cfg.uri)
        if parts.scheme.startswith("test"):
            raise errors.InvalidInput(f"host {host} is a libvirt test-driver host: it has no "
                                      "real interfaces to list or change (use --netns for a lab)")
        transport_name = parts.scheme.split("+", 1)[1] if "+" in parts.scheme else ""
        if not parts.hostname or transport_name not in ("ssh", "libssh", "libssh2"):
            return H.LocalNet()
        client = _ssh_client(cfg, parts)
        runner = H.ssh_runner(client)
        ex = H.IpCommandNet(runner, f"host {host}", script_runner=runner)
        ex.close = client.close  # type: ignore[method-assign]
        return ex

    def interfaces(self, ctx: RequestContext, host: str | None = None,
                   netns: str | None = None, transport: str = "auto") -> list[dict[str, Any]]:
        """What a host (or a namespace of this machine) has now: every interface with its
        kind, master, state, MAC, MTU and addresses (read-only, like ``ip addr``)."""
        from backend.network import hostnet as H
        self.cloud.authorize(ctx, "host:show", _target(host))
        ex = self.executor(host, netns, transport)
        try:
            return ex.links()
        except H.CommandFailed as exc:
            if "Cannot open network namespace" in str(exc):
                raise errors.NotFound(f"no network namespace {netns!r} on this machine "
                                      "(ip netns list)") from None
            raise errors.OperationFailed(f"{ex.target}: {exc}") from None
        finally:
            ex.close()

    def _run(self, ctx, action: str, label: str, build, dry_run: bool, host, netns,
             transport: str = "auto"):
        from backend.network import hostnet as H
        where = f"netns {netns}" if netns else f"host {host}"
        if dry_run:
            self.cloud.authorize(ctx, action, _target(host))
            ex = self.executor(host, netns, transport)
            try:
                plan = build(ex)
            finally:
                ex.close()
            return {"dry_run": True, "plan": plan.title, "target": plan.target,
                    "steps": plan.as_dicts()}
        with self.mutation(ctx, action, f"{where}: {label}", _target(host)):
            ex = self.executor(host, netns, transport)
            try:
                return H.apply(build(ex), ex)
            finally:
                ex.close()

    def bridge_create(self, ctx: RequestContext, bridge: str, port: str, *,
                      host: str | None = None, netns: str | None = None,
                      dry_run: bool = False, transport: str = "auto") -> dict[str, Any]:
        from backend.network import hostnet as H
        return self._run(ctx, "network:bridge", f"bridge {bridge} port {port}",
                         lambda ex: H.bridge_plan(ex, bridge, port), dry_run, host, netns,
                         transport)

    def bridge_delete(self, ctx: RequestContext, bridge: str, ports: list[str] | None = None,
                      *, host: str | None = None, netns: str | None = None,
                      dry_run: bool = False, transport: str = "auto") -> dict[str, Any]:
        from backend.network import hostnet as H
        return self._run(ctx, "network:bridge", f"remove bridge {bridge}",
                         lambda ex: H.delete_bridge_plan(ex, bridge, ports), dry_run, host,
                         netns, transport)

    def vlan_create(self, ctx: RequestContext, parent: str, vlan_id: int, bridge: str, *,
                    host: str | None = None, netns: str | None = None,
                    dry_run: bool = False, network: str | None = None,
                    transport: str = "auto") -> dict[str, Any]:
        """VLAN sub-interface + bridge; with ``network``, also a libvirt bridge network on
        it (on ``host``), so VMs attached to that network are in the VLAN."""
        from backend.network import hostnet as H
        if network:
            network_xml(network, "bridge", bridge=bridge)   # bad input fails first
            if not host:
                raise errors.InvalidInput("--network needs --host (the libvirt host)")
        out = self._run(ctx, "network:vlan", f"vlan {vlan_id} on {parent} as {bridge}",
                        lambda ex: H.vlan_plan(ex, parent, vlan_id, bridge), dry_run, host,
                        netns, transport)
        if network:
            if dry_run:
                out["steps"].append({"n": len(out["steps"]) + 1,
                                     "step": f"define libvirt network {network} on "
                                             f"bridge {bridge}",
                                     "command": f"virsh net-define ({network}, forward "
                                                f"mode bridge, bridge {bridge})",
                                     "undo": f"virsh net-undefine {network}"})
            else:
                out["network"] = self.cloud.networks.create(ctx, network, "bridge",
                                                            hosts=[host], bridge=bridge)
        return out


def _ssh_client(cfg, parts):
    """paramiko to the host of a qemu+ssh URI: key auth, host key checked against
    known_hosts (an unknown or changed key is refused)."""
    import os

    import paramiko
    client = paramiko.SSHClient()
    known = os.path.expanduser(cfg.known_hosts or "~/.ssh/known_hosts")
    try:
        client.load_host_keys(known)
    except OSError as exc:
        raise errors.HostKeyError(f"{cfg.name}: cannot read known_hosts {known}: {exc}") \
            from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(parts.hostname, port=parts.port or 22,
                       username=parts.username or "root",
                       key_filename=os.path.expanduser(cfg.keyfile) if cfg.keyfile else None,
                       timeout=cfg.ssh_connect_timeout, allow_agent=False,
                       look_for_keys=not cfg.keyfile)
    except paramiko.SSHException as exc:
        if "not found in known_hosts" in str(exc) or isinstance(
                exc, paramiko.BadHostKeyException):
            raise errors.HostKeyError(f"{cfg.name}: SSH host key not trusted: {exc}") from None
        raise errors.HostUnavailable(f"{cfg.name}: SSH failed: {exc}") from None
    except OSError as exc:
        raise errors.HostUnavailable(f"{cfg.name}: SSH connection failed: {exc}") from None
    return client
