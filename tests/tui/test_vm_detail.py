"""The server details screen and what opens from it, driven as a user on the demo cloud:
overview and devices, live graphs, snapshots, edits, clone, migration and evacuation."""
from __future__ import annotations

import pytest
from textual.widgets import Input

from screens.confirm import ConfirmScreen
from screens.edit_server import EditServerScreen
from screens.evacuate import EvacuateScreen
from screens.migrate import MigrateScreen
from screens.prompt import PromptScreen
from screens.snapshots import SnapshotsScreen
from screens.vm_detail import VMDetailScreen
from tests.tui.helpers import loaded, screen_text, wait_for


@pytest.fixture(autouse=True)
def slow_dashboard(monkeypatch):
    import screens.dashboard as dashboard
    monkeypatch.setattr(dashboard, "STATS_INTERVAL", 30.0)


def notified(app, text: str) -> bool:
    """A notification (toast) holds ``text`` (toasts wrap, so not read off the screen)."""
    return any(text in n.message for n in app._notifications)


async def open_details(pilot, name: str) -> VMDetailScreen:
    screen = await loaded(pilot)
    uuid = next(u for u, r in screen.table.servers.items() if r["name"] == name)
    screen.open_server(uuid)
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen)
                   and app.screen.info, what="details")
    await pilot.pause()
    return app.screen


async def test_details_show_disks_with_pool_and_size_nics_and_devices(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "cache-01")
        await wait_for(pilot, lambda: "40.0 GiB" in screen_text(app), what="disk size")
        text = screen_text(app)
        for expected in ("vda", "virtio", "qcow2", "default", "cache-01.qcow2",   # disk
                         "testnet0", "52:54:00",                                    # NIC
                         "Boot order", "hd", "Serial/console", "Graphics",
                         "running", "node1"):
            assert expected in text, expected
        # The demo host is local but runs no qemu: said so, no thread rows.
        await wait_for(pilot, lambda: "no local qemu process" in screen_text(app),
                       what="the qemu process note")
        assert not detail.query_one("#threads").display


async def test_graphs_fill_from_the_bulk_stats_of_this_server_only(make_app, cloud,
                                                                   monkeypatch):
    import screens.vm_detail as vm_detail
    monkeypatch.setattr(vm_detail, "GRAPH_INTERVAL", 0.05)
    asked: list[tuple[str, frozenset]] = []
    real = cloud.servers.stats

    def spy(ctx, host, visible=None):
        asked.append((host, frozenset(visible or ())))
        return real(ctx, host, visible=visible)
    monkeypatch.setattr(cloud.servers, "stats", spy)
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "web-01")
        asked.clear()
        graphs = detail.graphs
        await wait_for(pilot, lambda: graphs.points("cpu") >= 3
                       and graphs.points("disk_read") >= 3 and graphs.points("net_tx") >= 3,
                       what="graph points")
        assert asked and set(asked) == {("node1", frozenset({detail.uuid}))}
        spark = detail.query_one("#spark-cpu")
        n = graphs.points("cpu")
        assert list(spark.data[-n:]) == list(graphs.history["cpu"]) and spark.data[0] == 0
        text = screen_text(app)
        assert "CPU" in text and "Disk read" in text and "Net rx" in text
        assert "B/s" in text
        # The demo's test driver keeps no balloon figures: said so, not a flat fake line.
        assert graphs.points("memory") == 0 and "no balloon" in text


async def test_a_stopped_server_is_not_polled(make_app, cloud, monkeypatch):
    import screens.vm_detail as vm_detail
    monkeypatch.setattr(vm_detail, "GRAPH_INTERVAL", 0.05)
    asked = []
    real = cloud.servers.stats
    monkeypatch.setattr(cloud.servers, "stats",
                        lambda ctx, host, visible=None: asked.append(host)
                        or real(ctx, host, visible=visible))
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "mail-01")
        asked.clear()
        await pilot.pause(0.5)
        assert asked == []
        assert "shutoff: no live figures" in screen_text(app)
        assert detail.graphs.points("cpu") == 0


