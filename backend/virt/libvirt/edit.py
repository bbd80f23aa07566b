"""Edit a domain's vCPUs, memory and autostart: live where the running guest allows it,
otherwise in the persistent definition for the next boot -- and say which.

Each function takes a ``virDomain`` and returns plain data::

    {"vcpus": 4, "applied": "live" | "next boot" | "live and next boot", "note": "..."}

A running guest can take a change live only up to the maximum it was started with (vCPU
hot-plug, memory balloon); above that the definition is changed and the guest gets it at its
next start. The maximum of the definition is raised as needed.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from backend import errors

_LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
_CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def _config_max_memory_kib(dom: libvirt.virDomain) -> int:
    el = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find("memory")
    if el is None or not el.text:
        return 0
    unit = (el.get("unit") or "KiB").lower()
    mult = {"b": 1 / 1024, "bytes": 1 / 1024, "kib": 1, "k": 1, "mib": 1024, "m": 1024,
            "gib": 1024**2, "g": 1024**2}.get(unit, 1)
    return int(int(el.text) * mult)


def _result(key: str, value: int, live: bool, config: bool, why_not_live: str | None,
            active: bool) -> dict[str, Any]:
    if live and config:
        applied = "live and next boot"
    elif live:
        applied = "live"
    else:
        applied = "next boot"
    note = None
    if not live and active:
        note = f"not changed in the running guest: {why_not_live}; takes effect at next boot"
    elif not active:
        note = "the server is not running: takes effect when it next starts"
    return {key: value, "applied": applied, "note": note}


def set_vcpus(dom: libvirt.virDomain, vcpus: int) -> dict[str, Any]:
    if not isinstance(vcpus, int) or vcpus < 1:
        raise errors.InvalidInput(f"vCPUs must be a whole number >= 1, not {vcpus!r}")
    active = bool(dom.isActive())
    persistent = bool(dom.isPersistent())
    config = False
    if persistent:
        # The definition gets exactly this many (maximum included); raise before lowering.
        cfg_max = dom.vcpusFlags(_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        if vcpus >= cfg_max:
            dom.setVcpusFlags(vcpus, _CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
            dom.setVcpusFlags(vcpus, _CONFIG)
        else:
            dom.setVcpusFlags(vcpus, _CONFIG)
            dom.setVcpusFlags(vcpus, _CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        config = True
    live, why = False, None
    if active:
        live_max = dom.vcpusFlags(_LIVE | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        if vcpus > live_max:
            why = f"the running guest was started with at most {live_max} vCPUs"
        else:
            try:
                dom.setVcpusFlags(vcpus, _LIVE)
                live = True
            except libvirt.libvirtError as exc:
                why = f"vCPU hot-plug refused: {exc.get_error_message()}"
    if not live and not config:
        raise errors.Conflict(f"cannot change the vCPUs of transient server {dom.name()}: "
                              f"{why}")
    return _result("vcpus", vcpus, live, config, why, active)


def set_memory(dom: libvirt.virDomain, memory_mb: int) -> dict[str, Any]:
    if not isinstance(memory_mb, int) or memory_mb < 16:
        raise errors.InvalidInput(f"memory must be a whole number of MB >= 16, "
                                  f"not {memory_mb!r}")
    kib = memory_mb * 1024
    active = bool(dom.isActive())
    persistent = bool(dom.isPersistent())
    config = False
    if persistent:
        if kib >= _config_max_memory_kib(dom):
            dom.setMemoryFlags(kib, _CONFIG | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
            dom.setMemoryFlags(kib, _CONFIG)
        else:
            dom.setMemoryFlags(kib, _CONFIG)
            dom.setMemoryFlags(kib, _CONFIG | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
        config = True
    live, why = False, None
    if active:
        live_max = dom.maxMemory()
        if kib > live_max:
            why = f"the running guest was started with at most {live_max // 1024} MB"
        else:
            try:
                dom.setMemoryFlags(kib, _LIVE)
                live = True
            except libvirt.libvirtError as exc:
                why = f"the balloon refused: {exc.get_error_message()}"
    if not live and not config:
        raise errors.Conflict(f"cannot change the memory of transient server {dom.name()}: "
                              f"{why}")
    return _result("memory_mb", memory_mb, live, config, why, active)


def set_autostart(dom: libvirt.virDomain, enabled: bool) -> dict[str, Any]:
    if not dom.isPersistent():
        raise errors.Conflict(f"server {dom.name()} is transient: only a defined server can "
                              "start with its host")
    dom.setAutostart(1 if enabled else 0)
    note = None
    if dom.connect().getType().upper() == "TEST":
        note = "the test driver keeps autostart only while this connection is open"
    return {"autostart": bool(dom.autostart()), "applied": "host boot", "note": note}
