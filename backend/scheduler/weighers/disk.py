"""DiskWeigher: free physical local disk in GB (total - used - reserved)."""
from __future__ import annotations

from operator import attrgetter

from backend.scheduler.weighers import BaseHostWeigher

_free = attrgetter("free_disk_gb")


class DiskWeigher(BaseHostWeigher):
    minval = 0

    def weigh_all(self, hosts, spec):
        return list(map(_free, hosts))
