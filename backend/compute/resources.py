"""Hosts as resources: keep each host's ``compute_nodes`` row current and turn the rows into
the scheduler's HostStates.

A sync writes what the host *is* -- totals (vCPUs and RAM from the host, disk from its
``default`` pool), policy from its HostConfig (AZ, ratios, reservations, aggregates),
hypervisor facts, and the usage of what it runs that virtstack did not create (unmanaged
domains and volumes) -- and never touches the claimed usage, which only claims move.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

import libvirt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.compute.models import ComputeNode, Server
from backend.db import Database, utcnow

if TYPE_CHECKING:
    from backend.scheduler import HostState

log = logging.getLogger(__name__)
GiB = 1024 ** 3
POOL = "default"


def hypervisor_type(conn_type: str) -> str:
    return "test" if conn_type.lower() == "test" else conn_type


def pool_facts(conn) -> tuple[int | None, dict[str, float]]:
    """(capacity GB, {volume name: allocated GB}) of the host's default pool; capacity
    None when the pool cannot be read (missing or stopped). Volumes count what they
    really take (allocation), thin ones included."""
    try:
        pool = conn.storagePoolLookupByName(POOL)
        if not pool.isActive():
            return None, {}
        _state, capacity, _alloc, _avail = pool.info()
        vols = {}
        for v in pool.listAllVolumes(0):
            try:
                vols[v.name()] = v.info()[2] / GiB
            except libvirt.libvirtError:
                continue
        return int(capacity // GiB), vols
    except libvirt.libvirtError as exc:
        log.info("pool %s unreadable: %s", POOL, exc)
        return None, {}


def sync_node(db: Database, host) -> dict[str, Any]:
    """Refresh one connected host's compute_nodes row (created on first sight)."""
    cfg = host.cfg
    info = host.host_info()
    conn = host.conn()
    disk_gb, volumes = pool_facts(conn)
    domains = host.list_domains()
    with db.transaction() as s:
        managed = {u: v for u, v in s.execute(
            select(Server.uuid, Server.volume).where(Server.host == host.name,
                                                     Server.status != "DELETED"))}
    known = set(managed)
    managed_vols = {v for v in managed.values() if v}
    unmanaged = [d for d in domains if d["uuid"] not in known]
    facts = {
        "az": cfg.availability_zone, "vcpus": int(info.get("vcpus") or 0),
        "memory_mb": int(info.get("memory_mb") or 0),
        "cpu_allocation_ratio": cfg.cpu_allocation_ratio,
        "ram_allocation_ratio": cfg.ram_allocation_ratio,
        "disk_allocation_ratio": cfg.disk_allocation_ratio,
        "reserved_host_memory_mb": cfg.reserved_host_memory_mb,
        "reserved_host_disk_gb": cfg.reserved_host_disk_gb,
        "unmanaged_vcpus": sum(d["vcpus"] or 0 for d in unmanaged),
        "unmanaged_memory_mb": sum(d["memory_mb"] or 0 for d in unmanaged),
        "unmanaged_disk_gb": round(sum(gb for name, gb in volumes.items()
                                       if name not in managed_vols), 3),
        "unmanaged_instances": len(unmanaged),
        "hypervisor_type": hypervisor_type(str(info.get("hypervisor") or "QEMU")),
        "hypervisor_version": info.get("hypervisor_version"),
        "arch": str(info.get("arch") or "x86_64"),
        "aggregates": list(cfg.aggregates or []),
        "updated_at": utcnow(),
    }
    facts["capabilities"] = {
        "cpu_info": {"arch": facts["arch"], "sockets": info.get("sockets"),
                     "cores": info.get("cores"), "threads": info.get("threads")},
        "hypervisor_type": facts["hypervisor_type"],
        "hypervisor_version": facts["hypervisor_version"],
    }
    if disk_gb is not None:  # a pool that cannot be read keeps its last known size
        facts["disk_gb"] = disk_gb
    for _attempt in range(2):
        try:
            with db.transaction() as s:
                node = s.get(ComputeNode, host.name)
                if node is None:
                    node = ComputeNode(host=host.name, disk_gb=disk_gb or 0, vcpus_used=0,
                                       memory_mb_used=0, disk_gb_used=0.0, num_instances=0,
                                       enabled=True)
                    s.add(node)
                for k, v in facts.items():
                    setattr(node, k, v)
                s.flush()
                return node_dict(node)
        except IntegrityError:  # another instance created it first
            continue
    raise RuntimeError(f"could not record host {host.name}")


