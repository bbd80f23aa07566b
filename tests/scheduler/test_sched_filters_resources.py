"""RamFilter, CoreFilter, DiskFilter: nova's legacy overcommit rules."""
from backend.scheduler.filters.core import CoreFilter
from backend.scheduler.filters.disk import DiskFilter
from backend.scheduler.filters.ram import RamFilter

from .conftest import make_host, make_spec


# --- RamFilter: total x ratio - used >= requested, requested <= total
def test_ram_exactly_at_the_limit_passes():
    h = make_host(memory_mb=32768, memory_mb_used=45056, ram_allocation_ratio=1.5)  # 4096 left
    assert RamFilter().host_passes(h, make_spec(memory_mb=4096))


def test_ram_one_mb_over_the_limit_fails_with_the_arithmetic():
    h = make_host(memory_mb=32768, memory_mb_used=47000, ram_allocation_ratio=1.5)
    f = RamFilter()
    assert not f.host_passes(h, make_spec(memory_mb=2153))
    assert f.host_passes(h, make_spec(memory_mb=2152))
    assert f.reason(h, make_spec(memory_mb=4096)) == \
        "1.5 x 32768 - 47000 = 2152 MB free < 4096 MB"


def test_ram_ratio_one_means_no_overcommit():
    h = make_host(memory_mb=8192, memory_mb_used=4096, ram_allocation_ratio=1.0)
    assert RamFilter().host_passes(h, make_spec(memory_mb=4096))
    assert not RamFilter().host_passes(h, make_spec(memory_mb=4097))


def test_ram_flavor_bigger_than_the_host_fails_even_with_a_huge_ratio():
    h = make_host(memory_mb=8192, ram_allocation_ratio=1000.0)
    assert not RamFilter().host_passes(h, make_spec(memory_mb=8193))
    assert "> host total 8192 MB" in RamFilter().reason(h, make_spec(memory_mb=8193))


def test_ram_reserved_memory_counts_as_used():
    h = make_host(memory_mb=8192, reserved_host_memory_mb=1024, ram_allocation_ratio=1.0)
    assert not RamFilter().host_passes(h, make_spec(memory_mb=7169))
    assert RamFilter().host_passes(h, make_spec(memory_mb=7168))


# --- CoreFilter
def test_core_exactly_at_the_limit_passes_and_one_over_fails():
    h = make_host(vcpus=4, vcpus_used=60, cpu_allocation_ratio=16.0)  # 64 - 60 = 4
    assert CoreFilter().host_passes(h, make_spec(vcpus=4))
    assert not CoreFilter().host_passes(h, make_spec(vcpus=5))
    assert CoreFilter().reason(h, make_spec(vcpus=5)).startswith("flavor needs 5 vCPUs")


def test_core_flavor_with_more_vcpus_than_physical_cores_fails():
    h = make_host(vcpus=4, cpu_allocation_ratio=1000.0)
    assert not CoreFilter().host_passes(h, make_spec(vcpus=5))


def test_core_ratio_one():
    h = make_host(vcpus=8, vcpus_used=6, cpu_allocation_ratio=1.0)
    assert CoreFilter().host_passes(h, make_spec(vcpus=2))
    assert not CoreFilter().host_passes(h, make_spec(vcpus=3))
    assert CoreFilter().reason(h, make_spec(vcpus=3)) == "1 x 8 - 6 = 2 vCPUs free < 3 vCPUs"


# --- DiskFilter: root + ephemeral + swap (MB -> GB)
def test_disk_counts_root_ephemeral_and_swap():
    h = make_host(disk_gb=100, disk_gb_used=80, disk_allocation_ratio=1.0)  # 20 GB left
    assert DiskFilter().host_passes(h, make_spec(root_gb=10, ephemeral_gb=9, swap_mb=1024))
    assert not DiskFilter().host_passes(h, make_spec(root_gb=10, ephemeral_gb=9, swap_mb=1025))


def test_disk_overcommit_limit_and_physical_cap():
    h = make_host(disk_gb=100, disk_gb_used=150, disk_allocation_ratio=2.0)  # 50 left
    assert DiskFilter().host_passes(h, make_spec(root_gb=50))
    assert not DiskFilter().host_passes(h, make_spec(root_gb=51))
    assert DiskFilter().reason(h, make_spec(root_gb=51)) == "2 x 100 - 150 = 50 GB free < 51 GB"
    big = make_host(disk_gb=100, disk_allocation_ratio=50.0)
    assert not DiskFilter().host_passes(big, make_spec(root_gb=101))
