"""libvirt virtual networks on one host: list, show, define (+start, autostart), start, stop,
delete, DHCP leases; and drift between several hosts' definitions of one network."""
from __future__ import annotations

from typing import Any

import libvirt

from backend import errors
from backend.network.xml import canonical, parse_network
from backend.virt.libvirt.errors import mapped, translate
from backend.virt.libvirt.objects import discard


def lookup(host, name: str) -> libvirt.virNetwork:
    conn = host.conn()
    try:
        return conn.networkLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            raise errors.NotFound(f"no network {name!r} on host {host.name}") from None
        raise translate(exc, host.name, f"network {name}") from None


def exists(host, name: str) -> bool:
    try:
        lookup(host, name)
        return True
    except errors.NotFound:
        return False


def network_row(host, net: libvirt.virNetwork) -> dict[str, Any]:
    with mapped(host.name, "network info"):
        data = parse_network(net.XMLDesc(0))
        active = bool(net.isActive())
        autostart = bool(net.autostart())
        persistent = bool(net.isPersistent())
    return {"name": data["name"], "host": host.name, "mode": data["mode"],
            "active": active, "autostart": autostart, "persistent": persistent,
            "bridge": data["bridge"], "subnet": data["subnet"], "gateway": data["gateway"],
            "dhcp_ranges": data["dhcp_ranges"], "uuid": data["uuid"]}


def list_networks(host) -> list[dict[str, Any]]:
    conn = host.conn()
    with mapped(host.name, "list networks"):
        nets = conn.listAllNetworks(0)
    rows = []
    for n in nets:
        try:
            rows.append(network_row(host, n))
        except errors.NotFound:
            continue
    return sorted(rows, key=lambda r: r["name"])


def show_network(host, name: str) -> dict[str, Any]:
    net = lookup(host, name)
    row = network_row(host, net)
    try:
        row["leases"] = dhcp_leases(host, name)
    except errors.NotSupported as exc:
        row["leases"] = None
        row["leases_note"] = exc.message
    return row


def define_network(host, xml: str, *, start: bool = True,
                   autostart: bool = True) -> dict[str, Any]:
    """Define, start and autostart; a failure after the definition removes it again."""
    name = parse_network(xml)["name"]
    if exists(host, name):
        raise errors.Conflict(f"network {name!r} already exists on host {host.name}")
    conn = host.conn()
    with mapped(host.name, f"define network {name}"):
        net = conn.networkDefineXML(xml)
    step = "start"
    try:
        if start:
            net.create()
        step = "autostart"
        if autostart:
            net.setAutostart(1)
    except libvirt.libvirtError as exc:
        err = translate(exc, host.name, f"{step} network {name}")
        discard(net)
        host._persist()
        raise type(err)(err.message + "; the network definition was removed, nothing "
                        "changed") from None
    host._persist()
    return network_row(host, net)


def start_network(host, name: str) -> dict[str, Any]:
    net = lookup(host, name)
    with mapped(host.name, f"start network {name}"):
        if net.isActive():
            raise errors.Conflict(f"network {name} on {host.name} is already active")
        net.create()
    host._persist()
    return network_row(host, net)


def stop_network(host, name: str) -> dict[str, Any]:
    net = lookup(host, name)
    with mapped(host.name, f"stop network {name}"):
        if not net.isActive():
            raise errors.Conflict(f"network {name} on {host.name} is not active")
        net.destroy()
    host._persist()
    return network_row(host, net)


def set_autostart(host, name: str, on: bool) -> dict[str, Any]:
    net = lookup(host, name)
    with mapped(host.name, f"autostart network {name}"):
        net.setAutostart(1 if on else 0)
    host._persist()
    return network_row(host, net)


def delete_network(host, name: str) -> dict[str, Any]:
    net = lookup(host, name)
    with mapped(host.name, f"delete network {name}"):
        if net.isActive():
            net.destroy()
        if net.isPersistent():
            net.undefine()
    host._persist()
    return {"name": name, "host": host.name, "deleted": True}


def dhcp_leases(host, name: str) -> list[dict[str, Any]]:
    net = lookup(host, name)
    with mapped(host.name, f"DHCP leases of {name}"):
        leases = net.DHCPLeases()
    return [{"mac": lease.get("mac"), "ip": lease.get("ipaddr"),
             "prefix": lease.get("prefix"), "hostname": lease.get("hostname"),
             "expires": lease.get("expirytime"), "interface": lease.get("iface")}
            for lease in leases]


def definition(host, name: str) -> dict[str, Any] | None:
    """The canonical (comparable) persistent definition, or None when absent."""
    try:
        net = lookup(host, name)
    except errors.NotFound:
        return None
    with mapped(host.name, f"network {name}"):
        try:
            xml = net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE if net.isPersistent() else 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG,
                                            libvirt.VIR_ERR_NO_SUPPORT):
                raise
            xml = net.XMLDesc(0)   # the test driver knows no flags
        return canonical(xml)


def drift(definitions: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Per field, the hosts' values where they differ (a missing network is a difference)."""
    out: list[dict[str, Any]] = []
    missing = sorted(h for h, d in definitions.items() if d is None)
    present = {h: d for h, d in definitions.items() if d is not None}
    if missing:
        out.append({"field": "defined", "values": {h: (h not in missing)
                                                   for h in sorted(definitions)}})
    fields = sorted({k for d in present.values() for k in d})
    for f in fields:
        vals = {h: d.get(f) for h, d in sorted(present.items())}
        if len({repr(v) for v in vals.values()}) > 1:
            out.append({"field": f, "values": vals})
    return out
