"""Volumes in a pool on one libvirt host: create, list, show, resize, clone, wipe, delete, and
attach/detach to a VM as a data disk. Stream transfers live in ``backend.storage.transfer``."""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from backend import errors
from backend.storage import pools as pools_mod
from backend.storage.xml import disk_xml, parse_volume, volume_xml
from backend.validation import parse_size, validate_name
from backend.virt.libvirt.errors import mapped, translate

log = logging.getLogger(__name__)

VOL_TYPES = {0: "file", 1: "block", 2: "dir", 3: "network", 4: "netdir", 5: "ploop"}


def _translate(exc: libvirt.libvirtError, host, what: str) -> errors.VirtstackError:
    """libvirt reports a refused file (permissions, a missing path) as a system error;
    while the connection is alive that is a failed operation, not an unreachable host."""
    err = translate(exc, host.name, what)
    if isinstance(err, errors.HostUnavailable) and host.is_alive():
        return errors.OperationFailed(f"{host.name}: {what} failed: "
                                      f"{exc.get_error_message()}")
    return err


def active_pool(host, pool: str) -> libvirt.virStoragePool:
    p = pools_mod.lookup(host, pool)
    with mapped(host.name, f"pool {pool}"):
        if not p.isActive():
            raise errors.Conflict(f"pool {pool} on {host.name} is not running: "
                                  f"start it first (virtstack pool start {pool})")
    return p


def lookup(host, pool: str, name: str) -> tuple[libvirt.virStoragePool, libvirt.virStorageVol]:
    p = active_pool(host, pool)
    try:
        return p, p.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise errors.NotFound(f"no volume {name!r} in pool {pool} on host "
                                  f"{host.name}") from None
        raise translate(exc, host.name, f"volume {name}") from None


def volume_row(host, pool: str, vol: libvirt.virStorageVol) -> dict[str, Any]:
    with mapped(host.name, "volume info"):
        vtype, capacity, allocation = vol.info()
        data = parse_volume(vol.XMLDesc(0))
        key = vol.key()
    return {"name": data["name"], "pool": pool, "host": host.name, "format": data["format"],
            "type": VOL_TYPES.get(vtype, str(vtype)), "capacity": capacity,
            "allocation": allocation, "path": data["path"], "backing": data["backing"],
            "key": key}


def list_volumes(host, pool: str | None = None) -> list[dict[str, Any]]:
    conn = host.conn()
    if pool:
        targets = [active_pool(host, pool)]
    else:
        with mapped(host.name, "list pools"):
            targets = [p for p in conn.listAllStoragePools(0) if p.isActive()]
    rows = []
    for p in targets:
        with mapped(host.name, f"list volumes of {p.name()}"):
            vols = p.listAllVolumes(0)
        for v in vols:
            try:
                rows.append(volume_row(host, p.name(), v))
            except errors.NotFound:
                continue
    return sorted(rows, key=lambda r: (r["pool"], r["name"]))


def show_volume(host, pool: str, name: str) -> dict[str, Any]:
    _p, v = lookup(host, pool, name)
    row = volume_row(host, pool, v)
    row["pool_type"] = pools_mod.pool_type(host, pool)
    row["bootable"] = row["pool_type"] != "logical"
    return row


def _absent(p: libvirt.virStoragePool, host, pool: str, name: str) -> None:
    try:
        p.storageVolLookupByName(name)
    except libvirt.libvirtError:
        return
    raise errors.Conflict(f"volume {name!r} already exists in pool {pool} on {host.name}")


def create_volume(host, pool: str, name: str, size: object, fmt: str = "raw", *,
                  allocation: str = "sparse", backing: str | None = None,
                  backing_format: str | None = None) -> dict[str, Any]:
    xml = volume_xml(name, size, fmt, allocation=allocation, backing=backing,
                     backing_format=backing_format)   # validated before any libvirt call
    p = active_pool(host, pool)
    ptype = pools_mod.pool_type(host, pool)
    if ptype == "logical" and fmt != "raw":
        raise errors.InvalidInput(f"pool {pool} is an LVM volume group: its volumes are raw "
                                  f"logical volumes, not {fmt}")
    _absent(p, host, pool, name)
    with mapped(host.name, f"create volume {name} in {pool}"):
        vol = p.createXML(xml, 0)
    host._persist()
    return volume_row(host, pool, vol)


def resize_volume(host, pool: str, name: str, size: object, *,
                  allow_shrink: bool = False) -> dict[str, Any]:
    new = parse_size(size, "size")
    _p, vol = lookup(host, pool, name)
    with mapped(host.name, f"resize volume {name}"):
        cur = vol.info()[1]
        flags = 0
        if new < cur:
            if not allow_shrink:
                raise errors.InvalidInput(
                    f"volume {name} is {cur} bytes; shrinking it to {new} bytes would lose "
                    "data: pass --shrink to really do it")
            flags |= libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK
        vol.resize(new, flags)
    host._persist()
    return volume_row(host, pool, vol)


def clone_volume(host, pool: str, name: str, new_name: str,
                 target_pool: str | None = None) -> dict[str, Any]:
    validate_name(new_name, "volume name")
    src_pool, src = lookup(host, pool, name)
    dst_pool_name = target_pool or pool
    dst = active_pool(host, dst_pool_name)
    _absent(dst, host, dst_pool_name, new_name)
    info = volume_row(host, pool, src)
    xml = volume_xml(new_name, info["capacity"], info["format"] or "raw")
    with mapped(host.name, f"clone volume {name} to {new_name}"):
        vol = dst.createXMLFrom(xml, src, 0)
    host._persist()
    return volume_row(host, dst_pool_name, vol)


