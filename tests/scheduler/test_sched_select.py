import random

from backend.errors import NoValidHost
from backend.scheduler import Scheduler

import pytest

from .conftest import make_host, make_spec


def test_decision_explains_filters_rejections_and_weights():
    hosts = [make_host("full", memory_mb=32768, memory_mb_used=47000),
             make_host("off", enabled=False),
             make_host("ok", memory_mb=16384)]
    d = Scheduler().select(make_spec(memory_mb=4096), hosts)
    assert d.chosen == ["ok"] and d.hosts == [hosts[2]]
    names = [name for name, _ in d.filters]
    assert names[:5] == ["RetryFilter", "AvailabilityZoneFilter", "RamFilter", "DiskFilter",
                         "ComputeFilter"]
    left = dict(d.filters)
    assert left["AvailabilityZoneFilter"] == ["full", "off", "ok"]
    assert left["RamFilter"] == ["off", "ok"]
    assert left["ComputeFilter"] == ["ok"]
    assert d.rejected == {"full": "RamFilter: 1.5 x 32768 - 47000 = 2152 MB free < 4096 MB",
                          "off": "ComputeFilter: host disabled"}
    assert d.weights == {"ok": 1.0}


def test_select_does_not_modify_the_host_states():
    hosts = [make_host("a"), make_host("b")]
    Scheduler().select(make_spec(memory_mb=1024, num_instances=3), hosts)
    assert [(h.memory_mb_used, h.num_instances) for h in hosts] == [(0, 0), (0, 0)]


def test_multi_instance_places_one_at_a_time_consuming_usage():
    hosts = [make_host("a", memory_mb=10000, ram_allocation_ratio=1.0),
             make_host("b", memory_mb=9000, ram_allocation_ratio=1.0)]
    d = Scheduler().select(make_spec(memory_mb=4000, num_instances=3), hosts)
    # a (10000 free) -> b (9000 vs 6000) -> a (6000 vs 5000)
    assert d.chosen == ["a", "b", "a"]
    assert len(d.passes) == 3


def test_multi_instance_is_all_or_none():
    hosts = [make_host("a", memory_mb=8000, ram_allocation_ratio=1.0)]
    d = Scheduler().select(make_spec(memory_mb=4000, num_instances=3), hosts)
    assert d.chosen == [] and d.hosts == [] and not d.ok
    assert "instance 3 of 3" in d.reason and "RamFilter" in d.reason
    assert dict(d.filters)["RamFilter"] == []  # the explanation is the failing pass
    with pytest.raises(NoValidHost):
        d.raise_if_failed()


def test_anti_affinity_spreads_instances_of_one_request():
    hosts = [make_host("a"), make_host("b"), make_host("c", memory_mb=65536)]
    d = Scheduler().select(make_spec(num_instances=3, group=("web", "anti-affinity")), hosts)
    assert sorted(d.chosen) == ["a", "b", "c"]
    d = Scheduler().select(make_spec(num_instances=4, group=("web", "anti-affinity")), hosts)
    assert d.chosen == []


def test_anti_affinity_avoids_existing_members():
    hosts = [make_host("a", memory_mb=65536), make_host("b")]
    d = Scheduler().select(make_spec(group=("web", "anti-affinity", ["a"])), hosts)
    assert d.chosen == ["b"]


def test_affinity_keeps_instances_of_one_request_together():
    hosts = [make_host("a"), make_host("b", memory_mb=65536)]
    d = Scheduler().select(make_spec(num_instances=3, group=("db", "affinity")), hosts)
    assert d.chosen == ["b", "b", "b"]
    d = Scheduler().select(make_spec(group=("db", "affinity", ["a"])), hosts)
    assert d.chosen == ["a"]


def test_ignore_hosts_are_skipped_and_explained():
    hosts = [make_host("a", memory_mb=65536), make_host("b")]
    d = Scheduler().select(make_spec(ignore_hosts=frozenset({"a"})), hosts)
    assert d.chosen == ["b"]
    assert d.rejected["a"].startswith("ignore_hosts")


def test_host_subset_size_picks_among_the_best_n():
    hosts = [make_host(f"h{i}", memory_mb=1000 * (i + 1)) for i in range(5)]
    picks = {Scheduler({"host_subset_size": 2}, rng=random.Random(seed)).select(
        make_spec(memory_mb=10), hosts).chosen[0] for seed in range(40)}
    assert picks == {"h4", "h3"}


def test_no_hosts_at_all():
    d = Scheduler().select(make_spec(), [])
    assert d.chosen == [] and d.weights == {} and "no hosts" in d.reason