async def test_snapshot_create_list_revert_and_delete_with_confirmation(make_app, cloud,
                                                                        ctx):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "web-01")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        snaps = app.screen
        await wait_for(pilot, lambda: "No snapshots yet" in screen_text(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"before-upgrade", "enter")
        await wait_for(pilot, lambda: app.screen is snaps and snaps.rows, what="the list")
        assert [r["name"] for r in snaps.rows] == ["before-upgrade"]
        assert "before-upgrade" in screen_text(app)
        backend = cloud.server_ops.snapshot_list(ctx, "web-01", host="node1")
        assert [r["name"] for r in backend] == ["before-upgrade"]

        # A second one, then revert to the first: asked first, "no" changes nothing.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"after", "enter")
        await wait_for(pilot, lambda: len(snaps.rows) == 2, what="two snapshots")
        current = {r["name"] for r in cloud.server_ops.snapshot_list(ctx, "web-01",
                                                                      host="node1")
                   if r["current"]}
        assert current == {"after"}
        table = snaps.query_one("DataTable")
        table.move_cursor(row=table.get_row_index("before-upgrade"))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "before-upgrade" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: {r["name"] for r in cloud.server_ops.snapshot_list(
            ctx, "web-01", host="node1") if r["current"]} == {"before-upgrade"},
            what="reverted")

        # Delete "after": cancelled once, then confirmed.
        table.move_cursor(row=table.get_row_index("after"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.2)
        assert len(cloud.server_ops.snapshot_list(ctx, "web-01", host="node1")) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: [r["name"] for r in snaps.rows] == ["before-upgrade"],
                       what="deleted from the list")
        assert [r["name"] for r in cloud.server_ops.snapshot_list(
            ctx, "web-01", host="node1")] == ["before-upgrade"]
        # Back on the details, the count follows.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is detail
                       and detail.info.get("snapshots") == 1, what="snapshot count")


async def test_clone_makes_a_new_server_and_a_running_source_is_refused(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "mail-01")   # shutoff on node2
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        box = app.screen.query_one(Input)
        assert box.value == "mail-01-clone"
        box.value = "mail-03"
        await pilot.press("enter")
        node2 = cloud.registry.get("node2")
        await wait_for(pilot, lambda: node2.find("mail-03") is not None, what="the clone")
        await wait_for(pilot, lambda: notified(app, "Cloned mail-01 as mail-03"),
                       what="the notification")
        assert node2.find("mail-03")["uuid"] != detail.uuid

        # From the dashboard, on a running server: the backend's reason is shown.
        await pilot.press("escape")
        dash = app.screen
        uuid = next(u for u, r in dash.table.servers.items() if r["name"] == "web-01")
        dash.table.select_uuid(uuid)
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: notified(app, "shut it off or suspend it first"),
                       what="the refusal")
        assert cloud.registry.get("node1").find("web-01-clone") is None


async def test_edit_vcpus_memory_and_autostart_says_when_it_applies(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        detail = await open_details(pilot, "web-01")   # running, 8 vCPUs
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditServerScreen))
        edit = app.screen
        assert edit.query_one("#vcpus", Input).value == "8"
        edit.query_one("#vcpus", Input).value = "4"
        edit.query_one("#autostart").value = True
        await pilot.click("#confirm")
        node1 = cloud.registry.get("node1")
        await wait_for(pilot, lambda: node1.find("web-01")["vcpus"] == 4
                       and detail.info.get("vcpus") == 4, what="vCPUs changed")
        await wait_for(pilot, lambda: notified(app, "vCPUs → 4: "), what="the summary")
        assert notified(app, "vCPUs → 4: live") or notified(app, "vCPUs → 4: next boot")
        assert detail.info.get("autostart") is True

        # An invalid value is refused in the dialog; nothing is sent.
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditServerScreen))
        app.screen.query_one("#vcpus", Input).value = "0"
        await pilot.click("#confirm")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EditServerScreen)
        await pilot.press("escape")
        assert node1.find("web-01")["vcpus"] == 4


async def test_migrate_on_the_demo_says_the_test_driver_cannot(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_details(pilot, "web-01")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        mig = app.screen
        text = screen_text(app)
        assert "Let the scheduler choose" in text and "node2" in text and "node3" in text
        await wait_for(pilot, lambda: "The scheduler would pick" in screen_text(app),
                       what="the scheduler's pick")
        await pilot.press("down", "enter")          # a named host: node2
        await wait_for(pilot, lambda: "Not migrated" in screen_text(app), what="the answer")
        assert "test driver cannot migrate" in screen_text(app)
        assert not mig.running
        assert cloud.registry.get("node1").find("web-01") is not None
        await pilot.press("escape")
        assert isinstance(app.screen, VMDetailScreen)


async def test_evacuate_from_the_palette_stops_at_the_first_server_and_says_why(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Evacuate host node1")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EvacuateScreen))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: "Stopped:" in screen_text(app), what="the report")
        text = screen_text(app)
        assert "stopped at server" in text and "test driver cannot migrate" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, EvacuateScreen)


async def test_dashboard_m_opens_migration_for_the_cursor_row(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        dash = await loaded(pilot)
        uuid = next(u for u, r in dash.table.servers.items() if r["name"] == "db-01")
        dash.table.select_uuid(uuid)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        assert app.screen.server_name == "db-01" and app.screen.host == "node1"


async def test_details_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_details(pilot, "web-01")
        assert detail.has_class("-narrow")
        text = screen_text(app)
        assert "web-01" in text and "vCPUs" in text
        assert "Console" in text  # the footer's keys
