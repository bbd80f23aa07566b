"""The Nova-style scheduler: pure functions of host states and a request (no I/O, no DB).

Use::

    from backend.scheduler import Scheduler, HostState, RequestSpec, Flavor, ServerGroup

    scheduler = Scheduler(settings.scheduler)      # once, at start-up; bad names -> ConfigError
    spec = RequestSpec(flavor=Flavor(vcpus=2, memory_mb=4096, root_gb=20),
                       az="az1", image_properties={"architecture": "x86_64"},
                       group=ServerGroup("web", "anti-affinity", members_on_hosts=("kvm1",)),
                       num_instances=2, retry=frozenset({"kvm3"}))
    hosts = [HostState(name="kvm1", az="az1", vcpus=32, memory_mb=131072, disk_gb=2000,
                       memory_mb_used=..., ...), ...]   # built from the DB and the hosts
    decision = scheduler.select(spec, hosts)
    decision.raise_if_failed()                      # NoValidHost with the reason
    decision.hosts        # [HostState, ...] one per instance (the objects passed in)
    decision.chosen       # their names
    decision.filters      # [(filter name, [host names left after it]), ...]
    decision.rejected     # {host name: "RamFilter: 1.5 x 32768 - 47000 = 2152 MB free < 4096 MB"}
    decision.weights      # {host name: weight}, best first
    decision.to_dict()    # the same as plain data (what `scheduler simulate` prints)

``select`` never changes the HostStates it is given; after a successful claim the caller
records usage with ``host.consume(spec)`` once per instance placed there (or rebuilds the
states from the DB). Multi-instance requests are all or none; instances of one request see
each other's usage and, with a server group, each other's hosts.

Modules: ``host_state`` (HostState and all overcommit math), ``request_spec``,
``filters/`` (one filter a module), ``weighers/`` (one weigher a module), ``extra_specs_ops``
(the extra-spec operator matcher), ``config`` (SchedulerConfig and defaults), ``registry``
(names and dotted paths to classes), ``select`` (Scheduler, Decision), ``simulate``.
"""
from backend.scheduler.config import DEFAULT_FILTERS, DEFAULT_WEIGHERS, SchedulerConfig
from backend.scheduler.host_state import HostState
from backend.scheduler.request_spec import Flavor, RequestSpec, ServerGroup
from backend.scheduler.select import Decision, Scheduler

__all__ = ["DEFAULT_FILTERS", "DEFAULT_WEIGHERS", "Decision", "Flavor", "HostState",
           "RequestSpec", "Scheduler", "SchedulerConfig", "ServerGroup"]
