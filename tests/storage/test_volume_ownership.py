"""Volumes belong to projects and count against the volumes/gigabytes quotas (demo cloud:
three test-driver hosts; alice is a member of p1, carol of p2)."""
from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass

import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.errors import Conflict, NotSupported, PolicyDenied, QuotaExceeded
from backend.virt.demo import demo_settings

ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"
GiB = 1 << 30


@dataclass
class World:
    cloud: Cloud
    admin: RequestContext
    alice: RequestContext   # member of p1
    carol: RequestContext   # member of p2
    p1: str
    p2: str


def login(cloud, user, password, project=None):
    token, _ = cloud.identity.authenticate(user, password, project)
    return cloud.identity.context_from_token(token)


@pytest.fixture
def w(tmp_path):
    settings = demo_settings(tmp_path)
    settings.password_hash_profile = "fast"
    cloud = Cloud(settings)
    ident = cloud.identity
    ident.bootstrap(ADMIN_PASSWORD)
    admin = login(cloud, "admin", ADMIN_PASSWORD)
    p1 = ident.projects.create(admin, "p1")["id"]
    p2 = ident.projects.create(admin, "p2")["id"]
    for name, project in (("alice", "p1"), ("carol", "p2")):
        ident.users.create(admin, name, PASSWORD, project=project)
        ident.assignments.add(admin, name, project, "member")
    yield World(cloud, admin, login(cloud, "alice", PASSWORD), login(cloud, "carol", PASSWORD),
                p1, p2)
    cloud.close()


def on_host(cloud, host, pool="default"):
    """What the host really holds (libvirt, not virtstack's records)."""
    conn = cloud.registry.get(host).conn()
    return {v.name() for v in conn.storagePoolLookupByName(pool).listAllVolumes(0)}


def usage(cloud, ctx, project=None):
    q = cloud.quotas.show(ctx, project)
    return q["volumes"]["in_use"], q["gigabytes"]["in_use"]


def names(rows):
    return [r["name"] for r in rows]


def test_member_volume_is_scoped_to_its_project(w):
    c = w.cloud
    row = c.volumes.create(w.alice, "data1", "default", "2G", "qcow2", host="node1")
    assert row["project_id"] == w.p1 and row["status"] == "available" and row["size_gb"] == 2
    assert usage(c, w.alice) == (1, 2)

    mine = c.volumes.list(w.alice)
    assert names(mine) == ["data1"] and mine[0]["project"] == "p1"
    assert c.volumes.list(w.carol) == []
    # the admin sees every volume, the demo's own (admin project, unmanaged) too
    every = {(r["host"], r["name"]): r for r in c.volumes.list(w.admin)}
    assert every[("node1", "data1")]["project"] == "p1"
    assert every[("node1", "api-01.qcow2")]["project"] == "admin"
    assert every[("node1", "api-01.qcow2")]["status"] == "unmanaged"
    # a member never touches the admin project's volumes nor another project's
    assert names(c.volumes.list(w.alice, pool="default", host="node1")) == ["data1"]
    with pytest.raises(PolicyDenied):
        c.volumes.get(w.alice, "api-01.qcow2", "default", host="node1")
    for call in (lambda: c.volumes.get(w.carol, "data1", "default", host="node1"),
                 lambda: c.volumes.delete(w.carol, "data1", "default", host="node1"),
                 lambda: c.volumes.clone(w.carol, "data1", "default", "mine", host="node1")):
        with pytest.raises(PolicyDenied):
            call()
    assert "mine" not in on_host(c, "node1") and usage(c, w.carol) == (0, 0)
    assert c.volumes.get(w.alice, "data1", "default", host="node1")["project_id"] == w.p1

    out = c.volumes.delete(w.alice, "data1", "default", host="node1")
    assert out["deleted"] and "data1" not in on_host(c, "node1")
    assert usage(c, w.alice) == (0, 0)
    assert c.volumes.list(w.alice) == []


