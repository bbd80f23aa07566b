"""Networks and host interfaces in the TUI, driven as a user over the demo cloud: create a
network on two hosts, drift when one host's definition differs, delete with confirmation;
a bridge change planned (dry run, nothing changed) and applied in a network namespace."""
from __future__ import annotations

import subprocess
import uuid

import pytest

from screens.action_form import ActionFormScreen
from screens.confirm import ConfirmScreen
from screens.host_interfaces import HostInterfacesScreen
from screens.networks import NetworksScreen, TableDialog
from tests.tui.helpers import loaded, screen_text, wait_for


async def open_networks(pilot) -> NetworksScreen:
    await loaded(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, NetworksScreen),
                   what="networks screen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: len(screen.networks) >= 3, what="the default networks")
    return screen


def select_row(screen: NetworksScreen, key: str) -> None:
    screen.table.focus()
    screen.table.move_cursor(row=screen.table.get_row_index(key))


async def test_table_shows_every_hosts_networks(make_app):
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await open_networks(pilot)
        assert set(screen.networks) == {"node1/default", "node2/default", "node3/default"}
        text = screen_text(pilot.app)
        assert "virbr0" in text and "192.168.122.0/24" in text and "nat" in text


async def test_create_on_two_hosts_then_drift(make_app, cloud, ctx):
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_networks(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="new network dialog")
        form = pilot.app.screen
        form.query_one("#field-name").value = "lab"
        form.query_one("#field-mode").value = "nat"
        form.query_one("#field-subnet").value = "192.168.150.0/24"
        hosts = form.query_one("#field-hosts")
        hosts.deselect("node3")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="dialog closed")
        rows = {r["host"]: r for r in cloud.networks.list(ctx) if r["name"] == "lab"}
        assert set(rows) == {"node1", "node2"}
        assert all(r["active"] and r["subnet"] == "192.168.150.0/24" for r in rows.values())
        await wait_for(pilot, lambda: {"node1/lab", "node2/lab"} <= set(screen.networks),
                       what="rows shown")
        # in sync between node1 and node2, but node3 lacks it: the drift says so
        select_row(screen, "node1/lab")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TableDialog),
                       what="drift dialog")
        text = screen_text(pilot.app)
        assert "differ in: defined" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="closed")


async def test_drift_shows_the_differing_field(make_app, cloud, ctx):
    cloud.ensure_hosts()
    cloud.networks.create(ctx, "web", "nat", hosts="node1", subnet="10.70.0.0/24")
    cloud.networks.create(ctx, "web", "nat", hosts="node2", subnet="10.71.0.0/24")
    cloud.networks.create(ctx, "web", "nat", hosts="node3", subnet="10.70.0.0/24")
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_networks(pilot)
        await wait_for(pilot, lambda: "node2/web" in screen.networks, what="web rows")
        select_row(screen, "node2/web")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TableDialog),
                       what="drift dialog")
        dialog = pilot.app.screen
        table = dialog.query_one("DataTable")
        rows = {table.get_row_at(i)[0]: table.get_row_at(i)[1:]
                for i in range(table.row_count)}
        assert rows["subnet"] == ["10.70.0.0/24", "10.71.0.0/24", "10.70.0.0/24"]
        assert "defined" not in rows


async def test_bad_input_and_delete_confirmation(make_app, cloud, ctx):
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_networks(pilot)
        before = cloud.networks.list(ctx)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ActionFormScreen),
                       what="new network dialog")
        form = pilot.app.screen
        form.query_one("#field-name").value = "it's"
        form.query_one("#field-subnet").value = "10.0.0.0/24"
        await pilot.pause()
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await wait_for(pilot, lambda: "bad characters" in str(error.content)
                       or "invalid" in str(error.content).lower(), what="name refused")
        assert cloud.networks.list(ctx) == before
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="closed")
        # delete: cancelled keeps it, confirmed removes it (on that host only)
        select_row(screen, "node2/default")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.screen is screen, what="back")
        await pilot.pause(0.2)
        assert cloud.networks.get(ctx, "default", host="node2")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: "node2/default" not in screen.networks,
                       what="row gone")
        names = {(r["host"], r["name"]) for r in cloud.networks.list(ctx)}
        assert ("node2", "default") not in names and ("node1", "default") in names


