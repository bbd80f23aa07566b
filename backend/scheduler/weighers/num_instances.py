"""NumInstancesWeigher: the number of instances on the host. Give it a negative multiplier
to prefer emptier hosts, a positive one to pack."""
from __future__ import annotations

from operator import attrgetter

from backend.scheduler.weighers import BaseHostWeigher

_count = attrgetter("num_instances")


class NumInstancesWeigher(BaseHostWeigher):
    def weigh_all(self, hosts, spec):
        return list(map(_count, hosts))
