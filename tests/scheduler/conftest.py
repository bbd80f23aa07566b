from __future__ import annotations

import pytest

from backend.scheduler import Flavor, HostState, RequestSpec, ServerGroup


def make_host(name: str = "h1", **kw) -> HostState:
    base = dict(vcpus=8, memory_mb=32768, disk_gb=1000)
    base.update(kw)
    return HostState(name=name, **base)


def make_spec(vcpus: int = 1, memory_mb: int = 1024, root_gb: int = 10, ephemeral_gb: int = 0,
              swap_mb: int = 0, extra_specs: dict | None = None, group: tuple | None = None,
              **kw) -> RequestSpec:
    flavor = Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb,
                    ephemeral_gb=ephemeral_gb, swap_mb=swap_mb, extra_specs=extra_specs or {})
    if group is not None:
        name, policy, *members = group
        kw["group"] = ServerGroup(name, policy, tuple(members[0]) if members else ())
    return RequestSpec(flavor=flavor, **kw)


@pytest.fixture
def host():
    return make_host


@pytest.fixture
def spec():
    return make_spec
