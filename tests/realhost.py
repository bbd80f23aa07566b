"""A real libvirt host on loopback, for integration tests.

``RealHost(workdir).start()`` gives the tests a complete remote host on this
machine: ``virtlogd`` + ``libvirtd`` (QEMU/TCG guests) reachable through an
``sshd`` on ``127.0.0.1:PORT`` with key authentication and a host key that is
really verified.  Everything it starts is stopped by PID; nothing else is.

Design (decided after trying it on this machine, see FACTS.md):

* By default the daemons run in a private mount namespace of their own, never
  in the machine's.  An *anchor* process (``unshare -m --propagation private``
  running ``sleep``) owns the namespace; inside it a tmpfs covers
  ``/run/libvirt`` and private copies of ``/etc/libvirt``, ``/var/lib/libvirt``,
  ``/var/log/libvirt`` and ``/var/cache/libvirt`` (under ``WORKDIR/root``) are
  bind-mounted over the real ones.  Every daemon is started with
  ``nsenter -t ANCHOR -m``.  So:

  - a system libvirtd already answering on ``/run/libvirt/libvirt-sock`` (or a
    colleague's RealHost running at the same time) never collides with ours
    and is never touched;
  - ``stop_libvirtd()`` is always allowed: it only ever stops our own daemon;
  - sshd runs in the same namespace, so ``virt-ssh-helper`` on the "remote" side
    of ``qemu+ssh://`` reaches *our* socket;
  - when the last process of the namespace exits, its mounts vanish: nothing is
    left mounted on the machine.  While started from a test run, the anchor is
  also a watchdog: if that process dies without calling ``stop()`` (killed
  run), the anchor stops every process of the namespace within ~5 s.
  Our libvirtd logs warnings to
    ``WORKDIR/root/var/log/libvirt/libvirtd.log`` (``host.libvirtd_log``).

* Fallback, the machine's namespace: when ``unshare`` is not permitted (a
  container without CAP_SYS_ADMIN) or with ``private=False`` /
  ``VIRTSTACK_REALHOST_PRIVATE=0``.  Then a libvirtd already answering on
  ``/run/libvirt/libvirt-sock`` is reused and never stopped:
  ``host.owns_libvirtd`` is False and ``stop_libvirtd()`` raises, so a test that
  needs to stop the daemon skips on that.  Otherwise virtlogd/libvirtd are
  started on the machine and recorded by (PID, start time).
  ``private=True`` / ``VIRTSTACK_REALHOST_PRIVATE=1`` make a namespace failure
  an error instead.

* ``/dev/kvm``: when it is ``root:root 0600`` (as on these machines), libvirt
  probes QEMU as root with KVM enabled, then finds that the qemu user
  (libvirt-qemu, group kvm) cannot open /dev/kvm, declares the cached
  capabilities invalid and probes AGAIN on every lookup: ~4 s each, 40+ s for
  one ``createXML``.  Inside our namespace a private ``/dev/kvm`` node
  (``root:kvm 0660``, on the /run/libvirt tmpfs) is bind-mounted over the real
  one, so the cache stays valid; the machine's node is not touched.  Guests of
  ``<domain type='qemu'>`` still run under TCG.

* ``namespaces = []`` in our private ``qemu.conf``: by default libvirt puts
  each QEMU into a mount namespace of its own (for /dev), where neither the
  watchdog nor ``stop()`` would recognise it as ours once libvirtd is gone.

* The network namespace is the machine's (sshd listens on 127.0.0.1 only).
  Network autostart links are removed from the private ``/etc/libvirt`` copy so
  our daemon never brings up a bridge; guests built by ``tiny_domain_xml`` have
  no NIC.

* Host-key verification: the OpenSSH transport of libvirt ignores
  ``known_hosts=``, so the URI passes ``command=WRAPPER``; the wrapper execs
  ``ssh -F /dev/null -o UserKnownHostsFile=KNOWN -o StrictHostKeyChecking=yes
  -o BatchMode=yes "$@"``.  A changed host key is therefore a connection error.

* ``stop_sshd()`` kills the listening sshd AND its per-connection children, so
  open sessions drop like on a real outage (killing only the listener would
  leave established sessions alive).  ``stop_libvirtd()`` stops libvirtd only;
  running guests survive it, as with a real daemon restart.

* ``stop()`` destroys the running guests through the local socket (so libvirt
  cleans up its cgroups), then stops sshd, libvirtd, every other process left
  in our namespace (qemu, virtlogd) and finally the anchor, each by PID:
  SIGTERM, wait, SIGKILL.  The state is also written to ``WORKDIR/state.json``
  so ``scripts/realhost.py stop WORKDIR`` can clean up after a killed run.

API::

    host = RealHost(tmpdir).start()            # or: with RealHost(tmpdir) as host:
    host.uri            # qemu+ssh://root@127.0.0.1:PORT/system?keyfile=K&command=W&no_tty=1
    host.local_uri      # qemu+unix:///system?socket=/proc/ANCHOR/root/run/libvirt/libvirt-sock
    host.remote_uri(driver="test", path="/ABS/host.xml")   # other drivers over the same sshd
    host.remote_uri(known_hosts=OTHER_FILE)    # same host, checked against another file
    host.port, host.keyfile, host.known_hosts, host.ssh_wrapper, host.workdir
    host.host_key_line()  # "[127.0.0.1]:PORT ssh-ed25519 AAAA…" (for paramiko, too)
    host.replace_host_key()  # sshd gets a new key; host.known_hosts keeps the old one
    host.owns_libvirtd, host.private, host.libvirtd_log, host.sshd_log
    host.stop_sshd(); host.start_sshd(); host.stop_libvirtd(); host.start_libvirtd()
    host.stop()
    tiny_domain_xml("name")  # 64 MiB TCG guest, serial console, no disk, no NIC

The first connection to a fresh daemon takes 8-12 s (QEMU capability probe).
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

VIRTLOGD = "/usr/sbin/virtlogd"
LIBVIRTD = "/usr/sbin/libvirtd"
SSHD = "/usr/sbin/sshd"
REQUIRED_BINARIES = (VIRTLOGD, LIBVIRTD, SSHD, "/usr/bin/ssh", "/usr/bin/ssh-keygen",
                     "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/virt-ssh-helper")

# Machine directories replaced by private copies inside our mount namespace.
PRIVATE_DIRS = ("/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
RUN_DIR = "/run/libvirt"
SOCKET = RUN_DIR + "/libvirt-sock"


class RealHostError(RuntimeError):
    """The real host could not be started (the message says which step failed)."""


def missing_requirements() -> list[str]:
    """What keeps a RealHost from starting here: not root, or binaries missing."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root")
    problems += [f"{b} is missing" for b in REQUIRED_BINARIES if not os.access(b, os.X_OK)]
    return problems


