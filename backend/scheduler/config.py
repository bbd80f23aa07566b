"""The scheduler's settings (``[scheduler]`` in config.toml, or a scenario file's keys).

    enabled_filters        ordered list of filter names or dotted paths ``pkg.mod.Class``
    available_filters      names / dotted paths enabled_filters may use (default: built-ins)
    weighers               {name or dotted path: multiplier}
    host_subset_size       pick at random among the best N hosts (default 1: the best)
    max_instances_per_host for NumInstancesFilter (default 50)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from backend.errors import ConfigError

DEFAULT_FILTERS = (
    "RetryFilter", "AvailabilityZoneFilter", "RamFilter", "DiskFilter", "ComputeFilter",
    "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)
DEFAULT_WEIGHERS = {"RAMWeigher": 1.0}


@dataclass(frozen=True)
class SchedulerConfig:
    enabled_filters: tuple[str, ...] = DEFAULT_FILTERS
    available_filters: tuple[str, ...] | None = None  # None: every built-in filter
    weighers: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHERS))
    host_subset_size: int = 1
    max_instances_per_host: int = 50

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> SchedulerConfig:
        """Check and convert ``settings.scheduler``; anything wrong is a ConfigError."""
        if data is None:
            return cls()
        if isinstance(data, SchedulerConfig):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"scheduler settings must be a table, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"scheduler: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        kw: dict[str, Any] = {}
        for key in ("enabled_filters", "available_filters"):
            if data.get(key) is not None:
                value = data[key]
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(v, str) and v for v in value):
                    raise ConfigError(f"scheduler.{key} must be a list of filter names, "
                                      f"got {value!r}")
                kw[key] = tuple(value)
        if data.get("weighers") is not None:
            weighers = data["weighers"]
            if not isinstance(weighers, Mapping):
                raise ConfigError("scheduler.weighers must be a table of name = multiplier, "
                                  f"got {weighers!r}")
            for name, mult in weighers.items():
                if isinstance(mult, bool) or not isinstance(mult, (int, float)):
                    raise ConfigError(f"scheduler.weighers.{name}: the multiplier must be a "
                                      f"number, got {mult!r}")
            kw["weighers"] = {str(k): float(v) for k, v in weighers.items()}
        for key in ("host_subset_size", "max_instances_per_host"):
            if data.get(key) is not None:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"scheduler.{key} must be a whole number >= 1, "
                                      f"got {value!r}")
                kw[key] = value
        return cls(**kw)
