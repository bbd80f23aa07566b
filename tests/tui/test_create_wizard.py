"""The create wizard on the demo cloud, driven as a member would: the live preview names the
filter that removed each host and why, Create builds the server (ACTIVE in the backend),
and bad input shows the backend's message and creates nothing."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest

from backend.api.cloud import Cloud
from backend.virt.demo import demo_settings
from tests.tui.helpers import screen_text, wait_for

ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"


@dataclass
class World:
    cloud: Cloud
    settings: object
    admin: object
    member: object


def login(cloud, user, password, project=None):
    token, _ = cloud.identity.authenticate(user, password, project)
    return cloud.identity.context_from_token(token)


def qcow2(path, size_gb=1):
    path.write_bytes(b"QFI\xfb" + b"\0\0\0\x03" + b"\0" * 16 + struct.pack(">Q", size_gb << 30)
                     + b"\0" * 480)
    return str(path)


@pytest.fixture
def world(tmp_path):
    settings = demo_settings(tmp_path)
    settings.password_hash_profile = "fast"  # tests only
    cloud = Cloud(settings)
    ident = cloud.identity
    ident.bootstrap(ADMIN_PASSWORD)
    admin = login(cloud, "admin", ADMIN_PASSWORD)
    ident.projects.create(admin, "p1")
    ident.users.create(admin, "alice", PASSWORD, project="p1")
    ident.assignments.add(admin, "alice", "p1", "member")
    cloud.images.create(admin, "cirros", qcow2(tmp_path / "c.qcow2"), disk_format="qcow2")
    # 16 GiB of RAM: more than node1 has left (1.5 x 32768 - 36864 = 12288 MB)
    cloud.flavors.create(admin, "m1.big", vcpus=2, ram_mb=16384, root_gb=10)
    cloud.compute.set_host_enabled(admin, "node2", False, "maintenance window")
    w = World(cloud, settings, admin, login(cloud, "alice", PASSWORD))
    yield w
    cloud.close()


def make_app(w: World):
    from tui.app import VirtstackApp
    return VirtstackApp(w.cloud, w.member, w.settings)


async def open_wizard(pilot):
    from screens.create_wizard import CreateWizardScreen
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "DashboardScreen",
                   what="the dashboard")
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CreateWizardScreen),
                   what="the wizard")
    wiz = pilot.app.screen
    await wait_for(pilot, lambda: wiz._loaded, what="flavors and images")
    return wiz


async def choose(pilot, wiz, select_id: str, value: str):
    """Pick an option as a user does: focus the list, open it, arrow down to it, enter."""
    from textual.widgets import Select
    sel = wiz.query_one(f"#{select_id}", Select)
    values = [v for _label, v in sel._options if v is not Select.NULL]
    sel.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    current = sel.selection
    start = values.index(current) if current in values else -1
    target = values.index(value)
    for _ in range(abs(target - start)):
        await pilot.press("down" if target > start else "up")
    await pilot.press("enter")
    await wait_for(pilot, lambda: sel.value == value, what=f"{select_id} = {value}")


async def type_name(pilot, wiz, name: str):
    from textual.widgets import Input
    box = wiz.query_one("#name", Input)
    box.focus()
    await pilot.pause()
    for ch in name:
        await pilot.press(ch)


async def preview_settled(pilot, wiz, predicate, what):
    await wait_for(pilot, lambda: wiz._timer is None and (wiz.preview or wiz.preview_error)
                   and predicate(), timeout=8, what=what)


async def test_member_creates_a_server_through_the_wizard(world):
    app = make_app(world)
    async with app.run_test(size=(160, 50)) as pilot:
        wiz = await open_wizard(pilot)
        await type_name(pilot, wiz, "web1")
        await choose(pilot, wiz, "flavor", "m1.big")
        await choose(pilot, wiz, "image", "cirros")

        def decided():
            p = wiz.preview
            return p is not None and p["chosen"] == ["node3"] and \
                wiz.request()["flavor"] == "m1.big"
        await preview_settled(pilot, wiz, decided, "the preview of m1.big")
        hosts = {h["host"]: h for h in wiz.preview["hosts"]}
        assert hosts["node1"]["rejected_by"].startswith("RamFilter: 1.5 x 32768 - 36864")
        assert hosts["node2"]["rejected_by"] == "ComputeFilter: host disabled " \
                                                "(maintenance window)"
        assert hosts["node3"]["passes"] and hosts["node3"]["rejected_by"] is None
        # what the user reads: the verdict, every rejection with its reason, the figures
        # after placement (node3: 56320 + 16384 MB of its 196608 MB limit)
        text = screen_text(app)
        assert "Would place on node3" in text
        assert "RamFilter: 1.5 x 32768 - 36864 = 12288 MB free < 16384 MB" in text
        assert "ComputeFilter: host disabled (maintenance window)" in text
        assert "▶ node3  vCPU 31/512  RAM 71.0/192.0 GiB  disk 65/100 GB" in text
        assert "3 hosts → RamFilter 2 → ComputeFilter 1" in text
        assert hosts["node3"]["memory_mb_used"] == 56320 + 16384
        assert world.cloud.compute.records(world.admin) == []  # a preview writes nothing

        # a flavor that fits nowhere: the preview says which filter emptied the list
        await choose(pilot, wiz, "flavor", "m1.xlarge")
        await preview_settled(pilot, wiz, lambda: wiz.preview and not wiz.preview["ok"],
                              "the preview of m1.xlarge")
        assert "none left after" in screen_text(app)
        await choose(pilot, wiz, "flavor", "m1.big")
        await preview_settled(pilot, wiz, lambda: wiz.preview and wiz.preview["ok"],
                              "m1.big again")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DashboardScreen",
                       timeout=10, what="back on the dashboard")
        [srv] = world.cloud.compute.records(world.admin)
        assert (srv["name"], srv["status"], srv["host"], srv["flavor"]) == \
            ("web1", "ACTIVE", "node3", "m1.big")
        assert srv["project_id"] == world.member.project_id
        assert world.cloud.servers.get(world.member, "web1")["state"] == "running"
        assert wiz.result and wiz.result[0]["status"] == "ACTIVE"
        # the member's dashboard shows the new server (a libvirt "defined" event)
        await wait_for(pilot, lambda: any(r["name"] == "web1" for r in
                                          app.screen.table.servers.values()),
                       what="web1 on the dashboard")


async def test_bad_input_shows_the_backends_message_and_creates_nothing(world):
    app = make_app(world)
    async with app.run_test(size=(160, 50)) as pilot:
        wiz = await open_wizard(pilot)
        await type_name(pilot, wiz, "bad name")
        await preview_settled(pilot, wiz, lambda: wiz.preview_error is not None,
                              "the name refused")
        assert "invalid server name 'bad name'" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not wiz.creating and "Not created" in screen_text(app),
                       what="the refusal")
        assert "bad characters: ' '" in screen_text(app)
        assert world.cloud.compute.records(world.admin, include_deleted=True) == []

        # the flavor chosen in the list disappears before Create: the backend's NotFound
        for _ in "bad name":
            await pilot.press("backspace")
        await type_name(pilot, wiz, "ok1")
        await choose(pilot, wiz, "flavor", "m1.big")
        world.cloud.flavors.delete(world.admin, "m1.big")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not wiz.creating and "Not created: no flavor 'm1.big'"
                       in screen_text(app), what="the unknown flavor")
        assert app.screen is wiz
        assert world.cloud.compute.records(world.admin, include_deleted=True) == []
        assert all(h.find("bad name") is None and h.find("ok1") is None
                   for h in world.cloud.registry.connected())


async def test_a_spawn_failing_everywhere_ends_in_error_with_the_reasons(world):
    # Every host's storage pool stops: the scheduler still passes them (the resource rows
    # keep their disk sizes) but each spawn fails; three hosts tried, then ERROR.
    world.cloud.compute.set_host_enabled(world.admin, "node2", True)
    world.cloud.compute.resources(world.admin)  # the rows learn the pools' sizes first
    for h in world.cloud.registry.connected():
        h.conn().storagePoolLookupByName("default").destroy()
    app = make_app(world)
    async with app.run_test(size=(120, 40)) as pilot:
        wiz = await open_wizard(pilot)
        await type_name(pilot, wiz, "doomed")
        await preview_settled(pilot, wiz, lambda: wiz.preview and wiz.preview["ok"],
                              "a preview that passes")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: wiz.result is not None, timeout=10, what="the build")
        [srv] = wiz.result
        assert srv["status"] == "ERROR"
        assert app.screen is wiz  # stays open to try again
        text = screen_text(app)
        assert "ERROR: doomed:" in text and "storage pool" in text
        for host in ("node1", "node2", "node3"):
            assert f"{host}: " in srv["fault"]
        [rec] = world.cloud.compute.records(world.admin)
        assert rec["status"] == "ERROR" and rec["fault"] == srv["fault"]
        assert all(h.find("doomed") is None for h in world.cloud.registry.connected())
        assert world.cloud.quotas.show(world.member)["instances"]["in_use"] == 0
