"""Virtual networks through the front door on the demo cloud (libvirt test driver)."""
import json

import pytest

from backend import errors
from tui.cli import main


def test_create_on_several_hosts_and_lifecycle(demo, admin):
    rows = demo.networks.create(admin, "lab", "nat", hosts=["node1", "node2"],
                                subnet="192.168.150.0/24")
    assert [(r["host"], r["active"], r["autostart"]) for r in rows] == [
        ("node1", True, True), ("node2", True, True)]
    assert rows[0]["bridge"] == "vs-lab" and rows[0]["subnet"] == "192.168.150.0/24"
    assert demo.networks.drift(admin, "lab", hosts=["node1", "node2"])["in_sync"]
    d = demo.networks.drift(admin, "lab")   # node3 lacks it
    assert not d["in_sync"] and d["differences"][0]["field"] == "defined"
    with pytest.raises(errors.Conflict, match="pass --host"):
        demo.networks.stop(admin, "lab")
    assert demo.networks.stop(admin, "lab", host="node1")["active"] is False
    assert demo.networks.start(admin, "lab", host="node1")["active"] is True
    assert demo.networks.autostart(admin, "lab", on=False, host="node1")["autostart"] is False
    shown = demo.networks.get(admin, "lab", host="node2")
    assert shown["leases"] is None and "not supported" in shown["leases_note"]
    with pytest.raises(errors.NotSupported):
        demo.networks.leases(admin, "lab", host="node2")
    demo.networks.delete(admin, "lab", host="node1")
    demo.networks.delete(admin, "lab", host="node2")
    with pytest.raises(errors.NotFound):
        demo.networks.get(admin, "lab")


def test_all_modes_on_test_driver(demo, admin):
    demo.networks.create(admin, "r1", "routed", hosts="node1", subnet="10.61.0.0/24")
    demo.networks.create(admin, "i1", "isolated", hosts="node1")
    demo.networks.create(admin, "b1", "bridge", hosts="node1", bridge="br0")
    modes = {r["name"]: r["mode"] for r in demo.networks.list(admin, host="node1")}
    assert modes == {"default": "nat", "r1": "routed", "i1": "isolated", "b1": "bridge"}


def test_drift_between_demo_defaults(demo, admin):
    d = demo.networks.drift(admin, "default")
    fields = {x["field"] for x in d["differences"]}
    assert {"subnet", "gateway", "dhcp_ranges"} <= fields and "mode" not in fields


def test_create_all_or_nothing(demo, admin):
    demo.networks.create(admin, "taken", "isolated", hosts="node3")
    with pytest.raises(errors.Conflict, match="node3"):
        demo.networks.create(admin, "taken", "isolated", hosts=["node1", "node3"])
    assert all(r["name"] != "taken" for r in demo.networks.list(admin, host="node1"))


def test_bad_input_changes_nothing(demo, admin):
    before = demo.networks.list(admin)
    with pytest.raises(errors.InvalidInput):
        demo.networks.create(admin, "it's", "nat", subnet="10.0.0.0/24")
    with pytest.raises(errors.InvalidInput):
        demo.networks.create(admin, "n", "nat")
    with pytest.raises(errors.NotFound):
        demo.networks.create(admin, "n", "isolated", hosts=["nohost"])
    assert demo.networks.list(admin) == before


def test_cli_network(cli_env, capsys):
    code = main(["--demo", "-f", "json", "network", "create", "web", "--mode", "nat",
                 "--subnet", "10.88.0.0/24", "--host", "node1", "--host", "node3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert {r["host"] for r in json.loads(out)} == {"node1", "node3"}
    code = main(["--demo", "-f", "json", "network", "drift", "web"])
    out, _ = capsys.readouterr()
    d = json.loads(out)
    assert d["differences"][0]["values"] == {"node1": True, "node2": False, "node3": True}
    code = main(["--demo", "network", "drift", "default"])
    out, _ = capsys.readouterr()
    assert code == 0 and "subnet" in out and "192.168.123.0/24" in out
    code = main(["--demo", "network", "delete", "web", "--host", "node1"])
    _, err = capsys.readouterr()
    assert code == 2 and "--yes" in err
    code = main(["--demo", "network", "delete", "web", "--host", "node1", "--yes"])
    assert code == 0


def test_server_interfaces_like_domiflist(demo, admin, cli_env, capsys):
    server = demo.servers.list(admin, host="node1")[0]["name"]
    rows = demo.networks.server_interfaces(admin, server, host="node1")
    assert rows and rows[0]["type"] == "network" and rows[0]["source"] == "default"
    assert rows[0]["model"] == "virtio" and rows[0]["mac"].startswith("52:54:00:")
    code = main(["--demo", "network", "iflist", server, "--host", "node1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "interface" in out and "52:54:00:" in out
