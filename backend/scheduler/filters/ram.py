"""RamFilter (nova's legacy one): RAM with overcommit.

Passes when total x ram_allocation_ratio - used >= requested, and the request is no bigger
than the host's physical RAM (an instance never overcommits against itself).
"""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class RamFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        requested = float(spec.flavor.memory_mb)
        return [h for h in hosts if h.max_ram_request_mb >= requested]

    def reason(self, host, spec):
        requested = spec.flavor.memory_mb
        if requested > host.memory_mb:
            return f"flavor needs {requested:g} MB > host total {host.memory_mb:g} MB"
        return (f"{host.ram_allocation_ratio:g} x {host.memory_mb:g} - {host.ram_used_mb:g} = "
                f"{host.usable_ram_mb:g} MB free < {requested:g} MB")
