"""libvirt <network> XML for the four modes, built with ElementTree and validated first; and
the canonical form used to compare one network's definitions across hosts (drift)."""
from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from typing import Any

from backend.errors import InvalidInput
from backend.validation import validate_name
from backend.virt.libvirt.xml import text_el

MODES = ("nat", "routed", "isolated", "bridge")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def validate_ifname(name: object, what: str = "interface name") -> str:
    """A Linux interface name: 1-15 characters, no '/', ':', spaces or quotes."""
    if not isinstance(name, str) or not _IFNAME_RE.match(name) or name in (".", ".."):
        raise InvalidInput(f"invalid {what} {name!r}: use 1-15 letters, digits, '.', '_' "
                           "or '-', starting with a letter or digit")
    return name


def parse_subnet(subnet: object) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(str(subnet), strict=False)
    except ValueError as exc:
        raise InvalidInput(f"invalid subnet {subnet!r}: {exc}") from None
    if net.version != 4:
        raise InvalidInput(f"subnet {subnet!r}: only IPv4 subnets are supported")
    if net.prefixlen > 29:
        raise InvalidInput(f"subnet {subnet!r} is too small: use /29 or larger")
    if net.network_address.is_loopback or net.network_address.is_multicast \
            or net.network_address.is_unspecified:
        raise InvalidInput(f"subnet {subnet!r} is not usable for a virtual network")
    return net


def default_bridge(name: str) -> str:
    return ("vs-" + name)[:15]


def network_xml(name: str, mode: str = "nat", *, subnet: str | None = None,
                bridge: str | None = None, dhcp: bool = True,
                domain: str | None = None) -> str:
    """nat: a bridge with a DHCP range, forward mode nat. routed: forward mode route.
    isolated: no forward. bridge: forward mode bridge onto an existing host bridge."""
    validate_name(name, "network name")
    if mode not in MODES:
        raise InvalidInput(f"unknown network mode {mode!r}; expected one of {', '.join(MODES)}")
    net = ET.Element("network")
    text_el(net, "name", name)
    if mode == "bridge":
        if not bridge:
            raise InvalidInput("a bridge network needs --bridge BR (an existing host bridge)")
        if subnet:
            raise InvalidInput("a bridge network has no subnet of its own: the host bridge's "
                               "LAN provides addresses")
        text_el(net, "forward", mode="bridge")
        text_el(net, "bridge", name=validate_ifname(bridge, "bridge"))
        return ET.tostring(net, encoding="unicode")
    if mode in ("nat", "routed") and not subnet:
        raise InvalidInput(f"a {mode} network needs --subnet CIDR (e.g. 192.168.150.0/24)")
    if mode == "nat":
        text_el(net, "forward", mode="nat")
    elif mode == "routed":
        text_el(net, "forward", mode="route")
    text_el(net, "bridge", name=validate_ifname(bridge or default_bridge(name), "bridge"),
            stp="on", delay="0")
    if domain:
        validate_name(domain, "DNS domain")
        text_el(net, "domain", name=domain)
    if subnet:
        sn = parse_subnet(subnet)
        hosts = list(sn.hosts()) if sn.num_addresses <= 65536 else None
        gateway = next(sn.hosts())
        ip = text_el(net, "ip", address=str(gateway), netmask=str(sn.netmask))
        if dhcp:
            first = gateway + 1
            last = hosts[-1] if hosts else sn.broadcast_address - 1
            d = ET.SubElement(ip, "dhcp")
            text_el(d, "range", start=str(first), end=str(last))
    return ET.tostring(net, encoding="unicode")


def parse_network(xml: str) -> dict[str, Any]:
    root = ET.fromstring(xml)
    fwd = root.find("forward")
    fmode = fwd.get("mode", "nat") if fwd is not None else None
    mode = {"nat": "nat", "route": "routed", "bridge": "bridge", None: "isolated"}.get(
        fmode, fmode)
    br = root.find("bridge")
    ips = []
    for ip in root.findall("ip"):
        addr = ip.get("address")
        prefix = ip.get("prefix")
        if ip.get("netmask"):
            prefix = str(ipaddress.ip_network(f"0.0.0.0/{ip.get('netmask')}").prefixlen)
        cidr = None
        if addr:
            cidr = str(ipaddress.ip_interface(f"{addr}/{prefix or 24}").network)
        ranges = [f"{r.get('start')}-{r.get('end')}" for r in ip.findall("dhcp/range")]
        hosts = [f"{h.get('mac') or h.get('name')}={h.get('ip')}"
                 for h in ip.findall("dhcp/host")]
        ips.append({"family": ip.get("family", "ipv4"), "address": addr, "subnet": cidr,
                    "dhcp_ranges": ranges, "dhcp_hosts": hosts})
    return {"name": root.findtext("name"), "uuid": root.findtext("uuid"), "mode": mode,
            "bridge": br.get("name") if br is not None else None,
            "forward_dev": fwd.get("dev") if fwd is not None else None,
            "subnet": ips[0]["subnet"] if ips else None,
            "gateway": ips[0]["address"] if ips else None,
            "dhcp_ranges": [r for i in ips for r in i["dhcp_ranges"]],
            "ips": ips, "domain": (root.find("domain").get("name")
                                   if root.find("domain") is not None else None),
            "mtu": root.find("mtu").get("size") if root.find("mtu") is not None else None}


def canonical(xml: str) -> dict[str, Any]:
    """What should agree between hosts: everything but per-host identity (uuid, MAC)."""
    p = parse_network(xml)
    return {k: p[k] for k in ("mode", "bridge", "forward_dev", "subnet", "gateway",
                              "dhcp_ranges", "domain", "mtu")} | {
        "dhcp_hosts": sorted(h for i in p["ips"] for h in i["dhcp_hosts"])}
