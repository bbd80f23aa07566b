"""Two independent libvirt hosts on this machine, for migration tests.

Each ``NsHost`` is a RealHost (tests/realhost.py) whose daemons run in a network namespace
of its own (``ip netns add``), plus the private mount namespace RealHost makes and a UTS
namespace with its own hostname; libvirtd gets its own ``host_uuid``, so the two are
different hosts to libvirt. A veth pair joins the two namespaces on a private /30 that exists
only inside them (nothing is added to the machine's network namespace). sshd listens on the
host's veth address, port 22, inside its namespace; qemu's ``migration_host`` is that address.

The test process reaches each daemon through its unix socket (``host.local_uri``, a path
under /proc/ANCHOR/root that works from any network namespace); the hosts reach each other
over SSH: ``host.peer_uri`` is what the OTHER host's libvirtd opens for a peer-to-peer
migration (key, host-key check against ``host.known_hosts`` through a wrapper).

    with TwoHosts(tmpdir) as (a, b):
        a.local_uri, b.local_uri, b.peer_uri, b.address

Everything is stopped by PID (RealHost.stop) and the namespaces are deleted by name; both
names carry this process's PID, so parallel runs never collide.
"""
from __future__ import annotations

import os
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

from tests.realhost import (_NS_SETUP, PRIVATE_DIRS, RUN_DIR, RealHost, RealHostError,
                            _mnt_ns, _wait)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          stdin=subprocess.DEVNULL)


class NsHost(RealHost):
    def __init__(self, workdir, *, netns: str, address: str, hostname: str):
        super().__init__(workdir, port=22, private=True)
        self.netns = netns
        self.address = address
        self.hostname = hostname
        self.host_uuid = str(uuid.uuid4())

    @property
    def peer_uri(self) -> str:
        """The URI another host's libvirtd uses to reach this one (over SSH)."""
        query = urllib.parse.urlencode({"keyfile": str(self.keyfile),
                                        "command": str(self.ssh_wrapper), "no_tty": "1"},
                                       safe="/")
        return f"qemu+ssh://root@{self.address}/system?{query}"

    def _prepare_root(self) -> None:
        super()._prepare_root()
        conf = self.root / "etc/libvirt/libvirtd.conf"
        if "# virtstack NsHost" not in conf.read_text():
            with open(conf, "a") as f:
                f.write(f'\n# virtstack NsHost\nhost_uuid = "{self.host_uuid}"\n')
        qemu_conf = self.root / "etc/libvirt/qemu.conf"
        if "# virtstack NsHost" not in qemu_conf.read_text():
            with open(qemu_conf, "a") as f:
                f.write(f'\n# virtstack NsHost\nmigration_host = "{self.address}"\n'
                        f'migration_address = "{self.address}"\n')

    def _start_anchor(self, watch: int) -> None:
        script = (f"echo {self.hostname} > /proc/sys/kernel/hostname\n"
                  + _NS_SETUP.format(run=RUN_DIR, dirs=" ".join(PRIVATE_DIRS)))
        self._anchor = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "-m", "-u", "--propagation",
             "private", "--", "sh", "-c", script, "nshost-anchor", str(self.root), str(watch)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, text=True)
        line = self._anchor.stdout.readline().strip()
        if line != "ready":
            self._anchor.kill()
            err = self._anchor.stderr.read()
            self._anchor.wait()
            self._anchor = None
            raise RealHostError(f"could not set up the namespaces of {self.hostname}: "
                                f"{err.strip()}")
        self.anchor_pid = self._anchor.pid
        self.mnt_ns = _mnt_ns(self.anchor_pid)
        self.private = True
        self._anchor.stdout.close()
        self._anchor.stderr.close()
        self._save_state()

    def _spawn(self, name: str, argv: list[str]) -> None:
        argv = ["nsenter", "-t", str(self.anchor_pid), "-m", "-n", "-u", "--", *argv]
        self.pidfiles[name].unlink(missing_ok=True)
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=60,
                                start_new_session=True)
        if result.returncode != 0:
            raise RealHostError(f"{name} failed ({result.returncode}): "
                                f"{result.stderr.strip()}")
        from tests.realhost import _read_pidfile, _start_time
        pid = _wait(lambda: _read_pidfile(self.pidfiles[name]), 5, f"{name}'s pidfile")
        self._started[name] = (pid, _start_time(pid))
        self._save_state()

    def _write_sshd_config(self) -> None:
        super()._write_sshd_config()
        text = self.sshd_config.read_text().replace(
            f"ListenAddress 127.0.0.1:{self.port}", f"ListenAddress {self.address}:22")
        self.sshd_config.write_text(text)
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        self.known_hosts.write_text(f"{self.address} {kind} {blob}\n")

    def start_sshd(self, timeout: float = 10.0) -> None:
        if self._running("sshd"):
            return
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._write_sshd_config()
        # sshd writes its pidfile once it listens; the banner check of RealHost would dial
        # 127.0.0.1 in the machine's namespace, not ours.
        self._spawn("sshd", ["/usr/sbin/sshd", "-f", str(self.sshd_config),
                             "-E", str(self.sshd_log)])


class TwoHosts:
    """Host A (10.x.y.1) and host B (10.x.y.2) joined by a veth /30."""

    def __init__(self, workdir: str | os.PathLike):
        self.workdir = Path(workdir)
        tag = f"{os.getpid() % 100000}"
        octet = os.getpid() % 200 + 20
        self.netns = (f"vsmig-a-{tag}", f"vsmig-b-{tag}")
        self.addresses = (f"10.213.{octet}.1", f"10.213.{octet}.2")
        self.a = NsHost(self.workdir / "a", netns=self.netns[0], address=self.addresses[0],
                        hostname="vs-host-a")
        self.b = NsHost(self.workdir / "b", netns=self.netns[1], address=self.addresses[1],
                        hostname="vs-host-b")
        self._made: list[str] = []

    def _network(self) -> None:
        for ns in self.netns:
            _ip("netns", "add", ns)
            self._made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        # create the pair inside A, then move one end to B: never in the machine's namespace
        _ip("-n", self.netns[0], "link", "add", "vsm0", "type", "veth", "peer", "name",
            "vsm1")
        _ip("-n", self.netns[0], "link", "set", "vsm1", "netns", self.netns[1])
        for ns, dev, addr in ((self.netns[0], "vsm0", self.addresses[0]),
                              (self.netns[1], "vsm1", self.addresses[1])):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")

    def start(self) -> "TwoHosts":
        try:
            self._network()
            import threading
            errors: list[BaseException] = []

            def run(h):
                try:
                    h.start()
                except BaseException as exc:  # reported below
                    errors.append(exc)
            threads = [threading.Thread(target=run, args=(h,)) for h in (self.a, self.b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            for h in (self.a, self.b):
                # sshd listens only after its pidfile: give it a moment before the first dial
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not h.sshd_log.exists():
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for h in (self.a, self.b):
            try:
                h.stop()
            except Exception:
                pass
        for ns in self._made:
            _ip("netns", "del", ns, check=False)
        self._made = []

    def __enter__(self):
        self.start()
        return self.a, self.b

    def __exit__(self, *exc):
        self.stop()
