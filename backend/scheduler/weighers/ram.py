"""RAMWeigher: free physical RAM (total - used - reserved; negative when overcommitted).
A positive multiplier spreads instances, a negative one stacks them."""
from __future__ import annotations

from operator import attrgetter

from backend.scheduler.weighers import BaseHostWeigher

_free = attrgetter("free_ram_mb")


class RAMWeigher(BaseHostWeigher):
    minval = 0

    def weigh_all(self, hosts, spec):
        return list(map(_free, hosts))
