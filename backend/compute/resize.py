"""Resize a server to another flavor, in place (nova's resize, without the move).

    the server must be virtstack's (a servers-table row with a flavor and a claim)
    -> the new flavor: usable by the server's project, root disk not smaller (nova
       refuses to shrink a root disk), the image's min_ram/min_disk still met
    -> claim the difference on the server's host and in its project's quota, and record the
       new flavor, in one transaction (Claims.resize: what grows is checked, what shrinks is
       given back) -- a denial changes nothing
    -> on the host: grow the root volume if root_gb grew (blockResize while the guest runs,
       a volume resize while it is off), then vCPUs and memory through the edit code (live
       where the running guest allows it, else at its next boot -- the result says which)
    -> any failure there: the edits made are undone, the claim is moved back, the error
       goes up; the flavor stays the old one.

A root volume once grown is not shrunk again (that loses data): if the vCPU/memory edits
fail after it grew, the error says so.
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from backend import errors
from backend.compute.claims import Usage
from backend.compute.flavors import flavor_dict
from backend.compute.models import Server
from backend.compute.spawn import GiB, POOL
from backend.virt.libvirt import edit
from backend.virt.libvirt.errors import mapped, translate

log = logging.getLogger(__name__)


def _managed(manager, row: dict[str, Any]) -> Server:
    with manager.db.transaction() as s:
        srv = s.get(Server, row["uuid"])
        if srv is None or srv.status == "DELETED":
            raise errors.Conflict(
                f"server {row['name']} is not managed by virtstack (it was not created "
                f"here): adopt it first (server adopt {row['name']} --project P), or "
                "change its vCPUs and memory with 'server set'")
        if not srv.flavor or not srv.claimed:
            raise errors.Conflict(
                f"server {row['name']} has no flavor (it was adopted, not created from a "
                "flavor): virtstack cannot tell its root disk; change its vCPUs and memory "
                "with 'server set'")
        s.expunge(srv)
        return srv


def _new_flavor(manager, srv: Server, ref: str, is_admin: bool) -> dict[str, Any]:
    with manager.db.transaction() as s:
        f = manager.flavors.find(s, ref)
        if not manager.flavors.usable_by(s, f, srv.project_id, is_admin):
            raise errors.InvalidInput(f"flavor {ref!r} is not available to the server's "
                                      "project")
        flavor = flavor_dict(f)
        image = None
        if srv.image:
            try:
                image = manager.images.find(s, srv.image)
            except errors.NotFound:
                image = None
        min_ram = image.min_ram_mb if image is not None else 0
        min_disk = image.min_disk_gb if image is not None else 0
    if flavor["name"] == srv.flavor:
        raise errors.InvalidInput(f"server {srv.name} already has flavor {srv.flavor}")
    if flavor["root_gb"] < srv.root_gb:
        raise errors.InvalidInput(
            f"flavor {flavor['name']} has a {flavor['root_gb']} GB root disk, smaller than "
            f"server {srv.name}'s {srv.root_gb} GB: a root disk cannot shrink")
    if min_ram > flavor["ram_mb"]:
        raise errors.InvalidInput(f"flavor {flavor['name']} has {flavor['ram_mb']} MB of RAM; "
                                  f"image {srv.image} needs at least {min_ram} MB")
    if min_disk > flavor["root_gb"]:
        raise errors.InvalidInput(f"flavor {flavor['name']} has a {flavor['root_gb']} GB root "
                                  f"disk; image {srv.image} needs at least {min_disk} GB")
    return flavor


def _root_target(dom: libvirt.virDomain, vol: libvirt.virStorageVol, vol_name: str) -> str:
    """The guest's device name (``vda``) of the root volume, for blockResize."""
    path = vol.path()
    root = ET.fromstring(dom.XMLDesc(0))
    for disk in root.findall("./devices/disk"):
        src = disk.find("source")
        tgt = disk.find("target")
        if src is None or tgt is None:
            continue
        if src.get("file") == path or src.get("dev") == path or (
                src.get("pool") == POOL and src.get("volume") == vol_name):
            return tgt.get("dev")
    raise errors.OperationFailed(f"the root volume {vol_name} is not a disk of "
                                 f"{dom.name()}")