def tiny_domain_xml(name: str, memory_mib: int = 64) -> str:
    """A TCG guest that boots SeaBIOS only and prints on its serial console."""
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "vcpu").text = "1"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "bios", useserial="yes")
    ET.SubElement(dom, "on_crash").text = "destroy"
    devices = ET.SubElement(dom, "devices")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    return ET.tostring(dom, encoding="unicode")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RealHostError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def kill_pid(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL. Only ever called with our PIDs."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not _alive(pid):
                return
            time.sleep(0.02)


def _read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for kid in _children(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat: tells a PID from a later process reusing it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _mnt_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _pids_in_ns(ns: str, exclude: set[int]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude and _mnt_ns(int(entry)) == ns:
            pids.append(int(entry))
    return pids


def _socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


_NS_SETUP = r"""
set -e
mount -t tmpfs -o mode=0755 tmpfs {run}
for d in {dirs}; do mount --bind "$1$d" "$d"; done
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    # Give our namespace a /dev/kvm the qemu user (group kvm) may open, see above.
    mknod -m 0660 {run}/.realhost-kvm c $(stat -c '%t %T' /dev/kvm | \
        while read a b; do echo $((0x$a)) $((0x$b)); done)
    chgrp kvm {run}/.realhost-kvm
    mount --bind {run}/.realhost-kvm /dev/kvm
fi
echo ready
[ "$2" = 0 ] && exec sleep infinity
# Watchdog: once the process that started us ($2) is gone without calling
# stop() (killed test run), stop every process of this namespace, by PID.
exec >/dev/null 2>&1
while kill -0 "$2"; do sleep 1; done
me=$(readlink /proc/$$/ns/mnt)
for sig in TERM TERM KILL; do
    for p in /proc/[0-9]*; do
        pid=${{p#/proc/}}
        [ "$pid" != $$ ] && [ "$(readlink "$p/ns/mnt")" = "$me" ] && kill -$sig "$pid"
    done
    sleep 2
done
exit 0
"""


class RealHost:
    """virtlogd + libvirtd + sshd on loopback, by default in a private mount namespace."""

    def __init__(self, workdir: str | os.PathLike, port: int | None = None,
                 private: bool | None = None):
        self.workdir = Path(workdir).resolve()
        self.port = port or 0
        self.keyfile = self.workdir / "id_ed25519"
        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.sshd_config = self.workdir / "sshd_config"
        self.known_hosts = self.workdir / "known_hosts"
        self.ssh_wrapper = self.workdir / "ssh-wrapper"
        self.root = self.workdir / "root"
        self.libvirtd_log = self.root / "var/log/libvirt/libvirtd.log"
        self.sshd_log = self.workdir / "sshd.log"
        self.pidfiles = {name: self.workdir / f"{name}.pid"
                         for name in ("virtlogd", "libvirtd", "sshd")}
        if private is None and os.environ.get("VIRTSTACK_REALHOST_PRIVATE"):
            private = os.environ["VIRTSTACK_REALHOST_PRIVATE"] != "0"
        self.want_private = private  # None: private namespace if the kernel allows it
        self.private = False         # set by start(): True once our namespace is up
        self.owns_libvirtd = False   # False only when an existing daemon is reused
        self.anchor_pid: int | None = None
        self.mnt_ns: str | None = None
        self._anchor: subprocess.Popen | None = None
        self._started: dict[str, tuple[int, str]] = {}  # machine mode: name -> (pid, starttime)

    # ---- what the tests use -------------------------------------------------

    @property
    def uri(self) -> str:
        return self.remote_uri()

    def remote_uri(self, driver: str = "qemu", path: str = "/system",
                   known_hosts: str | os.PathLike | None = None) -> str:
        """`DRIVER+ssh://root@127.0.0.1:PORT/PATH?keyfile=…&command=…&no_tty=1`.

        `driver="test", path="/ABS/host.xml"` gives a test-driver host over ssh.
        `known_hosts` checks the host key against another file (through a wrapper
        written next to it), e.g. one holding a wrong key.
        """
        wrapper = self.ssh_wrapper
        if known_hosts is not None:
            wrapper = Path(f"{known_hosts}.ssh-wrapper")
            self._write_wrapper(wrapper, Path(known_hosts))
        query = urllib.parse.urlencode(
            {"keyfile": str(self.keyfile), "command": str(wrapper), "no_tty": "1"}, safe="/")
        return f"{driver}+ssh://root@127.0.0.1:{self.port}{path}?{query}"

    @property
    def socket_path(self) -> str:
        """Our libvirtd's socket as seen from this process (outside the namespace)."""
        if self.private:
            return f"/proc/{self.anchor_pid}/root{SOCKET}"
        return SOCKET

    @property
    def local_uri(self) -> str:
        """A direct (no ssh) connection to the same daemon."""
        return f"qemu+unix:///system?socket={self.socket_path}"

    def start(self, stop_at_exit: bool = True) -> "RealHost":
        """Start everything; `stop_at_exit=False` leaves it running (scripts/realhost.py)."""
        problems = missing_requirements()
        if problems:
            raise RealHostError("cannot start a real host: " + ", ".join(problems))
        self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            if self.want_private is not False:
                try:
                    self._prepare_root()
                    self._start_anchor(watch=os.getpid() if stop_at_exit else 0)
                except RealHostError as exc:
                    if self.want_private:
                        raise
                    warnings.warn(f"{exc}; running in the machine's mount namespace")
            self.start_libvirtd()
            self._make_keys()
            self.start_sshd()
        except BaseException:
            self.stop()
            raise
        if not stop_at_exit:
            atexit.unregister(self.stop)
        return self

    def __enter__(self) -> "RealHost":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- daemons ------------------------------------------------------------

    def start_libvirtd(self, timeout: float = 10.0) -> None:
        """Start virtlogd (if not running) and libvirtd; wait for the socket."""
        if not self.private and not self._running("libvirtd") and _socket_answers(SOCKET):
            self.owns_libvirtd = False  # somebody else's daemon: use it, never stop it
            return
        if not self._running("virtlogd") and not (
                not self.private and _socket_answers(RUN_DIR + "/virtlogd-sock")):
            self._spawn("virtlogd", [VIRTLOGD, "-d", "-p", str(self.pidfiles["virtlogd"])])
            _wait(lambda: _socket_answers(self._path(RUN_DIR + "/virtlogd-sock")),
                  timeout, "the virtlogd socket")
        if not self._running("libvirtd"):
            self._spawn("libvirtd", [LIBVIRTD, "-d", "-p", str(self.pidfiles["libvirtd"])])
        self.owns_libvirtd = True
        _wait(lambda: _socket_answers(self.socket_path), timeout, "the libvirtd socket")

    def stop_libvirtd(self) -> None:
        """Stop our libvirtd (guests keep running, as on a real daemon restart)."""
        if not self.owns_libvirtd:
            raise RealHostError("libvirtd was already running before this RealHost: "
                                "it is not ours to stop (see RealHost.owns_libvirtd)")
        self._kill("libvirtd")

    def start_sshd(self, timeout: float = 10.0) -> None:
        if self._running("sshd"):
            return
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self._write_sshd_config()
        self._spawn("sshd", [SSHD, "-f", str(self.sshd_config), "-E", str(self.sshd_log)])
        _wait(lambda: _ssh_banner(self.port), timeout, f"sshd on 127.0.0.1:{self.port}")
        self._save_state()

    def stop_sshd(self) -> None:
        """Stop the listening sshd and drop every open session it spawned."""
        pid = _read_pidfile(self.pidfiles["sshd"])
        if pid is None or not self._ours("sshd", pid):
            return
        sessions = _descendants(pid)  # children of OUR listener: ours by construction
        kill_pid(pid)
        for kid in sessions:
            kill_pid(kid, timeout=2.0)
        self.pidfiles["sshd"].unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop everything this RealHost started, by PID; idempotent."""
        atexit.unregister(self.stop)
        if self.owns_libvirtd:
            self._destroy_guests()
        self.stop_sshd()
        self._kill("libvirtd")
        if self.private and self.mnt_ns:
            exclude = {os.getpid()} | ({self.anchor_pid} if self.anchor_pid else set())
            for pid in _pids_in_ns(self.mnt_ns, exclude=exclude):
                if pid != _read_pidfile(self.pidfiles["virtlogd"]):
                    kill_pid(pid, timeout=3.0)  # qemu guests, helpers
        self._kill("virtlogd")
        if self.anchor_pid is not None:
            kill_pid(self.anchor_pid)
        if self._anchor is not None:
            self._anchor.wait(timeout=5)
            self._anchor = None
        self.anchor_pid = None
        self.owns_libvirtd = False
        (self.workdir / "state.json").unlink(missing_ok=True)

    @classmethod
    def from_state(cls, workdir: str | os.PathLike) -> "RealHost":
        """The RealHost recorded in WORKDIR/state.json (to stop a leftover one)."""
        host = cls(workdir)
        state = json.loads((host.workdir / "state.json").read_text())
        host.port = state["port"]
        host.private = state["private"]
        host.mnt_ns = state["mnt_ns"]
        host.owns_libvirtd = state["owns_libvirtd"]
        host._started = {k: tuple(v) for k, v in state["started"].items()}
        if state["anchor_pid"] and _mnt_ns(state["anchor_pid"]) == state["mnt_ns"]:
            host.anchor_pid = state["anchor_pid"]
        return host

    def replace_host_key(self) -> str:
        """Give sshd a NEW host key (a "changed host key") and return its known_hosts line.

        `self.known_hosts` still holds the old key, so `self.uri` now fails host-key
        verification; write the returned line to `self.known_hosts` to accept it.
        """
        self.stop_sshd()
        for path in (self.host_key, Path(f"{self.host_key}.pub")):
            path.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        "virtstack-realhost", "-f", str(self.host_key)],
                       check=True, stdin=subprocess.DEVNULL)
        self.start_sshd()
        return self.host_key_line()

    def host_key_line(self) -> str:
        """The `known_hosts` line for our sshd (`[127.0.0.1]:PORT ssh-ed25519 AAAA…`)."""
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    # ---- internals ----------------------------------------------------------

    def _path(self, path: str) -> str:
        """A path inside our namespace, as seen from this process."""
        return f"/proc/{self.anchor_pid}/root{path}" if self.private else path

    def _prepare_root(self) -> None:
        for d in PRIVATE_DIRS:
            dest = self.root / d.lstrip("/")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(d, dest, symlinks=True, copy_function=shutil.copy2)
                _copy_owners(Path(d), dest)
        for link in (self.root / "etc/libvirt/qemu/networks/autostart").glob("*"):
            link.unlink()
        qemu_conf = self.root / "etc/libvirt/qemu.conf"
        if "# virtstack RealHost" not in qemu_conf.read_text():
            with open(qemu_conf, "a") as f:  # keep qemu in OUR namespace (see above)
                f.write('\n# virtstack RealHost\nnamespaces = []\n')
        conf = self.root / "etc/libvirt/libvirtd.conf"
        if "# virtstack RealHost" not in conf.read_text():
            with open(conf, "a") as f:
                f.write('\n# virtstack RealHost\n'
                        'log_outputs="3:file:/var/log/libvirt/libvirtd.log"\n')
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)  # mount point for our tmpfs

    def _start_anchor(self, watch: int) -> None:
        script = _NS_SETUP.format(run=RUN_DIR, dirs=" ".join(PRIVATE_DIRS))
        self._anchor = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--",
             "sh", "-c", script, "realhost-anchor", str(self.root), str(watch)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, text=True)
        line = self._anchor.stdout.readline().strip()
        if line != "ready":
            self._anchor.kill()
            err = self._anchor.stderr.read()
            self._anchor.wait()
            self._anchor = None
            raise RealHostError(f"could not set up a private mount namespace: {err.strip()}")
        self.anchor_pid = self._anchor.pid
        self.mnt_ns = _mnt_ns(self.anchor_pid)
        self.private = True
        self._anchor.stdout.close()
        self._anchor.stderr.close()
        self._save_state()

    def _spawn(self, name: str, argv: list[str]) -> None:
        if self.private:
            argv = ["nsenter", "-t", str(self.anchor_pid), "-m", "--", *argv]
        self.pidfiles[name].unlink(missing_ok=True)
        result = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, timeout=60, start_new_session=True)
        if result.returncode != 0:
            raise RealHostError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")
        pid = _wait(lambda: _read_pidfile(self.pidfiles[name]), 5, f"{name}'s pidfile")
        self._started[name] = (pid, _start_time(pid))
        self._save_state()

    def _ours(self, name: str, pid: int) -> bool:
        if self.private:
            return self.mnt_ns is not None and _mnt_ns(pid) == self.mnt_ns
        return self._started.get(name) == (pid, _start_time(pid))

    def _running(self, name: str) -> bool:
        pid = _read_pidfile(self.pidfiles[name])
        return pid is not None and _alive(pid) and self._ours(name, pid)

    def _kill(self, name: str) -> None:
        pid = _read_pidfile(self.pidfiles[name])
        if pid is not None and self._ours(name, pid):
            kill_pid(pid)
            self.pidfiles[name].unlink(missing_ok=True)
        self._started.pop(name, None)

    def _destroy_guests(self) -> None:
        """Destroy the guests of OUR daemon so that libvirt cleans up after them."""
        if not self._running("libvirtd"):
            return
        try:
            import libvirt
        except ImportError:
            return
        try:
            conn = libvirt.open(self.local_uri)
        except libvirt.libvirtError:
            return
        try:
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                try:
                    dom.destroy()
                except libvirt.libvirtError:
                    pass
        finally:
            conn.close()

    def _make_keys(self) -> None:
        for key in (self.keyfile, self.host_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                "virtstack-realhost", "-f", str(key)],
                               check=True, stdin=subprocess.DEVNULL)
        self.authorized_keys.write_text(Path(f"{self.keyfile}.pub").read_text())
        self._write_wrapper(self.ssh_wrapper, self.known_hosts)

    @staticmethod
    def _write_wrapper(wrapper: Path, known_hosts: Path) -> None:
        wrapper.write_text(
            "#!/bin/sh\n"
            "# Host-key checking for libvirt's ssh transport (it ignores known_hosts=).\n"
            f"exec ssh -F /dev/null -o UserKnownHostsFile={shlex.quote(str(known_hosts))}"
            " -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes"
            " -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 \"$@\"\n")
        wrapper.chmod(0o755)

    def _write_sshd_config(self) -> None:
        self.sshd_config.write_text("\n".join([
            f"ListenAddress 127.0.0.1:{self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.pidfiles['sshd']}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "PrintMotd no",
            "MaxStartups 50:30:100",
            "MaxSessions 50",
            "LogLevel VERBOSE",
            "",
        ]))
        line = self.host_key_line()
        if not self.known_hosts.exists() or line.split()[0] not in self.known_hosts.read_text():
            self.known_hosts.write_text(line)  # kept as is across sshd restarts

    def _save_state(self) -> None:
        state = {"anchor_pid": self.anchor_pid, "mnt_ns": self.mnt_ns, "private": self.private,
                 "owns_libvirtd": self.owns_libvirtd, "started": self._started,
                 "port": self.port, "uri": self.uri if self.port else None}
        (self.workdir / "state.json").write_text(json.dumps(state, indent=1) + "\n")


def _copy_owners(src: Path, dest: Path) -> None:
    """copytree keeps modes but not owners; libvirt-qemu owns parts of /var/lib/libvirt."""
    for dirpath, dirnames, filenames in os.walk(src):
        for name in [None, *dirnames, *filenames]:
            s = Path(dirpath) / name if name else Path(dirpath)
            st = s.lstat()
            os.lchown(dest / s.relative_to(src), st.st_uid, st.st_gid)
