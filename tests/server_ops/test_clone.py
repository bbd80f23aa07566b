"""Clone on the demo cloud: new name, UUID and MACs, disks copied in the same pool."""
import xml.etree.ElementTree as ET

import pytest

from backend import errors
from tests.server_ops.conftest import first


def test_clone_copies_disks_and_renews_identity(demo, admin):
    vm = first(demo, admin, "shutoff")
    src = demo.servers.get(admin, vm["name"])
    out = demo.server_ops.clone(admin, vm["name"], "copy-1")
    assert out["source"] == vm["name"] and out["state"] == "shutoff"
    new = demo.servers.get(admin, "copy-1")
    assert new["uuid"] != src["uuid"] and new["host"] == src["host"]
    assert (new["vcpus"], new["memory_mb"]) == (src["vcpus"], src["memory_mb"])
    old_macs = {n["mac"] for n in src["interfaces"]}
    new_macs = {n["mac"] for n in new["interfaces"]}
    assert new_macs and not (old_macs & new_macs)
    assert all(m.startswith("52:54:00:") for m in new_macs)
    # the disk is a new volume of the same pool, same format and size
    h = demo.registry.get(src["host"])
    conn = h.conn()
    old_vol = conn.storageVolLookupByPath(src["disks"][0]["source"])
    new_vol = conn.storageVolLookupByPath(new["disks"][0]["source"])
    assert new_vol.name() == f"copy-1.qcow2"
    assert new_vol.storagePoolLookupByVolume().name() == old_vol.storagePoolLookupByVolume().name()
    assert new_vol.info()[1] == old_vol.info()[1]
    assert ET.fromstring(new_vol.XMLDesc(0)).find("target/format").get("type") == "qcow2"
    assert out["volumes"] == [new_vol.path()]
    # the source is untouched
    assert demo.servers.get(admin, vm["name"])["disks"] == src["disks"]


def test_clone_refuses_clearly(demo, admin):
    running = first(demo, admin, "running")
    with pytest.raises(errors.Conflict, match="shut it off or suspend it first"):
        demo.server_ops.clone(admin, running["name"], "copy-2")
    off = first(demo, admin, "shutoff")
    with pytest.raises(errors.Conflict, match="already exists"):
        demo.server_ops.clone(admin, off["name"], running["name"]) if off["host"] == \
            running["host"] else demo.server_ops.clone(admin, off["name"], off["name"])
    with pytest.raises(errors.InvalidInput):
        demo.server_ops.clone(admin, off["name"], "no spaces")
    assert not any(r["name"] == "copy-2" for r in demo.servers.list(admin))


def test_paused_server_can_be_cloned(demo, admin):
    vm = first(demo, admin, "paused")
    out = demo.server_ops.clone(admin, vm["name"], "from-paused")
    assert demo.servers.get(admin, "from-paused", host=out["host"])["state"] == "shutoff"


def test_disk_outside_any_pool_is_named(demo, admin):
    from backend.virt.libvirt.xml import domain_xml
    demo.ensure_hosts()
    h = demo.registry.get("node2")
    h.define_domain(domain_xml("loose", memory_mb=256, vcpus=1, dom_type="test",
                               disks=[{"path": "/srv/elsewhere/loose.qcow2",
                                       "format": "qcow2"}]))
    with pytest.raises(errors.NotSupported, match=r"vda \(/srv/elsewhere/loose.qcow2\) is not"):
        demo.server_ops.clone(admin, "loose", "loose2")
