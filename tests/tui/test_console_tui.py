"""The console pane: on the demo host it says the test driver has no console; with a session
it shows the guest's output, sends typed keys and leaves on ctrl+]. (The real daemon's
SeaBIOS is in tests/integration/test_console_tui_real.py.)"""
from __future__ import annotations

import threading

from screens.console import ConsoleScreen, ConsoleText
from screens.vm_detail import VMDetailScreen
from tests.tui.helpers import loaded, screen_text, wait_for


async def open_console(pilot, name: str) -> ConsoleScreen:
    screen = await loaded(pilot)
    uuid = next(u for u, r in screen.table.servers.items() if r["name"] == name)
    screen.open_server(uuid)
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen))
    return app.screen


async def test_the_demo_host_says_it_has_no_console(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        console = await open_console(pilot, "web-01")
        await wait_for(pilot, lambda: console.closed_reason is not None, what="the answer")
        text = screen_text(app)
        assert "No console" in text and "cannot open a serial console" in text
        assert "test driver" in " ".join(console.output().split())
        assert not console.is_open
        await pilot.press("escape")
        assert isinstance(app.screen, VMDetailScreen)


class FakeSession:
    """Stands in for backend.virt.libvirt.console.ConsoleSession: echoes what is written."""

    def __init__(self, on_output, on_close):
        self.on_output, self.on_close = on_output, on_close
        self.written = bytearray()
        self.closed = False
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.written.extend(data)
        self.on_output(data.replace(b"\r", b"\r\n"))

    def close(self) -> None:
        self.closed = True


async def test_output_typing_and_ctrl_bracket_leaves(make_app, cloud, monkeypatch):
    sessions: list[FakeSession] = []

    def console(ctx, ref, on_output, on_close=None, host=None, force=False):
        s = FakeSession(on_output, on_close)
        sessions.append(s)
        # like a guest printing as soon as the stream opens, from another thread
        banner = (b"\x1bc\x1b[2J\x1b[H\x1b(BSeaBIOS (version 1.16)\r\n"
                  b"Booting from Hard Disk...\r\n")
        threading.Thread(target=on_output, args=(banner,)).start()
        return s
    monkeypatch.setattr(cloud.server_ops, "console", console)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_console(pilot, "web-01")
        await wait_for(pilot, lambda: "SeaBIOS (version 1.16)" in pane.output(),
                       what="the guest's output")
        await wait_for(pilot, lambda: pane.is_open, what="the session")
        assert "\x1b" not in pane.output()
        assert pane.output().startswith("SeaBIOS")
        assert "ctrl+] leaves" in screen_text(app)
        # Typed keys go to the guest, app keys included (q, t, escape, ctrl+c).
        await pilot.press(*"ls", "enter", "q", "t", "escape", "ctrl+c", "up")
        await wait_for(pilot, lambda: bytes(sessions[0].written)
                       == b"ls\rqt\x1b\x03\x1b[A", what="the keys")
        assert isinstance(app.screen, ConsoleScreen)
        await wait_for(pilot, lambda: "ls" in pane.output())
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
        await wait_for(pilot, lambda: sessions[0].closed, what="the session closed")


async def test_the_guest_going_away_is_said(make_app, cloud, monkeypatch):
    holder = {}

    def console(ctx, ref, on_output, on_close=None, host=None, force=False):
        holder["s"] = FakeSession(on_output, on_close)
        return holder["s"]
    monkeypatch.setattr(cloud.server_ops, "console", console)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_console(pilot, "web-01")
        await wait_for(pilot, lambda: pane.is_open)
        holder["s"].on_close("the console was closed by the host")
        await wait_for(pilot, lambda: "Console closed" in screen_text(app))
        assert not pane.is_open
        await pilot.press("escape")  # nothing to type into now: escape leaves
        assert isinstance(app.screen, VMDetailScreen)


def test_console_text_strips_escapes_across_chunks():
    t = ConsoleText()
    out = t.feed(b"abc\x1b[3") + t.feed(b"1mred\x1b[0m\r\nnext\xc3") + t.feed(b"\xa9\r\n")
    assert out == "abcred\nnexté\n"
