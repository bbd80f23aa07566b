"""Server create on the demo cloud (three test-driver hosts): placement, claims, volumes,
retry after a real spawn failure, scoping, adopt, delete."""
from __future__ import annotations

import struct

import pytest

from backend.errors import Conflict, InvalidInput, NoValidHost, NotFound, PolicyDenied, \
    QuotaExceeded


def qcow2(path, size_gb=1):
    path.write_bytes(b"QFI\xfb" + b"\0\0\0\x03" + b"\0" * 16 + struct.pack(">Q", size_gb << 30)
                     + b"\0" * 480)
    return str(path)


@pytest.fixture
def image(world, tmp_path):
    return world.cloud.images.create(world.admin, "cirros", qcow2(tmp_path / "c.qcow2"),
                                     disk_format="qcow2")


def pool_volumes(cloud, host):
    conn = cloud.registry.get(host).conn()
    return {v.name() for v in conn.storagePoolLookupByName("default").listAllVolumes(0)}


def test_member_creates_a_server_active_with_a_volume(world, image):
    c = world.cloud
    [srv] = c.compute.create(world.member, {"name": "web1", "flavor": "m1.small",
                                            "image": "cirros", "network": "default"})
    assert srv["status"] == "ACTIVE", srv["fault"]
    assert srv["host"] == "node3"  # RAMWeigher: the host with the most free RAM
    assert srv["project_id"] == world.p1
    assert srv["volume"] in pool_volumes(c, "node3")
    info = c.servers.get(world.member, "web1")
    assert info["uuid"] == srv["uuid"] and info["state"] == "running"
    assert info["disks"][0]["pool"] == "default"
    assert info["interfaces"][0]["source"] == "default"
    q = c.quotas.show(world.member)
    assert (q["instances"]["in_use"], q["cores"]["in_use"], q["ram"]["in_use"]) == (1, 1, 2048)
    node = c.compute.resources(world.admin, "node3")[0]
    assert node["memory_mb"]["claimed"] == 2048 and node["instances"] == 1
    assert node["unmanaged_instances"] == 8  # the demo's own VMs: not virtstack's

    # the member sees only their own server; the other project sees none of it
    assert [r["name"] for r in c.servers.list(world.member)] == ["web1"]
    assert c.servers.list(world.other) == []
    assert len(c.servers.list(world.admin)) == 21
    with pytest.raises(PolicyDenied):
        c.servers.delete(world.other, "web1")

    c.servers.delete(world.member, "web1")
    assert srv["volume"] not in pool_volumes(c, "node3")
    q = c.quotas.show(world.member)
    assert q["instances"]["in_use"] == 0 and q["ram"]["in_use"] == 0
    assert c.compute.resources(world.admin, "node3")[0]["memory_mb"]["claimed"] == 0
    assert c.compute.records(world.admin, include_deleted=True)[0]["status"] == "DELETED"


def test_failed_spawn_cleans_up_and_tries_the_next_host(world, image):
    c = world.cloud
    c.compute.create(world.member, {"name": "a", "flavor": "m1.tiny", "image": "cirros"})
    # Break node3 for real: its storage pool stops (the resource row keeps its disk size).
    conn = c.registry.get("node3").conn()
    before = pool_volumes(c, "node3")
    conn.storagePoolLookupByName("default").destroy()
    [srv] = c.compute.create(world.member, {"name": "b", "flavor": "m1.tiny",
                                            "image": "cirros"})
    assert srv["status"] == "ACTIVE" and srv["host"] == "node2"
    assert c.registry.get("node3").find("b") is None
    conn.storagePoolLookupByName("default").create()
    assert pool_volumes(c, "node3") == before
    res = {r["host"]: r for r in c.compute.resources(world.admin)}
    assert res["node3"]["instances"] == 1 and res["node2"]["instances"] == 1
    audit = c.identity.audit.list(world.admin) if hasattr(c.identity.audit, "list") else []
    assert audit is not None


