"""Themes: registered, switchable at run time, remembered; --theme overrides."""
from __future__ import annotations

import json

from tests.tui.helpers import loaded
from themes.prefs import ui_state_path


async def test_theme_key_cycles_and_persists(make_app, settings):
    path = ui_state_path(settings.state_dir)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert app.theme == "dark"
        await pilot.pause(0.2)
        assert not path.exists()  # starting is not choosing
        await pilot.press("t")
        await pilot.pause(0.2)
        assert app.theme == "light"
        assert json.loads(path.read_text())["theme"] == "light"
        await pilot.press("t")
        await pilot.pause(0.2)
        assert app.theme == "high-contrast"
        assert json.loads(path.read_text())["theme"] == "high-contrast"
    app2 = make_app()
    async with app2.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert app2.theme == "high-contrast"


async def test_theme_argument_overrides_without_saving(make_app, settings):
    path = ui_state_path(settings.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"theme": "light"}))
    app = make_app(theme="high-contrast")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.2)
        assert app.theme == "high-contrast"
    assert json.loads(path.read_text())["theme"] == "light"


async def test_palette_theme_change_persists(make_app, settings):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        app.theme = "light"  # what the palette's "Theme" command does
        await pilot.pause(0.2)
    assert json.loads(ui_state_path(settings.state_dir).read_text())["theme"] == "light"


async def test_unknown_saved_theme_falls_back(make_app, settings):
    path = ui_state_path(settings.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        assert app.theme == "dark"
