"""What is being placed: a flavor, where it may go, and its server group.

``RequestSpec.from_dict`` turns plain data (a scenario file, an API request) into one,
checking sizes; the scheduler itself only reads it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from backend.errors import InvalidInput
from backend.scheduler.host_state import check_number

POLICIES = ("affinity", "anti-affinity")


@dataclass(frozen=True, slots=True)
class Flavor:
    vcpus: int = 1
    memory_mb: int = 0
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for f in ("vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap_mb"):
            check_number(getattr(self, f), f"flavor {f}")
        if not isinstance(self.extra_specs, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float, bool))
                for k, v in self.extra_specs.items()):
            raise InvalidInput("flavor extra_specs must be an object of key: value strings, "
                               f"got {self.extra_specs!r}")

    @property
    def disk_gb(self) -> float:
        """Local disk the flavor needs: root + ephemeral + swap (MB turned into GB)."""
        return self.root_gb + self.ephemeral_gb + self.swap_mb / 1024


@dataclass(frozen=True, slots=True)
class ServerGroup:
    name: str
    policy: str = "anti-affinity"
    members_on_hosts: tuple[str, ...] = ()  # hosts already running members of the group

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"a server group needs a name, got {self.name!r}")
        if self.policy not in POLICIES:
            raise InvalidInput(f"server group {self.name!r}: policy must be one of "
                               f"{', '.join(POLICIES)}, got {self.policy!r}")
        object.__setattr__(self, "members_on_hosts", tuple(self.members_on_hosts))

    def with_members(self, hosts) -> ServerGroup:
        return dataclasses.replace(self, members_on_hosts=(*self.members_on_hosts, *hosts))


@dataclass(frozen=True, slots=True)
class RequestSpec:
    flavor: Flavor = field(default_factory=Flavor)
    az: str | None = None
    image_properties: dict = field(default_factory=dict)
    group: ServerGroup | None = None
    num_instances: int = 1
    retry: frozenset[str] = frozenset()        # hosts already tried for this request
    ignore_hosts: frozenset[str] = frozenset()  # hosts never to consider

    def __post_init__(self) -> None:
        n = self.num_instances
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInput(f"num_instances must be a whole number >= 1, got {n!r}")
        if not isinstance(self.image_properties, dict):
            raise InvalidInput("image_properties must be an object")
        object.__setattr__(self, "retry", frozenset(self.retry or ()))
        object.__setattr__(self, "ignore_hosts", frozenset(self.ignore_hosts or ()))

    @classmethod
    def from_dict(cls, data: dict) -> RequestSpec:
        if not isinstance(data, dict):
            raise InvalidInput(f"a request must be an object, got {data!r}")
        unknown = sorted(set(data) - _REQUEST_FIELDS)
        if unknown:
            raise InvalidInput(f"request: unknown field(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(_REQUEST_FIELDS))}")
        kw = dict(data)
        flavor = kw.get("flavor") or {}
        if not isinstance(flavor, dict):
            raise InvalidInput(f"flavor must be an object, got {flavor!r}")
        bad = sorted(set(flavor) - _FLAVOR_FIELDS)
        if bad:
            raise InvalidInput(f"flavor: unknown field(s) {', '.join(bad)}; "
                               f"known: {', '.join(sorted(_FLAVOR_FIELDS))}")
        kw["flavor"] = Flavor(**flavor)
        group = kw.get("group")
        if group is not None:
            if not isinstance(group, dict):
                raise InvalidInput(f"group must be an object, got {group!r}")
            bad = sorted(set(group) - {"name", "policy", "members_on_hosts"})
            if bad:
                raise InvalidInput(f"group: unknown field(s) {', '.join(bad)}")
            members = group.get("members_on_hosts") or []
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise InvalidInput("group members_on_hosts must be a list of host names")
            kw["group"] = ServerGroup(name=group.get("name"),
                                      policy=group.get("policy", "anti-affinity"),
                                      members_on_hosts=tuple(members))
        for key in ("retry", "ignore_hosts"):
            value = kw.get(key) or []
            if not isinstance(value, (list, tuple, set, frozenset)) or not all(
                    isinstance(v, str) for v in value):
                raise InvalidInput(f"{key} must be a list of host names")
            kw[key] = frozenset(value)
        if kw.get("az") is not None and not isinstance(kw["az"], str):
            raise InvalidInput(f"az must be a string, got {kw['az']!r}")
        return cls(**kw)


_REQUEST_FIELDS = {f.name for f in dataclasses.fields(RequestSpec)}
_FLAVOR_FIELDS = {f.name for f in dataclasses.fields(Flavor)}
