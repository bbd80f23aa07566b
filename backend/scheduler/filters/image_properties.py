"""ImagePropertiesFilter: the image's architecture, hypervisor type and VM mode, when set,
must all match one (arch, hypervisor_type, vm_mode) triple the host supports; names are
canonicalised first ("amd64" is "x86_64", "QEMU" is "qemu", "hv" is "hvm"). A required
hypervisor version (``hypervisor_version_requires: ">=6.0, <9"``) is checked against the
host's version when both are known.

Both nova spellings of the properties are read: ``architecture`` / ``hw_architecture``,
``hypervisor_type`` / ``img_hv_type``, ``vm_mode`` / ``hw_vm_mode`` and
``hypervisor_version_requires`` / ``img_hv_requested_version``.
"""
from __future__ import annotations

import operator
import re

from backend.scheduler import canonical
from backend.scheduler.filters import BaseHostFilter

_CMP = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
        "==": operator.eq, "!=": operator.ne, "=": operator.eq}
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*(\d+(?:\.\d+)*)\s*$")


def _prop(props: dict, *names: str):
    for n in names:
        if props.get(n) not in (None, ""):
            return props[n]
    return None


def version_tuple(version) -> tuple[int, ...] | None:
    """6002000 (nova's integer form) or "6.2.0" -> (6, 2, 0); None when unknown."""
    if version is None or version == "":
        return None
    if isinstance(version, int) and not isinstance(version, bool):
        return (version // 1_000_000, version // 1000 % 1000, version % 1000)
    try:
        return tuple(int(p) for p in str(version).strip().split("."))
    except ValueError:
        return None


def version_satisfies(version, predicate: str) -> bool:
    """Does the host version satisfy ">=6.0, <9"? A malformed predicate never does."""
    have = version_tuple(version)
    if have is None:
        return True  # nothing to compare against: nova lets it pass
    for clause in str(predicate).split(","):
        m = _CLAUSE.match(clause)
        if not m:
            return False
        want = tuple(int(p) for p in m.group(2).split("."))
        width = max(len(have), len(want))
        a = have + (0,) * (width - len(have))
        b = want + (0,) * (width - len(want))
        if not _CMP[m.group(1) or "=="](a, b):
            return False
    return True


def _wanted(spec):
    props = spec.image_properties
    wanted = (canonical.arch(_prop(props, "hw_architecture", "architecture")),
              canonical.hv_type(_prop(props, "img_hv_type", "hypervisor_type")),
              canonical.vm_mode(_prop(props, "hw_vm_mode", "vm_mode")))
    version = _prop(props, "img_hv_requested_version", "hypervisor_version_requires")
    return wanted, version


def _supported(host, wanted, version) -> bool:
    a, h, m = wanted
    for sa, sh, sm in host.supported_instances:
        if (a is None or a == sa) and (h is None or h == sh) and (m is None or m == sm):
            break
    else:
        if any(wanted):
            return False
    return version is None or version_satisfies(host.hypervisor_version, version)


class ImagePropertiesFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        wanted, version = _wanted(spec)
        if not any(wanted) and version is None:
            return hosts
        return [h for h in hosts if _supported(h, wanted, version)]

    def reason(self, host, spec):
        wanted, version = _wanted(spec)
        if any(wanted) and not _supported(host, wanted, None):
            want = "/".join(w or "*" for w in wanted)
            have = ", ".join("/".join(str(p) for p in t) for t in host.supported_instances)
            return f"image needs {want}, host supports {have or 'nothing'}"
        return (f"image needs hypervisor version {version}, host has "
                f"{'.'.join(map(str, version_tuple(host.hypervisor_version) or ()))}")
