"""``scheduler simulate``: place a scenario's requests on its hosts, in order, and explain.

Scenario (JSON)::

    {"hosts": [{"name": "kvm1", "memory_mb": 32768, ...}],        # HostState fields
     "requests": [{"flavor": {"vcpus": 2, "memory_mb": 4096}, ...}],  # RequestSpec fields
     "filters": ["RamFilter", ...],          # default: the default enabled_filters
     "weighers": {"RAMWeigher": 1.0},        # default: {"RAMWeigher": 1.0}
     "host_subset_size": 1, "max_instances_per_host": 50}

Each placed request consumes what it got, so later requests see the new usage; the hosts a
server group's members landed on count for later requests naming the same group. The
result has one object per request: ``chosen`` (host names, one per instance; empty when no
valid host), ``filters`` (hosts left after each filter), ``rejected`` ({host: "Filter:
why"}) and ``weights`` ({host: weight}, best first).
"""
from __future__ import annotations

import json
from dataclasses import replace

from backend.errors import InvalidInput
from backend.scheduler.host_state import HostState
from backend.scheduler.request_spec import RequestSpec
from backend.scheduler.select import Scheduler

_TOP_KEYS = {"hosts", "requests", "filters", "weighers", "host_subset_size",
             "max_instances_per_host"}


def parse_scenario(text: str, source: str = "scenario") -> dict:
    """JSON text -> scenario dict; malformed JSON is InvalidInput with line and column."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: expected a JSON object with \"hosts\" and "
                           f"\"requests\", got {type(data).__name__}")
    return data


def build_scheduler(scenario: dict) -> Scheduler:
    config = {}
    if scenario.get("filters") is not None:
        config["enabled_filters"] = scenario["filters"]
    if scenario.get("weighers") is not None:
        config["weighers"] = scenario["weighers"]
    for key in ("host_subset_size", "max_instances_per_host"):
        if scenario.get(key) is not None:
            config[key] = scenario[key]
    return Scheduler(config)


def _items(scenario: dict, key: str) -> list:
    value = scenario.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"scenario \"{key}\" must be a list, got {type(value).__name__}")
    return value


def simulate(scenario: dict) -> list[dict]:
    if not isinstance(scenario, dict):
        raise InvalidInput("a scenario must be a JSON object")
    unknown = sorted(set(scenario) - _TOP_KEYS)
    if unknown:
        raise InvalidInput(f"scenario: unknown key(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(_TOP_KEYS))}")
    scheduler = build_scheduler(scenario)
    hosts = []
    for i, item in enumerate(_items(scenario, "hosts")):
        try:
            hosts.append(HostState.from_dict(item))
        except InvalidInput as exc:
            raise InvalidInput(f"hosts[{i}]: {exc.message}") from None
    names = [h.name for h in hosts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput(f"hosts: duplicate name(s) {', '.join(dupes)}")
    specs = []
    for i, item in enumerate(_items(scenario, "requests")):
        try:
            specs.append(RequestSpec.from_dict(item))
        except InvalidInput as exc:
            raise InvalidInput(f"requests[{i}]: {exc.message}") from None

    placed: dict[str, list[str]] = {}   # group name -> hosts its members were placed on
    policies: dict[str, tuple[str, int]] = {}
    out = []
    for i, spec in enumerate(specs):
        group = spec.group
        if group is not None:
            seen = policies.setdefault(group.name, (group.policy, i))
            if seen[0] != group.policy:
                raise InvalidInput(f"requests[{i}]: group {group.name!r} is {group.policy} "
                                   f"but requests[{seen[1]}] made it {seen[0]}")
            if placed.get(group.name):
                spec = replace(spec, group=group.with_members(placed[group.name]))
        decision = scheduler.select(spec, hosts)
        out.append(decision.to_dict())  # render the explanation before consuming
        for host in decision.hosts:
            host.consume(spec)
            if group is not None:
                placed.setdefault(group.name, []).append(host.name)
    return out