def test_volumes_quota_denies_and_creates_nothing(w):
    c = w.cloud
    c.quotas.set(w.admin, "p1", volumes=1)
    c.volumes.create(w.alice, "v1", "default", "1G", host="node2")
    before = on_host(c, "node2")
    with pytest.raises(QuotaExceeded) as exc:
        c.volumes.create(w.alice, "v2", "default", "1G", host="node2")
    assert "volumes" in exc.value.message and "limit 1" in exc.value.message \
        and "in use 1" in exc.value.message
    assert on_host(c, "node2") == before        # nothing made on the host
    assert usage(c, w.alice) == (1, 1)
    with pytest.raises(QuotaExceeded, match="quota exceeded for volumes"):
        c.volumes.clone(w.alice, "v1", "default", "v1-copy", host="node2")
    assert on_host(c, "node2") == before
    # the other project is not limited by p1's quota
    c.volumes.create(w.carol, "v2", "default", "1G", host="node2")
    # deleting gives the slot back
    c.volumes.delete(w.alice, "v1", "default", host="node2")
    assert usage(c, w.alice) == (0, 0)
    c.volumes.create(w.alice, "v3", "default", "1G", host="node2")
    denied = c.identity.audit_log.list(action="volume:create")
    assert any(r["outcome"] == "failure" and "quota exceeded" in (r["reason"] or "")
               for r in denied)


def test_gigabytes_quota_counts_whole_gigabytes(w):
    c = w.cloud
    c.quotas.set(w.admin, "p1", gigabytes=5)
    c.volumes.create(w.alice, "a", "default", "3G", host="node3")
    c.volumes.create(w.alice, "b", "default", "512M", host="node3")   # counts 1 GB
    assert usage(c, w.alice) == (2, 4)
    before = on_host(c, "node3")
    with pytest.raises(QuotaExceeded) as exc:
        c.volumes.create(w.alice, "c", "default", "2G", host="node3")
    msg = exc.value.message
    assert "gigabytes" in msg and "limit 5 GB" in msg and "in use 4 GB" in msg, msg
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        c.volumes.clone(w.alice, "a", "default", "a2", host="node3")
    # growing past the quota is refused before the host is asked
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        c.volumes.resize(w.alice, "a", "default", "6G", host="node3")
    assert on_host(c, "node3") == before and usage(c, w.alice) == (2, 4)
    # a resize the host refuses (the test driver cannot resize) gives its reservation back
    with pytest.raises(NotSupported):
        c.volumes.resize(w.alice, "a", "default", "4G", host="node3")
    assert usage(c, w.alice) == (2, 4)
    assert c.volumes.get(w.alice, "a", "default", host="node3")["size_gb"] == 3
    # within the quota, a clone is counted like a new volume of the source's size
    c.volumes.delete(w.alice, "b", "default", host="node3")
    c.quotas.set(w.admin, "p1", gigabytes=6)
    cl = c.volumes.clone(w.alice, "a", "default", "a2", host="node3")
    assert cl["project_id"] == w.p1 and cl["size_gb"] == 3
    assert usage(c, w.alice) == (2, 6)


def test_uploads_reserve_before_the_host_and_give_back_on_failure(w, tmp_path):
    c = w.cloud
    c.quotas.set(w.admin, "p1", gigabytes=1)
    big = tmp_path / "big.qcow2"   # a qcow2 header saying 4 GiB: more than the quota
    big.write_bytes(b"QFI\xfb" + b"\0\0\0\x03" + b"\0" * 16 + struct.pack(">Q", 4 * GiB)
                    + b"\0" * 480)
    before = on_host(c, "node1")
    with pytest.raises(QuotaExceeded, match="gigabytes"):
        c.volumes.upload(w.alice, "big", "default", str(big), host="node1")
    assert on_host(c, "node1") == before
    small = tmp_path / "small.raw"
    small.write_bytes(b"x" * 4096)
    with pytest.raises(NotSupported):   # the test driver has no upload streams
        c.volumes.upload(w.alice, "small", "default", str(small), host="node1")
    assert on_host(c, "node1") == before and usage(c, w.alice) == (0, 0)
    assert c.volumes.list(w.alice) == []


