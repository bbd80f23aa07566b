"""AggregateInstanceExtraSpecsFilter: flavor extra specs against the host's aggregates.

Unscoped keys (``ssd``) and ``aggregate_instance_extra_specs:``-scoped keys must be matched
by at least one value the host's aggregates give that key (extra-spec operators apply);
a key none of the aggregates sets fails. Keys in any other scope are ignored.
"""
from __future__ import annotations

from backend.scheduler.extra_specs_ops import compile_requirement
from backend.scheduler.filters import BaseHostFilter

SCOPE = "aggregate_instance_extra_specs"


def _requirements(spec) -> list[tuple[str, str]]:
    out = []
    for key, req in spec.flavor.extra_specs.items():
        scope, sep, rest = key.partition(":")
        if not sep:
            out.append((key, req))
        elif scope == SCOPE:
            out.append((rest, req))
    return out


def _passes(metadata: dict[str, set[str]], reqs) -> bool:
    for key, check in reqs:
        values = metadata.get(key)
        if not values or not any(check(v) for v in values):
            return False
    return True


class AggregateInstanceExtraSpecsFilter(BaseHostFilter):
    def filter_all(self, hosts, spec):
        reqs = [(key, compile_requirement(str(req))) for key, req in _requirements(spec)]
        if not reqs:
            return hosts
        return [h for h in hosts if _passes(h.aggregate_metadata(), reqs)]

    def reason(self, host, spec):
        metadata = host.aggregate_metadata()
        for key, req in _requirements(spec):
            values = metadata.get(key)
            if not values:
                return f"no aggregate of the host sets {key!r} (flavor wants {req!r})"
            if not any(compile_requirement(str(req))(v) for v in values):
                return f"aggregates give {key}={sorted(values)}, flavor wants {req!r}"
        return "aggregate metadata does not match"
