"""Storage pools on one libvirt host: list, define/build/start/autostart, refresh, stop, undefine.

Thin wrappers: the host's connection is passed in (``LibvirtHost``), libvirt errors become the
project's own, results are plain dicts.
"""
from __future__ import annotations

import logging
from typing import Any

import libvirt

from backend import errors
from backend.storage.xml import parse_pool, pool_xml
from backend.virt.libvirt.errors import mapped, translate
from backend.virt.libvirt.objects import discard

log = logging.getLogger(__name__)

POOL_STATES = {0: "inactive", 1: "building", 2: "running", 3: "degraded", 4: "inaccessible"}
# Where the pool's data comes from, for the error when it cannot be reached.
_REMOTE_TYPES = ("netfs", "iscsi", "rbd")


def lookup(host, name: str) -> libvirt.virStoragePool:
    conn = host.conn()
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise errors.NotFound(f"no storage pool {name!r} on host {host.name}") from None
        raise translate(exc, host.name, f"pool {name}") from None


def pool_row(host, pool: libvirt.virStoragePool) -> dict[str, Any]:
    with mapped(host.name, "pool info"):
        state, capacity, allocation, available = pool.info()
        data = parse_pool(pool.XMLDesc(0))
        autostart = bool(pool.autostart())
        persistent = bool(pool.isPersistent())
        active = bool(pool.isActive())
        volumes = pool.numOfVolumes() if active else None
    return {"name": data["name"], "host": host.name, "type": data["type"],
            "state": POOL_STATES.get(state, str(state)), "active": active,
            "autostart": autostart, "persistent": persistent,
            "capacity": capacity, "allocation": allocation, "available": available,
            "volumes": volumes, "target": data["target"], "source": data["source"],
            "uuid": data["uuid"]}


def list_pools(host) -> list[dict[str, Any]]:
    conn = host.conn()
    with mapped(host.name, "list pools"):
        pools = conn.listAllStoragePools(0)
    rows = []
    for p in pools:
        try:
            rows.append(pool_row(host, p))
        except errors.NotFound:
            continue  # vanished while listing
    return sorted(rows, key=lambda r: r["name"])


def show_pool(host, name: str) -> dict[str, Any]:
    return pool_row(host, lookup(host, name))


def create_pool(host, name: str, pool_type: str = "dir", *, start: bool = True,
                build: bool = True, autostart: bool = True, **spec) -> dict[str, Any]:
    """Define (then build, start, autostart) a pool. Validated first; a failure after the
    definition removes it again, so a refused pool leaves nothing behind."""
    xml = pool_xml(name, pool_type, **spec)
    conn = host.conn()
    try:
        conn.storagePoolLookupByName(name)
        raise errors.Conflict(f"storage pool {name!r} already exists on host {host.name}")
    except libvirt.libvirtError:
        pass
    with mapped(host.name, f"define pool {name}"):
        try:
            pool = conn.storagePoolDefineXML(xml, 0)
        except libvirt.libvirtError as exc:
            msg = exc.get_error_message() or ""
            if "missing backend" in msg or "no storage backend" in msg.lower():
                raise errors.NotSupported(
                    f"{host.name}: {pool_type} pools are not supported by this host "
                    f"(libvirt has no {pool_type} storage backend installed): {msg}") from None
            raise
    step = "build"
    try:
        if build and pool_type in ("dir", "netfs", "logical"):
            # logical: build runs vgcreate on the source devices; only when some are given
            if pool_type != "logical" or spec.get("source_devices"):
                pool.build(0)
        step = "start"
        if start:
            pool.create(0)
        step = "autostart"
        if autostart:
            pool.setAutostart(1)
    except libvirt.libvirtError as exc:
        err = translate(exc, host.name, f"{step} pool {name}")
        discard(pool)
        host._persist()
        msg = err.message
        if pool_type in _REMOTE_TYPES and step == "start":
            src = spec.get("source_host")
            msg = (f"{host.name}: pool {name} could not start: its {pool_type} source "
                   f"{src!r} is unreachable or refused the pool: "
                   f"{exc.get_error_message()}")
        raise type(err)(msg + "; the pool definition was removed, nothing changed") from None
    host._persist()
    return pool_row(host, pool)


def start_pool(host, name: str) -> dict[str, Any]:
    pool = lookup(host, name)
    with mapped(host.name, f"start pool {name}"):
        if pool.isActive():
            raise errors.Conflict(f"pool {name} on {host.name} is already running")
        pool.create(0)
    host._persist()
    return pool_row(host, pool)


def stop_pool(host, name: str) -> dict[str, Any]:
    pool = lookup(host, name)
    with mapped(host.name, f"stop pool {name}"):
        if not pool.isActive():
            raise errors.Conflict(f"pool {name} on {host.name} is not running")
        pool.destroy()
    host._persist()
    return pool_row(host, pool)


def refresh_pool(host, name: str) -> dict[str, Any]:
    pool = lookup(host, name)
    with mapped(host.name, f"refresh pool {name}"):
        pool.refresh(0)
    return pool_row(host, pool)


def set_autostart(host, name: str, on: bool) -> dict[str, Any]:
    pool = lookup(host, name)
    with mapped(host.name, f"autostart pool {name}"):
        pool.setAutostart(1 if on else 0)
    host._persist()
    return pool_row(host, pool)


def delete_pool(host, name: str, *, delete_volumes: bool = False,
                delete_data: bool = False) -> dict[str, Any]:
    """Stop and undefine. A pool that still holds volumes is refused unless delete_volumes;
    delete_data also removes the pool's storage (the directory, the volume group)."""
    pool = lookup(host, name)
    removed: list[str] = []
    with mapped(host.name, f"delete pool {name}"):
        if pool.isActive():
            pool.refresh(0)
            vols = pool.listAllVolumes(0)
            if vols and not delete_volumes:
                raise errors.Conflict(
                    f"pool {name} on {host.name} still holds {len(vols)} volume(s) "
                    f"({', '.join(sorted(v.name() for v in vols)[:5])}); delete them first "
                    "or pass --delete-volumes")
            for v in vols:
                removed.append(v.name())
                v.delete(0)
            pool.destroy()
        if delete_data:
            try:
                pool.delete(0)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
        pool.undefine()
    host._persist()
    return {"name": name, "host": host.name, "deleted": True, "deleted_volumes": removed}


def pool_type(host, name: str) -> str:
    return parse_pool(lookup(host, name).XMLDesc(0))["type"]
