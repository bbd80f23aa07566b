"""Issue 2 on the real daemon, from the TUI: the dashboard drives a TCG VM on a libvirtd host
reached over qemu+ssh:// (verified host key), and shows the host dropping and coming back."""
from __future__ import annotations

import time

import libvirt
import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import load_settings
from screens.confirm import ConfirmScreen
from tests.integration.test_remote_host import write_config
from tests.realhost import tiny_domain_xml
from tui.app import VirtstackApp


async def wait_for(pilot, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


@pytest.fixture
def tui_vm(real_host):
    conn = libvirt.open(real_host.local_uri)
    conn.defineXML(tiny_domain_xml("vs-tui"))
    yield "vs-tui"
    try:
        dom = conn.lookupByName("vs-tui")
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    conn.close()


async def test_tui_drives_a_vm_and_survives_the_host_dropping(tmp_path, real_host, tui_vm):
    settings = load_settings(write_config(tmp_path / "c.toml", real_host))
    settings.state_dir = tmp_path / "state"
    settings.data_dir = tmp_path / "data"
    cloud = Cloud(settings, connect=False)
    host = cloud.registry.get("kvm1")
    app = VirtstackApp(cloud, RequestContext.system(), settings)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: host.state == "connected" and host.find(tui_vm),
                           60, "the host and its VM")
            screen = app.screen
            await wait_for(pilot, lambda: any(r.get("name") == tui_vm
                                              for r in screen.table.servers.values()),
                           10, "the VM row")
            uuid = host.find(tui_vm)["uuid"]
            screen.table.move_cursor(row=screen.table.get_row_index(uuid))
            await pilot.pause()
            await pilot.press("s")
            await wait_for(pilot, lambda: host.find(tui_vm)["state"] == "running", 30,
                           "started on the daemon")
            await wait_for(pilot, lambda: screen.table.servers[uuid]["state"] == "running",
                           10, "the row to say running")
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: host.find(tui_vm)["state"] == "shutoff", 30,
                           "forced off")
            # the host drops: the screen keeps working and shows it disconnected
            real_host.stop_sshd()
            real_host.stop_libvirtd()
            try:
                await wait_for(pilot, lambda: host.state != "connected", 30, "the drop")
                await pilot.press("down")  # the UI still answers keys
                await pilot.pause(0.5)
                assert app.is_running
            finally:
                real_host.start_libvirtd()
                real_host.start_sshd()
            await wait_for(pilot, lambda: host.state == "connected", 90, "the reconnect")
            await wait_for(pilot, lambda: any(r.get("name") == tui_vm
                                              for r in screen.table.servers.values()),
                           15, "the VM row after the reconnect")
    finally:
        cloud.close()
