"""Server resize on the demo cloud: the delta claimed on the same host and in the project's
quota atomically, vCPUs/memory through the edit code, and every refusal leaves the books,
the server row and the domain as they were."""
from __future__ import annotations

import json

import pytest

from backend.errors import (Conflict, InvalidInput, NoValidHost, NotSupported, PolicyDenied,
                            QuotaExceeded)
from tests.compute.test_create_demo import qcow2


@pytest.fixture
def web1(world, tmp_path):
    c = world.cloud
    c.images.create(world.admin, "cirros", qcow2(tmp_path / "c.qcow2"), disk_format="qcow2")
    c.flavors.create(world.admin, "s2", vcpus=2, ram_mb=4096, root_gb=20)  # m1.small's disk
    [srv] = c.compute.create(world.member, {"name": "web1", "flavor": "m1.small",
                                            "image": "cirros"})
    assert srv["status"] == "ACTIVE" and srv["host"] == "node3", srv["fault"]
    return srv


def books(world, host="node3"):
    """Everything a resize may change in the DB: quota usage, the host's claims, the row."""
    c = world.cloud
    q = c.quotas.show(world.member)
    node = c.compute.resources(world.admin, host)[0]
    [rec] = [r for r in c.compute.records(world.admin) if r["name"] == "web1"]
    return ({k: q[k]["in_use"] for k in ("instances", "cores", "ram", "volumes", "gigabytes")},
            {k: node[k]["claimed"] for k in ("vcpus", "memory_mb", "disk_gb")},
            node["instances"],
            {k: rec[k] for k in ("flavor", "vcpus", "memory_mb", "disk_gb")})


def domain(world):
    """(vCPUs, MB) the domain will have at its next boot (its definition)."""
    info = world.cloud.servers.get(world.admin, "web1")
    nb = info.get("next_boot") or {}
    return nb.get("vcpus", info["vcpus"]), nb.get("memory_mb", info["memory_mb"])


def test_resize_up_within_quota_moves_claims_quota_and_domain(world, web1):
    c = world.cloud
    out = c.compute.resize(world.member, "web1", "s2")
    assert (out["old_flavor"], out["flavor"], out["host"]) == ("m1.small", "s2", "node3")
    # the test-driver guest runs with 1 vCPU / 2048 MB as its maximum: next boot, said so
    assert out["changes"] == {"vcpus": "next boot", "memory_mb": "next boot"}
    assert "next boot" in out["note"]
    quota, claimed, instances, row = books(world)
    assert quota == {"instances": 1, "cores": 2, "ram": 4096, "volumes": 1, "gigabytes": 20}
    assert claimed == {"vcpus": 2, "memory_mb": 4096, "disk_gb": 20}
    assert instances == 1
    assert row == {"flavor": "s2", "vcpus": 2, "memory_mb": 4096, "disk_gb": 20.0}
    assert domain(world) == (2, 4096)

    # back down to the smaller flavor: released, and live (within what the guest started with)
    out = c.compute.resize(world.member, "web1", "m1.small")
    assert out["applied"] == "live"
    quota, claimed, _, row = books(world)
    assert (quota["cores"], quota["ram"]) == (1, 2048)
    assert claimed == {"vcpus": 1, "memory_mb": 2048, "disk_gb": 20}
    assert row["flavor"] == "m1.small" and domain(world) == (1, 2048)
    audit = c.identity.audit_log.list(action="server:resize")
    assert [a["outcome"] for a in audit] == ["success", "success"]


def test_resize_over_quota_is_denied_and_changes_nothing(world, web1):
    c = world.cloud
    c.quotas.set(world.admin, "p1", cores=1)
    before, dom_before = books(world), domain(world)
    with pytest.raises(QuotaExceeded) as err:
        c.compute.resize(world.member, "web1", "s2")
    assert "cores" in err.value.message and "limit 1" in err.value.message
    assert "in use 1" in err.value.message
    assert books(world) == before and domain(world) == dom_before


