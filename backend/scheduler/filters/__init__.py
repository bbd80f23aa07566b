"""Host filters: one question each — can this host take the request?

A filter subclasses :class:`BaseHostFilter` and answers either per host
(``host_passes(host, spec) -> bool``) or for a whole list at once
(``filter_all(hosts, spec) -> list``); each answer is defined in terms of the other, so a
filter writes the one that suits it. The built-ins write ``filter_all`` as a single list
comprehension over the HostState's precomputed values: that is the one place their rule
lives, and it keeps a pass over 10,000 hosts in the sub-millisecond range. A filter that
does not apply to a request (no AZ asked, no group, ...) returns the hosts untouched.

``reason(host, spec)`` says in words why a host was rejected; the scheduler calls it only
for hosts it rejected, and only when someone reads the explanation.
"""
from __future__ import annotations

from typing import Any, Sequence

BUILTIN = {
    "RetryFilter": "backend.scheduler.filters.retry.RetryFilter",
    "AvailabilityZoneFilter": "backend.scheduler.filters.availability_zone.AvailabilityZoneFilter",
    "RamFilter": "backend.scheduler.filters.ram.RamFilter",
    "CoreFilter": "backend.scheduler.filters.core.CoreFilter",
    "DiskFilter": "backend.scheduler.filters.disk.DiskFilter",
    "ComputeFilter": "backend.scheduler.filters.compute.ComputeFilter",
    "ComputeCapabilitiesFilter":
        "backend.scheduler.filters.compute_capabilities.ComputeCapabilitiesFilter",
    "ImagePropertiesFilter": "backend.scheduler.filters.image_properties.ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter":
        "backend.scheduler.filters.server_group.ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter":
        "backend.scheduler.filters.server_group.ServerGroupAffinityFilter",
    "AggregateInstanceExtraSpecsFilter":
        "backend.scheduler.filters.aggregate_instance_extra_specs."
        "AggregateInstanceExtraSpecsFilter",
    "NumInstancesFilter": "backend.scheduler.filters.num_instances.NumInstancesFilter",
}


class BaseHostFilter:
    """Base of every filter. ``config`` is the scheduler's SchedulerConfig (or None)."""

    def __init__(self, config: Any = None):
        self.config = config

    @property
    def name(self) -> str:
        return type(self).__name__

    def host_passes(self, host, spec) -> bool:
        if type(self).filter_all is BaseHostFilter.filter_all:
            raise NotImplementedError(f"{self.name} defines neither host_passes nor filter_all")
        return bool(self.filter_all((host,), spec))

    def filter_all(self, hosts: Sequence, spec) -> list:
        if type(self).host_passes is BaseHostFilter.host_passes:
            raise NotImplementedError(f"{self.name} defines neither host_passes nor filter_all")
        passes = self.host_passes
        return [h for h in hosts if passes(h, spec)]

    def reason(self, host, spec) -> str:
        return "host rejected"
