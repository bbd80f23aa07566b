"""Network XML for each mode, validated before libvirt sees it; canonical form for drift."""
import xml.etree.ElementTree as ET

import pytest

from backend.errors import InvalidInput
from backend.network.networks import drift
from backend.network.xml import canonical, network_xml, validate_ifname


def test_nat_network_has_bridge_dhcp_and_forward_nat():
    root = ET.fromstring(network_xml("lab", "nat", subnet="192.168.150.0/24"))
    assert root.find("forward").get("mode") == "nat"
    assert root.find("bridge").get("name") == "vs-lab"
    ip = root.find("ip")
    assert (ip.get("address"), ip.get("netmask")) == ("192.168.150.1", "255.255.255.0")
    rng = ip.find("dhcp/range")
    assert (rng.get("start"), rng.get("end")) == ("192.168.150.2", "192.168.150.254")


def test_routed_isolated_bridge_modes():
    assert ET.fromstring(network_xml("r", "routed", subnet="10.1.0.0/24")).find(
        "forward").get("mode") == "route"
    iso = ET.fromstring(network_xml("i", "isolated"))
    assert iso.find("forward") is None and iso.find("ip") is None
    iso2 = ET.fromstring(network_xml("i", "isolated", subnet="10.2.0.0/24", dhcp=False))
    assert iso2.find("forward") is None and iso2.find("ip/dhcp") is None
    br = ET.fromstring(network_xml("b", "bridge", bridge="br0"))
    assert br.find("forward").get("mode") == "bridge"
    assert br.find("bridge").get("name") == "br0" and br.find("ip") is None


@pytest.mark.parametrize("kwargs,match", [
    ({"mode": "nat"}, "--subnet"),
    ({"mode": "routed"}, "--subnet"),
    ({"mode": "bridge"}, "--bridge"),
    ({"mode": "bridge", "bridge": "br0", "subnet": "10.0.0.0/24"}, "no subnet"),
    ({"mode": "nat", "subnet": "10.0.0.0/30"}, "too small"),
    ({"mode": "nat", "subnet": "not-a-net"}, "invalid subnet"),
    ({"mode": "nat", "subnet": "fd00::/64"}, "IPv4"),
    ({"mode": "nat", "subnet": "127.0.0.0/8"}, "not usable"),
    ({"mode": "mesh"}, "unknown network mode"),
    ({"mode": "bridge", "bridge": "br0'; reboot"}, "invalid bridge"),
    ({"mode": "bridge", "bridge": "a-very-long-bridge-name"}, "invalid bridge"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(InvalidInput, match=match):
        network_xml("n", **kwargs)


def test_bad_names():
    with pytest.raises(InvalidInput):
        network_xml("it's", "isolated")
    with pytest.raises(InvalidInput):
        validate_ifname("eth0/1")


def test_canonical_ignores_uuid_and_mac_and_drift_lists_fields():
    a = network_xml("n", "nat", subnet="10.5.0.0/24").replace(
        "<name>n</name>", "<name>n</name><uuid>11111111-1111-1111-1111-111111111111</uuid>"
        "<mac address='52:54:00:00:00:01'/>")
    b = network_xml("n", "nat", subnet="10.5.0.0/24")
    assert canonical(a) == canonical(b)
    c = network_xml("n", "routed", subnet="10.6.0.0/24")
    diffs = drift({"h1": canonical(a), "h2": canonical(c), "h3": None})
    fields = {d["field"]: d["values"] for d in diffs}
    assert fields["defined"] == {"h1": True, "h2": True, "h3": False}
    assert fields["mode"] == {"h1": "nat", "h2": "routed"}
    assert fields["subnet"] == {"h1": "10.5.0.0/24", "h2": "10.6.0.0/24"}
    assert "bridge" not in fields
    assert drift({"h1": canonical(a), "h2": canonical(b)}) == []
