"""One assertion per rule for the non-resource filters."""
from backend.scheduler.config import SchedulerConfig
from backend.scheduler.filters.aggregate_instance_extra_specs import \
    AggregateInstanceExtraSpecsFilter
from backend.scheduler.filters.availability_zone import AvailabilityZoneFilter
from backend.scheduler.filters.compute import ComputeFilter
from backend.scheduler.filters.compute_capabilities import ComputeCapabilitiesFilter
from backend.scheduler.filters.image_properties import ImagePropertiesFilter
from backend.scheduler.filters.num_instances import NumInstancesFilter
from backend.scheduler.filters.retry import RetryFilter
from backend.scheduler.filters.server_group import (ServerGroupAffinityFilter,
                                                     ServerGroupAntiAffinityFilter)

from .conftest import make_host, make_spec


def test_retry_rejects_hosts_already_tried():
    f = RetryFilter()
    assert not f.host_passes(make_host("a"), make_spec(retry=frozenset({"a"})))
    assert f.host_passes(make_host("b"), make_spec(retry=frozenset({"a"})))


def test_az_must_match_when_requested():
    f = AvailabilityZoneFilter()
    assert not f.host_passes(make_host(az="az2"), make_spec(az="az1"))
    assert f.host_passes(make_host(az="az1"), make_spec(az="az1"))
    assert f.host_passes(make_host(az="az2"), make_spec())


def test_compute_filter_rejects_disabled_hosts_with_their_reason():
    f = ComputeFilter()
    h = make_host(enabled=False, disabled_reason="maintenance")
    assert not f.host_passes(h, make_spec())
    assert "maintenance" in f.reason(h, make_spec())
    assert f.host_passes(make_host(), make_spec())


def test_num_instances_filter_uses_the_configured_maximum():
    f = NumInstancesFilter(SchedulerConfig(max_instances_per_host=3))
    assert f.host_passes(make_host(num_instances=2), make_spec())
    assert not f.host_passes(make_host(num_instances=3), make_spec())
    assert not NumInstancesFilter().host_passes(make_host(num_instances=50), make_spec())
    assert NumInstancesFilter().host_passes(make_host(num_instances=49), make_spec())


# --- ImagePropertiesFilter
def test_image_without_properties_passes_anywhere():
    assert ImagePropertiesFilter().host_passes(make_host(arch="aarch64"), make_spec())


def test_image_architecture_must_be_supported_after_canonicalising():
    f = ImagePropertiesFilter()
    x86 = make_host(arch="x86_64")
    assert f.host_passes(x86, make_spec(image_properties={"architecture": "AMD64"}))
    assert not f.host_passes(x86, make_spec(image_properties={"architecture": "aarch64"}))
    assert "aarch64" in f.reason(x86, make_spec(image_properties={"architecture": "aarch64"}))


def test_image_hypervisor_type_and_vm_mode_match_one_triple():
    f = ImagePropertiesFilter()
    h = make_host(supported_instances=[("x86_64", "kvm", "hvm"), ("i686", "xen", "xen")])
    assert f.host_passes(h, make_spec(image_properties={"hypervisor_type": "KVM",
                                                        "hw_vm_mode": "hv"}))
    # each property exists on some triple, but no single triple has both
    assert not f.host_passes(h, make_spec(image_properties={"hypervisor_type": "kvm",
                                                            "vm_mode": "pv"}))
    assert f.host_passes(h, make_spec(image_properties={"hypervisor_type": "xapi",
                                                        "vm_mode": "pv"}))


def test_image_property_fails_on_host_advertising_nothing():
    h = make_host(supported_instances=[])
    assert not ImagePropertiesFilter().host_passes(
        h, make_spec(image_properties={"architecture": "x86_64"}))


def test_image_hypervisor_version_requirement():
    f = ImagePropertiesFilter()
    h = make_host(hypervisor_version=6002000)  # nova's integer form of 6.2.0
    assert f.host_passes(h, make_spec(image_properties={"hypervisor_version_requires": ">=6.0"}))
    assert not f.host_passes(h, make_spec(
        image_properties={"hypervisor_version_requires": ">=6.0, <6.2"}))


