"""virtstack network list|show|create|start|stop|autostart|delete|drift|leases,
virtstack interface list (what a host has), virtstack bridge create|delete and virtstack vlan
create (host networking plans)."""
from __future__ import annotations

from backend.errors import InvalidInput

NET_COLUMNS = ["name", "host", "mode", "active", "autostart", "bridge", "subnet"]
IFACE_COLUMNS = ["name", "kind", "master", "up", "state", "mac", "mtu", "ipv4", "ipv6"]


def _confirm(env, what: str) -> None:
    if not env.args.yes:
        raise InvalidInput(f"{what} is destructive: pass --yes to confirm")


def _list(env):
    return env.cloud.networks.list(env.ctx, host=env.args.host)


def _show(env):
    return env.cloud.networks.get(env.ctx, env.args.name, host=env.args.host)


def _leases(env):
    return env.cloud.networks.leases(env.ctx, env.args.name, host=env.args.host)


def _create(env):
    a = env.args
    return env.cloud.networks.create(env.ctx, a.name, a.mode, hosts=a.host, subnet=a.subnet,
                                     bridge=a.bridge, dhcp=not a.no_dhcp,
                                     start=not a.no_start, autostart=not a.no_autostart)


def _simple(verb):
    def run(env):
        return getattr(env.cloud.networks, verb)(env.ctx, env.args.name, host=env.args.host)
    return run


def _autostart(env):
    return env.cloud.networks.autostart(env.ctx, env.args.name, on=not env.args.off,
                                        host=env.args.host)


def _delete(env):
    _confirm(env, f"network delete {env.args.name}")
    return env.cloud.networks.delete(env.ctx, env.args.name, host=env.args.host)


def _drift(env):
    out = env.cloud.networks.drift(env.ctx, env.args.name, hosts=env.args.host)
    if env.args.format == "json":
        return out
    if out["in_sync"]:
        return {"network": out["network"], "hosts": out["hosts"], "in_sync": True}
    return [{"field": d["field"], **{h: d["values"].get(h) for h in out["hosts"]}}
            for d in out["differences"]]


def _plan_out(env, out):
    if env.args.format == "json":
        return out
    head = "plan (dry run, nothing changed)" if out.get("dry_run") else "applied"
    print(f"{head}: {out['plan']} on {out['target']}")
    return [{k: s[k] for k in ("n", "step", "command")} for s in out["steps"]]


def _where(env):
    return {"host": env.args.host, "netns": env.args.netns, "dry_run": env.args.dry_run,
            "transport": env.args.transport}


def _bridge_create(env):
    return _plan_out(env, env.cloud.host_networks.bridge_create(
        env.ctx, env.args.bridge, env.args.port, **_where(env)))


def _bridge_delete(env):
    if not env.args.dry_run:
        _confirm(env, f"bridge delete {env.args.bridge}")
    return _plan_out(env, env.cloud.host_networks.bridge_delete(
        env.ctx, env.args.bridge, env.args.port, **_where(env)))


def _vlan_create(env):
    return _plan_out(env, env.cloud.host_networks.vlan_create(
        env.ctx, env.args.parent, env.args.id, env.args.bridge, network=env.args.network,
        **_where(env)))


def _interfaces(env):
    return env.cloud.host_networks.interfaces(env.ctx, host=env.args.host,
                                              netns=env.args.netns,
                                              transport=env.args.transport)


def _iflist(env):
    return env.cloud.networks.server_interfaces(env.ctx, env.args.server, host=env.args.host)


def _hostnet_args(p) -> None:
    p.add_argument("--host", help="a configured host (SSH when its URI is remote)")
    p.add_argument("--netns", help="a network namespace of this machine instead of a host")
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--transport", choices=["auto", "ip"], default="auto",
                   help="netns only: pyroute2 (auto) or the ip command")


