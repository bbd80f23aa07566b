"""DiskFilter (nova's legacy one): local disk with overcommit, in GB.

The request is root + ephemeral + swap (swap MB / 1024). Passes when
disk_gb x disk_allocation_ratio - used >= requested, and requested <= the host's disk.
"""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class DiskFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        requested = float(spec.flavor.disk_gb)
        return [h for h in hosts if h.max_disk_request_gb >= requested]

    def reason(self, host, spec):
        requested = spec.flavor.disk_gb
        if requested > host.disk_gb:
            return f"flavor needs {requested:g} GB > host total {host.disk_gb:g} GB"
        return (f"{host.disk_allocation_ratio:g} x {host.disk_gb:g} - {host.disk_used_gb:g} = "
                f"{host.usable_disk_gb:g} GB free < {requested:g} GB")
