"""Helpers for driving the TUI in tests."""
from __future__ import annotations

import time


async def wait_for(pilot, predicate, timeout: float = 15.0, what: str = "condition"):
    """Let the app run until ``predicate()`` holds (events and workers are asynchronous).
    A generous limit: a loaded 2-core CI machine is slow, and a pass never waits for it."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def loaded(pilot, count: int = 20):
    """Wait until the dashboard shows every demo server, with its figures (the test
    driver's vCPUs and memory come just after its rows)."""
    from screens.dashboard import DashboardScreen

    def done():
        screen = pilot.app.screen
        return (isinstance(screen, DashboardScreen) and len(screen.table.order) == count
                and all(r["vcpus"] is not None for r in screen.table.servers.values()))
    await wait_for(pilot, done, what="all rows")
    await pilot.pause()
    return pilot.app.screen


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (modal screens included)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
