"""Resize on the real daemon: a running TCG server virtstack created over qemu+ssh:// goes to a
flavor with more vCPUs, memory and a bigger root disk -- the root disk grows live
(blockResize on the running guest), vCPUs/memory above what the guest started with apply at
its next boot (said so), and the claim and the quota follow."""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import libvirt

from tests.integration.test_create_real import HOST, default_pool, world  # noqa: F401

GiB = 1024 ** 3


def test_resize_grows_the_root_disk_live_and_the_rest_at_next_boot(tmp_path, real_host,
                                                                    world, default_pool):  # noqa: F811
    cloud, admin, alice = world
    img = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "16M"], check=True)
    cloud.images.create(admin, "tiny-qcow2", str(img), disk_format="qcow2")
    cloud.flavors.create(admin, "t1.nano", vcpus=1, ram_mb=64, root_gb=1)
    cloud.flavors.create(admin, "t1.micro", vcpus=2, ram_mb=96, root_gb=2)
    [srv] = cloud.compute.create(alice, {"name": "it-rs", "flavor": "t1.nano",
                                         "image": "tiny-qcow2"})
    assert srv["status"] == "ACTIVE", srv["fault"]
    local = libvirt.open(real_host.local_uri)
    try:
        out = cloud.compute.resize(alice, "it-rs", "t1.micro")
        assert (out["flavor"], out["applied"]) == ("t1.micro", "next boot")
        assert "root disk grown to 2 GB in the running guest" in out["note"]
        vol = default_pool.storageVolLookupByName(srv["volume"])
        assert vol.info()[1] == 2 * GiB
        dom = local.lookupByUUIDString(srv["uuid"])
        assert dom.isActive()
        cfg = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        assert cfg.findtext("vcpu") == "2" and int(cfg.findtext("memory")) == 96 * 1024
        q = cloud.quotas.show(alice)
        assert (q["cores"]["in_use"], q["ram"]["in_use"], q["gigabytes"]["in_use"]) == \
            (2, 96, 2)
        res = cloud.compute.resources(admin, HOST)[0]
        assert (res["vcpus"]["claimed"], res["memory_mb"]["claimed"]) == (2, 96)
        assert res["disk_gb"]["claimed"] == 2
        cloud.servers.delete(alice, "it-rs")
        assert cloud.quotas.show(alice)["gigabytes"]["in_use"] == 0
    finally:
        local.close()