def register(sub) -> None:
    p = sub.add_parser("network", help="libvirt virtual networks on every host")
    ns = p.add_subparsers(dest="network_command", metavar="ACTION", required=True)
    ls = ns.add_parser("list", help="list networks")
    ls.add_argument("--host")
    ls.set_defaults(func=_list, columns=NET_COLUMNS)
    for verb, fn, help_ in (("show", _show, "show one network (with DHCP leases)"),
                            ("leases", _leases, "DHCP leases of a network"),
                            ("start", _simple("start"), "start a network"),
                            ("stop", _simple("stop"), "stop a network")):
        v = ns.add_parser(verb, help=help_)
        v.add_argument("name")
        v.add_argument("--host")
        v.set_defaults(func=fn)
    c = ns.add_parser("create", help="define (and start) a network on one or more hosts")
    c.add_argument("name")
    c.add_argument("--mode", default="nat", choices=["nat", "routed", "isolated", "bridge"])
    c.add_argument("--subnet", help="IPv4 CIDR (nat, routed, optional for isolated)")
    c.add_argument("--bridge", help="bridge name (bridge mode: an existing host bridge)")
    c.add_argument("--host", action="append",
                   help="a host to define it on (repeatable; default every host)")
    c.add_argument("--no-dhcp", action="store_true")
    c.add_argument("--no-start", action="store_true")
    c.add_argument("--no-autostart", action="store_true")
    c.set_defaults(func=_create, columns=NET_COLUMNS)
    au = ns.add_parser("autostart", help="start with the host (--off: not)")
    au.add_argument("name")
    au.add_argument("--off", action="store_true")
    au.add_argument("--host")
    au.set_defaults(func=_autostart)
    d = ns.add_parser("delete", help="stop and undefine a network (needs --yes)")
    d.add_argument("name")
    d.add_argument("--host")
    d.add_argument("--yes", action="store_true")
    d.set_defaults(func=_delete)
    dr = ns.add_parser("drift", help="how the hosts' definitions of a network differ")
    dr.add_argument("name")
    dr.add_argument("--host", action="append", help="compare only these hosts")
    dr.set_defaults(func=_drift)
    il = ns.add_parser("iflist", help="a server's interfaces, like virsh domiflist")
    il.add_argument("server")
    il.add_argument("--host")
    il.set_defaults(func=_iflist, columns=["interface", "type", "source", "model", "mac"])

    i = sub.add_parser("interface", aliases=["iface"],
                       help="a host's interfaces: bridges, ports, addresses (read-only)")
    is_ = i.add_subparsers(dest="interface_command", metavar="ACTION", required=True)
    il2 = is_.add_parser("list", help="every interface with its kind, master, state, MAC, "
                         "MTU and addresses (like ip -d addr)")
    il2.add_argument("--host", help="a configured host (SSH when its URI is remote)")
    il2.add_argument("--netns", help="a network namespace of this machine instead of a host")
    il2.add_argument("--transport", choices=["auto", "ip"], default="auto",
                     help="netns only: pyroute2 (auto) or the ip command")
    il2.set_defaults(func=_interfaces, columns=IFACE_COLUMNS)

    b = sub.add_parser("bridge", help="Linux bridges on a host (a plan with rollback)")
    bs = b.add_subparsers(dest="bridge_command", metavar="ACTION", required=True)
    bc = bs.add_parser("create", help="create a bridge and move a NIC (and its addresses) "
                       "into it")
    bc.add_argument("bridge")
    bc.add_argument("--port", required=True, help="the NIC to move into the bridge")
    _hostnet_args(bc)
    bc.set_defaults(func=_bridge_create)
    bd = bs.add_parser("delete", help="remove a bridge, addresses back to its port "
                       "(needs --yes)")
    bd.add_argument("bridge")
    bd.add_argument("--port", action="append", help="port to release (first one gets the "
                    "bridge's addresses back)")
    bd.add_argument("--yes", action="store_true")
    _hostnet_args(bd)
    bd.set_defaults(func=_bridge_delete)
    v = sub.add_parser("vlan", help="802.1Q VLAN sub-interfaces bridged for VMs")
    vs = v.add_subparsers(dest="vlan_command", metavar="ACTION", required=True)
    vc = vs.add_parser("create", help="NIC.ID sub-interface, a bridge on it, optionally a "
                       "libvirt network on the bridge")
    vc.add_argument("--parent", required=True, help="the NIC carrying the VLAN")
    vc.add_argument("--id", required=True, type=int, help="VLAN id 1-4094")
    vc.add_argument("--bridge", required=True)
    vc.add_argument("--network", help="also define this libvirt network on the bridge")
    _hostnet_args(vc)
    vc.set_defaults(func=_vlan_create)
