"""Server operations on the real daemon over qemu+ssh://.

The serial console: a TCG guest's SeaBIOS banner arrives through the backend's console
session and through `virtstack server console` (the guest is started paused so that the
console is open before SeaBIOS prints). Also, on a qcow2 guest: internal snapshots of a
running guest, live/next-boot edits, and a clone whose disk is copied in the same pool."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import load_settings
from backend.errors import Conflict
from tests.realhost import tiny_domain_xml

REPO = Path(__file__).resolve().parents[2]
NAME = "vs-console"


def write_config(path: Path, real_host) -> Path:
    path.write_text(
        f"[state]\ndb_url = \"sqlite:///{path.parent / 'state.db'}\"\n\n"
        "[[hosts]]\nname = \"kvm1\"\n"
        f"uri = \"qemu+ssh://root@127.0.0.1:{real_host.port}/system\"\n"
        f"keyfile = \"{real_host.keyfile}\"\n"
        f"known_hosts = \"{real_host.known_hosts}\"\n")
    return path


@pytest.fixture
def paused_guest(real_host):
    conn = libvirt.open(real_host.local_uri)

    def cleanup():
        try:
            dom = conn.lookupByName(NAME)
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except libvirt.libvirtError:
            pass
    cleanup()
    dom = conn.defineXML(tiny_domain_xml(NAME))
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    yield dom
    cleanup()
    conn.close()


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_console_session_shows_seabios_over_ssh(tmp_path, real_host, paused_guest):
    settings = load_settings(write_config(tmp_path / "c.toml", real_host))
    settings.state_dir = tmp_path / "state"
    cloud = Cloud(settings)
    ctx = RequestContext.system()
    out = bytearray()
    closed = []
    lock = threading.Lock()

    def on_output(data: bytes):
        with lock:
            out.extend(data)
    try:
        assert cloud.registry.get("kvm1").state == "connected"
        session = cloud.server_ops.console(ctx, NAME, on_output, closed.append)
        paused_guest.resume()
        assert wait_for(lambda: b"SeaBIOS" in out, 30), f"console printed: {bytes(out)!r}"
        print("console:", bytes(out).decode(errors="replace"))
        session.write(b"\r")          # typing reaches the guest without error
        session.close()
        assert session.closed and closed == ["closed"]
        with pytest.raises(Conflict, match="closed"):
            session.write(b"x")
    finally:
        cloud.close()


def test_cli_console_prints_seabios_and_leaves_on_ctrl_bracket(tmp_path, real_host,
                                                               paused_guest):
    cfg = write_config(tmp_path / "config.toml", real_host)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               VIRTSTACK_CONFIG=str(cfg))
    for v in ("VIRTSTACK_TOKEN", "VIRTSTACK_DB_URL"):
        env.pop(v, None)
    pw = tmp_path / "pw"
    pw.write_text("Console-Test-Pw-1\n")
    pw.chmod(0o600)
    boot = subprocess.run([sys.executable, "-m", "tui.cli", "bootstrap",
                           "--admin-password-file", str(pw)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert boot.returncode == 0, boot.stderr
    env.update(VIRTSTACK_USERNAME="admin", VIRTSTACK_PASSWORD="Console-Test-Pw-1",
               VIRTSTACK_PROJECT="admin")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "server", "console", NAME],
                            env=env, cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = bytearray(), bytearray()

    def pump(src, dst):
        while chunk := os.read(src.fileno(), 4096):
            dst.extend(chunk)
    threads = [threading.Thread(target=pump, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err), daemon=True)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: b"Escape character is ^]" in err, 60), bytes(err)
        paused_guest.resume()
        assert wait_for(lambda: b"SeaBIOS" in out, 30), f"stdout: {bytes(out)!r}"
        proc.stdin.write(b"\x1d")
        proc.stdin.flush()
        assert proc.wait(timeout=20) == 0, bytes(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for t in threads:
        t.join(timeout=5)
    assert b"Disconnected from " + NAME.encode() in err


def test_snapshots_edits_and_clone_on_the_real_daemon(tmp_path, real_host):
    from backend.errors import NotSupported
    from backend.virt.libvirt.xml import domain_xml
    conn = libvirt.open(real_host.local_uri)
    names = ("vs-snap", "vs-snap-raw", "vs-snap-2")
    try:
        try:
            pool = conn.storagePoolLookupByName("vs-ops")
        except libvirt.libvirtError:
            pool = conn.storagePoolDefineXML(
                "<pool type='dir'><name>vs-ops</name><target>"
                "<path>/var/lib/libvirt/images/vs-ops</path></target></pool>")
            pool.build(0)
        if not pool.isActive():
            pool.create()
        for vol, fmt in (("vs-snap.qcow2", "qcow2"), ("vs-snap-raw.img", "raw")):
            pool.createXML(f"<volume><name>{vol}</name><capacity unit='MiB'>16</capacity>"
                           f"<target><format type='{fmt}'/></target></volume>", 0)
        conn.defineXML(domain_xml(names[0], memory_mb=64, vcpus=1, disks=[
            {"pool": "vs-ops", "volume": "vs-snap.qcow2", "format": "qcow2"}]))
        conn.defineXML(domain_xml(names[1], memory_mb=64, vcpus=1, disks=[
            {"pool": "vs-ops", "volume": "vs-snap-raw.img", "format": "raw"}]))
        settings = load_settings(write_config(tmp_path / "c.toml", real_host))
        settings.state_dir = tmp_path / "state"
        cloud = Cloud(settings)
        ctx = RequestContext.system()
        ops = cloud.server_ops
        try:
            cloud.servers.start(ctx, names[0])
            assert ops.snapshot_create(ctx, names[0], "s1")["memory"] == "internal"
            assert ops.snapshot_create(ctx, names[0], "s2")["parent"] == "s1"
            assert [r["name"] for r in ops.snapshot_list(ctx, names[0])] == ["s1", "s2"]
            assert ops.snapshot_revert(ctx, names[0], "s1")["server_state"] == "running"
            ops.snapshot_delete(ctx, names[0], "s2")
            assert [r["name"] for r in ops.snapshot_list(ctx, names[0])] == ["s1"]
            with pytest.raises(NotSupported, match="vda is raw"):
                ops.snapshot_create(ctx, names[1], "x")
            # live within what the guest was started with, else next boot (and said so)
            assert ops.set_memory(ctx, names[0], 32)["applied"] == "live and next boot"
            r = ops.set_vcpus(ctx, names[0], 2)
            assert r["applied"] == "next boot" and "at most 1 vCPUs" in r["note"]
            cloud.servers.destroy(ctx, names[0])
            ops.snapshot_delete(ctx, names[0], "s1")
            out = ops.clone(ctx, names[0], names[2])
            shown = cloud.servers.get(ctx, names[2])
            assert shown["disks"][0]["source"] == "vs-ops/vs-snap-2.qcow2"
            assert shown["vcpus"] == 2 and out["state"] == "shutoff"
            assert pool.storageVolLookupByName("vs-snap-2.qcow2").info()[1] == 16 * 1024**2
        finally:
            cloud.close()
    finally:
        for name in names:
            try:
                dom = conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                for snap in dom.listAllSnapshots(0):
                    snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
                dom.undefine()
            except libvirt.libvirtError:
                pass
        try:
            pool = conn.storagePoolLookupByName("vs-ops")
            for vol in pool.listAllVolumes(0):
                vol.delete(0)
            pool.destroy()
            pool.undefine()
        except libvirt.libvirtError:
            pass
        conn.close()
