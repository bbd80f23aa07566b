"""The console pane on the real daemon over qemu+ssh://: a TCG guest's SeaBIOS banner shows in
the TUI, and the details screen of that local host lists the qemu process's vCPU thread.

The guest is started paused so that the console is open before SeaBIOS prints."""
from __future__ import annotations

import time

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.config import load_settings
from screens.console import ConsoleScreen
from screens.vm_detail import VMDetailScreen
from tests.integration.test_console_real import NAME, paused_guest, write_config  # noqa: F401
from tui.app import VirtstackApp


async def wait_for(pilot, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)


async def test_console_pane_shows_seabios(tmp_path, real_host, paused_guest):  # noqa: F811
    settings = load_settings(write_config(tmp_path / "c.toml", real_host))
    settings.state_dir = tmp_path / "state"
    settings.data_dir = tmp_path / "data"
    cloud = Cloud(settings, connect=False)
    host = cloud.registry.get("kvm1")
    app = VirtstackApp(cloud, RequestContext.system(), settings)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: host.state == "connected" and host.find(NAME),
                           60, "the host and its VM")
            dash = app.screen
            await wait_for(pilot, lambda: any(r.get("name") == NAME
                                              for r in dash.table.servers.values()),
                           10, "the VM row")
            dash.open_server(host.find(NAME)["uuid"])
            await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen)
                           and app.screen.info, 20, "the details")
            detail = app.screen
            # 127.0.0.1 is this machine: the qemu process and its one vCPU thread.
            threads = detail.query_one("#threads")
            await wait_for(pilot, lambda: threads.display and threads.row_count == 1, 20,
                           "the vCPU thread row")
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen)
                           and app.screen.is_open, 30, "the console session")
            pane = app.screen
            paused_guest.resume()
            await wait_for(pilot, lambda: "SeaBIOS" in pane.output(), 30, "SeaBIOS")
            print("pane:", pane.output())
            await pilot.press("enter")          # typing reaches the guest without error
            await pilot.pause(0.3)
            assert pane.is_open
            await pilot.press("ctrl+right_square_bracket")
            await wait_for(pilot, lambda: app.screen is detail, 10, "back on the details")
    finally:
        cloud.close()