def grow_root(h, dom: libvirt.virDomain, srv: Server, root_gb: int) -> str:
    """Grow the server's root volume to ``root_gb`` GiB; returns how ("live" or "volume")."""
    new_bytes = root_gb * GiB
    what = f"grow the root volume of {srv.name} to {root_gb} GB"
    conn = h.conn()
    try:
        vol = conn.storagePoolLookupByName(POOL).storageVolLookupByName(srv.volume)
        if vol.info()[1] >= new_bytes:
            return "already that size"
        if dom.isActive():
            dom.blockResize(_root_target(dom, vol, srv.volume), new_bytes,
                            libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            how = "live"
        else:
            vol.resize(new_bytes, 0)
            how = "volume"
    except libvirt.libvirtError as exc:
        err = translate(exc, h.name, what)
        if isinstance(err, errors.NotSupported):
            hint = (" (the libvirt test driver cannot resize volumes)"
                    if conn.getType().lower() == "test" else "")
            raise errors.NotSupported(
                f"{h.name}: cannot {what}: this host cannot resize volumes{hint}; nothing "
                "was changed -- pick a flavor with the same root disk") from None
        raise err from None
    h._persist()
    return how


def _summary(parts: list[dict[str, Any]]) -> str:
    kinds = {p["applied"] for p in parts}
    if not kinds:
        return "nothing to change on the host"
    if kinds <= {"live and next boot", "live"}:
        return "live"
    if kinds == {"next boot"}:
        return "next boot"
    return "partly live, the rest at next boot"


def resize(manager, ctx, h, row: dict[str, Any], flavor_ref: str) -> dict[str, Any]:
    srv = _managed(manager, row)
    flavor = _new_flavor(manager, srv, flavor_ref, ctx.is_admin)
    old = Usage(srv.vcpus, srv.memory_mb, srv.disk_gb, srv.root_gb)
    new = manager.usage(flavor)
    # 1. the books: quota and host, one transaction (QuotaExceeded / ClaimFailed: no change)
    manager.claims.resize(srv.uuid, old, new, flavor["name"])
    done: list[str] = []
    grown = None
    try:
        dom = h._dom(srv.uuid)
        if new.root_gb > old.root_gb:
            grown = grow_root(h, dom, srv, new.root_gb)
        parts = []
        with mapped(h.name, f"resize {srv.name}"):
            if new.vcpus != old.vcpus:
                parts.append(edit.set_vcpus(dom, new.vcpus))
                done.append("vcpus")
            if new.memory_mb != old.memory_mb:
                parts.append(edit.set_memory(dom, new.memory_mb))
                done.append("memory")
            fresh = h._row(dom)
    except BaseException as exc:
        _undo(h, srv, old, done)
        manager.claims.resize(srv.uuid, new, old, srv.flavor, force=True)
        if grown and isinstance(exc, errors.VirtstackError):
            raise type(exc)(f"{exc.message} (the root volume was already grown to "
                            f"{new.root_gb} GB and stays so: volumes are never shrunk)"
                            ) from None
        raise
    h._domains[fresh["uuid"]] = fresh
    from backend.compute.snapshots import persist
    persist(h)
    notes = [p["note"] for p in parts if p.get("note")]
    if grown == "volume":
        notes.append(f"root volume grown to {new.root_gb} GB")
    elif grown == "live":
        notes.append(f"root disk grown to {new.root_gb} GB in the running guest (grow its "
                     "partition and file system inside the guest)")
    return {"name": srv.name, "uuid": srv.uuid, "host": h.name, "old_flavor": srv.flavor,
            "flavor": flavor["name"], "vcpus": new.vcpus, "memory_mb": new.memory_mb,
            "root_gb": new.root_gb, "applied": _summary(parts),
            "changes": {_key(p): p["applied"] for p in parts},
            "note": "; ".join(notes) or None}


def _key(part: dict[str, Any]) -> str:
    return "vcpus" if "vcpus" in part else "memory_mb"


def _undo(h, srv: Server, old: Usage, done: list[str]) -> None:
    """Best effort: put back the vCPUs and memory already changed."""
    try:
        dom = h._dom(srv.uuid)
        if "vcpus" in done:
            edit.set_vcpus(dom, old.vcpus)
        if "memory" in done:
            edit.set_memory(dom, old.memory_mb)
        h._domains[srv.uuid] = h._row(dom)
    except (libvirt.libvirtError, errors.VirtstackError) as exc:
        log.warning("resize of %s: could not undo %s: %s", srv.name, ", ".join(done), exc)
