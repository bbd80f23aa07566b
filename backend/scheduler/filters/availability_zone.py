"""AvailabilityZoneFilter: when the request names a zone, the host must be in it."""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class AvailabilityZoneFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        az = spec.az
        if not az:
            return hosts
        return [h for h in hosts if h.az == az]

    def reason(self, host, spec):
        return f"host is in zone {host.az!r}, request wants {spec.az!r}"
