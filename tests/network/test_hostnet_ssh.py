"""The remote path for real: an sshd inside a test namespace is the "remote host"; paramiko
reaches it through a socket opened in that namespace; plans run there as one shell script
that rolls itself back. Host keys are checked (RejectPolicy + known_hosts)."""
import os
import shutil
import socket
import subprocess
import threading
import time

import paramiko
import pytest

from backend.network import hostnet as H

SSHD = "/usr/sbin/sshd"
PORT = 2222   # on the namespace's own loopback

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None,
    reason="needs root, sshd and ssh-keygen")


def _socket_in(netns: str, port: int) -> socket.socket:
    """Connect from inside ``netns`` (a thread enters it; the socket stays there)."""
    out: dict = {}

    def work():
        from pyroute2.netns import setns
        try:
            setns(netns)
            out["sock"] = socket.create_connection(("127.0.0.1", port), timeout=5)
        except Exception as exc:  # noqa: BLE001
            out["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    if "error" in out:
        raise out["error"]
    return out["sock"]


@pytest.fixture
def ssh_host(netns, tmp_path):
    hostkey, userkey = tmp_path / "host_key", tmp_path / "user_key"
    for k in (hostkey, userkey):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(k)],
                       check=True, stdin=subprocess.DEVNULL)
    (tmp_path / "authorized_keys").write_text((tmp_path / "user_key.pub").read_text())
    cfg = tmp_path / "sshd_config"
    cfg.write_text("\n".join([
        f"ListenAddress 127.0.0.1:{PORT}", f"HostKey {hostkey}",
        f"PidFile {tmp_path / 'sshd.pid'}", f"AuthorizedKeysFile {tmp_path}/authorized_keys",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", ""]))
    kind, blob = (tmp_path / "host_key.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{PORT} {kind} {blob}\n")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", netns, SSHD, "-D", "-e", "-f", str(cfg)],
                            stderr=subprocess.PIPE)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = _socket_in(netns, PORT)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client.connect("127.0.0.1", port=PORT, username="root", key_filename=str(userkey),
                       sock=sock, allow_agent=False, look_for_keys=False, timeout=10)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_bridge_plan_over_ssh_applies_as_one_script(ssh_host, netns):
    run = H.ssh_runner(ssh_host)
    ex = H.IpCommandNet(run, "ssh host", script_runner=run)
    plan = H.bridge_plan(ex, "br0", "nic0")          # facts read over SSH (ip -j)
    assert any("ip addr del 10.213.7.2/30 dev nic0" == s["command"] for s in plan.as_dicts())
    out = H.apply(plan, ex)
    assert out["applied"] == len(plan.steps)
    local = H.LocalNet(netns)
    try:
        assert local.facts("nic0").master == "br0"
        assert local.facts("br0").addresses == ["10.213.7.2/30"]
        assert ("default", "10.213.7.1") in local.facts("br0").gateway_routes
    finally:
        local.close()


def test_failed_step_over_ssh_rolls_back_on_the_host(ssh_host, netns):
    run = H.ssh_runner(ssh_host)
    ex = H.IpCommandNet(run, "ssh host", script_runner=run)
    before = ex.facts("nic0")
    plan = H.bridge_plan(ex, "br0", "nic0")
    plan.add("a step that fails", H.Op.make("set_up", name="nosuchdev0"))
    with pytest.raises(H.StepFailed) as info:
        H.apply(plan, ex)
    assert info.value.step == len(plan.steps) and "rolled back" in info.value.message
    assert not ex.facts("br0").exists
    assert ex.facts("nic0").__dict__ == before.__dict__


def test_unknown_host_key_is_refused(netns, ssh_host, tmp_path):
    other = paramiko.SSHClient()
    other.set_missing_host_key_policy(paramiko.RejectPolicy())   # empty known_hosts
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        other.connect("127.0.0.1", port=PORT, username="root", sock=_socket_in(netns, PORT),
                      key_filename=str(tmp_path / "user_key"), allow_agent=False,
                      look_for_keys=False, timeout=5)
    other.close()
