"""Host probe: the prerequisites of a KVM host.

Remote hosts are probed over SSH with paramiko (honouring ~/.ssh/config; unknown or changed
host keys are rejected, never added); the local host with psutil and /dev/kvm. Virtualization
is detected by /dev/kvm and libvirt's domain capabilities too, not by cpuinfo flags alone.
"""
from __future__ import annotations

import os
import shlex
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from backend import errors
from backend.config import HostConfig

PROBE_SCRIPT = r"""
echo "cpuflags=$(grep -cE '(vmx|svm)' /proc/cpuinfo 2>/dev/null || echo 0)"
echo "kvm=$([ -e /dev/kvm ] && echo yes || echo no)"
echo "ncpu=$(nproc 2>/dev/null || echo 0)"
echo "memkb=$(awk '/MemTotal/ {print $2}' /proc/meminfo 2>/dev/null)"
echo "libvirtd=$( (pidof libvirtd || pidof virtqemud) >/dev/null 2>&1 && echo yes || echo no)"
echo "socket=$([ -S /run/libvirt/libvirt-sock ] || [ -S /run/libvirt/virtqemud-sock ] && echo yes || echo no)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
"""


def _domcaps_kvm(libvirt_host) -> bool | None:
    if libvirt_host is None or libvirt_host.state != "connected":
        return None
    try:
        xml = libvirt_host.conn().getDomainCapabilities(None, None, None, "kvm", 0)
        return ET.fromstring(xml).findtext("domain") == "kvm"
    except Exception:
        return False


def _verdict(facts: dict[str, Any]) -> dict[str, Any]:
    problems = []
    if not (facts.get("kvm_device") or facts.get("libvirt_kvm")):
        problems.append("no hardware virtualization (/dev/kvm missing): guests run under "
                        "TCG emulation only")
    if facts.get("libvirtd_running") is False:
        problems.append("libvirtd is not running")
    facts["problems"] = problems
    facts["ok"] = not [p for p in problems if "libvirtd" in p]
    return facts


def probe_local(libvirt_host=None) -> dict[str, Any]:
    import psutil
    libvirtd = any(p.info["name"] in ("libvirtd", "virtqemud")
                   for p in psutil.process_iter(["name"]))
    try:
        flags = sum(1 for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("flags") and (" vmx" in line or " svm" in line))
    except OSError:
        flags = 0
    facts = {"host": "localhost", "method": "local", "hostname": socket.gethostname(),
             "cpus": psutil.cpu_count(), "memory_mb": psutil.virtual_memory().total // 2**20,
             "cpu_virt_flags": flags, "kvm_device": os.path.exists("/dev/kvm"),
             "libvirtd_running": libvirtd, "libvirt_kvm": _domcaps_kvm(libvirt_host),
             "kernel": os.uname().release}
    return _verdict(facts)


def ssh_client(hostname: str, port: int | None, user: str | None, keyfile: str | None,
               known_hosts: str | None, timeout: float = 10.0):
    """A paramiko client that honours ~/.ssh/config and rejects unknown host keys."""
    import paramiko
    cfg_path = Path("~/.ssh/config").expanduser()
    opts: dict[str, Any] = {}
    if cfg_path.exists():
        sshcfg = paramiko.SSHConfig.from_path(str(cfg_path))
        opts = sshcfg.lookup(hostname)
    host = opts.get("hostname", hostname)
    port = port or int(opts.get("port", 22))
    user = user or opts.get("user") or "root"
    keys = [keyfile] if keyfile else list(opts.get("identityfile", []))
    client = paramiko.SSHClient()
    client.load_host_keys(os.path.expanduser(known_hosts or "~/.ssh/known_hosts")) \
        if os.path.exists(os.path.expanduser(known_hosts or "~/.ssh/known_hosts")) else None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host, port=port, username=user,
                       key_filename=[os.path.expanduser(k) for k in keys] or None,
                       timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                       allow_agent=False, look_for_keys=not keys)
    except paramiko.BadHostKeyException as exc:
        raise errors.HostKeyError(
            f"{host}:{port}: the SSH host key has CHANGED (expected {exc.expected_key.get_name()} "
            f"{exc.expected_key.get_base64()[:16]}..., got {exc.key.get_base64()[:16]}...); "
            "refusing to connect") from None
    except paramiko.SSHException as exc:
        if "not found in known_hosts" in str(exc):
            raise errors.HostKeyError(
                f"{host}:{port}: unknown SSH host key (not in "
                f"{known_hosts or '~/.ssh/known_hosts'}); verify it and add it first") from None
        raise errors.HostUnavailable(f"{host}:{port}: SSH failed: {exc}") from None
    except (OSError, socket.timeout) as exc:
        raise errors.HostUnavailable(f"{host}:{port}: cannot connect: {exc}") from None
    return client


def probe_ssh(cfg: HostConfig, libvirt_host=None) -> dict[str, Any]:
    parts = urlsplit(cfg.uri)
    query = dict(parse_qsl(parts.query))
    keyfile = cfg.keyfile or query.get("keyfile")
    client = ssh_client(parts.hostname or "localhost", parts.port, parts.username, keyfile,
                        cfg.known_hosts, timeout=cfg.ssh_connect_timeout)
    try:
        _in, out, err = client.exec_command("sh -c " + shlex.quote(PROBE_SCRIPT), timeout=30)
        text = out.read().decode(errors="replace")
    finally:
        client.close()
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    facts = {"host": cfg.name, "method": "ssh", "hostname": kv.get("hostname"),
             "cpus": int(kv.get("ncpu") or 0),
             "memory_mb": int(kv.get("memkb") or 0) // 1024,
             "cpu_virt_flags": int(kv.get("cpuflags") or 0),
             "kvm_device": kv.get("kvm") == "yes",
             "libvirtd_running": kv.get("libvirtd") == "yes" or kv.get("socket") == "yes",
             "libvirt_kvm": _domcaps_kvm(libvirt_host), "kernel": kv.get("kernel")}
    return _verdict(facts)


def probe_host(cfg: HostConfig, libvirt_host=None) -> dict[str, Any]:
    parts = urlsplit(cfg.uri)
    if parts.scheme.endswith(("+ssh", "+libssh", "+libssh2")):
        return probe_ssh(cfg, libvirt_host)
    if parts.hostname and parts.hostname not in ("localhost", "127.0.0.1"):
        raise errors.NotSupported(f"{cfg.name}: probing needs SSH; URI {cfg.uri} is not "
                                  "an SSH transport")
    facts = probe_local(libvirt_host)
    facts["host"] = cfg.name
    return facts
