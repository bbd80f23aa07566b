"""Server group filters, driven by the hosts that already run members of the group.

ServerGroupAntiAffinityFilter: a host that runs a member of an anti-affinity group is out.
ServerGroupAffinityFilter: once an affinity group has members, only their hosts qualify
(the first member may go anywhere).
"""
from __future__ import annotations

from backend.scheduler.filters import BaseHostFilter


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        group = spec.group
        if group is None or group.policy != "anti-affinity" or not group.members_on_hosts:
            return hosts
        taken = set(group.members_on_hosts)
        return [h for h in hosts if h.name not in taken]

    def reason(self, host, spec):
        return f"host already runs a member of anti-affinity group {spec.group.name!r}"


class ServerGroupAffinityFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        group = spec.group
        if group is None or group.policy != "affinity" or not group.members_on_hosts:
            return hosts
        wanted = set(group.members_on_hosts)
        return [h for h in hosts if h.name in wanted]

    def reason(self, host, spec):
        hosts = ", ".join(sorted(set(spec.group.members_on_hosts)))
        return f"affinity group {spec.group.name!r} lives on {hosts}"
