"""The Textual App: a thin shell that registers the themes, remembers the chosen one and
shows the dashboard (after a login screen, once identity provides one)."""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

import themes
from themes.prefs import load_ui_state, save_ui_state
from tui.workers import DaemonThreadExecutor, report_worker_failure

log = logging.getLogger(__name__)

#: A login screen factory: returns a Screen that dismisses with a RequestContext (or None).
LoginFactory = Callable[["VirtstackApp"], Screen]


class VirtstackApp(App):
    TITLE = "virtstack"
    CSS_PATH = themes.STYLESHEETS
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("t", "cycle_theme", "Theme"),
        Binding("question_mark", "toggle_keys", "Keys", key_display="?"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(self, cloud, ctx, settings, *, theme: str | None = None,
                 login: LoginFactory | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cloud = cloud
        self.ctx = ctx
        self.settings = settings
        self.login = login
        for t in themes.THEMES.values():
            self.register_theme(t)
        saved = load_ui_state(settings.state_dir).get("theme")
        chosen = theme or saved or themes.DEFAULT_THEME
        if chosen not in self.available_themes:
            log.warning("unknown theme %r, using %s", chosen, themes.DEFAULT_THEME)
            chosen = themes.DEFAULT_THEME
        self._startup_theme: str | None = chosen
        self.theme = chosen

    def on_load(self) -> None:
        # Thread workers must never hold up quitting (see DaemonThreadExecutor).
        asyncio.get_running_loop().set_default_executor(DaemonThreadExecutor())

    def on_mount(self) -> None:
        from tui.memory import settle, trim
        # start-up is over once hosts have usually loaded: settle the heap (and trim once more)
        self.set_timer(1, settle)
        self.set_timer(30, trim)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.ctx is None and self.login is not None:
            self.push_screen(self.login(self), self._logged_in)
        elif self.ctx is None:
            self.exit(return_code=7, message="virtstack: not logged in")
        else:
            self.show_dashboard()

    def _logged_in(self, ctx) -> None:
        """The login hook: the login screen dismisses with a RequestContext (None = quit)."""
        if ctx is None:
            self.exit(return_code=7)
            return
        self.ctx = ctx
        self.show_dashboard()

    def show_dashboard(self) -> None:
        from screens.dashboard import DashboardScreen
        self.push_screen(DashboardScreen(self.cloud, self.ctx))

    def switch_context(self, ctx) -> None:
        """A new scope (project switch): the dashboard is rebuilt for it, so nothing the
        old project could see stays on screen."""
        from screens.dashboard import DashboardScreen
        self.ctx = ctx
        if isinstance(self.screen, DashboardScreen):
            self.switch_screen(DashboardScreen(self.cloud, ctx))
        else:
            self.show_dashboard()

    def action_toggle_keys(self) -> None:
        """The keys panel: every binding of the focused widget and its screen."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # -- themes ---------------------------------------------------------------------------
    def action_cycle_theme(self) -> None:
        self.theme = themes.next_theme(self.theme)
        self.notify(f"Theme: {self.theme}", timeout=2)

    def _theme_changed(self, theme) -> None:
        # The theme chosen at start (maybe from --theme) is not a user's change: only
        # later changes, from the key or the command palette, are remembered.
        if self._startup_theme is not None and theme.name == self._startup_theme:
            self._startup_theme = None
            return
        self._startup_theme = None
        save_ui_state(self.settings.state_dir, theme=theme.name)

    # -- failures of the App's own workers ------------------------------------------------------
    def on_worker_state_changed(self, event) -> None:
        report_worker_failure(self, event.worker, event.state)


def run_tui(env) -> int:
    """Entry from the CLI (``virtstack`` with no sub-command)."""
    from backend.api.cloud import Cloud
    from backend.errors import AuthenticationFailed
    from tui.cli.auth import NO_CREDENTIALS
    from tui.memory import imports_done, limit_arenas, quiet_start
    quiet_start()  # no cyclic GC while the modules load (tui.memory)
    limit_arenas()  # before the first thread starts
    # The TUI connects hosts in the background (Cloud.start_hosts), so it opens the Cloud
    # without the CLI's blocking connect-all; the env closes it on exit.
    if getattr(env, "_cloud", None) is None:
        env._cloud = Cloud(env.settings, connect=False, background=True)
    cloud = env.cloud
    login = None
    try:
        ctx = env.ctx  # the demo logs itself in here
    except AuthenticationFailed as exc:
        # No credentials (or stale ones): ask for them on the login screen.
        from screens.login import LoginScreen
        ctx = None
        notice = None if exc.message == NO_CREDENTIALS else exc.message

        def login(app):
            return LoginScreen(app.cloud, app.settings, notice=notice,
                               username=os.environ.get("VIRTSTACK_USERNAME"))
    app = VirtstackApp(cloud, ctx, env.settings, theme=getattr(env.args, "theme", None),
                       login=login)
    from screens import dashboard  # noqa: F401  (the modules the first screen needs)
    imports_done()
    app.run()
    return app.return_code or 0
