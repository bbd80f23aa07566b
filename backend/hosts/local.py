"""Local host facts with psutil: CPU and memory, and for a running VM its qemu process with
one row per vCPU thread (a KVM guest is one qemu process, each vCPU one of its threads)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil

from backend import errors


def is_local_uri(uri: str) -> bool:
    """A URI whose hypervisor runs on this machine: no host part, or a loopback one."""
    import ipaddress
    from urllib.parse import urlsplit
    host = urlsplit(uri).hostname
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_usage() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    return {"cpus": psutil.cpu_count(), "cpu_percent": psutil.cpu_percent(interval=None),
            "memory_mb": vm.total // 2**20, "memory_used_mb": (vm.total - vm.available) // 2**20,
            "load_avg": list(psutil.getloadavg())}


def _is_guest(cmdline: list[str], name: str) -> bool:
    for i, arg in enumerate(cmdline):
        if arg == "-name" and i + 1 < len(cmdline):
            spec = cmdline[i + 1]
            parts = dict(p.split("=", 1) for p in spec.split(",") if "=" in p)
            return parts.get("guest", spec.split(",")[0]) == name
    return False


def find_qemu_process(name: str) -> psutil.Process | None:
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if (proc.info["name"] or "").startswith("qemu") and _is_guest(
                    proc.info["cmdline"] or [], name):
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def qemu_threads(name: str) -> dict[str, Any]:
    """The qemu process of a local running VM and its vCPU threads with their CPU time."""
    proc = find_qemu_process(name)
    if proc is None:
        raise errors.NotFound(f"no local qemu process for server {name!r} "
                              "(not running here, or not a local host)")
    rows = []
    with proc.oneshot():
        threads = proc.threads()
        rss = proc.memory_info().rss
        cpu = proc.cpu_times()
    for t in threads:
        try:
            comm = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("CPU ") and comm.endswith(("/KVM", "/TCG")):
            rows.append({"vcpu": int(comm.split()[1].split("/")[0]), "tid": t.id,
                         "thread": comm, "user_s": t.user_time, "system_s": t.system_time})
    rows.sort(key=lambda r: r["vcpu"])
    return {"pid": proc.pid, "rss_mb": rss // 2**20, "cpu_user_s": cpu.user,
            "cpu_system_s": cpu.system, "threads": len(threads), "vcpu_threads": rows}
