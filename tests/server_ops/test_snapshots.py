"""Snapshots on the demo cloud (the test driver keeps internal snapshots)."""
import pytest

from backend import errors
from tests.server_ops.conftest import first


def test_create_list_revert_delete(demo, admin):
    ops = demo.server_ops
    vm = first(demo, admin, "running")
    a = ops.snapshot_create(admin, vm["name"], "before", description="clean")
    assert a["name"] == "before" and a["memory"] == "internal" and a["current"]
    demo.servers.destroy(admin, vm["name"])
    b = ops.snapshot_create(admin, vm["name"], "after")
    assert b["parent"] == "before" and b["state"] == "shutoff"
    rows = ops.snapshot_list(admin, vm["name"])
    assert [r["name"] for r in rows] == ["before", "after"]
    assert [r["current"] for r in rows] == [False, True]
    # reverting to the running snapshot brings the guest back running
    back = ops.snapshot_revert(admin, vm["name"], "before")
    assert back["server_state"] == "running"
    assert demo.servers.get(admin, vm["name"])["state"] == "running"
    assert ops.snapshot_delete(admin, vm["name"], "after")["deleted"] is True
    assert [r["name"] for r in ops.snapshot_list(admin, vm["name"])] == ["before"]
    audit = demo.identity.audit.list(admin, action="server:snapshot")
    assert {r["outcome"] for r in audit} == {"success"} and len(audit) == 4


def test_errors_are_clear(demo, admin):
    ops = demo.server_ops
    vm = first(demo, admin, "running")
    ops.snapshot_create(admin, vm["name"], "s1")
    with pytest.raises(errors.Conflict, match="already has a snapshot named 's1'"):
        ops.snapshot_create(admin, vm["name"], "s1")
    with pytest.raises(errors.NotFound, match="no snapshot 'ghost'"):
        ops.snapshot_revert(admin, vm["name"], "ghost")
    with pytest.raises(errors.NotFound, match="ghost"):
        ops.snapshot_delete(admin, vm["name"], "ghost")
    with pytest.raises(errors.InvalidInput):
        ops.snapshot_create(admin, vm["name"], "bad name")


def test_raw_disk_cannot_take_an_internal_snapshot(demo, admin):
    from backend.virt.libvirt.xml import domain_xml
    h = demo.registry.get("node1")
    demo.ensure_hosts()
    h.define_domain(domain_xml("rawvm", memory_mb=256, vcpus=1, dom_type="test",
                               disks=[{"path": "/var/lib/libvirt/images/node1/raw.img",
                                       "format": "raw"}]))
    with pytest.raises(errors.NotSupported, match="needs qcow2 disks, but vda is raw"):
        demo.server_ops.snapshot_create(admin, "rawvm", "x")
    assert demo.server_ops.snapshot_list(admin, "rawvm") == []


def test_snapshots_survive_a_new_connection(demo, admin, tmp_path):
    """The demo writes its state to files; a new Cloud (a new CLI run) sees the snapshots."""
    from backend.api.cloud import Cloud
    from backend.virt.demo import demo_settings
    vm = first(demo, admin, "running")
    demo.server_ops.snapshot_create(admin, vm["name"], "one")
    demo.server_ops.snapshot_create(admin, vm["name"], "two")
    other = Cloud(demo_settings(tmp_path), connect=False)
    try:
        rows = other.server_ops.snapshot_list(admin, vm["name"])
        assert [(r["name"], r["parent"], r["current"]) for r in rows] == [
            ("one", None, False), ("two", "one", True)]
    finally:
        other.close()
