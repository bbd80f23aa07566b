"""NumInstancesFilter: a host runs fewer than ``max_instances_per_host`` instances (default 50)."""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter

DEFAULT_MAX = 50


class NumInstancesFilter(BaseHostFilter):
    @property
    def max_instances(self) -> int:
        return getattr(self.config, "max_instances_per_host", DEFAULT_MAX) or DEFAULT_MAX

    def filter_all(self, hosts, spec):
        limit = self.max_instances
        return [h for h in hosts if h.num_instances < limit]

    def reason(self, host, spec):
        return f"{host.num_instances} instances >= max_instances_per_host {self.max_instances}"
