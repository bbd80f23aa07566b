"""Domain snapshots: create, list, revert, delete.

Internal snapshots only (the state of every disk kept inside its qcow2 file, plus the RAM of
a running guest): a domain whose writable disks are not all qcow2 cannot take one, and says
which disk is in the way. A host whose driver cannot snapshot at all raises NotSupported.

The demo cloud's test-driver hosts keep their state in node XML files; snapshots are written
there too (``<test:domainsnapshot>`` inside each domain), so a snapshot taken by one
``virtstack --demo`` command is what the next command lists.
"""
from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import libvirt

from backend import errors
from backend.virt.libvirt.errors import mapped
from backend.virt.libvirt.xml import TEST_NS, parse_domain, text_el

if TYPE_CHECKING:
    from backend.virt.libvirt.host import LibvirtHost

log = logging.getLogger(__name__)

_INTERNAL_FORMATS = {"qcow2"}


def _snap_row(snap: libvirt.virDomainSnapshot) -> dict[str, Any]:
    root = ET.fromstring(snap.getXMLDesc(0))
    parent = root.findtext("parent/name")
    created = root.findtext("creationTime")
    mem = root.find("memory")
    return {
        "name": root.findtext("name"),
        "state": root.findtext("state"),
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(created)))
        if created else None,
        "parent": parent,
        "current": bool(snap.isCurrent(0)),
        "memory": mem.get("snapshot") if mem is not None else None,
        "description": root.findtext("description"),
    }


def check_internal_capable(domain_xml: str, host: str, server: str) -> None:
    """Raise NotSupported unless every writable disk can hold an internal snapshot."""
    blockers = []
    for d in parse_domain(domain_xml)["disks"]:
        if d["device"] not in ("disk", None) or not d["source"]:
            continue  # cdroms, floppies, empty drives: not snapshotted
        if (d["format"] or "raw") not in _INTERNAL_FORMATS:
            blockers.append(f"{d['target']} is {d['format'] or 'raw'}")
    if blockers:
        raise errors.NotSupported(
            f"{host}: server {server} cannot take an internal snapshot: it needs qcow2 "
            f"disks, but {', '.join(blockers)} (convert the disk to qcow2 first)")


def list_snapshots(h: "LibvirtHost", ref: str) -> list[dict[str, Any]]:
    dom = h._dom(ref)
    with mapped(h.name, f"list snapshots of {ref}"):
        rows = [_snap_row(s) for s in dom.listAllSnapshots(0)]
    parents = {r["name"]: r["parent"] for r in rows}

    def depth(name):
        n, seen = 0, set()
        while parents.get(name) and name not in seen:
            seen.add(name)
            name, n = parents[name], n + 1
        return n
    rows.sort(key=lambda r: (r["created"] or "", depth(r["name"]), r["name"]))
    for r in rows:
        r["server"] = dom.name()
        r["host"] = h.name
    return rows


def create_snapshot(h: "LibvirtHost", ref: str, name: str | None = None,
                    description: str | None = None) -> dict[str, Any]:
    dom = h._dom(ref)
    with mapped(h.name, f"snapshot {ref}"):
        check_internal_capable(dom.XMLDesc(0), h.name, dom.name())
        name = name or time.strftime("snap-%Y%m%d-%H%M%S")
        existing = {s.getName() for s in dom.listAllSnapshots(0)}
        if name in existing:
            raise errors.Conflict(f"server {dom.name()} on {h.name} already has a snapshot "
                                  f"named {name!r}")
        root = ET.Element("domainsnapshot")
        text_el(root, "name", name)
        if description:
            text_el(root, "description", description)
        snap = dom.snapshotCreateXML(ET.tostring(root, encoding="unicode"), 0)
        row = _snap_row(snap)
    row.update({"server": dom.name(), "host": h.name})
    persist(h)
    return row


def _lookup(h: "LibvirtHost", dom: libvirt.virDomain, snapshot: str):
    try:
        return dom.snapshotLookupByName(snapshot, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == getattr(libvirt, "VIR_ERR_NO_DOMAIN_SNAPSHOT", -1):
            raise errors.NotFound(f"server {dom.name()} on {h.name} has no snapshot "
                                  f"{snapshot!r}") from None
        raise


def revert_snapshot(h: "LibvirtHost", ref: str, snapshot: str) -> dict[str, Any]:
    dom = h._dom(ref)
    with mapped(h.name, f"revert {ref} to {snapshot}"):
        snap = _lookup(h, dom, snapshot)
        dom.revertToSnapshot(snap, 0)
        row = _snap_row(snap)
        state = h._row(dom)
    h._domains[state["uuid"]] = state
    row.update({"server": dom.name(), "host": h.name, "server_state": state["state"]})
    persist(h)
    return row


def delete_snapshot(h: "LibvirtHost", ref: str, snapshot: str) -> dict[str, Any]:
    dom = h._dom(ref)
    with mapped(h.name, f"delete snapshot {snapshot} of {ref}"):
        snap = _lookup(h, dom, snapshot)
        snap.delete(0)
    persist(h)
    return {"server": dom.name(), "host": h.name, "name": snapshot, "deleted": True}


# -- demo persistence ----------------------------------------------------------------------
def snapshot_elements(dom: libvirt.virDomain) -> list[ET.Element]:
    """The ``<test:domainsnapshot>`` elements the test driver loads back, oldest first."""
    out = []
    snaps = [(s, ET.fromstring(s.getXMLDesc(0))) for s in dom.listAllSnapshots(0)]
    parents = {x.findtext("name"): x.findtext("parent/name") for _s, x in snaps}

    def depth(name):
        n, seen = 0, set()
        while parents.get(name) and name not in seen:
            seen.add(name)
            name, n = parents[name], n + 1
        return n
    snaps.sort(key=lambda p: depth(p[1].findtext("name")))  # parents before children
    for snap, src in snaps:
        el = ET.Element(f"{{{TEST_NS}}}domainsnapshot")
        for child in list(src):
            if child.tag == "active":
                continue
            el.append(child)
        text_el(el, "active", 1 if snap.isCurrent(0) else 0)
        out.append(el)
    return out


def persist(h: "LibvirtHost") -> None:
    """Demo hosts: write the node file, then add every domain's snapshots to it."""
    if h.persist_path is None:
        return
    h._persist()
    try:
        tree = ET.parse(h.persist_path)
        conn = h.conn()
        for el in tree.getroot().findall("domain"):
            for old in el.findall(f"{{{TEST_NS}}}domainsnapshot"):
                el.remove(old)
            try:
                dom = conn.lookupByName(el.findtext("name"))
                el.extend(snapshot_elements(dom))
            except libvirt.libvirtError:
                continue
        tmp = h.persist_path.with_suffix(".snap.tmp")
        tree.write(tmp, encoding="unicode")
        tmp.replace(h.persist_path)
    except Exception:
        log.exception("%s: could not save demo snapshots", h.name)
