"""virtstack's colour themes (Textual ``Theme`` objects) and the stylesheets that use them.

Layout and colours live in the ``.tcss`` files next to this module; the colours themselves
come from the active theme's variables ($primary, $success, $error, ...), so a stylesheet
never names a colour and every theme works with every screen.
"""
from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

HERE = Path(__file__).parent

#: Stylesheets in load order (the App's CSS_PATH).
STYLESHEETS = [HERE / "app.tcss", HERE / "dashboard.tcss", HERE / "modals.tcss",
               HERE / "vm_detail.tcss"]

DARK = Theme(
    name="dark",
    primary="#3d8fd1",
    secondary="#2a5f8f",
    accent="#e5a33d",
    warning="#e5a33d",
    error="#e0596d",
    success="#58c27d",
    foreground="#dcdfe4",
    background="#14171c",
    surface="#1c2027",
    panel="#262b34",
    dark=True,
    variables={"footer-key-foreground": "#e5a33d", "block-cursor-text-style": "bold"},
)

LIGHT = Theme(
    name="light",
    primary="#1f5f99",
    secondary="#3d8fd1",
    accent="#a35b00",
    warning="#9a5b00",
    error="#b3223a",
    success="#1d7a3f",
    foreground="#1d2430",
    background="#f4f5f7",
    surface="#e8eaee",
    panel="#d8dce3",
    dark=False,
    variables={"footer-key-foreground": "#1f5f99", "block-cursor-text-style": "bold"},
)

HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#ffff00",
    secondary="#00ffff",
    accent="#ff00ff",
    warning="#ffff00",
    error="#ff5555",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#1a1a1a",
    boost="#333333",
    dark=True,
    luminosity_spread=0.3,
    text_alpha=1.0,
    variables={"footer-key-foreground": "#ffff00", "block-cursor-foreground": "#000000",
               "block-cursor-background": "#ffff00", "block-cursor-text-style": "bold",
               "border": "#ffffff", "input-selection-background": "#ffff00 60%"},
)

THEMES: dict[str, Theme] = {t.name: t for t in (DARK, LIGHT, HIGH_CONTRAST)}
DEFAULT_THEME = "dark"
#: The order the theme key cycles through.
CYCLE = ["dark", "light", "high-contrast"]


def next_theme(current: str) -> str:
    try:
        return CYCLE[(CYCLE.index(current) + 1) % len(CYCLE)]
    except ValueError:
        return CYCLE[0]
