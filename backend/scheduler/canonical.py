"""Canonical names for architectures, hypervisor types and VM modes.

Images and hosts spell the same thing several ways ("amd64" vs "x86_64", "QEMU" vs "qemu",
"hv" vs "hvm"); the image-properties check compares canonical names only. Unknown names are
lower-cased and otherwise kept, so they still compare equal to themselves.
"""
from __future__ import annotations

_ARCH_ALIASES = {
    "i386": "i686", "i486": "i686", "i586": "i686",
    "x86_32": "i686", "x86_32p": "i686",  # an old Xen spelling
    "amd64": "x86_64",
}
_HV_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}


def _canonical(name: object, aliases: dict[str, str]) -> str | None:
    if name is None or name == "":
        return None
    low = str(name).strip().lower()
    return aliases.get(low, low)


def arch(name: object) -> str | None:
    return _canonical(name, _ARCH_ALIASES)


def hv_type(name: object) -> str | None:
    return _canonical(name, _HV_ALIASES)


def vm_mode(name: object) -> str | None:
    return _canonical(name, _VM_MODE_ALIASES)


def triple(item: object) -> tuple[str | None, str | None, str | None]:
    """One supported-instance entry (arch, hv_type, vm_mode), canonicalised."""
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        raise ValueError(f"a supported instance is (arch, hypervisor_type, vm_mode), got {item!r}")
    a, h, m = item
    return arch(a), hv_type(h), vm_mode(m)