def wipe_volume(host, pool: str, name: str) -> dict[str, Any]:
    _p, vol = lookup(host, pool, name)
    with mapped(host.name, f"wipe volume {name}"):
        vol.wipe(0)
    return volume_row(host, pool, vol)


def delete_volume(host, pool: str, name: str) -> dict[str, Any]:
    _p, vol = lookup(host, pool, name)
    users = volume_users(host, pool, name)
    if users:
        raise errors.Conflict(f"volume {name} is a disk of server(s) {', '.join(users)} on "
                              f"{host.name}: detach it first")
    with mapped(host.name, f"delete volume {name}"):
        vol.delete(0)
    host._persist()
    return {"name": name, "pool": pool, "host": host.name, "deleted": True}


# -- disks of VMs --------------------------------------------------------------------------
def _disk_matches(disk: ET.Element, pool: str, name: str, path: str | None) -> bool:
    src = disk.find("source")
    if src is None:
        return False
    if src.get("pool") == pool and src.get("volume") == name:
        return True
    return bool(path) and path in (src.get("file"), src.get("dev"))


def volume_users(host, pool: str, name: str) -> list[str]:
    """Names of the VMs whose definition (persistent or live) uses this volume."""
    conn = host.conn()
    _p, vol = lookup(host, pool, name)
    with mapped(host.name, "list servers"):
        path = vol.path()
        doms = conn.listAllDomains(0)
        users = []
        for d in doms:
            root = ET.fromstring(d.XMLDesc(0))
            if any(_disk_matches(disk, pool, name, path)
                   for disk in root.findall("devices/disk")):
                users.append(d.name())
    return sorted(users)


def _next_target(roots: list[ET.Element], bus: str) -> str:
    prefix = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}.get(bus, "vd")
    used = {t.get("dev") for r in roots for t in r.findall("devices/disk/target")}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        dev = f"{prefix}{letter}"
        if dev not in used:
            return dev
    raise errors.Conflict("no free disk target left on this server")


def attach_volume(host, dom: libvirt.virDomain, pool: str, name: str, *,
                  bus: str = "virtio") -> dict[str, Any]:
    """Attach as a data disk: live and persistent on a running VM where the host can,
    otherwise to the persistent definition (applies at the next start)."""
    _p, vol = lookup(host, pool, name)
    info = volume_row(host, pool, vol)
    with mapped(host.name, f"attach volume {name}"):
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        if any(_disk_matches(d, pool, name, info["path"]) for d in root.findall("devices/disk")):
            raise errors.Conflict(f"volume {name} is already attached to {dom.name()}")
        target = _next_target([root, ET.fromstring(dom.XMLDesc(0))], bus)
        xml = disk_xml(pool, name, info["format"] or "raw", target, bus=bus)
        active = bool(dom.isActive())
        persistent = bool(dom.isPersistent())
    live, note = False, None
    try:
        if active:
            flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | (
                libvirt.VIR_DOMAIN_AFFECT_CONFIG if persistent else 0)
            try:
                dom.attachDeviceFlags(xml, flags)
                live = True
            except libvirt.libvirtError as exc:
                no_live = exc.get_error_code() in (
                    libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
                    libvirt.VIR_ERR_CONFIG_UNSUPPORTED) or "hotplug" in (
                    exc.get_error_message() or "").lower()
                if not persistent or not no_live:
                    raise
                note = (f"live attach refused ({exc.get_error_message()}); added to the "
                        "persistent definition, the disk appears at the next start")
                dom.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        else:
            dom.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            note = "server is not running: the disk appears at the next start"
    except libvirt.libvirtError as exc:
        err = _translate(exc, host, f"attach volume {name} to {dom.name()}")
        if isinstance(err, errors.NotSupported):
            raise errors.NotSupported(
                f"{host.name}: this host cannot attach disks to servers (libvirt: "
                f"{exc.get_error_message()}); nothing changed") from None
        raise err from None
    host._persist()
    return {"volume": name, "pool": pool, "server": dom.name(), "host": host.name,
            "target": target, "live": live, "persistent": persistent or not active,
            "note": note}


def detach_volume(host, dom: libvirt.virDomain, pool: str, name: str) -> dict[str, Any]:
    _p, vol = lookup(host, pool, name)
    with mapped(host.name, f"detach volume {name}"):
        path = vol.path()
        active = bool(dom.isActive())
        persistent = bool(dom.isPersistent())
        live_disk = conf_disk = None
        for d in ET.fromstring(dom.XMLDesc(0)).findall("devices/disk"):
            if _disk_matches(d, pool, name, path):
                live_disk = d
        if persistent:
            for d in ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).findall(
                    "devices/disk"):
                if _disk_matches(d, pool, name, path):
                    conf_disk = d
    if live_disk is None and conf_disk is None:
        raise errors.NotFound(f"volume {name} is not attached to {dom.name()}")
    live = False
    try:
        if active and live_disk is not None:
            flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | (
                libvirt.VIR_DOMAIN_AFFECT_CONFIG if conf_disk is not None else 0)
            dom.detachDeviceFlags(ET.tostring(live_disk, encoding="unicode"), flags)
            live = True
        elif conf_disk is not None:
            dom.detachDeviceFlags(ET.tostring(conf_disk, encoding="unicode"),
                                  libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    except libvirt.libvirtError as exc:
        err = _translate(exc, host, f"detach volume {name} from {dom.name()}")
        if isinstance(err, errors.NotSupported):
            raise errors.NotSupported(
                f"{host.name}: this host cannot detach disks from servers (libvirt: "
                f"{exc.get_error_message()}); nothing changed") from None
        raise err from None
    host._persist()
    return {"volume": name, "pool": pool, "server": dom.name(), "host": host.name,
            "live": live, "detached": True}
