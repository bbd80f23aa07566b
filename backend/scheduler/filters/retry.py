"""RetryFilter: skip hosts this request was already tried on."""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class RetryFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        tried = spec.retry
        if not tried:
            return hosts
        return [h for h in hosts if h.name not in tried]

    def reason(self, host, spec):
        return "already tried for this request"