def test_resize_past_the_host_limit_is_denied_and_changes_nothing(world, web1):
    c = world.cloud
    c.registry.get("node3").cfg.ram_allocation_ratio = 1.0  # limit = physical 128 GiB
    c.quotas.set(world.admin, "p1", ram=-1)
    free = c.compute.resources(world.admin, "node3")[0]["memory_mb"]["free"]
    c.flavors.create(world.admin, "fat", vcpus=1, ram_mb=int(2048 + free + 1024), root_gb=20)
    before, dom_before = books(world), domain(world)
    with pytest.raises(NoValidHost) as err:
        c.compute.resize(world.member, "web1", "fat")
    assert "node3 has no room to resize" in err.value.message
    assert "RAM: limit 131072 MB" in err.value.message
    assert books(world) == before and domain(world) == dom_before


def test_a_disabled_host_takes_no_bigger_server(world, web1):
    c = world.cloud
    c.compute.set_host_enabled(world.admin, "node3", False, "maintenance")
    before = books(world)
    with pytest.raises(NoValidHost, match="disabled"):
        c.compute.resize(world.member, "web1", "s2")
    assert books(world) == before


def test_a_root_disk_never_shrinks(world, web1):
    c = world.cloud
    before = books(world)
    with pytest.raises(InvalidInput, match="root disk cannot shrink"):
        c.compute.resize(world.member, "web1", "m1.tiny")
    with pytest.raises(InvalidInput, match="already has flavor"):
        c.compute.resize(world.member, "web1", "m1.small")
    assert books(world) == before


def test_a_bigger_root_disk_on_the_test_driver_rolls_back(world, web1):
    c = world.cloud
    before, dom_before = books(world), domain(world)
    with pytest.raises(NotSupported) as err:
        c.compute.resize(world.member, "web1", "m1.medium")  # root 20 -> 40 GB
    assert "test driver cannot resize volumes" in err.value.message
    assert "nothing was changed" in err.value.message
    assert books(world) == before and domain(world) == dom_before


def test_unmanaged_servers_and_other_projects_are_refused(world, web1):
    c = world.cloud
    other = next(r for r in c.servers.list(world.admin, host="node1"))
    with pytest.raises(Conflict, match="adopt it first"):
        c.compute.resize(world.admin, other["name"], "s2", host="node1")
    with pytest.raises(PolicyDenied):
        c.compute.resize(world.other, "web1", "s2")
    assert books(world)[3]["flavor"] == "m1.small"


def test_cli_server_resize_json(tmp_path, monkeypatch, capsys):
    from tui.cli import main
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "cfg")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for var in ("VIRTSTACK_CONFIG", "VIRTSTACK_TOKEN", "VIRTSTACK_USERNAME",
                "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT", "VIRTSTACK_DB_URL"):
        monkeypatch.delenv(var, raising=False)

    def run(*argv):
        code = main(["--demo", "-f", "json", *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    assert run("image", "create", "cirros", "--file", qcow2(tmp_path / "c.qcow2"))[0] == 0
    assert run("flavor", "create", "s2", "--vcpus", "2", "--ram", "4096", "--disk", "20")[0] == 0
    code, out, err = run("server", "create", "vm", "--flavor", "m1.small", "--image", "cirros")
    assert code == 0, err
    code, out, err = run("server", "resize", "vm", "--flavor", "s2")
    assert code == 0, err
    assert (out["flavor"], out["vcpus"], out["memory_mb"]) == ("s2", 2, 4096)
    assert out["changes"] == {"vcpus": "next boot", "memory_mb": "next boot"}
    code, out, _ = run("server", "records")
    assert [r["flavor"] for r in out if r["name"] == "vm"] == ["s2"]
    code, _, err = run("server", "resize", "vm", "--flavor", "m1.tiny")
    assert code == 2 and "root disk cannot shrink" in err
