"""The scheduler: filter the hosts, weigh the survivors, pick one host per instance.

Pure: no I/O, no DB, and the HostStates passed in are never modified (instances of a
multi-instance request are placed on private copies of the hosts they land on).
"""
from __future__ import annotations

import inspect
import random
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from backend.errors import ConfigError, NoValidHost
from backend.scheduler import registry
from backend.scheduler.config import SchedulerConfig
from backend.scheduler.host_state import HostState
from backend.scheduler.request_spec import RequestSpec

IGNORED = "ignore_hosts"


class _Filter:
    """A configured filter, plugin or built-in, behind one calling convention."""

    __slots__ = ("name", "obj", "filter_all", "_reason")

    def __init__(self, obj: Any):
        self.obj = obj
        self.name = type(obj).__name__
        self.filter_all = getattr(obj, "filter_all", None) or self._one_by_one
        self._reason = getattr(obj, "reason", None)

    def _one_by_one(self, hosts, spec):
        passes = self.obj.host_passes
        return [h for h in hosts if passes(h, spec)]

    def reason(self, host, spec) -> str:
        text = self._reason(host, spec) if self._reason else "host rejected"
        return f"{self.name}: {text}"


class _Weigher:
    __slots__ = ("name", "obj", "multiplier", "weigh_all", "minval", "maxval")

    def __init__(self, obj: Any, multiplier: float):
        self.obj = obj
        self.name = type(obj).__name__
        self.multiplier = multiplier
        self.weigh_all = getattr(obj, "weigh_all", None) or self._one_by_one
        self.minval = getattr(obj, "minval", None)
        self.maxval = getattr(obj, "maxval", None)

    def _one_by_one(self, hosts, spec):
        weigh = self.obj.weigh
        return [weigh(h, spec) for h in hosts]


