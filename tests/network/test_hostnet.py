"""Host networking plans with rollback, inside network namespaces these tests create.

Each test gets a fresh namespace ``vst-...`` holding a veth pair (``nic0`` the NIC, ``peer0``
its other end), a private /30 on it and a default route through the peer: nothing exists
outside the namespace, and the namespace is deleted afterwards."""
import os
import shutil
import subprocess

import pytest

from backend import errors
from backend.network import hostnet as H

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="network namespaces need root and iproute2")


@pytest.mark.parametrize("transport", ["pyroute2", "ip"])
def test_bridge_plan_moves_nic_addresses_and_route(netns, transport):
    ex = (H.LocalNet(netns) if transport == "pyroute2"
          else H.IpCommandNet(H.local_runner(netns), netns))
    try:
        plan = H.bridge_plan(ex, "br0", "nic0")
        cmds = [s["command"] for s in plan.as_dicts()]
        assert cmds[0] == "ip link add name br0 type bridge"
        assert "ip addr del 10.213.7.2/30 dev nic0" in cmds
        assert "ip route add default via 10.213.7.1 dev br0" in cmds
        before = ex.facts("nic0")
        assert before.addresses == ["10.213.7.2/30"]
        # dry run changes nothing
        assert not ex.facts("br0").exists
        result = H.apply(plan, ex)
        assert result["applied"] == len(plan.steps)
        nic, br = ex.facts("nic0"), ex.facts("br0")
        assert nic.master == "br0" and nic.addresses == []
        assert br.kind == "bridge" and br.up and br.addresses == ["10.213.7.2/30"]
        assert ("default", "10.213.7.1") in br.gateway_routes
        # the link still works: ping the peer through the bridge, inside the namespace
        ping = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c1", "-W2",
                               "10.213.7.1"], capture_output=True, timeout=10)
        if shutil.which("ping"):
            assert ping.returncode == 0, ping.stderr
        # and back again
        H.apply(H.delete_bridge_plan(ex, "br0", ["nic0"]), ex)
        after = ex.facts("nic0")
        assert not ex.facts("br0").exists
        assert after.master is None and after.addresses == ["10.213.7.2/30"]
        assert ("default", "10.213.7.1") in after.gateway_routes
    finally:
        ex.close()


class FailAt(H.Executor):
    """Wraps a real executor; the Nth operation fails (to test rollback on a real kernel)."""

    def __init__(self, inner, n):
        self.inner, self.n, self.count = inner, n, 0
        self.target = inner.target

    def facts(self, name):
        return self.inner.facts(name)

    def run(self, op):
        self.count += 1
        if self.count == self.n:
            raise OSError(f"injected failure at {op.kind}")
        self.inner.run(op)


@pytest.mark.parametrize("fail_at", [2, 4, 6])
def test_failed_step_rolls_everything_back(netns, fail_at):
    ex = H.LocalNet(netns)
    try:
        before = ex.facts("nic0")
        plan = H.bridge_plan(ex, "br0", "nic0")
        assert len(plan.steps) >= 6
        with pytest.raises(H.StepFailed) as info:
            H.apply(plan, FailAt(ex, fail_at))
        assert info.value.step == fail_at and info.value.rolled_back == fail_at - 1
        assert "rolled back" in info.value.message and not info.value.undo_errors
        assert not ex.facts("br0").exists
        assert ex.facts("nic0").__dict__ == before.__dict__
    finally:
        ex.close()


def test_script_mode_rolls_back_itself(netns):
    """The SSH path: one script that undoes itself (run here through `ip netns exec`)."""
    runner = H.local_runner(netns)
    ex = H.IpCommandNet(runner, netns, script_runner=runner)
    before = ex.facts("nic0")
    plan = H.bridge_plan(ex, "br0", "nic0")
    plan.add("a step that fails", H.Op.make("add_addr", name="nosuchdev", cidr="10.9.9.9/32"))
    with pytest.raises(H.StepFailed, match="rolled back"):
        H.apply(plan, ex)
    assert not ex.facts("br0").exists
    assert ex.facts("nic0").__dict__ == before.__dict__


def test_vlan_plan_and_kernel_support(netns):
    ex = H.LocalNet(netns)
    try:
        plan = H.vlan_plan(ex, "nic0", 10, "brvlan10")
        cmds = [s["command"] for s in plan.as_dicts()]
        assert "ip link add link nic0 name nic0.10 type vlan id 10" in cmds
        assert "ip link set dev nic0.10 master brvlan10" in cmds
        try:
            H.apply(plan, ex)
        except H.StepFailed as exc:
            # the rollback happened whatever the kernel's answer
            assert not ex.facts("brvlan10").exists and not ex.facts("nic0.10").exists
            if exc.errno == H.EOPNOTSUPP:
                pytest.skip(f"this kernel has no 802.1Q VLAN support: {exc.message}")
            raise
        assert ex.facts("nic0.10").kind == "vlan"
        assert ex.facts("nic0.10").master == "brvlan10"
    finally:
        ex.close()


def test_plan_refuses_bad_input(netns):
    ex = H.LocalNet(netns)
    try:
        with pytest.raises(errors.NotFound):
            H.bridge_plan(ex, "br0", "eth9")
        with pytest.raises(errors.Conflict):
            H.bridge_plan(ex, "peer0", "nic0")
        with pytest.raises(errors.InvalidInput):
            H.bridge_plan(ex, "br0'; reboot", "nic0")
        with pytest.raises(errors.InvalidInput):
            H.vlan_plan(ex, "nic0", 5000, "brv")
        with pytest.raises(errors.InvalidInput):
            H.vlan_plan(ex, "nic0", 0, "brv")
    finally:
        ex.close()


def test_cli_bridge_dry_run_and_apply(netns, cli_env, capsys):
    import json

    from tui.cli import main
    code = main(["--demo", "-f", "json", "bridge", "create", "br0", "--port", "nic0",
                 "--netns", netns, "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] and plan["steps"][0]["command"].startswith("ip link add")
    ex = H.LocalNet(netns)
    try:
        assert not ex.facts("br0").exists   # a dry run changes nothing
        code = main(["--demo", "-f", "json", "bridge", "create", "br0", "--port", "nic0",
                     "--netns", netns])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert ex.facts("nic0").master == "br0"
        code = main(["--demo", "vlan", "create", "--parent", "nic0", "--id", "10",
                     "--bridge", "brvlan10", "--netns", netns, "--dry-run"])
        out, err = capsys.readouterr()
        assert code == 0 and "type vlan id 10" in out
    finally:
        ex.close()


def test_ssh_runner_quotes_every_argument():
    seen = []

    class Chan:
        def recv_exit_status(self):
            return 0

    class Out:
        channel = Chan()

        def read(self):
            return b""

    class Client:
        def exec_command(self, cmd, timeout=None):
            seen.append(cmd)
            return None, Out(), Out()

    run = H.ssh_runner(Client())
    run(["ip", "link", "set", "dev", "a b;rm -rf /", "up"])
    assert seen == ["ip link set dev 'a b;rm -rf /' up"]