# --- server groups
def test_anti_affinity_rejects_hosts_running_a_member():
    f = ServerGroupAntiAffinityFilter()
    spec = make_spec(group=("web", "anti-affinity", ["a"]))
    assert not f.host_passes(make_host("a"), spec)
    assert f.host_passes(make_host("b"), spec)
    assert f.host_passes(make_host("a"), make_spec(group=("web", "affinity", ["a"])))


def test_affinity_keeps_only_member_hosts_once_there_are_members():
    f = ServerGroupAffinityFilter()
    assert f.host_passes(make_host("b"), make_spec(group=("db", "affinity", [])))
    spec = make_spec(group=("db", "affinity", ["a"]))
    assert f.host_passes(make_host("a"), spec)
    assert not f.host_passes(make_host("b"), spec)
    assert f.host_passes(make_host("b"), make_spec(group=("db", "anti-affinity", ["a"])))


# --- ComputeCapabilitiesFilter
def test_capabilities_scoped_specs_use_the_operators():
    f = ComputeCapabilitiesFilter()
    h = make_host(capabilities={"cpu_info": {"vendor": "Intel", "features": ["vmx", "aes"]},
                                "numa_nodes": 2})
    assert f.host_passes(h, make_spec(extra_specs={"capabilities:cpu_info:vendor": "Intel"}))
    assert not f.host_passes(h, make_spec(extra_specs={"capabilities:cpu_info:vendor": "AMD"}))
    assert f.host_passes(h, make_spec(extra_specs={
        "capabilities:cpu_info:features": "<all-in> vmx aes", "capabilities:numa_nodes": ">= 2"}))
    assert not f.host_passes(h, make_spec(extra_specs={"capabilities:numa_nodes": ">= 3"}))


def test_capabilities_missing_on_the_host_fail_and_other_scopes_are_ignored():
    f = ComputeCapabilitiesFilter()
    h = make_host(capabilities={})
    spec = make_spec(extra_specs={"capabilities:gpu": "s== a100"})
    assert not f.host_passes(h, spec)
    assert "does not report gpu" in f.reason(h, spec)
    assert f.host_passes(h, make_spec(extra_specs={"hw:cpu_policy": "dedicated", "ssd": "true"}))


# --- AggregateInstanceExtraSpecsFilter
def test_aggregate_extra_specs_match_aggregate_metadata():
    f = AggregateInstanceExtraSpecsFilter()
    fast = make_host(aggregates=[{"name": "fast", "metadata": {"ssd": "true", "gen": "3"}}])
    plain = make_host(aggregates=[{"name": "plain", "metadata": {"ssd": "false"}}])
    spec = make_spec(extra_specs={"ssd": "true"})
    assert f.host_passes(fast, spec)
    assert not f.host_passes(plain, spec)
    scoped = make_spec(extra_specs={"aggregate_instance_extra_specs:gen": ">= 2"})
    assert f.host_passes(fast, scoped)
    assert not f.host_passes(plain, scoped)  # key not set by any aggregate
    assert f.host_passes(plain, make_spec(extra_specs={"capabilities:x": "1"}))


def test_aggregate_extra_specs_any_aggregate_value_may_match():
    h = make_host(aggregates=[{"name": "a", "metadata": {"tier": "gold"}},
                              {"name": "b", "metadata": {"tier": "silver"}}])
    assert AggregateInstanceExtraSpecsFilter().host_passes(
        h, make_spec(extra_specs={"tier": "silver"}))


def test_non_string_extra_spec_values_compare_as_text():
    h = make_host(aggregates=[{"name": "a", "metadata": {"ssd": True, "gen": 3}}])
    assert AggregateInstanceExtraSpecsFilter().host_passes(
        h, make_spec(extra_specs={"ssd": True, "gen": ">= 2"}))
