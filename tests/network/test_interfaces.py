"""A host's interfaces (``Executor.links``, ``cloud.host_networks.interfaces``, ``virtstack
interface list``), read inside a network namespace each test creates (see conftest.py):
nic0 holds 10.213.7.2/30; after a bridge apply br0 holds it and nic0 is br0's port."""
import json
import os
import shutil

import pytest

from backend import errors
from backend.network import hostnet as H

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="network namespaces need root and iproute2")


def by_name(rows):
    return {r["name"]: r for r in rows}


def executor(netns, transport):
    return (H.LocalNet(netns) if transport == "pyroute2"
            else H.IpCommandNet(H.local_runner(netns), f"netns {netns}"))


@pytest.mark.parametrize("transport", ["pyroute2", "ip"])
def test_links_before_and_after_a_bridge(netns, transport):
    ex = executor(netns, transport)
    try:
        links = by_name(ex.links())
        assert set(links) == {"lo", "nic0", "peer0"}
        nic = links["nic0"]
        assert nic["kind"] == "veth" and nic["up"] and nic["master"] is None
        assert nic["ipv4"] == ["10.213.7.2/30"] and nic["mtu"] == 1500
        assert len(nic["mac"].split(":")) == 6
        assert links["lo"]["kind"] == "loopback"
        H.apply(H.bridge_plan(ex, "br0", "nic0"), ex)
        links = by_name(ex.links())
        assert links["br0"]["kind"] == "bridge" and links["br0"]["up"]
        assert links["br0"]["ipv4"] == ["10.213.7.2/30"]
        assert links["nic0"]["master"] == "br0" and links["nic0"]["ipv4"] == []
    finally:
        ex.close()


def test_both_executors_say_the_same(netns):
    local, cmd = executor(netns, "pyroute2"), executor(netns, "ip")
    try:
        H.apply(H.bridge_plan(local, "br0", "nic0"), local)
        assert local.links() == cmd.links()
    finally:
        local.close()


def test_ip_executor_makes_two_calls_however_many_links(netns):
    calls = []
    inner = H.local_runner(netns)

    def runner(argv):
        calls.append(argv)
        return inner(argv)
    rows = H.IpCommandNet(runner, netns).links()
    assert len(rows) == 3 and len(calls) == 2
    assert calls[0] == ["ip", "-j", "-d", "link", "show"]
    assert calls[1] == ["ip", "-j", "addr", "show"]


def test_api_lists_interfaces_and_refuses_a_test_driver_host(netns, demo, admin):
    rows = by_name(demo.host_networks.interfaces(admin, netns=netns))
    assert rows["nic0"]["ipv4"] == ["10.213.7.2/30"]
    demo.host_networks.bridge_create(admin, "br0", "nic0", netns=netns)
    rows = by_name(demo.host_networks.interfaces(admin, netns=netns, transport="ip"))
    assert rows["br0"]["ipv4"] == ["10.213.7.2/30"] and rows["nic0"]["master"] == "br0"
    with pytest.raises(errors.InvalidInput, match="test-driver host"):
        demo.host_networks.interfaces(admin, host="node1")
    with pytest.raises(errors.InvalidInput):
        demo.host_networks.interfaces(admin, netns="bad'name")
    with pytest.raises(errors.InvalidInput, match="--host"):
        demo.host_networks.interfaces(admin)


@pytest.mark.parametrize("transport", ["auto", "ip"])
def test_a_missing_namespace_is_not_found_and_not_created(demo, admin, transport):
    """pyroute2's NetNS creates a namespace it cannot find: listing must never do that."""
    import subprocess
    import uuid
    name = f"vst-no-{uuid.uuid4().hex[:6]}"
    with pytest.raises(errors.NotFound, match="no network namespace"):
        demo.host_networks.interfaces(admin, netns=name, transport=transport)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in listed


def test_cli_interface_list(netns, cli_env, capsys):
    from tui.cli import main
    code = main(["--demo", "-f", "json", "interface", "list", "--netns", netns])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert by_name(json.loads(out))["nic0"]["ipv4"] == ["10.213.7.2/30"]
    assert main(["--demo", "bridge", "create", "br0", "--port", "nic0", "--netns",
                 netns]) == 0
    capsys.readouterr()
    code = main(["--demo", "interface", "list", "--netns", netns])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = {line.split("|")[1].strip(): line for line in out.splitlines()
             if line.startswith("| ") and not line.startswith("| name")}
    assert "10.213.7.2/30" in lines["br0"] and "bridge" in lines["br0"]
    assert "| br0 " in lines["nic0"]       # nic0's master column
    code = main(["--demo", "iface", "list", "--host", "node1"])
    _out, err = capsys.readouterr()
    assert code != 0 and "test-driver host" in err
