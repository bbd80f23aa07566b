"""CoreFilter (nova's legacy one): vCPUs with overcommit.

Passes when vcpus x cpu_allocation_ratio - used >= requested, and the flavor has no more
vCPUs than the host has physical cores.
"""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class CoreFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        requested = float(spec.flavor.vcpus)
        return [h for h in hosts if h.max_vcpus_request >= requested]

    def reason(self, host, spec):
        requested = spec.flavor.vcpus
        if requested > host.vcpus:
            return f"flavor needs {requested:g} vCPUs > host's {host.vcpus:g} physical cores"
        return (f"{host.cpu_allocation_ratio:g} x {host.vcpus:g} - {host.vcpus_used:g} = "
                f"{host.usable_vcpus:g} vCPUs free < {requested:g} vCPUs")
