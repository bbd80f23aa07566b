import pytest

from backend.scheduler import Scheduler
from backend.scheduler.weighers import normalize
from backend.scheduler.weighers.cpu import CPUWeigher
from backend.scheduler.weighers.disk import DiskWeigher
from backend.scheduler.weighers.num_instances import NumInstancesWeigher
from backend.scheduler.weighers.ram import RAMWeigher

from .conftest import make_host, make_spec

NO_FILTERS = {"enabled_filters": []}


def test_raw_values():
    h = make_host(vcpus=8, vcpus_used=10, cpu_allocation_ratio=2.0, memory_mb=1000,
                  memory_mb_used=1500, disk_gb=100, disk_gb_used=40, num_instances=7)
    s = make_spec()
    assert RAMWeigher().weigh(h, s) == -500   # total - used, negative when overcommitted
    assert CPUWeigher().weigh(h, s) == 6      # 8 x 2 - 10
    assert DiskWeigher().weigh(h, s) == 60
    assert NumInstancesWeigher().weigh(h, s) == 7


def test_normalize_range_and_all_equal():
    assert normalize([10, 20, 30]) == [0.0, 0.5, 1.0]
    assert normalize([5, 5, 5]) == [0.0, 0.0, 0.0]
    assert normalize([10, 20], minval=0) == [0.5, 1.0]
    assert normalize([-10, 10], minval=0) == [0.0, 1.0]  # a value below the bound widens it


def weights(config, hosts, spec=None):
    return Scheduler({**NO_FILTERS, **config}).select(spec or make_spec(), hosts).weights


def test_ram_weigher_normalises_against_zero_and_the_best_host():
    hosts = [make_host("a", memory_mb=1000), make_host("b", memory_mb=4000)]
    assert weights({"weighers": {"RAMWeigher": 1.0}}, hosts) == {"b": 1.0, "a": 0.25}


def test_all_equal_weighs_zero_and_ties_keep_host_order():
    hosts = [make_host(n, num_instances=3) for n in ("c", "a", "b")]
    d = Scheduler({**NO_FILTERS, "weighers": {"NumInstancesWeigher": 1.0}}).select(
        make_spec(), hosts)
    assert d.weights == {"c": 0.0, "a": 0.0, "b": 0.0}
    assert list(d.weights) == ["c", "a", "b"]
    assert d.chosen == ["c"]


def test_ties_after_weighing_pick_the_first_host_in_order():
    hosts = [make_host("x", memory_mb=1000), make_host("y", memory_mb=4000),
             make_host("z", memory_mb=4000)]
    assert Scheduler({**NO_FILTERS}).select(make_spec(), hosts).chosen == ["y"]


def test_negative_ram_multiplier_stacks_onto_the_fullest_host():
    hosts = [make_host("empty", memory_mb=8000), make_host("busy", memory_mb=8000,
                                                           memory_mb_used=6000)]
    spread = Scheduler({**NO_FILTERS}).select(make_spec(), hosts)
    stack = Scheduler({**NO_FILTERS, "weighers": {"RAMWeigher": -1.0}}).select(make_spec(), hosts)
    assert spread.chosen == ["empty"]
    assert stack.chosen == ["busy"]
    assert stack.weights == {"busy": -0.25, "empty": -1.0}


def test_multipliers_scale_and_weighers_sum():
    hosts = [make_host("a", memory_mb=4000, num_instances=0),
             make_host("b", memory_mb=2000, num_instances=10)]
    w = weights({"weighers": {"RAMWeigher": 2.0, "NumInstancesWeigher": -1.0}}, hosts)
    assert w["a"] == pytest.approx(2.0 * 1.0 - 1.0 * 0.0)
    assert w["b"] == pytest.approx(2.0 * 0.5 - 1.0 * 1.0)


def test_weighing_only_counts_hosts_that_passed():
    hosts = [make_host("small", memory_mb=2000), make_host("huge", memory_mb=100000,
                                                           enabled=False)]
    d = Scheduler({"enabled_filters": ["ComputeFilter"]}).select(make_spec(), hosts)
    assert d.weights == {"small": 1.0}


def test_ties_keep_host_order_with_several_weighers():
    hosts = [make_host(n, memory_mb=m, num_instances=k)
             for n, m, k in (("p", 2000, 1), ("q", 4000, 2), ("r", 4000, 2), ("s", 2000, 1))]
    d = Scheduler({**NO_FILTERS, "weighers": {"RAMWeigher": 1.0, "NumInstancesWeigher": 0.5}}
                  ).select(make_spec(), hosts)
    assert d.chosen == ["q"]
    assert list(d.weights) == ["q", "r", "p", "s"]
