"""What the scheduler knows about one host: totals, usage, allocation ratios and traits.

All overcommit arithmetic lives here and nowhere else:

    limit          = total x allocation ratio
    usable (room)  = limit - used - reserved        (what overcommit still allows)
    free           = total - used - reserved        (physical; negative when overcommitted)
    largest request = min(usable, total)            (an instance never exceeds the physical host)

A HostState is read-only: the fields cannot be assigned. ``consume()`` is the one way usage
changes, and it refreshes the derived values, so they can never disagree with the fields.
Filters read the derived values (plain slots, no arithmetic per host: the scheduler walks
thousands of hosts per request).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend.errors import InvalidInput
from backend.scheduler import canonical

if TYPE_CHECKING:  # pragma: no cover
    from backend.scheduler.request_spec import RequestSpec

_SIZES = ("vcpus", "vcpus_used", "memory_mb", "memory_mb_used", "disk_gb", "disk_gb_used",
          "reserved_host_memory_mb", "reserved_host_disk_gb", "num_instances")
_RATIOS = ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio")


def check_number(value: Any, what: str, *, positive: bool = False) -> float:
    """A JSON-ish number that is not negative (or > 0 when ``positive``); else InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    if positive and value <= 0:
        raise InvalidInput(f"{what} must be greater than zero, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{what} must not be negative, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, eq=False)
class HostState:
    name: str
    az: str = "nova"
    vcpus: int = 0
    vcpus_used: float = 0
    memory_mb: int = 0
    memory_mb_used: float = 0
    disk_gb: int = 0
    disk_gb_used: float = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    reserved_host_disk_gb: int = 0
    enabled: bool = True
    disabled_reason: str | None = None
    arch: str = "x86_64"
    hypervisor_type: str = "QEMU"
    hypervisor_version: int | str | None = None
    num_instances: int = 0
    capabilities: dict = field(default_factory=dict)
    aggregates: list = field(default_factory=list)  # [{"name": ..., "metadata": {...}}]
    supported_instances: tuple | None = None  # (arch, hv_type, vm_mode) triples

    # Derived by _refresh(); never passed in.
    vcpus_limit: float = field(init=False, repr=False)
    ram_limit_mb: float = field(init=False, repr=False)
    disk_limit_gb: float = field(init=False, repr=False)
    usable_vcpus: float = field(init=False, repr=False)
    usable_ram_mb: float = field(init=False, repr=False)
    usable_disk_gb: float = field(init=False, repr=False)
    free_ram_mb: float = field(init=False, repr=False)
    free_disk_gb: float = field(init=False, repr=False)
    max_vcpus_request: float = field(init=False, repr=False)
    max_ram_request_mb: float = field(init=False, repr=False)
    max_disk_request_gb: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"a host needs a non-empty name, got {self.name!r}")
        for f in _SIZES:
            check_number(getattr(self, f), f"host {self.name!r}: {f}")
        for f in _RATIOS:
            check_number(getattr(self, f), f"host {self.name!r}: {f}", positive=True)
        if not isinstance(self.enabled, bool):
            raise InvalidInput(f"host {self.name!r}: enabled must be true or false")
        if not isinstance(self.capabilities, dict):
            raise InvalidInput(f"host {self.name!r}: capabilities must be an object")
        if not isinstance(self.aggregates, list) or not all(
                isinstance(a, dict) and isinstance(a.get("metadata", {}), dict)
                for a in self.aggregates):
            raise InvalidInput(f"host {self.name!r}: aggregates must be a list of "
                               "{\"name\": ..., \"metadata\": {...}}")
        set_ = object.__setattr__
        if self.supported_instances is None:
            triples = ((canonical.arch(self.arch), canonical.hv_type(self.hypervisor_type), "hvm"),)
        else:
            try:
                triples = tuple(canonical.triple(t) for t in self.supported_instances)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"host {self.name!r}: {exc}") from None
        set_(self, "supported_instances", triples)
        self._refresh()

    def _refresh(self) -> None:
        # Floats throughout: the filters compare them with float requests, and CPython
        # compares float with float much faster than int with float.
        set_ = object.__setattr__
        vcpus_limit = float(self.vcpus * self.cpu_allocation_ratio)
        ram_limit = float(self.memory_mb * self.ram_allocation_ratio)
        disk_limit = float(self.disk_gb * self.disk_allocation_ratio)
        ram_used = self.memory_mb_used + self.reserved_host_memory_mb
        disk_used = self.disk_gb_used + self.reserved_host_disk_gb
        usable_vcpus = vcpus_limit - self.vcpus_used
        usable_ram = ram_limit - ram_used
        usable_disk = disk_limit - disk_used
        set_(self, "vcpus_limit", vcpus_limit)
        set_(self, "ram_limit_mb", ram_limit)
        set_(self, "disk_limit_gb", disk_limit)
        set_(self, "usable_vcpus", usable_vcpus)
        set_(self, "usable_ram_mb", usable_ram)
        set_(self, "usable_disk_gb", usable_disk)
        set_(self, "free_ram_mb", float(self.memory_mb - ram_used))
        set_(self, "free_disk_gb", float(self.disk_gb - disk_used))
        set_(self, "max_vcpus_request", min(usable_vcpus, float(self.vcpus)))
        set_(self, "max_ram_request_mb", min(usable_ram, float(self.memory_mb)))
        set_(self, "max_disk_request_gb", min(usable_disk, float(self.disk_gb)))

    @property
    def ram_used_mb(self) -> float:
        """Used RAM as the filters count it: instances plus the host's reservation."""
        return self.memory_mb_used + self.reserved_host_memory_mb

    @property
    def disk_used_gb(self) -> float:
        return self.disk_gb_used + self.reserved_host_disk_gb

    def consume(self, request: RequestSpec) -> None:
        """Add one placed instance of ``request`` to this host's usage."""
        flavor = request.flavor
        set_ = object.__setattr__
        set_(self, "vcpus_used", self.vcpus_used + flavor.vcpus)
        set_(self, "memory_mb_used", self.memory_mb_used + flavor.memory_mb)
        set_(self, "disk_gb_used", self.disk_gb_used + flavor.disk_gb)
        set_(self, "num_instances", self.num_instances + 1)
        self._refresh()

    def copy(self) -> HostState:
        """An independent copy whose usage can be consumed without touching this one."""
        return dataclasses.replace(self)

    def aggregate_metadata(self) -> dict[str, set[str]]:
        """key -> every value any of the host's aggregates gives it."""
        out: dict[str, set[str]] = {}
        for agg in self.aggregates:
            for key, value in (agg.get("metadata") or {}).items():
                out.setdefault(key, set()).add(str(value))
        return out

    @classmethod
    def from_dict(cls, data: dict) -> HostState:
        """Build from plain data (a scenario file, a DB row turned into a dict).
        Missing fields take the defaults; unknown ones are an error (they are typos)."""
        if not isinstance(data, dict):
            raise InvalidInput(f"a host must be an object, got {data!r}")
        unknown = sorted(set(data) - _INIT_FIELDS)
        if unknown:
            raise InvalidInput(f"host {data.get('name')!r}: unknown field(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(_INIT_FIELDS))}")
        try:
            return cls(**data)
        except TypeError as exc:  # a missing name
            raise InvalidInput(f"host: {exc}") from None


_INIT_FIELDS = {f.name for f in dataclasses.fields(HostState) if f.init}