def test_concurrent_reservations_never_pass_the_quota(w):
    c = w.cloud
    c.quotas.set(w.admin, "p1", volumes=3)
    book = c.volumes.book
    won, lost = [], []

    def go(i):
        try:
            won.append(book.reserve(w.p1, None, "node1", "default", f"r{i}", GiB, "raw"))
        except QuotaExceeded:
            lost.append(i)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 3 and len(lost) == 9
    assert usage(c, w.alice) == (3, 3)
    for vid in won:
        assert book.abandon(vid)
        assert not book.abandon(vid)    # released once
    assert usage(c, w.alice) == (0, 0)


def test_admin_adopts_a_volume_virtstack_did_not_create(w):
    c = w.cloud
    with pytest.raises(PolicyDenied):
        c.volumes.adopt(w.alice, "db-01.qcow2", "default", "p1", host="node1")
    rec = c.volumes.adopt(w.admin, "db-01.qcow2", "default", "p1", host="node1")
    assert rec["project_id"] == w.p1 and rec["size_gb"] == 10
    assert usage(c, w.alice) == (1, 10)
    assert names(c.volumes.list(w.alice)) == ["db-01.qcow2"]
    assert c.volumes.get(w.alice, "db-01.qcow2", "default", host="node1")["status"] \
        == "available"
    # idempotent for the same project; another project is refused
    assert c.volumes.adopt(w.admin, "db-01.qcow2", "default", "p1",
                           host="node1")["id"] == rec["id"]
    with pytest.raises(Conflict, match="already belongs"):
        c.volumes.adopt(w.admin, "db-01.qcow2", "default", "p2", host="node1")
    # adopted volumes count even past the limit (they exist), then block new ones
    c.quotas.set(w.admin, "p1", gigabytes=5)
    with pytest.raises(QuotaExceeded, match="in use 10 GB"):
        c.volumes.create(w.alice, "more", "default", "1G", host="node1")
    # the project owns a volume: the database refuses to delete it
    with pytest.raises(Exception):
        c.identity.projects.delete(w.admin, "p1")
    assert c.identity.service.show_project("p1")["id"] == w.p1
    assert names(c.volumes.list(w.alice)) == ["db-01.qcow2"]


def test_project_owning_a_volume_refuses_delete_with_conflict(w):
    w.cloud.volumes.create(w.alice, "keep", "default", "1G", host="node1")
    with pytest.raises(Conflict, match="still owns resources"):
        w.cloud.identity.projects.delete(w.admin, "p1")


def test_a_record_whose_volume_vanished_shows_missing_and_can_be_dropped(w):
    c = w.cloud
    c.volumes.create(w.alice, "gone", "default", "1G", host="node2")
    conn = c.registry.get("node2").conn()
    conn.storagePoolLookupByName("default").storageVolLookupByName("gone").delete(0)
    [row] = c.volumes.list(w.alice)
    assert row["status"] == "missing" and row["capacity"] is None
    out = c.volumes.delete(w.alice, "gone", "default", host="node2")
    assert out["deleted"] and "no longer had it" in out["note"]
    assert usage(c, w.alice) == (0, 0) and c.volumes.list(w.alice) == []


def test_pool_deleted_with_its_volumes_drops_their_records(w):
    c = w.cloud
    c.pools.create(w.admin, "scratch", "dir", host="node3", target="/srv/scratch")
    c.volumes.create(w.alice, "s1", "scratch", "2G", host="node3")
    assert usage(c, w.alice) == (1, 2)
    c.pools.delete(w.admin, "scratch", host="node3", delete_volumes=True)
    assert usage(c, w.alice) == (0, 0) and c.volumes.list(w.alice) == []


def test_attach_needs_the_server_too(w):
    c = w.cloud
    c.volumes.create(w.alice, "disk", "default", "1G", host="node1")
    server = c.servers.list(w.admin, host="node1")[0]["name"]  # the admin project's VM
    with pytest.raises(PolicyDenied):
        c.volumes.attach(w.alice, "disk", "default", server, host="node1")
    denied = c.identity.audit_log.list(action="volume:attach")
    assert denied and denied[0]["outcome"] == "denied"


