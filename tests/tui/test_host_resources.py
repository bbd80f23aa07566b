"""The host resources view (``H``): per host vCPU, RAM and disk gauges whose figures are the
backend's (``cloud.compute.resources``), unmanaged usage shown, a disabled host with its
reason; a server created meanwhile shows up after a reload."""
from __future__ import annotations

from tests.tui.helpers import screen_text, wait_for
from tests.tui.test_create_wizard import make_app, world  # noqa: F401 (fixture)
from tui.widgets.gauge import figures_text, gauge_bar

KEYS = ("vcpus", "memory_mb", "disk_gb")


async def open_resources(pilot):
    from screens.host_resources import HostResourcesScreen
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "DashboardScreen",
                   what="the dashboard")
    await pilot.press("H")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HostResourcesScreen)
                   and len(pilot.app.screen.rows) == 3, what="three hosts")
    await pilot.pause()
    return pilot.app.screen


async def test_gauges_show_the_backends_figures(world):  # noqa: F811
    c = world.cloud
    [srv] = c.compute.create(world.member, {"name": "web1", "flavor": "m1.big",
                                            "image": "cirros"})
    assert srv["host"] == "node3"
    app = make_app(world)
    async with app.run_test(size=(160, 50)) as pilot:
        scr = await open_resources(pilot)
        backend = {r["host"]: r for r in c.compute.resources(world.admin)}
        text = screen_text(app)
        for host, row in backend.items():
            card = scr.card(host)
            for key in KEYS:
                assert card.gauge(key).figures == row[key], (host, key)
                assert figures_text(row[key], key) in text, (host, key)
        # the figures themselves, worked out by hand from the demo hosts
        assert "20/128 · free 108 · 8×16 · unmanaged 20" in text            # node1 vCPU
        assert "36.0/48.0 GiB · free 12.0 · 32.0×1.5 · unmanaged 36.0" in text  # node1 RAM
        # node3: 55 GiB of unmanaged VMs + web1's 16 GiB claim, of 128 GiB x 1.5
        assert backend["node3"]["memory_mb"]["claimed"] == 16384
        assert "71.0/192.0 GiB · free 121.0 · 128.0×1.5 · unmanaged 55.0" in text
        assert "node2" in text and "disabled: maintenance window" in text
        assert scr.card("node2").has_class("-disabled")
        assert "1 server · 8 unmanaged VMs" in text                        # node3

        c.compute.create(world.member, {"name": "web2", "flavor": "m1.tiny",
                                        "image": "cirros"})
        await pilot.press("R")
        await wait_for(pilot, lambda: scr.card("node3").gauge("memory_mb")
                       .figures["claimed"] == 16384 + 512, what="the reload")
        assert "2 servers · 8 unmanaged VMs" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DashboardScreen",
                       what="back")


def test_gauge_bar_parts_and_overcommit():
    f = {"physical": 8, "ratio": 2.0, "limit": 16.0, "claimed": 4, "unmanaged": 2,
         "reserved": 0, "allocated": 6, "free": 10.0}
    bar = gauge_bar(f, 16).plain
    assert bar == "████" + "██" + "░░" + "│" + "░" * 7  # claimed, unmanaged, free, physical
    over = dict(f, allocated=20, free=-4.0)
    assert gauge_bar(over, 10).plain == "█" * 10
    assert figures_text(over, "vcpus") == "20/16 · free -4 · 8×2 · unmanaged 2"
