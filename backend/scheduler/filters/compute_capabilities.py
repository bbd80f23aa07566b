"""ComputeCapabilitiesFilter: ``capabilities:``-scoped flavor extra specs against the host.

``capabilities:cpu_info:features`` walks ``host.capabilities["cpu_info"]["features"]``; the
requirement uses the extra-spec operators (``backend.scheduler.extra_specs_ops``). A
capability the host does not report fails. Specs in other scopes are not this filter's.
"""
from __future__ import annotations

import json

from backend.scheduler.extra_specs_ops import compile_requirement
from backend.scheduler.filters import BaseHostFilter

SCOPE = "capabilities"


def _requirements(spec) -> list[tuple[str, list[str], str]]:
    out = []
    for key, req in spec.flavor.extra_specs.items():
        parts = key.split(":")
        if len(parts) > 1 and parts[0] == SCOPE:
            out.append((key, parts[1:], req))
    return out


def _lookup(capabilities: dict, path: list[str]):
    value = capabilities
    for part in path:
        if isinstance(value, str):  # nested JSON, as libvirt's cpu_info often is
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if not isinstance(value, dict):
            return None
        value = value.get(part)
        if value is None:
            return None
    return value


class ComputeCapabilitiesFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        reqs = [(path, compile_requirement(str(req))) for _key, path, req in _requirements(spec)]
        if not reqs:
            return hosts
        return [h for h in hosts
                if all(check(_lookup(h.capabilities, path)) for path, check in reqs)]

    def reason(self, host, spec):
        for key, path, req in _requirements(spec):
            value = _lookup(host.capabilities, path)
            if value is None:
                return f"host does not report {':'.join(path)} (flavor wants {key}={req!r})"
            if not compile_requirement(str(req))(value):
                return f"{':'.join(path)} is {value!r}, flavor wants {req!r}"
        return "capabilities do not match"