def test_cli_member_and_admin(tmp_path, monkeypatch, capsys):
    """The CLI on the demo cloud: the admin makes p1 and alice; alice (VIRTSTACK_*
    variables) creates and lists; the admin sees the project column, adopts, reads quota."""
    from tui.cli import main
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_CONFIG", "VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME",
                "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL"):
        monkeypatch.delenv(var, raising=False)

    def run(*argv):
        code = main(["--demo", "-f", "json", *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    assert run("project", "create", "p1")[0] == 0
    code, _, err = run("user", "create", "alice", "--password-file", str(pw), "--project", "p1")
    assert code == 0, err
    code, _, err = run("role", "add", "--user", "alice", "--project", "p1", "member")
    assert code == 0, err
    assert run("quota", "set", "p1", "--volumes", "1")[0] == 0

    monkeypatch.setenv("VIRTSTACK_USERNAME", "alice")
    monkeypatch.setenv("VIRTSTACK_PASSWORD", PASSWORD)
    monkeypatch.setenv("VIRTSTACK_PROJECT", "p1")
    code, out, err = run("volume", "create", "cli1", "--pool", "default", "--size", "1G",
                         "--host", "node1")
    assert code == 0 and out["project_id"], err
    code, _, err = run("volume", "create", "cli2", "--pool", "default", "--size", "1G",
                       "--host", "node1")
    assert code != 0 and "quota exceeded for volumes: limit 1, in use 1" in err
    code, out, err = run("volume", "list", "--host", "node1")
    assert code == 0 and [(r["name"], r["project"]) for r in out] == [("cli1", "p1")], err
    code, _, err = run("volume", "adopt", "web-01.qcow2", "--pool", "default", "--host",
                       "node1", "--project", "p1")
    assert code != 0 and "volume:adopt" in err

    for var in ("VIRTSTACK_USERNAME", "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT"):
        monkeypatch.delenv(var)
    code, out, err = run("volume", "list", "--host", "node1")
    assert code == 0 and {r["project"] for r in out} == {"p1", "admin"}, err
    assert main(["--demo", "volume", "list", "--host", "node1"]) == 0
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if "name" in line)
    assert "project" in header and "status" in header and "p1" in table
    code, out, err = run("volume", "adopt", "web-01.qcow2", "--pool", "default", "--host",
                         "node1", "--project", "p1")
    assert code == 0 and out["project"] == "p1", err
    code, out, _ = run("quota", "show", "--project", "p1")
    assert code == 0 and (out["volumes"]["in_use"], out["gigabytes"]["in_use"]) == (2, 41)


def test_a_servers_root_volume_belongs_to_the_servers_project(w, tmp_path):
    c = w.cloud
    img = tmp_path / "c.qcow2"
    img.write_bytes(b"QFI\xfb" + b"\0\0\0\x03" + b"\0" * 16 + struct.pack(">Q", GiB)
                    + b"\0" * 480)
    c.images.create(w.admin, "cirros", str(img), disk_format="qcow2")
    [srv] = c.compute.create(w.alice, {"name": "web1", "flavor": "m1.tiny",
                                       "image": "cirros"})
    assert srv["status"] == "ACTIVE", srv["fault"]
    [root] = c.volumes.list(w.alice)
    assert root["name"] == srv["volume"] and root["status"] == "in-use"
    assert root["server"] == "web1" and root["project"] == "p1"
    assert c.volumes.list(w.carol) == []
    assert usage(c, w.alice) == (1, 1)     # counted once, by the server's claim
    with pytest.raises(Conflict, match="root volume of server web1"):
        c.volumes.adopt(w.admin, srv["volume"], "default", "p2", host=srv["host"])
    c.servers.delete(w.alice, "web1")
    assert c.volumes.list(w.alice) == [] and usage(c, w.alice) == (0, 0)


def test_server_delete_with_volumes_drops_their_records(w):
    c = w.cloud
    c.volumes.adopt(w.admin, "db-01.qcow2", "default", "p1", host="node1")
    assert usage(c, w.admin, "p1")[0] == 1
    c.servers.delete(w.admin, "db-01", delete_volumes=True)
    assert usage(c, w.admin, "p1") == (0, 0)
    assert c.volumes.book.record("node1", "default", "db-01.qcow2") is None
