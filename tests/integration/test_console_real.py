"""The serial console on the real daemon, over qemu+ssh://: a TCG guest's SeaBIOS banner
arrives through the backend's console session and through `virtstack server console`.

The guest is started paused so that the console is open before SeaBIOS prints."""
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
