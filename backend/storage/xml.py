"""Storage pool and volume XML, built with ElementTree and validated before libvirt sees it.

Every check raises InvalidInput with the reason; nothing reaches libvirt until the whole
definition is sound (absolute paths, safe names, the source fields each pool type needs).
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
import xml.etree.ElementTree as ET
from typing import Any

from backend.errors import InvalidInput
from backend.validation import parse_size, validate_name
from backend.virt.libvirt.xml import text_el

POOL_TYPES = ("dir", "logical", "netfs", "iscsi", "rbd")
VOLUME_FORMATS = ("raw", "qcow2", "vmdk")
# Pool types whose volumes are block devices with no boot record of their own.
NO_BOOT_POOL_TYPES = ("logical",)

_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                          r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_IQN_RE = re.compile(r"^(iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[A-Za-z0-9.:_-]+)?"
                     r"|eui\.[0-9A-Fa-f]{16})$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PATH_CHARS_RE = re.compile(r"^[A-Za-z0-9._+@:=,/-]+$")


def validate_path(path: object, what: str = "path") -> str:
    """An absolute, normalised path of ordinary characters (no '..', no quotes)."""
    if not isinstance(path, str) or not path:
        raise InvalidInput(f"{what} must not be empty")
    if not path.startswith("/"):
        raise InvalidInput(f"invalid {what} {path!r}: must be an absolute path "
                           "(starting with '/')")
    if not _PATH_CHARS_RE.match(path):
        bad = sorted({c for c in path if not re.match(r"[A-Za-z0-9._+@:=,/-]", c)})
        raise InvalidInput(f"invalid {what} {path!r}: bad characters "
                           f"{' '.join(repr(c) for c in bad)}")
    if any(part == ".." for part in path.split("/")):
        raise InvalidInput(f"invalid {what} {path!r}: '..' is not allowed")
    norm = posixpath.normpath(path)
    if norm == "/":
        raise InvalidInput(f"invalid {what} {path!r}: the root directory is not a pool")
    return norm


def validate_host(host: object, what: str = "source host") -> str:
    if not isinstance(host, str) or not host:
        raise InvalidInput(f"{what} is required")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOSTNAME_RE.match(host):
        raise InvalidInput(f"invalid {what} {host!r}: expected a host name or IP address")
    return host


def pool_xml(name: str, pool_type: str = "dir", *, target: str | None = None,
             source_host: str | None = None, source_port: int | None = None,
             source_dir: str | None = None, source_name: str | None = None,
             source_devices: list[str] | None = None, iqn: str | None = None,
             auth_user: str | None = None, secret_uuid: str | None = None) -> str:
    """The <pool> definition for one of POOL_TYPES. Raises InvalidInput on anything unsound.

    dir: target. logical: source_name (the volume group, default the pool name), optional
    source_devices (PVs for build). netfs: source_host, source_dir, target. iscsi:
    source_host, iqn (the target's IQN). rbd: source_host (monitor), source_name (the Ceph
    pool), optional auth_user + secret_uuid."""
    validate_name(name, "pool name")
    if pool_type not in POOL_TYPES:
        raise InvalidInput(f"unknown pool type {pool_type!r}; expected one of "
                           f"{', '.join(POOL_TYPES)}")
    if source_port is not None and not (isinstance(source_port, int)
                                        and 0 < source_port < 65536):
        raise InvalidInput(f"invalid source port {source_port!r}: expected 1-65535")
    pool = ET.Element("pool", type=pool_type)
    text_el(pool, "name", name)
    source = ET.Element("source")
    tgt_path: str | None = None

    if pool_type == "dir":
        if not target:
            raise InvalidInput("a dir pool needs --target /absolute/path")
        tgt_path = validate_path(target, "target path")
    elif pool_type == "logical":
        vg = source_name or name
        validate_name(vg, "volume group name")
        for dev in source_devices or []:
            text_el(source, "device", path=validate_path(dev, "source device"))
        text_el(source, "name", vg)
        text_el(source, "format", type="lvm2")
        tgt_path = validate_path(target or f"/dev/{vg}", "target path")
    elif pool_type == "netfs":
        if not source_host or not source_dir:
            raise InvalidInput("a netfs pool needs --source-host and --source-dir "
                               "(the NFS export)")
        if not target:
            raise InvalidInput("a netfs pool needs --target /absolute/mount/point")
        h = text_el(source, "host", name=validate_host(source_host))
        if source_port:
            h.set("port", str(source_port))
        text_el(source, "dir", path=validate_path(source_dir, "source dir"))
        text_el(source, "format", type="nfs")
        tgt_path = validate_path(target, "target path")
    elif pool_type == "iscsi":
        if not source_host or not iqn:
            raise InvalidInput("an iscsi pool needs --source-host and --iqn (the target IQN)")
        if not _IQN_RE.match(iqn):
            raise InvalidInput(f"invalid iqn {iqn!r}: expected iqn.YYYY-MM.domain[:name]")
        h = text_el(source, "host", name=validate_host(source_host))
        if source_port:
            h.set("port", str(source_port))
        text_el(source, "device", path=iqn)
        tgt_path = validate_path(target or "/dev/disk/by-path", "target path")
    elif pool_type == "rbd":
        if not source_host or not source_name:
            raise InvalidInput("an rbd pool needs --source-host (a Ceph monitor) and "
                               "--source-name (the Ceph pool)")
        validate_name(source_name, "Ceph pool name")
        h = text_el(source, "host", name=validate_host(source_host, "monitor host"))
        if source_port:
            h.set("port", str(source_port))
        text_el(source, "name", source_name)
        if auth_user or secret_uuid:
            if not (auth_user and secret_uuid):
                raise InvalidInput("rbd auth needs both --auth-user and --secret-uuid")
            validate_name(auth_user, "auth user")
            if not _UUID_RE.match(secret_uuid):
                raise InvalidInput(f"invalid secret uuid {secret_uuid!r}")
            auth = text_el(source, "auth", type="ceph", username=auth_user)
            text_el(auth, "secret", uuid=secret_uuid)
    if len(source):
        pool.append(source)
    if tgt_path:
        t = ET.SubElement(pool, "target")
        text_el(t, "path", tgt_path)
    return ET.tostring(pool, encoding="unicode")


def parse_pool(xml: str) -> dict[str, Any]:
    root = ET.fromstring(xml)
    src = root.find("source")
    source: dict[str, Any] = {}
    if src is not None:
        hosts = [h.get("name") for h in src.findall("host")]
        if hosts:
            source["host"] = ",".join(h for h in hosts if h)
        if src.find("dir") is not None:
            source["dir"] = src.find("dir").get("path")
        devs = [d.get("path") for d in src.findall("device")]
        if devs:
            source["device"] = ",".join(d for d in devs if d)
        if src.findtext("name"):
            source["name"] = src.findtext("name")
    return {"name": root.findtext("name"), "uuid": root.findtext("uuid"),
            "type": root.get("type"), "target": root.findtext("target/path"),
            "source": source}


def volume_xml(name: str, size: object, fmt: str = "raw", *, allocation: str = "sparse",
               backing: str | None = None, backing_format: str | None = None) -> str:
    """A <volume>: raw sparse (allocation 0) or full (allocation = capacity), qcow2 thin with
    an optional backing image, or vmdk."""
    validate_name(name, "volume name")
    capacity = parse_size(size, "size")
    if fmt not in VOLUME_FORMATS:
        raise InvalidInput(f"unknown volume format {fmt!r}; expected one of "
                           f"{', '.join(VOLUME_FORMATS)}")
    if allocation not in ("sparse", "full"):
        raise InvalidInput(f"unknown allocation {allocation!r}; expected sparse or full")
    if backing and fmt != "qcow2":
        raise InvalidInput("only a qcow2 volume can have a backing image")
    vol = ET.Element("volume")
    text_el(vol, "name", name)
    text_el(vol, "capacity", capacity, unit="bytes")
    text_el(vol, "allocation", capacity if allocation == "full" else 0, unit="bytes")
    t = ET.SubElement(vol, "target")
    text_el(t, "format", type=fmt)
    if backing:
        b = ET.SubElement(vol, "backingStore")
        text_el(b, "path", validate_path(backing, "backing image"))
        text_el(b, "format", type=backing_format or "qcow2")
    return ET.tostring(vol, encoding="unicode")


def parse_volume(xml: str) -> dict[str, Any]:
    root = ET.fromstring(xml)
    fmt = root.find("target/format")
    return {"name": root.findtext("name"), "path": root.findtext("target/path"),
            "format": fmt.get("type") if fmt is not None else None,
            "backing": root.findtext("backingStore/path")}


def disk_xml(pool: str, volume: str, fmt: str, target_dev: str, *, bus: str = "virtio",
             readonly: bool = False) -> str:
    """A data <disk> referring to a pool volume (type='volume' works for every pool type)."""
    disk = ET.Element("disk", type="volume", device="disk")
    text_el(disk, "driver", name="qemu", type=fmt if fmt in VOLUME_FORMATS else "raw")
    text_el(disk, "source", pool=pool, volume=volume)
    text_el(disk, "target", dev=target_dev, bus=bus)
    if readonly:
        ET.SubElement(disk, "readonly")
    return ET.tostring(disk, encoding="unicode")


def check_boot_disk(pool_type: str, pool: str, volume: str) -> None:
    """A logical (LVM) volume is a bare block device: it carries no boot record, so it may be a
    data disk but never the boot disk."""
    if pool_type in NO_BOOT_POOL_TYPES:
        raise InvalidInput(
            f"volume {volume!r} is in {pool_type} pool {pool!r}: an LVM logical volume is a "
            "bare block device with no boot record or image in it, so it cannot be a boot "
            "disk; attach it as a data disk, or boot from a volume in a dir pool")
