"""ComputeFilter: only enabled hosts take new instances."""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class ComputeFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        return [h for h in hosts if h.enabled]

    def reason(self, host, spec):
        if host.disabled_reason:
            return f"host disabled ({host.disabled_reason})"
        return "host disabled"
