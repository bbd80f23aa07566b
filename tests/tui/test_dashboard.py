"""The dashboard driven as a user: keys in, then what the screen and the backend hold."""
from __future__ import annotations

import json

from screens.confirm import ConfirmScreen
from screens.delete_server import DeleteServerScreen
from screens.vm_detail import VMDetailScreen
from tests.tui.helpers import loaded, screen_text, wait_for


def put_cursor(screen, name: str, host: str | None = None) -> str:
    table = screen.table
    uuid = next(u for u, r in table.servers.items()
                if r["name"] == name and (host is None or r["host"] == host))
    assert table.select_uuid(uuid)
    return uuid


async def test_rows_and_hosts_appear(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        await wait_for(pilot, lambda: all(s == "connected"
                                          for s in screen.host_states.values()))
        await wait_for(pilot, lambda: "VMs  4 running / 5" in screen_text(app),
                       what="host summaries")
        text = screen_text(app)
        for name in ("web-01", "db-01", "worker-02"):
            assert name in text
        assert "node1" in text and "node3" in text
        assert "20 servers" in text
        # Rows are sorted by name by default.
        names = [screen.table.servers[u]["name"] for u in screen.table.order]
        assert names == sorted(names)


async def test_already_connected_cloud(make_app, settings, ctx):
    """A Cloud whose hosts connected before the App started (no events to wait for)."""
    from backend.api.cloud import Cloud
    from tui.app import VirtstackApp
    cloud = Cloud(settings)  # connects every host synchronously
    try:
        app = VirtstackApp(cloud, ctx, settings)
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await loaded(pilot)
            assert set(screen.host_states.values()) == {"connected"}
    finally:
        cloud.close()


async def test_shutdown_key_stops_the_server(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        uuid = put_cursor(screen, "web-01")
        assert cloud.registry.get("node1").find("web-01")["state"] == "running"
        await pilot.press("o")
        await wait_for(pilot, lambda: cloud.registry.get("node1").find("web-01")["state"]
                       in ("shutoff", "shutdown"), what="backend state")
        await wait_for(pilot, lambda: screen.table.servers[uuid]["state"]
                       in ("shutoff", "shutdown"), what="table state")
        assert str(screen.table.get_cell(uuid, "state")) in ("shutoff", "shutdown")
        await pilot.press("s")  # and start it again
        await wait_for(pilot, lambda: screen.table.servers[uuid]["state"] == "running")
        assert cloud.registry.get("node1").find("web-01")["state"] == "running"


async def test_force_off_asks_first(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        put_cursor(screen, "web-01")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # cancelled: nothing happens
        await pilot.pause(0.3)
        assert cloud.registry.get("node1").find("web-01")["state"] == "running"
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "web-01" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: cloud.registry.get("node1").find("web-01")["state"]
                       == "shutoff", what="forced off")


async def test_filter_narrows_rows(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("slash")
        assert app.focused.id == "filter"
        await pilot.press(*"web")
        await wait_for(pilot, lambda: len(screen.table.order) == 2, what="filtered rows")
        assert {screen.table.servers[u]["name"] for u in screen.table.order} == {
            "web-01", "web-02"}
        text = screen_text(app)
        assert "db-01" not in text and "web-02" in text
        await wait_for(pilot, lambda: "2 of 20 servers" in screen_text(app), what="status")
        # Words narrow further: host and state.
        await pilot.press("space", *"node3")
        await wait_for(pilot, lambda: len(screen.table.order) == 1)
        await pilot.press("enter")  # back to the table, filter kept
        assert app.focused is screen.table
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: len(screen.table.order) == 20)


async def test_sort_keys_and_header_click(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        table = screen.table
        await pilot.press("4")  # vCPUs ascending
        vcpus = [table.servers[u]["vcpus"] for u in table.order]
        assert vcpus == sorted(vcpus)
        await pilot.press("4")  # again: descending
        vcpus = [table.servers[u]["vcpus"] for u in table.order]
        assert vcpus == sorted(vcpus, reverse=True)
        assert "vCPU ▼" in screen_text(app)
        # Clicking the Host header sorts by host.
        await pilot.click(table, offset=(table.column_x("host") + 2, 0))
        await pilot.pause()
        hosts = [table.servers[u]["host"] for u in table.order]
        assert hosts == sorted(hosts) and table.sort_column == "host"


async def test_marks_apply_bulk_action(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        running = [(r["name"], r["host"]) for r in screen.table.servers.values()
                   if r["state"] == "running"][:2]
        for name, host in running:
            put_cursor(screen, name, host)
            await pilot.press("space")
        assert len(screen.table.marked) == 2
        await wait_for(pilot, lambda: "2 marked" in screen_text(app), what="status")
        await pilot.press("p")  # pause both
        await wait_for(pilot, lambda: all(
            cloud.registry.get(h).find(n)["state"] == "paused" for n, h in running),
            what="both paused")
        await pilot.press("u")  # resume both
        await wait_for(pilot, lambda: all(
            cloud.registry.get(h).find(n)["state"] == "running" for n, h in running))
        await pilot.press("escape")
        assert not screen.table.marked


async def test_delete_cancelled_changes_nothing(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        uuid = put_cursor(screen, "db-01")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteServerScreen))
        await pilot.press("enter")  # Cancel has the focus
        await pilot.pause(0.3)
        assert not isinstance(app.screen, DeleteServerScreen)
        assert cloud.registry.get("node1").find("db-01") is not None
        assert uuid in screen.table.servers and len(screen.table.order) == 20
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteServerScreen))
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert cloud.registry.get("node1").find("db-01") is not None


async def test_delete_with_volumes(make_app, cloud, ctx):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        uuid = put_cursor(screen, "db-01")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteServerScreen))
        await pilot.press("v")  # tick "also delete volumes"
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: cloud.registry.get("node1").find("db-01") is None,
                       what="deleted on the host")
        await wait_for(pilot, lambda: uuid not in screen.table.servers)
        assert len(screen.table.order) == 19
        vols = cloud.registry.get("node1").conn().storagePoolLookupByName(
            "default").listVolumes()
        assert "db-01.qcow2" not in vols and "web-01.qcow2" in vols


