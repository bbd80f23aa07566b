"""Build a server on its host: a root volume in the host's ``default`` pool filled from the
image, a domain defined from ElementTree-built XML, started. On any failure what was made
is removed again (volume and domain) before the error goes up.

On the libvirt test driver volumes are metadata only (no bits are copied); on a real daemon
the image bits are uploaded through a libvirt stream and the volume grown to the flavor's
root size.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import libvirt

from backend import errors
from backend.virt.libvirt.errors import mapped
from backend.virt.libvirt.xml import domain_xml, text_el

GiB = 1024 ** 3
POOL = "default"
CHUNK = 1024 * 1024


EXTENSIONS = {"qcow2": "qcow2", "vmdk": "vmdk", "raw": "img"}


def volume_name(uuid: str, disk_format: str) -> str:
    return f"{uuid}-root.{EXTENSIONS.get(disk_format, 'img')}"


def volume_xml(name: str, capacity: int, disk_format: str) -> str:
    vol = ET.Element("volume")
    text_el(vol, "name", name)
    text_el(vol, "capacity", capacity, unit="bytes")
    target = ET.SubElement(vol, "target")
    text_el(target, "format", type=disk_format)
    return ET.tostring(vol, encoding="unicode")


def _upload(conn, vol, path: Path, size: int, progress: Callable[[int, int], None] | None):
    stream = conn.newStream(0)
    vol.upload(stream, 0, size, 0)
    done = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                sent = 0
                while sent < len(chunk):
                    sent += stream.send(chunk[sent:])
                done += len(chunk)
                if progress:
                    progress(done, size)
        stream.finish()
    except BaseException:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise


def spawn(host, server: dict[str, Any], image: dict[str, Any], image_path: Path,
          network: str | None, progress: Callable[[int, int], None] | None = None
          ) -> dict[str, Any]:
    """Create the root volume, define and start the domain. Returns the domain row."""
    conn = host.conn()
    is_test = conn.getType().lower() == "test"
    fmt = image["disk_format"]
    vol_name = server["volume"]
    root_bytes = max(int(server["root_gb"]) * GiB, int(image.get("virtual_size_bytes") or 0))
    vol = dom = None
    try:
        with mapped(host.name, f"root volume of {server['name']}"):
            pool = conn.storagePoolLookupByName(POOL)
            if not pool.isActive():
                raise errors.OperationFailed(f"host {host.name}: storage pool {POOL} is not "
                                             "active")
            if is_test:
                vol = pool.createXML(volume_xml(vol_name, root_bytes, fmt), 0)
            else:
                # A raw container of exactly the image's size takes the image's bits
                # byte for byte (an upload writes over a file, it never truncates it);
                # the refresh then reads the real format and virtual size from them.
                size = image_path.stat().st_size
                vol = pool.createXML(volume_xml(vol_name, size, "raw"), 0)
                _upload(conn, vol, image_path, size, progress)
                pool.refresh(0)
                vol = pool.storageVolLookupByName(vol_name)
                if vol.info()[1] < root_bytes:  # the flavor's root disk, or fail the spawn
                    vol.resize(root_bytes, 0)
        dom_type = "test" if is_test else _domain_type(conn)
        xml = domain_xml(server["name"], memory_mb=server["memory_mb"], vcpus=server["vcpus"],
                         dom_type=dom_type, machine=None if is_test else "pc",
                         arch=host.host_info().get("arch") or "x86_64",
                         disks=[{"pool": POOL, "volume": vol_name, "format": fmt}],
                         interfaces=[{"network": network}] if network else [],
                         uuid=server["uuid"],
                         description=f"virtstack server {server['name']}")
        dom = host.define_domain(xml, start=True)
        return dom
    except BaseException:
        cleanup(host, server["uuid"], vol_name)
        raise


def _domain_type(conn) -> str:
    """"kvm" when the host's domain capabilities say KVM works there, else "qemu" (TCG).
    (libvirt refuses kvm capabilities when /dev/kvm is missing or unusable by QEMU.)"""
    try:
        caps = conn.getDomainCapabilities(None, None, None, "kvm", 0)
    except libvirt.libvirtError:
        return "qemu"
    try:
        return "kvm" if ET.fromstring(caps).findtext("domain") == "kvm" else "qemu"
    except ET.ParseError:
        return "qemu"


def cleanup(host, uuid: str, vol_name: str | None) -> list[str]:
    """Remove the domain and the root volume a failed (or deleted) spawn left behind."""
    removed = []
    try:
        conn = host.conn()
    except errors.VirtstackError:
        return removed
    if vol_name:
        try:
            conn.storagePoolLookupByName(POOL).storageVolLookupByName(vol_name).delete(0)
            removed.append(f"{POOL}/{vol_name}")
        except libvirt.libvirtError:
            pass
    try:
        if host.find(uuid) is None:
            conn.lookupByUUIDString(uuid)  # defined but not in the cache yet?
        host.delete_domain(uuid)  # destroys, undefines and saves demo state
        removed.append(f"domain {uuid}")
    except (libvirt.libvirtError, errors.VirtstackError):
        if removed:
            host._persist()  # the demo's node file must forget the volume too
    return removed
