"""Host weighers: each returns one raw number per host; the scheduler normalises and scales.

A weigher subclasses :class:`BaseHostWeigher` and defines ``weigh(host, spec) -> float`` or,
for speed, ``weigh_all(hosts, spec) -> list[float]``. The scheduler normalises the raw
values over the hosts that passed the filters, as nova does:

    normalised = (value - minval) / (maxval - minval)      (0 for every host when equal)

where minval/maxval are the smallest/largest values, unless the weigher fixes them: the RAM,
CPU and disk weighers set ``minval = 0``, so a host's share of the best host's free
capacity is what counts (a value below the fixed bound still widens the range, as in nova).
The final weight of a host is the sum over weighers of multiplier x normalised; the highest
wins, ties keep the hosts' order.
"""
from __future__ import annotations

from typing import Any, Sequence

BUILTIN = {
    "RAMWeigher": "backend.scheduler.weighers.ram.RAMWeigher",
    "CPUWeigher": "backend.scheduler.weighers.cpu.CPUWeigher",
    "DiskWeigher": "backend.scheduler.weighers.disk.DiskWeigher",
    "NumInstancesWeigher": "backend.scheduler.weighers.num_instances.NumInstancesWeigher",
}


class BaseHostWeigher:
    minval: float | None = None
    maxval: float | None = None

    def __init__(self, config: Any = None):
        self.config = config

    @property
    def name(self) -> str:
        return type(self).__name__

    def weigh(self, host, spec) -> float:
        if type(self).weigh_all is BaseHostWeigher.weigh_all:
            raise NotImplementedError(f"{self.name} defines neither weigh nor weigh_all")
        return self.weigh_all((host,), spec)[0]

    def weigh_all(self, hosts: Sequence, spec) -> list[float]:
        if type(self).weigh is BaseHostWeigher.weigh:
            raise NotImplementedError(f"{self.name} defines neither weigh nor weigh_all")
        weigh = self.weigh
        return [weigh(h, spec) for h in hosts]


def normalize(values: Sequence[float], minval: float | None = None,
              maxval: float | None = None) -> list[float]:
    """Scale ``values`` into [0, 1] as nova does (see the module docstring)."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    lo = lo if minval is None else min(minval, lo)
    hi = hi if maxval is None else max(maxval, hi)
    if lo == hi:
        return [0.0] * len(values)
    span = float(hi - lo)
    return [(v - lo) / span for v in values]