async def test_failure_becomes_a_notification(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        put_cursor(screen, "web-01")
        await pilot.press("s")  # already running: the backend says so
        await wait_for(pilot, lambda: any("web-01" in n.message and "running" in n.message
                                          for n in app._notifications), what="notification")
        note = next(n for n in app._notifications if "web-01" in n.message)
        assert note.severity == "error" and "start" in note.title.lower()
        assert app.screen is screen  # still usable


async def test_enter_opens_details(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        put_cursor(screen, "web-01")
        screen.table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
        await wait_for(pilot, lambda: "web-01.qcow2" in screen_text(app), what="disks")
        text = screen_text(app)
        assert "vda" in text and "52:54:00" in text and "running" in text
        await pilot.press("escape")
        assert app.screen is screen


async def test_command_palette_finds_a_server(make_app):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"worker-02")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
        assert app.screen.server_name == "worker-02"


async def test_stats_fill_cpu_for_visible_running_rows(make_app, monkeypatch):
    import screens.dashboard as dashboard
    monkeypatch.setattr(dashboard, "STATS_INTERVAL", 0.2)
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        table = screen.table
        await wait_for(pilot, lambda: all(
            table.servers[u]["cpu_percent"] is not None for u in table.order
            if table.servers[u]["state"] == "running"), what="cpu figures")
        assert all(table.servers[u]["cpu_percent"] is None for u in table.order
                   if table.servers[u]["state"] != "running")


async def test_stats_only_for_rows_on_screen(make_app, monkeypatch, cloud):
    import screens.dashboard as dashboard
    monkeypatch.setattr(dashboard, "STATS_INTERVAL", 0.1)
    asked: list[set] = []
    real = cloud.servers.stats

    def spy(ctx, host, visible=None):
        asked.append(set(visible))
        return real(ctx, host, visible=visible)
    monkeypatch.setattr(cloud.servers, "stats", spy)
    app = make_app()
    async with app.run_test(size=(100, 12)) as pilot:
        screen = await loaded(pilot)
        await wait_for(pilot, lambda: len(asked) >= 3, what="stats ticks")
        on_screen = set(screen.table.visible_uuids())
        assert 0 < len(on_screen) < 20
        assert all(v <= on_screen for v in asked[-3:])


async def test_host_disconnect_shows_error(make_app, cloud):
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        cloud.registry.auto_reconnect = False
        # As libvirt's close callback would report it, from another thread.
        import threading
        t = threading.Thread(target=cloud.registry._relay, args=(
            {"type": "host", "host": "node2", "state": "disconnected",
             "error": "connection lost (keepalive timeout)"},))
        t.start()
        t.join()
        await wait_for(pilot, lambda: "keepalive timeout" in screen_text(app))
        assert screen.host_states["node2"] == "disconnected"
        assert all(r["state"] == "unknown" for r in screen.table.servers.values()
                   if r["host"] == "node2")


async def test_small_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert screen.has_class("-narrow")
        text = screen_text(app)
        assert "api-01" in text and "node1" in text
        assert "Filter" in text  # the footer
        # Scrolling down to the last row works.
        await pilot.press("end")
        await pilot.pause()
        assert "worker-02" in screen_text(app)
        await pilot.press("h")  # hosts panel hidden, more rows
        await pilot.pause()
        assert not screen.hosts_panel.display


async def test_big_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await loaded(pilot)
        assert screen.has_class("-wide")
        await wait_for(pilot, lambda: "mem" in screen_text(app) and "running /" in
                       screen_text(app), what="host cards")


async def test_changes_made_elsewhere_show_up(make_app, cloud, ctx):
    """Lifecycle events drive the table: a server defined, stopped or deleted by another
    face (here the backend directly, from another thread) appears, changes, disappears."""
    import asyncio
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await loaded(pilot)
        node1 = cloud.registry.get("node1")
        xml = ("<domain type='test'><name>new-vm</name><memory unit='MiB'>256</memory>"
               "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
        await asyncio.to_thread(node1.define_domain, xml)
        await wait_for(pilot, lambda: any(r["name"] == "new-vm"
                                          for r in screen.table.servers.values()),
                       what="the new server's row")
        await wait_for(pilot, lambda: len(screen.table.order) == 21)
        await asyncio.to_thread(cloud.servers.start, ctx, "new-vm", "node1")
        uuid = next(u for u, r in screen.table.servers.items() if r["name"] == "new-vm")
        await wait_for(pilot, lambda: screen.table.servers[uuid]["state"] == "running")
        await asyncio.to_thread(cloud.servers.delete, ctx, "new-vm", "node1")
        await wait_for(pilot, lambda: uuid not in screen.table.servers, what="row removed")
        await wait_for(pilot, lambda: len(screen.table.order) == 20, what="view rebuilt")
        assert uuid not in screen.table.order


async def test_hung_host_never_freezes_the_screen(make_app, cloud, monkeypatch):
    import threading
    import screens.dashboard as dashboard
    monkeypatch.setattr(dashboard, "STATS_INTERVAL", 0.05)
    release = threading.Event()
    real = cloud.servers.stats

    def stats(ctx, host, visible=None):
        if host == "node2":
            release.wait(30)  # node2 hangs
        return real(ctx, host, visible=visible)
    monkeypatch.setattr(cloud.servers, "stats", stats)
    app = make_app()
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await loaded(pilot)
            await pilot.pause(0.5)
            # The other hosts keep ticking; the UI answers keys at once.
            node1_running = [u for u, r in screen.table.servers.items()
                             if r["host"] == "node1" and r["state"] == "running"]
            await wait_for(pilot, lambda: all(screen.table.servers[u]["cpu_percent"]
                                              is not None for u in node1_running))
            await pilot.press("slash", *"db")
            await wait_for(pilot, lambda: len(screen.table.order) == 2, timeout=2)
            assert [w for w in app.workers if w.name == "stats of node2" and w.is_running]
    finally:
        release.set()


def test_quitting_does_not_wait_for_a_hung_call(tmp_path):
    """A worker stuck on a hung host must not keep the process from exiting."""
    import subprocess
    import sys
    import textwrap
    import time
    script = tmp_path / "hang.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from pathlib import Path
        from backend.virt.demo import demo_settings
        from backend.api.cloud import Cloud
        from backend.api.context import RequestContext
        from tui.app import VirtstackApp
        settings = demo_settings(Path({str(tmp_path)!r}))
        cloud = Cloud(settings, connect=False)
        cloud.servers.stats = lambda *a, **k: time.sleep(60)
        app = VirtstackApp(cloud, RequestContext.system(), settings)
        async def auto(pilot):
            await pilot.pause(1.5)
            assert any(w.is_running and w.name.startswith("stats") for w in app.workers)
            await pilot.press("q")
        app.run(headless=True, auto_pilot=auto)
        cloud.close()
    """))
    import os
    from pathlib import Path
    repo = str(Path(__file__).resolve().parents[2])
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], timeout=30, cwd=repo,
                          env={**os.environ, "PYTHONPATH": repo}, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - start < 15


async def test_slow_host_delays_only_its_own_rows(make_app, cloud):
    import threading
    node2 = cloud.registry.get("node2")
    real_connect = node2.connect
    release = threading.Event()

    def slow_connect(**kw):
        release.wait(10)
        real_connect(**kw)
    node2.connect = slow_connect
    node2.in_process = False  # a slow host is a remote one: it connects on its own thread
    app = make_app()
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            screen = await loaded(pilot, count=13)  # node1 (5) + node3 (8)
            assert {r["host"] for r in screen.table.servers.values()} == {"node1", "node3"}
            assert "web-01" in screen_text(app)
            release.set()
            await loaded(pilot, count=20)
    finally:
        release.set()


async def test_screen_follows_the_model(make_app, cloud):
    """The table draws its lines from the model: a mark, a state change from libvirt and a
    cursor move show on screen, and rows off screen are reached by scrolling."""
    app = make_app()
    async with app.run_test(size=(100, 14)) as pilot:
        screen = await loaded(pilot)
        table = screen.table

        def line_of(name: str) -> str | None:
            return next((ln for ln in screen_text(app).splitlines()
                         if f" {name} " in ln), None)

        first = table.servers[table.order[0]]
        assert table.cursor_row == 0 and line_of(first["name"]) is not None
        await pilot.press("space")  # mark the first row, the cursor moves down
        await wait_for(pilot, lambda: "●" in (line_of(first["name"]) or ""), what="mark drawn")
        # a state change made behind the TUI's back (the event) repaints the row
        second = table.servers[table.order[1]]
        host = cloud.registry.get(second["host"])
        action = "suspend" if second["state"] == "running" else "start"
        host.domain_action(second["name"], action)
        want = "paused" if action == "suspend" else "running"
        await wait_for(pilot, lambda: want in (line_of(second["name"]) or ""),
                       what="state repainted")
        # the last row is off screen until the cursor gets there
        last = table.servers[table.order[-1]]
        assert line_of(last["name"]) is None
        await pilot.press("end")
        await wait_for(pilot, lambda: line_of(last["name"]) is not None, what="scrolled")
        assert table.cursor_uuid == last["uuid"]
        assert last["uuid"] in table.visible_uuids() and first["uuid"] not in table.visible_uuids()


async def test_a_removed_row_is_never_drawn_or_measured(make_app):
    """Between a server's removal and the view's rebuild (coalesced, a moment later) the
    table neither draws nor hands out the gone server."""
    app = make_app()
    async with app.run_test(size=(100, 20)) as pilot:
        screen = await loaded(pilot)
        table = screen.table
        gone = table.order[0]
        table.remove_server(gone)  # the rebuild is only requested
        assert gone in table.order
        lines = [table.render_line(y).text for y in range(table.size.height)]
        assert table.cursor_uuid is None and gone not in table.visible_uuids()
        assert all(table.servers.get(gone, {}).get("name", "\0") not in ln for ln in lines)
        await wait_for(pilot, lambda: gone not in table.order, what="rebuilt")
        assert table.cursor_uuid in table.servers


async def test_an_older_rows_load_never_overwrites_a_newer_one(make_app):
    """Two loads of one host can overlap (a reload asked while one runs): the rows of the
    older one, arriving last, are dropped."""
    from tui.messages import HostRowsLoaded
    app = make_app()
    async with app.run_test(size=(100, 20)) as pilot:
        screen = await loaded(pilot)
        table = screen.table
        newest = screen._rows_seq["node1"]
        stale = [dict(r, vcpus=None, memory_mb=None) for r in table.servers.values()
                 if r["host"] == "node1"]
        screen.post_message(HostRowsLoaded("node1", stale, newest - 1))
        await pilot.pause()
        assert all(r["vcpus"] is not None for r in table.servers.values())
        screen.post_message(HostRowsLoaded("node1", stale, newest))  # the newest is taken
        await wait_for(pilot, lambda: all(r["vcpus"] is None for r in table.servers.values()
                                          if r["host"] == "node1"), what="newest taken")