# -- host interfaces --------------------------------------------------------------------------
def sh(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def netns():
    name = f"vst-{uuid.uuid4().hex[:8]}"
    try:
        sh("ip", "netns", "add", name)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot create a network namespace here: {exc}")
    try:
        sh("ip", "-n", name, "link", "add", "nic0", "type", "veth", "peer", "name", "peer0")
        sh("ip", "-n", name, "addr", "add", "10.213.9.2/30", "dev", "nic0")
        sh("ip", "-n", name, "link", "set", "nic0", "up")
        sh("ip", "-n", name, "link", "set", "peer0", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


async def open_interfaces(pilot, **kw) -> HostInterfacesScreen:
    await loaded(pilot)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HostInterfacesScreen),
                   what="interfaces screen")
    return pilot.app.screen


async def test_test_driver_host_has_no_interfaces(make_app):
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await open_interfaces(pilot)
        title = screen.query_one("#links-title")
        await wait_for(pilot, lambda: "test-driver host" in str(title.content),
                       what="no interfaces to list, and why")
        assert not screen.links
        screen.query_one("#bridge").value = "br0"
        screen.query_one("#port").value = "eth0"
        await pilot.press("ctrl+r")
        status = screen.query_one("#iface-status")
        await wait_for(pilot, lambda: "test-driver host" in str(status.content),
                       what="the backend's reason")
        assert screen.query_one("#apply-button").disabled


async def test_bridge_plan_then_apply_in_netns(make_app, netns):
    async with make_app().run_test(size=(120, 40)) as pilot:
        screen = await open_interfaces(pilot)
        screen.query_one("#target").value = "netns"
        await pilot.pause()
        screen.query_one("#netns").value = netns
        # the interfaces table follows the target: nic0 with its address, no bridge
        await wait_for(pilot, lambda: "nic0" in screen.links, what="the namespace's links")
        assert screen.links["nic0"]["ipv4"] == ["10.213.9.2/30"]
        assert "br0" not in screen.links
        table = screen.query_one("#links")
        nic_row = table.get_row("nic0")
        assert nic_row[1] == "veth" and nic_row[3] == "up" and "10.213.9.2/30" in nic_row[4]
        assert f"Interfaces on netns {netns}: 3" in str(screen.query_one("#links-title")
                                                        .content)
        screen.query_one("#bridge").value = "br0"
        screen.query_one("#port").value = "nic0"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.plan is not None and not screen.busy,
                       what="the plan")
        text = screen_text(pilot.app)
        assert "dry run" in text and "create bridge br0" in text
        assert "10.213.9.2/30" in text
        # the dry run changed nothing
        links = sh("ip", "-n", netns, "-o", "link", "show").stdout
        assert "br0" not in links
        # inputs changed after the plan: apply refuses until planned again
        screen.query_one("#bridge").value = "br1"
        await pilot.pause()
        assert screen.query_one("#apply-button").disabled
        screen.query_one("#bridge").value = "br0"
        await pilot.pause()
        assert not screen.query_one("#apply-button").disabled
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                       what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: (screen.plan or {}).get("applied"), what="applied")
        assert "Applied" in str(screen.query_one("#iface-status").content)
        addrs = sh("ip", "-n", netns, "-o", "addr", "show", "dev", "br0").stdout
        assert "10.213.9.2/30" in addrs
        assert "master br0" in sh("ip", "-n", netns, "-o", "link", "show", "nic0").stdout
        # the table was read again after the apply: br0 holds the address, nic0 its port
        await wait_for(pilot, lambda: "br0" in screen.links, what="links after the apply")
        assert screen.links["br0"]["ipv4"] == ["10.213.9.2/30"]
        assert screen.links["nic0"]["master"] == "br0" and not screen.links["nic0"]["ipv4"]
        assert table.get_row("nic0")[2] == "br0"
        assert "10.213.9.2/30" in table.get_row("br0")[4]