def sync_all(db: Database, registry) -> list[str]:
    done = []
    for h in registry.connected():
        try:
            sync_node(db, h)
            done.append(h.name)
        except Exception as exc:  # one bad host must not stop the others
            log.warning("%s: resource sync failed: %s", h.name, exc)
    return done


def node_dict(n: ComputeNode) -> dict[str, Any]:
    """Physical, ratio, limit, allocated (claims + unmanaged + reserved), free, per resource."""
    def gauge(total, ratio, claimed, unmanaged, reserved):
        limit = total * ratio
        allocated = claimed + unmanaged + reserved
        return {"physical": total, "ratio": ratio, "limit": round(limit, 3),
                "claimed": round(claimed, 3), "unmanaged": round(unmanaged, 3),
                "reserved": reserved, "allocated": round(allocated, 3),
                "free": round(limit - allocated, 3)}
    return {
        "host": n.host, "az": n.az, "enabled": n.enabled, "disabled_reason": n.disabled_reason,
        "hypervisor_type": n.hypervisor_type, "hypervisor_version": n.hypervisor_version,
        "arch": n.arch, "instances": n.num_instances, "unmanaged_instances":
        n.unmanaged_instances, "aggregates": list(n.aggregates or []),
        "vcpus": gauge(n.vcpus, n.cpu_allocation_ratio, n.vcpus_used, n.unmanaged_vcpus, 0),
        "memory_mb": gauge(n.memory_mb, n.ram_allocation_ratio, n.memory_mb_used,
                           n.unmanaged_memory_mb, n.reserved_host_memory_mb),
        "disk_gb": gauge(n.disk_gb, n.disk_allocation_ratio, n.disk_gb_used,
                         n.unmanaged_disk_gb, n.reserved_host_disk_gb),
        "updated_at": n.updated_at.isoformat(timespec="seconds") if n.updated_at else None,
    }


def host_state(n: ComputeNode) -> HostState:
    from backend.scheduler import HostState  # loaded when one schedules, not at start
    return HostState(
        name=n.host, az=n.az, vcpus=n.vcpus, vcpus_used=n.vcpus_used + n.unmanaged_vcpus,
        memory_mb=n.memory_mb, memory_mb_used=n.memory_mb_used + n.unmanaged_memory_mb,
        disk_gb=n.disk_gb, disk_gb_used=max(0.0, n.disk_gb_used + n.unmanaged_disk_gb),
        cpu_allocation_ratio=n.cpu_allocation_ratio,
        ram_allocation_ratio=n.ram_allocation_ratio,
        disk_allocation_ratio=n.disk_allocation_ratio,
        reserved_host_memory_mb=n.reserved_host_memory_mb,
        reserved_host_disk_gb=n.reserved_host_disk_gb, enabled=bool(n.enabled),
        disabled_reason=n.disabled_reason, arch=n.arch, hypervisor_type=n.hypervisor_type,
        hypervisor_version=n.hypervisor_version,
        num_instances=n.num_instances + n.unmanaged_instances,
        capabilities=dict(n.capabilities or {}), aggregates=list(n.aggregates or []))


def host_states(db: Database, names: Iterable[str] | None = None) -> list[HostState]:
    """HostStates of the given hosts (all recorded hosts when None), in name order."""
    with db.transaction() as s:
        q = select(ComputeNode).order_by(ComputeNode.host)
        if names is not None:
            q = q.where(ComputeNode.host.in_(list(names)))
        return [host_state(n) for n in s.scalars(q)]


def set_enabled(db: Database, host: str, enabled: bool, reason: str | None) -> dict:
    with db.transaction() as s:
        node = s.get(ComputeNode, host)
        if node is None:
            node = ComputeNode(host=host, vcpus_used=0, memory_mb_used=0, disk_gb_used=0.0,
                               num_instances=0, unmanaged_vcpus=0, unmanaged_memory_mb=0,
                               unmanaged_disk_gb=0.0, unmanaged_instances=0, vcpus=0,
                               memory_mb=0, disk_gb=0, capabilities={}, aggregates=[])
            s.add(node)
        node.enabled = enabled
        node.disabled_reason = None if enabled else (reason or None)
        s.flush()
        return node_dict(node)
