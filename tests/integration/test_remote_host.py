"""Issue 2 on the real daemon: a libvirtd + QEMU/TCG host reached over qemu+ssh:// with a
known_hosts-verified ed25519 key, driven from the CLI; host keys verified; the host dropping
(sshd and libvirtd stopped) and coming back by itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import load_settings
from backend.errors import HostKeyError, HostUnavailable
from tests.realhost import tiny_domain_xml

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, real_host, *, known_hosts=None, name="kvm1",
                 extra: str = "") -> Path:
    path.write_text(
        "[connection]\nkeepalive_interval = 1\nkeepalive_count = 2\n\n"
        f"[state]\ndb_url = \"sqlite:///{path.parent / 'state.db'}\"\n\n"
        f"[[hosts]]\nname = \"{name}\"\n"
        f"uri = \"qemu+ssh://root@127.0.0.1:{real_host.port}/system\"\n"
        f"keyfile = \"{real_host.keyfile}\"\n"
        f"known_hosts = \"{known_hosts or real_host.known_hosts}\"\n"
        "availability_zone = \"az1\"\n" + extra)
    return path


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory, real_host):
    home = tmp_path_factory.mktemp("clihome")
    cfg = write_config(home / "config.toml", real_host)
    env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
               XDG_CONFIG_HOME=str(home / "cfg"), VIRTSTACK_CONFIG=str(cfg))
    for v in ("VIRTSTACK_TOKEN", "VIRTSTACK_DB_URL"):
        env.pop(v, None)
    pw = home / "admin-pw"
    pw.write_text("Integration-Test-Pw-1\n")
    pw.chmod(0o600)
    boot = subprocess.run([sys.executable, "-m", "tui.cli", "bootstrap",
                           "--admin-password-file", str(pw)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    if boot.returncode == 0:
        env.update(VIRTSTACK_USERNAME="admin", VIRTSTACK_PASSWORD="Integration-Test-Pw-1",
                   VIRTSTACK_PROJECT="admin")
    return env


def cli(env, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "-f", "json", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    if check:
        assert proc.returncode == 0, f"virtstack {' '.join(args)}: {proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def tiny(real_host):
    conn = libvirt.open(real_host.local_uri)
    name = "vs-tiny"
    try:
        conn.lookupByName(name).undefine()
    except libvirt.libvirtError:
        pass
    conn.defineXML(tiny_domain_xml(name))
    yield name
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    conn.close()


def test_cli_drives_a_tcg_vm_over_qemu_ssh(cli_home, tiny):
    hosts = json.loads(cli(cli_home, "host", "list").stdout)
    assert hosts[0]["name"] == "kvm1" and hosts[0]["state"] == "connected", hosts
    assert hosts[0]["hypervisor"] == "QEMU"
    rows = json.loads(cli(cli_home, "server", "list").stdout)
    assert any(r["name"] == tiny and r["state"] == "shutoff" for r in rows)
    assert json.loads(cli(cli_home, "server", "start", tiny).stdout)["state"] == "running"
    assert json.loads(cli(cli_home, "server", "suspend", tiny).stdout)["state"] == "paused"
    assert json.loads(cli(cli_home, "server", "resume", tiny).stdout)["state"] == "running"
    shown = json.loads(cli(cli_home, "server", "show", tiny).stdout)
    assert shown["state"] == "running" and shown["memory_mb"] == 64
    assert shown["type"] == "qemu" and shown["disks"] == []
    # destructive without --yes changes nothing
    refused = cli(cli_home, "server", "destroy", tiny, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert json.loads(cli(cli_home, "server", "show", tiny).stdout)["state"] == "running"
    assert json.loads(cli(cli_home, "server", "destroy", tiny, "--yes").stdout)["state"] == \
        "shutoff"


def test_local_qemu_process_and_vcpu_threads(cli_home, real_host):
    conn = libvirt.open(real_host.local_uri)
    try:
        conn.defineXML(tiny_domain_xml("vs-threads"))
        conn.lookupByName("vs-threads").create()
        out = json.loads(cli(cli_home, "server", "threads", "vs-threads").stdout)
        assert out["pid"] > 1 and out["vcpus"] == 1
        assert [t["vcpu"] for t in out["vcpu_threads"]] == [0]
        assert out["vcpu_threads"][0]["thread"] in ("CPU 0/TCG", "CPU 0/KVM")
        stopped = cli(cli_home, "server", "threads", "vs-tiny", check=False)
        assert stopped.returncode != 0 and "no qemu process" in stopped.stderr
        usage = json.loads(cli(cli_home, "host", "usage").stdout)
        assert usage["cpus"] >= 1 and usage["memory_mb"] > usage["memory_used_mb"] > 0
    finally:
        dom = conn.lookupByName("vs-threads")
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        conn.close()


def test_cli_delete_removes_the_domain(cli_home, real_host):
    conn = libvirt.open(real_host.local_uri)
    try:
        conn.defineXML(tiny_domain_xml("vs-doomed"))
        out = json.loads(cli(cli_home, "server", "delete", "vs-doomed", "--yes").stdout)
        assert out["deleted"] is True
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByName("vs-doomed")
    finally:
        conn.close()


def test_wrong_host_key_is_refused(tmp_path, real_host):
    bad = tmp_path / "known_hosts"
    # a valid ed25519 key that is not the server's
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")],
                   check=True)
    other = (tmp_path / "k.pub").read_text().split()[:2]
    bad.write_text(f"[127.0.0.1]:{real_host.port} {' '.join(other)}\n")
    settings = load_settings(write_config(tmp_path / "c.toml", real_host, known_hosts=bad))
    settings.state_dir = tmp_path / "state"
    cloud = Cloud(settings)
    try:
        host = cloud.registry.get("kvm1")
        assert host.state == "disconnected"
        assert "host key" in host.last_error.lower()
        with pytest.raises(HostKeyError):
            from backend.hosts.probe import probe_host
            probe_host(host.cfg)
    finally:
        cloud.close()


def test_probe_over_ssh(tmp_path, real_host):
    settings = load_settings(write_config(tmp_path / "c.toml", real_host))
    settings.state_dir = tmp_path / "state"
    cloud = Cloud(settings)
    try:
        facts = cloud.hosts.probe(RequestContext.system(), "kvm1")
        assert facts["method"] == "ssh" and facts["libvirtd_running"] is True
        assert facts["cpus"] >= 1 and facts["memory_mb"] > 0
        assert facts["libvirt_kvm"] in (True, False)
    finally:
        cloud.close()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_host_drops_and_reconnects_by_itself(tmp_path, real_host):
    settings = load_settings(write_config(tmp_path / "c.toml", real_host))
    settings.state_dir = tmp_path / "state"
    cloud = Cloud(settings, connect=False)
    ctx = RequestContext.system()
    events = []
    cloud.registry.add_listener(lambda e: events.append(e) if e["type"] == "host" else None)
    cloud.start_hosts()
    host = cloud.registry.get("kvm1")
    try:
        wait_for(lambda: host.state == "connected", 60, "first connection")
        assert cloud.servers.list(ctx, host="kvm1") is not None
        real_host.stop_sshd()
        real_host.stop_libvirtd()
        wait_for(lambda: host.state != "connected", 30, "the drop to be noticed")
        with pytest.raises(HostUnavailable, match="kvm1"):
            cloud.servers.list(ctx, host="kvm1")
        assert host.last_error
    finally:
        real_host.start_libvirtd()
        real_host.start_sshd()
    try:
        wait_for(lambda: host.state == "connected", 90, "the reconnect")
        assert isinstance(cloud.servers.list(ctx, host="kvm1"), list)
        states = [e["state"] for e in events]
        assert "disconnected" in states and states[-1] == "connected"
    finally:
        cloud.close()