def _instantiate(cls: type, config: SchedulerConfig):
    """Built-ins (and plugins subclassing the bases) take the config; a plugin whose
    constructor takes no argument is built without it."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        params = ()
    takes_config = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                       for p in params)
    try:
        return cls(config) if takes_config else cls()
    except Exception as exc:
        raise ConfigError(f"cannot create scheduler plugin {cls.__module__}.{cls.__name__}: "
                          f"{exc}") from exc


class Pass:
    """One filter-and-weigh pass (one instance). Names, reasons and the weight table are
    rendered on first access, so a pass over 10,000 hosts costs only what picking needs.
    Reasons read the host states as they are then: read them before consuming."""

    __slots__ = ("spec", "candidates", "ignored", "stages", "hosts", "scores", "chosen",
                 "_rejected", "_totals")

    def __init__(self, spec, candidates, ignored, stages, hosts, scores, chosen, totals=None):
        self.spec = spec
        self.candidates = candidates  # hosts that entered the first filter
        self.ignored = ignored        # hosts dropped by spec.ignore_hosts
        self.stages = stages          # [(_Filter, hosts left after it)]
        self.hosts = hosts            # hosts that passed every filter
        self.scores = scores          # [(multiplier, raw values, minval, span)] per weigher
        self.chosen = chosen          # the HostState picked, or None
        self._rejected = None
        self._totals = totals

    @property
    def totals(self) -> list[float]:
        """Each passing host's weight: sum of multiplier x normalised value, hosts' order."""
        if self._totals is None:
            self._totals = _totals(len(self.hosts), self.scores)
        return self._totals

    @property
    def filters(self) -> list[tuple[str, list[str]]]:
        return [(f.name, [h.name for h in left]) for f, left in self.stages]

    @property
    def rejected(self) -> dict[str, str]:
        """host name -> "Filter: why", for every host that did not pass."""
        if self._rejected is None:
            out = {h.name: f"{IGNORED}: ignored by the request" for h in self.ignored}
            before = self.candidates
            for f, left in self.stages:
                if len(left) != len(before):
                    kept = set(map(id, left))
                    for h in before:
                        if id(h) not in kept:
                            out[h.name] = f.reason(h, self.spec)
                before = left
            self._rejected = out
        return self._rejected

    @property
    def weights(self) -> dict[str, float]:
        """host name -> weight, best first (ties in host order)."""
        order = sorted(range(len(self.hosts)), key=self.totals.__getitem__, reverse=True)
        return {self.hosts[i].name: self.totals[i] for i in order}


@dataclass
class Decision:
    """What select() decided and why.

    ``hosts``/``chosen``: the HostStates / names picked, one per instance (empty when the
    request cannot be placed entirely: all or none). ``passes``: one Pass per instance
    tried. ``filters``, ``rejected`` and ``weights`` explain the pass that decided: the
    failing one when placement failed, else the first.
    """

    spec: RequestSpec
    hosts: list[HostState] = field(default_factory=list)
    passes: list[Pass] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.hosts)

    @property
    def chosen(self) -> list[str]:
        return [h.name for h in self.hosts]

    @property
    def deciding_pass(self) -> Pass | None:
        if not self.passes:
            return None
        return self.passes[0] if self.ok else self.passes[-1]

    @property
    def filters(self) -> list[tuple[str, list[str]]]:
        p = self.deciding_pass
        return p.filters if p else []

    @property
    def rejected(self) -> dict[str, str]:
        p = self.deciding_pass
        return p.rejected if p else {}

    @property
    def weights(self) -> dict[str, float]:
        p = self.deciding_pass
        return p.weights if p else {}

    @property
    def reason(self) -> str:
        """Why nothing was chosen ("" when placement succeeded)."""
        if self.ok:
            return ""
        n = self.spec.num_instances
        p = self.deciding_pass
        which = f"instance {len(self.passes)} of {n}" if n > 1 else "the instance"
        if p is None or not p.candidates:
            return f"no valid host for {which}: no hosts to choose from"
        for name, left in p.filters:
            if not left:
                return f"no valid host for {which}: none left after {name}"
        return f"no valid host for {which}"

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise NoValidHost(self.reason)

    def to_dict(self) -> dict:
        return {
            "chosen": self.chosen,
            "filters": [{"filter": name, "hosts": left} for name, left in self.filters],
            "rejected": self.rejected,
            "weights": self.weights,
        }


class Scheduler:
    """Built once from the settings; unknown filter or weigher names fail here."""

    def __init__(self, config: Mapping[str, Any] | SchedulerConfig | None = None, *,
                 rng: random.Random | None = None):
        self.config = SchedulerConfig.from_mapping(config)
        available = registry.available_filters(self.config.available_filters)
        self.filters = [_Filter(_instantiate(registry.filter_class(name, available), self.config))
                        for name in self.config.enabled_filters]
        self.weighers = [_Weigher(_instantiate(registry.weigher_class(name), self.config), mult)
                         for name, mult in self.config.weighers.items()]
        self.rng = rng or random.Random()

    def select(self, spec: RequestSpec, host_states: Iterable[HostState]) -> Decision:
        """Pick a host for each of ``spec.num_instances`` instances, one at a time, each
        seeing the usage of the ones placed before it (and the group membership they add).
        All or none: if one instance finds no host, nothing is chosen."""
        ignore = spec.ignore_hosts
        if ignore:
            all_hosts = list(host_states)
            hosts = [h for h in all_hosts if h.name not in ignore]
            ignored = [h for h in all_hosts if h.name in ignore]
        else:
            hosts, ignored = list(host_states), []
        decision = Decision(spec)
        if spec.num_instances == 1:
            p = self._one_pass(spec, hosts, ignored)
            decision.passes.append(p)
            if p.chosen is not None:
                decision.hosts = [p.chosen]
            return decision
        origin = list(hosts)
        position = {id(h): i for i, h in enumerate(hosts)}
        chosen: list[HostState] = []
        current = spec
        for _ in range(spec.num_instances):
            # A snapshot: later instances swap private copies into ``hosts``.
            p = self._one_pass(current, list(hosts), ignored)
            decision.passes.append(p)
            if p.chosen is None:
                return decision  # all or none
            i = position[id(p.chosen)]
            chosen.append(origin[i])
            if hosts[i] is origin[i]:  # first instance here: consume on a private copy
                hosts[i] = origin[i].copy()
                position[id(hosts[i])] = i
            hosts[i].consume(current)
            if current.group is not None:
                current = replace(current, group=current.group.with_members((origin[i].name,)))
        decision.hosts = chosen
        return decision

    def _one_pass(self, spec: RequestSpec, hosts: list, ignored: list) -> Pass:
        stages = []
        left = hosts
        for f in self.filters:
            if left:
                left = f.filter_all(left, spec)
            stages.append((f, left))
        scores = self._scores(left, spec)
        totals = None
        chosen = None
        if left:
            size = self.config.host_subset_size
            if size <= 1 and len(scores) <= 1:
                # Normalising is monotonic: the best raw value is the best weight, and
                # index() finds its first host, as a stable sort would.
                if not scores:
                    chosen = left[0]
                else:
                    mult, raw, _lo, _span = scores[0]
                    chosen = left[raw.index(max(raw) if mult > 0 else min(raw))]
            else:
                totals = _totals(len(left), scores)
                if size <= 1:
                    chosen = left[totals.index(max(totals))]
                else:
                    order = sorted(range(len(left)), key=totals.__getitem__, reverse=True)
                    chosen = left[self.rng.choice(order[:size])]
        return Pass(spec, hosts, ignored, stages, left, scores, chosen, totals)

    def _scores(self, hosts: Sequence, spec: RequestSpec) -> list[tuple]:
        """Raw values of each weigher that tells hosts apart, with its normalising bounds."""
        if not hosts:
            return []
        out = []
        for w in self.weighers:
            if not w.multiplier:
                continue
            raw = w.weigh_all(hosts, spec)
            lo, hi = min(raw), max(raw)
            if w.minval is not None and w.minval < lo:
                lo = w.minval
            if w.maxval is not None and w.maxval > hi:
                hi = w.maxval
            if lo == hi:
                continue  # every host normalises to 0
            out.append((w.multiplier, raw, lo, float(hi - lo)))
        return out


def _totals(n: int, scores: list[tuple]) -> list[float]:
    totals = [0.0] * n
    for mult, raw, lo, span in scores:
        totals = [t + (v - lo) / span * mult for t, v in zip(totals, raw)]
    return totals