def test_every_host_failing_ends_in_error_with_the_reasons(world, image):
    c = world.cloud
    c.compute.create(world.member, {"name": "a", "flavor": "m1.tiny", "image": "cirros"})
    for h in ("node1", "node2", "node3"):
        c.registry.get(h).conn().storagePoolLookupByName("default").destroy()
    [srv] = c.compute.create(world.member, {"name": "b", "flavor": "m1.tiny",
                                            "image": "cirros"})
    assert srv["status"] == "ERROR"
    assert all(h in srv["fault"] for h in ("node1", "node2", "node3")), srv["fault"]
    assert c.quotas.show(world.member)["instances"]["in_use"] == 1  # only "a"
    res = {r["host"]: r["instances"] for r in c.compute.resources(world.admin)}
    assert sum(res.values()) == 1


def test_quota_denial_names_quota_limit_and_usage(world, image):
    c = world.cloud
    c.quotas.set(world.admin, "p1", instances=2)
    with pytest.raises(QuotaExceeded, match=r"instances: limit 2, in use 0, requested 3"):
        c.compute.create(world.member, {"name": "q", "flavor": "m1.tiny", "image": "cirros",
                                        "min_count": 3, "max_count": 3})
    out = c.compute.create(world.member, {"name": "q", "flavor": "m1.tiny",
                                          "image": "cirros", "min_count": 1, "max_count": 5})
    assert [s["name"] for s in out] == ["q-1", "q-2"]
    assert c.compute.records(world.member)[0]["status"] == "ACTIVE"
    with pytest.raises(PolicyDenied):
        c.quotas.set(world.member, "p1", instances=100)


def test_bad_requests_write_nothing(world, image):
    c = world.cloud
    bad = [({"flavor": "m1.nope"}, NotFound), ({"image": "nope"}, NotFound),
           ({"name": "x<&'\";"}, InvalidInput), ({"max_count": 0}, InvalidInput),
           ({"availability_zone": "az9"}, NoValidHost), ({"flavor": "m1.xlarge",
                                                          "name": "huge"}, QuotaExceeded)]
    c.quotas.set(world.admin, "p1", cores=4)
    for change, exc in bad:
        req = {"name": "ok", "flavor": "m1.tiny", "image": "cirros", **change}
        with pytest.raises(exc):
            c.compute.create(world.member, req)
    assert c.compute.records(world.admin, include_deleted=True) == []
    assert c.quotas.show(world.member)["instances"]["in_use"] == 0
    c.compute.create(world.member, {"name": "dup", "flavor": "m1.tiny", "image": "cirros"})
    with pytest.raises(Conflict, match="already in use"):
        c.compute.create(world.member, {"name": "dup", "flavor": "m1.tiny",
                                        "image": "cirros"})
    with pytest.raises(Conflict, match="already in use"):  # a demo VM's name
        c.compute.create(world.member, {"name": "web-01", "flavor": "m1.tiny",
                                        "image": "cirros"})


def test_image_min_ram_and_disk_against_the_flavor(world, tmp_path):
    c = world.cloud
    c.images.create(world.admin, "big", qcow2(tmp_path / "b.qcow2"), min_ram_mb=4096,
                    min_disk_gb=30)
    with pytest.raises(InvalidInput, match="needs at least 4096 MB"):
        c.compute.create(world.member, {"name": "x", "flavor": "m1.small", "image": "big"})
    c.flavors.create(world.admin, "ram8", vcpus=1, ram_mb=8192, root_gb=20)
    with pytest.raises(InvalidInput, match="needs at least 30 GB"):
        c.compute.create(world.member, {"name": "x", "flavor": "ram8", "image": "big"})


def test_anti_affinity_group_spreads_and_preview_explains(world, image):
    c = world.cloud
    g = c.server_groups.create(world.member, "spread", "anti-affinity")
    out = c.compute.create(world.member, {"name": "s", "flavor": "m1.tiny", "image": "cirros",
                                          "group": "spread", "max_count": 3})
    assert sorted(s["host"] for s in out) == ["node1", "node2", "node3"]
    preview = c.compute.preview(world.member, {"name": "s4", "flavor": "m1.tiny",
                                               "image": "cirros", "group": "spread"})
    assert preview["ok"] is False and preview["chosen"] == []
    assert "ServerGroupAntiAffinityFilter" in preview["rejected"]["node1"]
    assert len(c.server_groups.show(world.member, g["id"])["members"]) == 3
    assert c.server_groups.list(world.other) == []


