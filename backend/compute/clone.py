"""Clone a server on its own host: a new name and UUID, new MAC addresses, and a copy of every
writable disk made in the same storage pool (``createXMLFrom``), like virt-clone.

The source must not be running (a running guest's disks change while they are copied):
shut it off or suspend it first. Read-only disks (cdroms) are shared, not copied. A disk that
is not a volume of any pool cannot be copied by libvirt: the clone is refused and names it.
"""
from __future__ import annotations

import logging
import random
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import libvirt

from backend import errors
from backend.validation import validate_name
from backend.compute.snapshots import persist
from backend.virt.libvirt.errors import mapped

if TYPE_CHECKING:
    from backend.virt.libvirt.host import LibvirtHost

log = logging.getLogger(__name__)

_CLONABLE_STATES = ("shutoff", "paused", "crashed", "nostate")


def random_mac(rng: random.Random | None = None) -> str:
    """A locally administered address in QEMU's 52:54:00 range."""
    rng = rng or random.SystemRandom()
    return "52:54:00:%02x:%02x:%02x" % (rng.randrange(256), rng.randrange(256),
                                        rng.randrange(256))


def _new_volume_name(old: str, src_server: str, new_server: str, target: str) -> str:
    base, dot, ext = old.rpartition(".")
    if not dot:
        base, ext = old, ""
    if src_server and src_server in base:
        base = base.replace(src_server, new_server, 1)
    else:
        base = f"{new_server}-{target}"
    return base + (f".{ext}" if ext else "")


def _volume_of(conn: libvirt.virConnect, disk: ET.Element) -> libvirt.virStorageVol | None:
    src = disk.find("source")
    if src is None:
        return None
    if disk.get("type") == "volume":
        pool = conn.storagePoolLookupByName(src.get("pool"))
        return pool.storageVolLookupByName(src.get("volume"))
    path = src.get("file") or src.get("dev")
    if not path:
        return None
    try:
        return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def _clone_volume(vol: libvirt.virStorageVol, new_name: str) -> libvirt.virStorageVol:
    pool = vol.storagePoolLookupByVolume()
    src = ET.fromstring(vol.XMLDesc(0))
    new = ET.Element("volume")
    ET.SubElement(new, "name").text = new_name
    cap = src.find("capacity")
    if cap is not None:
        new.append(cap)
    tgt = ET.SubElement(new, "target")
    fmt = src.find("target/format")
    if fmt is not None:
        tgt.append(fmt)
    return pool.createXMLFrom(ET.tostring(new, encoding="unicode"), vol, 0)


def clone_server(h: "LibvirtHost", ref: str, new_name: str) -> dict[str, Any]:
    new_name = validate_name(new_name, "server name")
    conn = h.conn()
    dom = h._dom(ref)
    with mapped(h.name, f"clone {ref}"):
        src_name = dom.name()
        state = (h.find(ref) or {}).get("state") or "nostate"
        if dom.isActive() and state not in _CLONABLE_STATES:
            raise errors.Conflict(f"cannot clone server {src_name} on {h.name} while it is "
                                  f"{state}: shut it off or suspend it first")
        try:
            conn.lookupByName(new_name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
        else:
            raise errors.Conflict(f"a server named {new_name!r} already exists on {h.name}")
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE
                                         | libvirt.VIR_DOMAIN_XML_SECURE))
        root.attrib.pop("id", None)
        root.find("name").text = new_name
        uuid_el = root.find("uuid")
        if uuid_el is not None:
            root.remove(uuid_el)

        # Plan every disk first: refuse before copying anything.
        plan: list[tuple[ET.Element, libvirt.virStorageVol, str]] = []
        for disk in root.findall("devices/disk"):
            if disk.find("readonly") is not None or disk.get("device") in ("cdrom", "floppy"):
                continue
            if disk.find("source") is None:
                continue
            vol = _volume_of(conn, disk)
            target = (disk.find("target").get("dev") if disk.find("target") is not None
                      else "disk")
            if vol is None:
                src = disk.find("source")
                where = src.get("file") or src.get("dev") or src.get("name")
                raise errors.NotSupported(
                    f"cannot clone server {src_name}: disk {target} ({where}) is not a volume "
                    f"of any storage pool on {h.name}")
            plan.append((disk, vol, _new_volume_name(vol.name(), src_name, new_name, target)))
        names = [p[2] for p in plan]
        if len(set(names)) != len(names):
            plan = [(d, v, f"{new_name}-{i}-{n}") for i, (d, v, n) in enumerate(plan)]

        created: list[libvirt.virStorageVol] = []
        try:
            for disk, vol, vol_name in plan:
                new_vol = _clone_volume(vol, vol_name)
                created.append(new_vol)
                src = disk.find("source")
                if disk.get("type") == "volume":
                    src.set("volume", new_vol.name())
                elif src.get("dev") is not None:
                    src.set("dev", new_vol.path())
                else:
                    src.set("file", new_vol.path())
            macs = []
            for iface in root.findall("devices/interface"):
                mac = iface.find("mac")
                if mac is None:
                    mac = ET.SubElement(iface, "mac")
                mac.set("address", random_mac())
                macs.append(mac.get("address"))
                tgt = iface.find("target")
                if tgt is not None:
                    iface.remove(tgt)
            for tag in ("devices/graphics",):
                for g in root.findall(tag):
                    if g.get("port") not in (None, "-1"):
                        g.set("autoport", "yes")
                        g.attrib.pop("port", None)
            new_dom = conn.defineXML(ET.tostring(root, encoding="unicode"))
        except BaseException:
            for v in created:
                try:
                    v.delete(0)
                except libvirt.libvirtError:
                    log.warning("%s: could not remove partial clone volume %s", h.name,
                                v.name())
            raise
        row = h._row(new_dom)
    h._domains[row["uuid"]] = row
    persist(h)
    return {"name": new_name, "uuid": row["uuid"], "host": h.name, "state": row["state"],
            "source": src_name, "volumes": [v.path() for v in created], "macs": macs}
