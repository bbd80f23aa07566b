"""Issue 4 end to end on the real daemon: a member creates a server from a tiny qcow2 image
onto a libvirtd + QEMU host reached over qemu+ssh://; the image bits travel through a libvirt
stream into a volume of the host's ``default`` pool, the domain runs (TCG unless the host's
domain capabilities say KVM works), and deleting it leaves no domain, no volume, no claim."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.config import HostConfig, Settings

ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"
HOST = "kvm1"


def login(cloud, user, password, project=None):
    token, _ = cloud.identity.authenticate(user, password, project)
    return cloud.identity.context_from_token(token)


@pytest.fixture(scope="module")
def default_pool(real_host):
    """The host's ``default`` dir pool (a fresh daemon has none): defined here, under a
    directory the qemu user can reach (not pytest's 0700 tmp dir), removed afterwards."""
    conn = libvirt.open(real_host.local_uri)
    made = None
    try:
        try:
            pool = conn.storagePoolLookupByName("default")
        except libvirt.libvirtError:
            made = Path(tempfile.mkdtemp(prefix="vs-it-default-"))
            made.chmod(0o755)
            pool_el = ET.Element("pool", type="dir")
            ET.SubElement(pool_el, "name").text = "default"
            ET.SubElement(ET.SubElement(pool_el, "target"), "path").text = str(made)
            pool = conn.storagePoolDefineXML(ET.tostring(pool_el, encoding="unicode"), 0)
        if not pool.isActive():
            pool.create(0)
        yield pool
    finally:
        if made is not None:
            try:
                pool = conn.storagePoolLookupByName("default")
                for v in pool.listAllVolumes(0):
                    v.delete(0)
                pool.destroy()
                pool.undefine()
            except libvirt.libvirtError:
                pass
            shutil.rmtree(made, ignore_errors=True)
        conn.close()


@pytest.fixture
def world(tmp_path, real_host, default_pool):
    settings = Settings(
        hosts=[HostConfig(name=HOST, uri=f"qemu+ssh://root@127.0.0.1:{real_host.port}/system",
                          keyfile=str(real_host.keyfile), known_hosts=str(real_host.known_hosts),
                          availability_zone="az1")],
        db_url=f"sqlite:///{tmp_path / 'state.db'}", data_dir=tmp_path / "data",
        state_dir=tmp_path / "state")
    settings.password_hash_profile = "fast"  # tests only
    cloud = Cloud(settings)
    assert cloud.registry.get(HOST).state == "connected", cloud.registry.get(HOST).last_error
    ident = cloud.identity
    ident.bootstrap(ADMIN_PASSWORD)
    admin = login(cloud, "admin", ADMIN_PASSWORD)
    ident.projects.create(admin, "p1")
    ident.users.create(admin, "alice", PASSWORD, project="p1")
    ident.assignments.add(admin, "alice", "p1", "member")
    yield cloud, admin, login(cloud, "alice", PASSWORD)
    cloud.close()


def kvm_usable(conn) -> bool:
    try:
        caps = conn.getDomainCapabilities(None, None, None, "kvm", 0)
    except libvirt.libvirtError:
        return False
    return ET.fromstring(caps).findtext("domain") == "kvm"


def test_member_creates_a_server_from_a_qcow2_image_and_deletes_it(tmp_path, real_host,
                                                                   world, default_pool):
    cloud, admin, alice = world
    img = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "16M"], check=True)
    image = cloud.images.create(admin, "tiny-qcow2", str(img), disk_format="qcow2")
    assert image["status"] == "active" and image["virtual_size_bytes"] == 16 * 1024 ** 2
    cloud.flavors.create(admin, "t1.nano", vcpus=1, ram_mb=64, root_gb=1)

    seen: list[str] = []
    t0 = time.monotonic()
    [srv] = cloud.compute.create(alice, {"name": "it-web", "flavor": "t1.nano",
                                         "image": "tiny-qcow2"},
                                 progress=lambda e: seen.append(e["status"]))
    assert srv["status"] == "ACTIVE", srv["fault"]
    assert seen == ["BUILD", "ACTIVE"] and srv["host"] == HOST
    assert time.monotonic() - t0 < 40

    local = libvirt.open(real_host.local_uri)
    try:
        dom = local.lookupByUUIDString(srv["uuid"])
        assert dom.isActive()
        root = ET.fromstring(dom.XMLDesc(0))
        assert root.get("type") == ("kvm" if kvm_usable(local) else "qemu")
        assert root.find("devices/interface") is None  # no NIC: no traffic leaves
        src = root.find("devices/disk/source")
        assert (src.get("pool"), src.get("volume")) == ("default", srv["volume"])
        vol = default_pool.storageVolLookupByName(srv["volume"])
        # the image's bits, grown to the flavor's 1 GB root disk, still qcow2
        assert vol.info()[1] == 1024 ** 3
        with open(vol.path(), "rb") as f:
            assert f.read(4) == b"QFI\xfb"
        assert ET.fromstring(vol.XMLDesc(0)).find("target/format").get("type") == "qcow2"
        res = cloud.compute.resources(admin, HOST)[0]
        assert res["instances"] == 1 and res["memory_mb"]["claimed"] == 64
        assert cloud.quotas.show(alice)["instances"]["in_use"] == 1

        cloud.servers.delete(alice, "it-web")
        with pytest.raises(libvirt.libvirtError):
            local.lookupByUUIDString(srv["uuid"])
        default_pool.refresh(0)
        assert srv["volume"] not in {v.name() for v in default_pool.listAllVolumes(0)}
        res = cloud.compute.resources(admin, HOST)[0]
        assert res["instances"] == 0 and res["memory_mb"]["claimed"] == 0
        assert res["vcpus"]["claimed"] == 0 and res["disk_gb"]["claimed"] == 0
        q = cloud.quotas.show(alice)
        assert q["instances"]["in_use"] == 0 and q["ram"]["in_use"] == 0
        assert [r["status"] for r in cloud.compute.records(admin, include_deleted=True)] == \
            ["DELETED"]
    finally:
        local.close()
