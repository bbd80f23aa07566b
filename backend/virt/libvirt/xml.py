"""Domain XML built and read with ElementTree (never string formatting)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ET.register_namespace("test", TEST_NS)


def text_el(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def domain_xml(name: str, *, memory_mb: int, vcpus: int, dom_type: str = "qemu",
               arch: str = "x86_64", machine: str | None = "pc", disks: list[dict] | None = None,
               interfaces: list[dict] | None = None, serial: bool = True,
               uuid: str | None = None, runstate: int | None = None,
               description: str | None = None) -> str:
    """A domain definition. disks: [{"path" or "pool"+"volume", "format", "target"}];
    interfaces: [{"network"} or {"bridge"}, optional "mac", "model"]."""
    dom = ET.Element("domain", type=dom_type)
    text_el(dom, "name", name)
    if uuid:
        text_el(dom, "uuid", uuid)
    if description:
        text_el(dom, "description", description)
    text_el(dom, "memory", memory_mb * 1024, unit="KiB")
    text_el(dom, "currentMemory", memory_mb * 1024, unit="KiB")
    text_el(dom, "vcpu", vcpus, placement="static")
    os_el = ET.SubElement(dom, "os")
    type_attrs = {"arch": arch}
    if machine:
        type_attrs["machine"] = machine
    text_el(os_el, "type", "hvm", **type_attrs)
    text_el(os_el, "boot", dev="hd")
    if serial and dom_type != "test":
        text_el(os_el, "bios", useserial="yes")
    text_el(dom, "on_poweroff", "destroy")
    text_el(dom, "on_reboot", "restart")
    text_el(dom, "on_crash", "destroy")
    devices = ET.SubElement(dom, "devices")
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, d in enumerate(disks or []):
        kind = "volume" if "pool" in d else "file"
        disk = ET.SubElement(devices, "disk", type=kind, device=d.get("device", "disk"))
        text_el(disk, "driver", name="qemu", type=d.get("format", "raw"))
        if kind == "volume":
            text_el(disk, "source", pool=d["pool"], volume=d["volume"])
        else:
            text_el(disk, "source", file=d["path"])
        text_el(disk, "target", dev=d.get("target", f"vd{letters[i]}"), bus=d.get("bus", "virtio"))
    for nic in interfaces or []:
        if "bridge" in nic:
            iface = ET.SubElement(devices, "interface", type="bridge")
            text_el(iface, "source", bridge=nic["bridge"])
        else:
            iface = ET.SubElement(devices, "interface", type="network")
            text_el(iface, "source", network=nic["network"])
        if nic.get("mac"):
            text_el(iface, "mac", address=nic["mac"])
        text_el(iface, "model", type=nic.get("model", "virtio"))
    if serial and dom_type != "test":
        s = ET.SubElement(devices, "serial", type="pty")
        text_el(s, "target", port="0")
        c = ET.SubElement(devices, "console", type="pty")
        text_el(c, "target", type="serial", port="0")
    if runstate is not None:
        text_el(dom, f"{{{TEST_NS}}}runstate", runstate)
    return ET.tostring(dom, encoding="unicode")


def parse_domain(xml: str) -> dict[str, Any]:
    """The parts of a domain definition the faces show."""
    root = ET.fromstring(xml)

    def mem_mb(tag: str) -> int:
        el = root.find(tag)
        if el is None or not el.text:
            return 0
        unit = (el.get("unit") or "KiB").lower()
        mult = {"b": 1 / 1024, "bytes": 1 / 1024, "kib": 1, "k": 1, "mib": 1024, "m": 1024,
                "gib": 1024**2, "g": 1024**2}.get(unit, 1)
        return int(int(el.text) * mult // 1024)

    os_type = root.find("os/type")
    disks = []
    for d in root.findall("devices/disk"):
        src = d.find("source")
        tgt = d.find("target")
        drv = d.find("driver")
        src_attrs = dict(src.attrib) if src is not None else {}
        disks.append({
            "device": d.get("device"),
            "type": d.get("type"),
            "target": tgt.get("dev") if tgt is not None else None,
            "bus": tgt.get("bus") if tgt is not None else None,
            "format": drv.get("type") if drv is not None else None,
            "source": src_attrs.get("file") or src_attrs.get("dev")
            or (f"{src_attrs.get('pool')}/{src_attrs.get('volume')}" if "pool" in src_attrs
                else src_attrs.get("name")),
            "pool": src_attrs.get("pool"),
        })
    nics = []
    for i in root.findall("devices/interface"):
        src = i.find("source")
        tgt = i.find("target")
        mac = i.find("mac")
        model = i.find("model")
        sa = dict(src.attrib) if src is not None else {}
        nics.append({
            "interface": tgt.get("dev") if tgt is not None else None,
            "type": i.get("type"),
            "source": sa.get("network") or sa.get("bridge") or sa.get("dev"),
            "model": model.get("type") if model is not None else None,
            "mac": mac.get("address") if mac is not None else None,
        })
    graphics = [{"type": g.get("type"), "listen": g.get("listen"), "port": g.get("port")}
                for g in root.findall("devices/graphics")]
    consoles = [{"kind": c.tag, "type": c.get("type")}
                for c in root.findall("devices/serial") + root.findall("devices/console")]
    return {
        "name": root.findtext("name"),
        "uuid": root.findtext("uuid"),
        "type": root.get("type"),
        "vcpus": int((root.find("vcpu").get("current") if root.find("vcpu") is not None
                      else None) or root.findtext("vcpu") or 0),
        "vcpus_max": int(root.findtext("vcpu") or 0),
        "memory_mb": mem_mb("memory"),
        "current_memory_mb": mem_mb("currentMemory") or mem_mb("memory"),
        "arch": os_type.get("arch") if os_type is not None else None,
        "machine": os_type.get("machine") if os_type is not None else None,
        "boot": [b.get("dev") for b in root.findall("os/boot")],
        "disks": disks,
        "interfaces": nics,
        "graphics": graphics,
        "consoles": consoles,
        "description": root.findtext("description"),
    }