def test_adopt_moves_an_unmanaged_vm_into_a_project(world):
    c = world.cloud
    assert c.servers.list(world.member) == []
    before = c.compute.resources(world.admin, "node1")[0]
    with pytest.raises(PolicyDenied):
        c.compute.adopt(world.member, "web-01", "p1")
    srv = c.compute.adopt(world.admin, "web-01", "p1")
    assert srv["project_id"] == world.p1
    assert [r["name"] for r in c.servers.list(world.member)] == ["web-01"]
    after = c.compute.resources(world.admin, "node1")[0]
    assert after["unmanaged_instances"] == before["unmanaged_instances"] - 1
    assert after["vcpus"]["allocated"] == before["vcpus"]["allocated"]
    assert c.quotas.show(world.member)["instances"]["in_use"] == 1


def test_disabled_host_is_skipped(world, image):
    c = world.cloud
    c.compute.set_host_enabled(world.admin, "node3", False, "maintenance")
    [srv] = c.compute.create(world.member, {"name": "d", "flavor": "m1.tiny",
                                            "image": "cirros"})
    assert srv["host"] == "node2"
    p = c.compute.preview(world.member, {"name": "e", "flavor": "m1.tiny", "image": "cirros"})
    assert p["rejected"]["node3"] == "ComputeFilter: host disabled (maintenance)"


def test_host_counts_are_scoped_for_members(world):
    c = world.cloud
    c.compute.adopt(world.admin, "web-01", "p1")
    node1 = next(h for h in c.hosts.list(world.member) if h["name"] == "node1")
    assert node1["vms_total"] == 1
    assert next(h for h in c.hosts.list(world.other) if h["name"] == "node1")["vms_total"] == 0
    assert next(h for h in c.hosts.list(world.admin)
                if h["name"] == "node1")["vms_total"] == 5


def test_adopt_counts_usage_on_a_host_never_seen_before(world):
    """No resources() call first: adopt must still record the host's usage."""
    from sqlalchemy import select
    from backend.compute.models import ComputeNode
    c = world.cloud
    c.compute.adopt(world.admin, "db-01", "p1")
    with c.db.transaction() as s:
        node1 = s.scalars(select(ComputeNode).where(ComputeNode.host == "node1")).one()
        assert (node1.vcpus_used, node1.memory_mb_used) == (8, 16384)
    assert c.quotas.show(world.member)["cores"]["in_use"] == 8


def test_member_drives_only_its_own_servers(world):
    from backend.identity.policy import ACTIONS
    from backend.virt.libvirt.host import ACTIONS as LIFECYCLE
    from backend.api.servers import POLICY_ACTION
    # every lifecycle action the API checks is a known policy action (no fall-back rule)
    assert all(POLICY_ACTION.get(a, f"server:{a}") in ACTIONS for a in LIFECYCLE)
    c = world.cloud
    c.compute.adopt(world.admin, "web-01", "p1")
    assert c.servers.shutdown(world.member, "web-01")["state"] in ("shutoff", "shutdown")
    assert c.servers.start(world.member, "web-01")["state"] == "running"
    assert c.servers.reboot(world.member, "web-01")["state"] == "running"
    with pytest.raises(PolicyDenied):
        c.servers.shutdown(world.other, "web-01")
    with pytest.raises(PolicyDenied):
        c.servers.shutdown(world.member, "db-01")  # not its project's


def test_server_set_keeps_the_books(world, image):
    from backend.errors import Conflict
    c = world.cloud
    [srv] = c.compute.create(world.member, {"name": "sized", "flavor": "m1.small",
                                            "image": "cirros"})
    with pytest.raises(Conflict, match="server resize"):  # a flavor's server: resize only
        c.server_ops.set_vcpus(world.member, "sized", 2)
    assert c.servers.get(world.member, "sized")["vcpus"] == srv["vcpus"]
    # an adopted VM (no flavor): the claim and the quota follow the change
    c.compute.adopt(world.admin, "db-01", "p1")
    cores = c.quotas.show(world.member)["cores"]["in_use"]
    c.server_ops.set_vcpus(world.member, "db-01", 4)
    assert c.quotas.show(world.member)["cores"]["in_use"] == cores - 4
    c.quotas.set(world.admin, "p1", cores=cores - 3)
    with pytest.raises(QuotaExceeded):
        c.server_ops.set_vcpus(world.member, "db-01", 8)
    assert c.quotas.show(world.member)["cores"]["in_use"] == cores - 4
