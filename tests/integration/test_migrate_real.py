"""Live migration between two independent libvirt hosts on this machine (tests/twohosts.py:
network + mount + UTS namespaces, a veth /30 only between them, sshd inside each).

A running TCG guest is moved A -> B through the front door (peer-to-peer: A's libvirtd opens
B over qemu+ssh://), shown running on B and gone from A; then ``evacuate`` of B moves it back
to the host the scheduler picks (A, the only other one)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import load_settings
from backend.errors import OperationFailed
from tests.realhost import missing_requirements, tiny_domain_xml
from tests.twohosts import TwoHosts

NAME = "vs-migrant"
REPO = Path(__file__).resolve().parents[2]


def _netns_allowed() -> str | None:
    probe = subprocess.run(["ip", "netns", "add", "vsmig-probe"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        return probe.stderr.strip() or "ip netns add failed"
    subprocess.run(["ip", "netns", "del", "vsmig-probe"], capture_output=True)
    return None


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    problems = missing_requirements()
    if problems:
        pytest.skip("a real libvirt host cannot run here: " + ", ".join(problems))
    why = _netns_allowed()
    if why:
        pytest.skip(f"network namespaces are not available here: {why}")
    hosts = TwoHosts(tmp_path_factory.mktemp("twohosts"))
    hosts.start()
    yield hosts.a, hosts.b
    hosts.stop()


@pytest.fixture
def cloud(tmp_path, two_hosts):
    a, b = two_hosts
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"[state]\ndb_url = \"sqlite:///{tmp_path / 'state.db'}\"\n\n"
        f"[[hosts]]\nname = \"hosta\"\nuri = \"{a.local_uri}\"\n\n"
        f"[[hosts]]\nname = \"hostb\"\nuri = \"{b.local_uri}\"\n")
    settings = load_settings(cfg)
    settings.state_dir = tmp_path / "state"
    c = Cloud(settings)
    yield c
    c.close()


@pytest.fixture
def guest(two_hosts):
    a, b = two_hosts
    conns = [libvirt.open(a.local_uri), libvirt.open(b.local_uri)]

    def cleanup():
        for conn in conns:
            try:
                dom = conn.lookupByName(NAME)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
    cleanup()
    conns[0].defineXML(tiny_domain_xml(NAME)).create()
    yield conns
    cleanup()
    for conn in conns:
        conn.close()


def used(cloud) -> dict[str, int]:
    """Claimed memory per host (compute_nodes.memory_mb_used)."""
    from sqlalchemy import select

    from backend.compute.models import ComputeNode
    with cloud.db.transaction() as s:
        return dict(s.execute(select(ComputeNode.host, ComputeNode.memory_mb_used)).all())


def server_host(cloud) -> str:
    from backend.compute.models import Server
    with cloud.db.transaction() as s:
        return s.get(Server, cloud.servers.locate(NAME)[1]["uuid"]).host


def server_host_db(cloud) -> str:
    from sqlalchemy import select

    from backend.compute.models import Server
    with cloud.db.transaction() as s:
        return s.scalars(select(Server.host).where(Server.name == NAME)).one()


def cloud_dir(cloud) -> Path:
    return Path(cloud.settings.config_path).parent


def test_live_migration_over_ssh_and_evacuation_back(cloud, two_hosts, guest):
    a, b = two_hosts
    conn_a, conn_b = guest
    ctx = RequestContext.system()
    peers = {"hosta": a.peer_uri, "hostb": b.peer_uri}
    assert {h.name for h in cloud.registry.connected()} == {"hosta", "hostb"}
    assert cloud.servers.get(ctx, NAME, host="hosta")["state"] == "running"
    # virtstack tracks it (adopted into the admin project): its claim must move with it
    cloud.identity.bootstrap("Migrate-Test-Pw-1")
    cloud.compute.resources(ctx)  # compute_nodes rows for both hosts
    cloud.compute.adopt(ctx, NAME, "admin")
    assert used(cloud) == {"hosta": 64, "hostb": 0}

    # a cancel flag already set: nothing moves
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OperationFailed, match="cancelled"):
        cloud.server_ops.migrate(ctx, NAME, "hostb", dest_uris=peers, cancel=cancel)
    assert conn_a.lookupByName(NAME).isActive()
    assert used(cloud) == {"hosta": 64, "hostb": 0}  # the claim taken on B was given back

    # cancelled while it runs: at its first progress report from the job info
    cancel = threading.Event()
    seen: list[dict] = []

    def on_progress(event):
        seen.append(event)
        if event["phase"] == "migrating":
            cancel.set()
    with pytest.raises(OperationFailed, match="cancelled; it still runs on hosta"):
        cloud.server_ops.migrate(ctx, NAME, "hostb", dest_uris=peers, cancel=cancel,
                                 progress=on_progress, bandwidth_mib=1)
    assert [e["phase"] for e in seen] == ["starting", "migrating", "cancelling", "cancelled"]
    assert conn_a.lookupByName(NAME).isActive()
    with pytest.raises(libvirt.libvirtError):
        conn_b.lookupByName(NAME)
    assert used(cloud) == {"hosta": 64, "hostb": 0}

    events: list[dict] = []
    out = cloud.server_ops.migrate(ctx, NAME, "hostb", dest_uris=peers,
                                   progress=events.append)
    assert (out["source"], out["destination"], out["state"]) == ("hosta", "hostb", "running")
    assert out["claim_moved"] is True and used(cloud) == {"hosta": 0, "hostb": 64}
    assert server_host(cloud) == "hostb"
    # running on B (persistent there), gone from A -- as the hosts and the front door see it
    dom_b = conn_b.lookupByName(NAME)
    assert dom_b.isActive() and dom_b.isPersistent()
    with pytest.raises(libvirt.libvirtError):
        conn_a.lookupByName(NAME)
    assert cloud.servers.get(ctx, NAME)["host"] == "hostb"
    assert NAME not in {r["name"] for r in cloud.servers.list(ctx, host="hosta")}
    phases = [e["phase"] for e in events]
    assert phases[0] == "starting" and phases[-1] == "done", phases
    assert all(e["server"] == NAME and e["destination"] == "hostb" for e in events)

    # evacuate B: the scheduler picks A (the only other host), one VM, progress reported
    evac_events: list[dict] = []
    report = cloud.server_ops.evacuate(ctx, "hostb", dest_uris=peers,
                                       progress=evac_events.append)
    assert report["count"] == 1 and report["moved"][0]["destination"] == "hosta"
    assert conn_a.lookupByName(NAME).isActive()
    with pytest.raises(libvirt.libvirtError):
        conn_b.lookupByName(NAME)
    assert evac_events[-1]["phase"] == "done" and evac_events[-1]["count"] == 1
    assert used(cloud) == {"hosta": 64, "hostb": 0} and server_host(cloud) == "hosta"
    audit = cloud.identity.audit.list(ctx, action="server:live_migrate")
    assert [r["outcome"] for r in audit][:2] == ["success", "failure"]
    assert cloud.identity.audit.list(ctx, action="host:evacuate")[0]["outcome"] == "success"
    # an evacuated host stays disabled until an admin puts it back in service
    hostb = cloud.compute.resources(ctx, "hostb")[0]
    assert hostb["enabled"] is False and hostb["disabled_reason"] == "evacuated"
    cloud.compute.set_host_enabled(ctx, "hostb", True)

    # the CLI: `virtstack server migrate` with the scheduler's pick (B), progress on stderr
    env = dict(os.environ, XDG_DATA_HOME=str(cloud_dir(cloud) / "data"),
               XDG_STATE_HOME=str(cloud_dir(cloud) / "xstate"),
               XDG_CONFIG_HOME=str(cloud_dir(cloud) / "cfg"),
               VIRTSTACK_CONFIG=str(cloud.settings.config_path),
               VIRTSTACK_USERNAME="admin", VIRTSTACK_PASSWORD="Migrate-Test-Pw-1",
               VIRTSTACK_PROJECT="admin")
    env.pop("VIRTSTACK_TOKEN", None)
    env.pop("VIRTSTACK_DB_URL", None)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "-f", "json", "server", "migrate",
                           NAME, "--dest-uri", b.peer_uri], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    moved = json.loads(proc.stdout)
    assert (moved["source"], moved["destination"], moved["state"]) == \
        ("hosta", "hostb", "running")
    assert "hosta -> hostb done" in proc.stderr
    assert conn_b.lookupByName(NAME).isActive()
    with pytest.raises(libvirt.libvirtError):
        conn_a.lookupByName(NAME)
    assert used(cloud) == {"hosta": 0, "hostb": 64} and server_host_db(cloud) == "hostb"


def test_copy_storage_moves_a_local_disk(cloud, two_hosts):
    """--copy-storage: a guest whose qcow2 disk only host A has; B gets a copy in its pool."""
    from backend.virt.libvirt.xml import domain_xml
    a, b = two_hosts
    ctx = RequestContext.system()
    name, path = "vs-copy", "/var/lib/libvirt/images/vs-copy/vs-copy.qcow2"
    conns = [libvirt.open(a.local_uri), libvirt.open(b.local_uri)]
    try:
        for conn in conns:
            pool = conn.storagePoolDefineXML(
                "<pool type='dir'><name>vs-copy</name><target>"
                "<path>/var/lib/libvirt/images/vs-copy</path></target></pool>")
            pool.build(0)
            pool.create()
        conns[0].storagePoolLookupByName("vs-copy").createXML(
            "<volume><name>vs-copy.qcow2</name><capacity unit='MiB'>16</capacity>"
            "<target><format type='qcow2'/></target></volume>", 0)
        conns[0].defineXML(domain_xml(name, memory_mb=64, vcpus=1, disks=[
            {"path": path, "format": "qcow2"}])).create()
        with pytest.raises(libvirt.libvirtError):
            conns[1].storageVolLookupByPath(path)
        out = cloud.server_ops.migrate(ctx, name, "hostb", copy_storage=True,
                                       dest_uris={"hostb": b.peer_uri})
        assert out["copy_storage"] is True and out["state"] == "running"
        assert conns[1].lookupByName(name).isActive()
        conns[1].storagePoolLookupByName("vs-copy").refresh(0)
        assert conns[1].storageVolLookupByPath(path).info()[1] == 16 * 1024**2
        with pytest.raises(libvirt.libvirtError):
            conns[0].lookupByName(name)
    finally:
        for conn in conns:
            try:
                dom = conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError:
                pass
            try:
                pool = conn.storagePoolLookupByName("vs-copy")
                for vol in pool.listAllVolumes(0):
                    vol.delete(0)
                pool.destroy()
                pool.undefine()
            except libvirt.libvirtError:
                pass
            conn.close()
