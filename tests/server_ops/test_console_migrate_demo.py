"""On the demo cloud the console and migration say clearly that the test driver can't;
the scheduler still picks a destination."""
import pytest

from backend import errors
from tests.server_ops.conftest import first


def test_console_not_supported_is_said_clearly(demo, admin):
    vm = first(demo, admin, "running")
    with pytest.raises(errors.NotSupported, match="cannot open a serial console"):
        demo.server_ops.console(admin, vm["name"], on_output=lambda b: None)


def test_migration_not_supported_on_test_driver(demo, admin):
    vm = first(demo, admin, "running")
    dest = "node2" if vm["host"] != "node2" else "node3"
    with pytest.raises(errors.NotSupported, match="test driver cannot migrate"):
        demo.server_ops.migrate(admin, vm["name"], dest)
    assert demo.servers.get(admin, vm["name"])["host"] == vm["host"]


def test_shutoff_server_is_not_live_migrated(demo, admin, monkeypatch):
    from backend.compute import migrate
    vm = first(demo, admin, "shutoff")
    h = demo.registry.get(vm["host"])
    monkeypatch.setitem(h._info, "hypervisor", "QEMU")  # get past the test-driver check
    with pytest.raises(errors.Conflict, match="needs running or paused"):
        migrate.migrate_server(h, vm["uuid"], "qemu+ssh://x/system", dest_name="other")


def test_scheduler_picks_another_host(demo, admin):
    vm = first(demo, admin, "running")
    dest = demo.server_ops.choose_destination(admin, vm["name"])
    assert dest != vm["host"] and dest in {"node1", "node2", "node3"}
    # with every other host excluded there is nowhere to go
    others = {"node1", "node2", "node3"} - {vm["host"]}
    with pytest.raises(errors.NoValidHost):
        demo.server_ops.choose_destination(admin, vm["name"], exclude=others)


def test_evacuate_stops_and_reports_on_first_failure(demo, admin):
    with pytest.raises(errors.NotSupported) as info:
        demo.server_ops.evacuate(admin, "node1")
    msg = info.value.message
    assert "evacuation of node1 stopped at server" in msg and "(1 of " in msg
    audit = demo.identity.audit.list(admin, action="host:evacuate")
    assert audit[0]["outcome"] == "failure"


def test_evacuate_disables_the_host_first(demo, admin):
    with pytest.raises(errors.NotSupported):
        demo.server_ops.evacuate(admin, "node1")
    node1 = demo.compute.resources(admin, "node1")[0]
    assert node1["enabled"] is False and node1["disabled_reason"] == "evacuated"
