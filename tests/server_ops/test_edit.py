"""vCPU / memory / autostart edits on the demo cloud: live where allowed, else next boot."""
import pytest

from backend import errors
from tests.server_ops.conftest import first


def test_shutoff_server_changes_at_next_boot(demo, admin):
    vm = first(demo, admin, "shutoff")
    r = demo.server_ops.set_vcpus(admin, vm["name"], vm["vcpus"] + 2)
    assert r["applied"] == "next boot" and "next starts" in r["note"]
    r = demo.server_ops.set_memory(admin, vm["name"], vm["memory_mb"] * 2)
    assert r["applied"] == "next boot"
    shown = demo.servers.get(admin, vm["name"])
    assert shown["vcpus"] == vm["vcpus"] + 2 and shown["memory_mb"] == vm["memory_mb"] * 2


def test_running_server_live_within_its_maximum(demo, admin):
    vm = next(r for r in demo.servers.list(admin) if r["state"] == "running" and r["vcpus"] > 1)
    r = demo.server_ops.set_vcpus(admin, vm["name"], 1)
    assert r["applied"] == "live and next boot" and r["note"] is None
    r = demo.server_ops.set_memory(admin, vm["name"], vm["memory_mb"] // 2)
    assert r["applied"] == "live and next boot"
    h = demo.registry.get(vm["host"])
    dom = h._dom(vm["uuid"])
    assert dom.info()[2] == vm["memory_mb"] // 2 * 1024     # balloon, live
    assert dom.info()[3] == 1                               # vCPUs, live


def test_running_server_above_its_maximum_waits_for_next_boot(demo, admin):
    vm = first(demo, admin, "running")
    r = demo.server_ops.set_vcpus(admin, vm["name"], vm["vcpus"] + 4)
    assert r["applied"] == "next boot"
    assert "started with at most" in r["note"] and "next boot" in r["note"]
    r = demo.server_ops.set_memory(admin, vm["name"], vm["memory_mb"] * 4)
    assert r["applied"] == "next boot" and "MB" in r["note"]


def test_autostart_and_bad_input(demo, admin):
    vm = first(demo, admin, "running")
    assert demo.server_ops.set_autostart(admin, vm["name"], True)["autostart"] is True
    assert demo.servers.get(admin, vm["name"])["autostart"] is True
    assert demo.server_ops.set_autostart(admin, vm["name"], False)["autostart"] is False
    with pytest.raises(errors.InvalidInput):
        demo.server_ops.set_vcpus(admin, vm["name"], 0)
    with pytest.raises(errors.InvalidInput):
        demo.server_ops.set_memory(admin, vm["name"], 1)
