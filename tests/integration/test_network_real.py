"""Virtual networks on the real daemon, and host networking over SSH (paramiko).

Only an ISOLATED network with a private subnet is started (no forwarding: no traffic can
leave the machine); it is stopped and undefined afterwards. Host networking over SSH is
exercised read-only: plans are built from the host's real interfaces (--dry-run)."""
from __future__ import annotations

import subprocess

import libvirt
import pytest

from backend import errors
from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import HostConfig, Settings

NET = "vs-it-iso"
SUBNET = "10.213.250.0/24"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, real_host):
    base = tmp_path_factory.mktemp("network-real")
    settings = Settings(
        hosts=[HostConfig(name="real", uri=real_host.local_uri),
               HostConfig(name="real-ssh",
                          uri=f"qemu+ssh://root@127.0.0.1:{real_host.port}/system",
                          keyfile=str(real_host.keyfile),
                          known_hosts=str(real_host.known_hosts))],
        db_url=f"sqlite:///{base / 'state.db'}", data_dir=base, state_dir=base / "state")
    c = Cloud(settings)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ctx():
    return RequestContext.system()


@pytest.fixture
def cleanup_net(real_host):
    yield
    conn = libvirt.open(real_host.local_uri)
    try:
        net = conn.networkLookupByName(NET)
        if net.isActive():
            net.destroy()
        net.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def test_isolated_network_defined_started_and_removed(cloud, ctx, cleanup_net):
    rows = cloud.networks.create(ctx, NET, "isolated", hosts=["real"], subnet=SUBNET)
    row = rows[0]
    assert row["active"] and row["autostart"] and row["mode"] == "isolated"
    assert row["subnet"] == SUBNET and row["gateway"] == "10.213.250.1"
    # the bridge exists on the host, with the gateway address, and nothing forwards out
    link = subprocess.run(["ip", "-4", "addr", "show", "dev", row["bridge"]],
                          capture_output=True, text=True)
    assert "10.213.250.1/24" in link.stdout
    shown = cloud.networks.get(ctx, NET, host="real")
    assert shown["leases"] == []          # the real daemon answers; no guest asked yet
    assert cloud.networks.leases(ctx, NET, host="real") == []
    d = cloud.networks.drift(ctx, NET, hosts=["real"])
    assert d["in_sync"]
    assert cloud.networks.stop(ctx, NET, host="real")["active"] is False
    assert cloud.networks.start(ctx, NET, host="real")["active"] is True
    assert cloud.networks.autostart(ctx, NET, on=False, host="real")["autostart"] is False
    cloud.networks.delete(ctx, NET, host="real")
    with pytest.raises(errors.NotFound):
        cloud.networks.get(ctx, NET, host="real")
    gone = subprocess.run(["ip", "link", "show", "dev", row["bridge"]], capture_output=True)
    assert gone.returncode != 0


def test_bridge_mode_network_defined_on_the_real_daemon(cloud, ctx, cleanup_net):
    # libvirt accepts a bridge network whose host bridge is missing (guests fail to start
    # on it later); defined without starting, it is checked and removed here.
    rows = cloud.networks.create(ctx, NET, "bridge", hosts=["real"], bridge="vsnobr0",
                                 start=False, autostart=False)
    assert rows[0]["mode"] == "bridge" and rows[0]["bridge"] == "vsnobr0"
    assert rows[0]["active"] is False
    cloud.networks.delete(ctx, NET, host="real")
    assert NET not in {r["name"] for r in cloud.networks.list(ctx, host="real")}


def test_host_networking_plan_over_ssh_is_read_only_in_dry_run(cloud, ctx):
    before = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout
    out = cloud.host_networks.vlan_create(ctx, "lo", 10, "brvlan10", host="real-ssh",
                                          dry_run=True)
    assert out["dry_run"] and out["target"] == "host real-ssh"
    cmds = [s["command"] for s in out["steps"]]
    assert "ip link add link lo name lo.10 type vlan id 10" in cmds
    with pytest.raises(errors.InvalidInput, match="loopback"):
        cloud.host_networks.bridge_create(ctx, "br-vs", "lo", host="real-ssh", dry_run=True)
    with pytest.raises(errors.NotFound, match="vsnonic9"):
        cloud.host_networks.bridge_create(ctx, "br-vs", "vsnonic9", host="real-ssh",
                                          dry_run=True)
    after = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout
    assert before == after
