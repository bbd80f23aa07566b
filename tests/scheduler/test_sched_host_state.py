import dataclasses

import pytest

from backend.errors import InvalidInput
from backend.scheduler import HostState

from .conftest import make_host, make_spec


def test_limits_and_free_values_follow_the_ratios():
    h = make_host(vcpus=8, vcpus_used=10, memory_mb=32768, memory_mb_used=47000,
                  disk_gb=100, disk_gb_used=30, reserved_host_disk_gb=10,
                  cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5, disk_allocation_ratio=1.0)
    assert h.vcpus_limit == 128 and h.usable_vcpus == 118
    assert h.ram_limit_mb == 49152 and h.usable_ram_mb == 2152
    assert h.free_ram_mb == 32768 - 47000  # physical free goes negative with overcommit
    assert h.usable_disk_gb == 60 and h.free_disk_gb == 60


def test_largest_request_never_exceeds_the_physical_host():
    h = make_host(vcpus=4, memory_mb=1024, ram_allocation_ratio=100.0, cpu_allocation_ratio=100.0)
    assert h.max_ram_request_mb == 1024
    assert h.max_vcpus_request == 4


def test_consume_adds_usage_and_refreshes_derived_values():
    h = make_host(memory_mb=32768, ram_allocation_ratio=1.0)
    h.consume(make_spec(vcpus=2, memory_mb=4096, root_gb=10, ephemeral_gb=5, swap_mb=1024))
    assert (h.vcpus_used, h.memory_mb_used, h.disk_gb_used, h.num_instances) == (2, 4096, 16, 1)
    assert h.usable_ram_mb == 32768 - 4096


def test_fields_are_read_only_so_derived_values_cannot_go_stale():
    h = make_host()
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.memory_mb_used = 5


def test_copy_is_independent():
    h = make_host()
    c = h.copy()
    c.consume(make_spec(memory_mb=2048))
    assert h.memory_mb_used == 0 and c.memory_mb_used == 2048


def test_default_supported_instances_derive_from_arch_and_hypervisor():
    h = make_host(arch="x86_64", hypervisor_type="QEMU")
    assert h.supported_instances == (("x86_64", "qemu", "hvm"),)


@pytest.mark.parametrize("field,value", [("memory_mb", -1), ("vcpus_used", -2),
                                         ("ram_allocation_ratio", 0), ("disk_gb", "10")])
def test_bad_sizes_are_invalid_input(field, value):
    with pytest.raises(InvalidInput, match=field):
        make_host(**{field: value})


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(InvalidInput, match="memory"):
        HostState.from_dict({"name": "a", "memory": 1024})
    assert HostState.from_dict({"name": "a"}).az == "nova"
