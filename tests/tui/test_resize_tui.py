"""Resize from the server details (z), driven as a member on the demo cloud: the flavor list
greys out the current flavor and smaller root disks, a refusal is shown in place and changes
nothing, a resize that fits moves the claim and says what applies at the next boot."""
from __future__ import annotations

from textual.widgets import OptionList

from screens.resize_server import ResizeServerScreen
from screens.vm_detail import VMDetailScreen
from tests.tui.helpers import screen_text, wait_for
from tests.tui.test_create_wizard import make_app, world  # noqa: F401  (fixture)


async def pick(pilot, dialog, flavor: str) -> None:
    ol = dialog.query_one("#flavors", OptionList)
    ol.focus()
    for _ in range(ol.option_count):
        if ol.get_option_at_index(ol.highlighted).id == flavor:
            break
        await pilot.press("down")
    assert ol.get_option_at_index(ol.highlighted).id == flavor
    await pilot.press("enter")


async def test_member_resizes_a_server_from_its_details(world):  # noqa: F811
    c = world.cloud
    c.flavors.create(world.admin, "s2", vcpus=2, ram_mb=4096, root_gb=20)
    [srv] = c.compute.create(world.member, {"name": "web1", "flavor": "m1.small",
                                            "image": "cirros"})
    app = make_app(world)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DashboardScreen"
                       and srv["uuid"] in app.screen.table.servers, what="web1 listed")
        app.screen.open_server(srv["uuid"])
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen)
                       and app.screen.info, what="details")
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, ResizeServerScreen)
                       and app.screen.record is not None, what="the flavor list")
        dialog = app.screen
        text = screen_text(app)
        assert "Now m1.small on node3" in text
        assert "20 GB root  · current" in text and "1 GB root  · smaller root" in text  # m1.tiny: 1 GB root
        disabled = {o.id for o in dialog.query_one("#flavors", OptionList)._options
                    if o.disabled}
        assert disabled == {"m1.small", "m1.tiny", "m1.big"}  # m1.big: 10 GB root

        # a bigger root disk: the test driver cannot grow volumes -- said so, nothing changed
        await pick(pilot, dialog, "m1.medium")
        await wait_for(pilot, lambda: not dialog.running and "Not resized" in
                       screen_text(app), what="the refusal")
        shown = " ".join(str(dialog.query_one("#resize-error").render()).split())
        assert "test driver cannot resize volumes); nothing was changed" in shown, shown
        assert app.screen is dialog
        assert c.compute.records(world.admin)[0]["flavor"] == "m1.small"
        assert c.quotas.show(world.member)["cores"]["in_use"] == 1

        await pick(pilot, dialog, "s2")
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen), timeout=8,
                       what="back on the details")
        [rec] = c.compute.records(world.admin)
        assert (rec["flavor"], rec["vcpus"], rec["memory_mb"]) == ("s2", 2, 4096)
        assert c.quotas.show(world.member)["cores"]["in_use"] == 2
        assert any("m1.small → s2" in n.message and "next boot" in n.message
                   for n in app._notifications)
        await wait_for(pilot, lambda: "2 at next boot" in screen_text(app),
                       what="the overview's next-boot vCPUs")
