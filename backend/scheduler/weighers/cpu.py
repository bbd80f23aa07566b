"""CPUWeigher: vCPUs still free under overcommit (vcpus x ratio - used)."""
from __future__ import annotations

from operator import attrgetter

from backend.scheduler.weighers import BaseHostWeigher

_usable = attrgetter("usable_vcpus")


class CPUWeigher(BaseHostWeigher):
    minval = 0

    def weigh_all(self, hosts, spec):
        return list(map(_usable, hosts))
