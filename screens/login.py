"""The login screen: user, password (masked) and project, before the dashboard.

Dismisses with the RequestContext of the new token (or None: the user quit). The password
check (argon2) and the DB run in a thread worker; a success caches the token exactly like
``virtstack login``; a failure shows the backend's message and stays (the backend locks the
account after repeated failures).
"""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from themes import HERE as THEMES_DIR
from tui.workers import describe_error

IDENTITY_CSS = THEMES_DIR / "identity.tcss"


class LoginScreen(Screen):
    CSS_PATH = IDENTITY_CSS
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("escape", "quit_login", "Quit"),
        Binding("ctrl+q", "quit_login", "Quit", show=False),
    ]

    class Done(Message):
        """The login worker finished: a context, or the message to show."""

        def __init__(self, ctx=None, error: str | None = None) -> None:
            super().__init__()
            self.ctx = ctx
            self.error = error

    def __init__(self, cloud, settings, *, notice: str | None = None,
                 username: str | None = None) -> None:
        super().__init__()
        self.cloud = cloud
        self.settings = settings
        self.notice = notice
        self.username = username
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Label("virtstack — log in", id="login-title")
            yield Static(self._where(), id="login-where", markup=False)
            yield Label("User", classes="login-label")
            yield Input(value=self.username or "", placeholder="user name", id="login-user")
            yield Label("Password", classes="login-label")
            yield Input(placeholder="password", password=True, id="login-password")
            yield Label("Project", classes="login-label")
            yield Input(placeholder="project (empty: your default project)",
                        id="login-project")
            yield Static(self.notice or "", id="login-error", markup=False)
        yield Footer(compact=True)

    def _where(self) -> str:
        from sqlalchemy.engine import make_url
        try:
            url = make_url(self.settings.resolved_db_url())
            return f"state: {url.render_as_string(hide_password=True)}"
        except Exception:  # noqa: BLE001 - only a hint
            return ""

    def on_mount(self) -> None:
        target = "#login-password" if self.username else "#login-user"
        self.query_one(target, Input).focus()
        self.query_one("#login-error").display = bool(self.notice)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = ["login-user", "login-password", "login-project"]
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if event.input.id != "login-project" and not (user and password):
            # Enter moves on to the next field until the form can be sent.
            nxt = order[order.index(event.input.id) + 1]
            self.query_one(f"#{nxt}", Input).focus()
            return
        self.submit()

    def submit(self) -> None:
        if self.busy:
            return
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        project = self.query_one("#login-project", Input).value.strip() or None
        if not user:
            self.show_error("Type a user name.")
            self.query_one("#login-user", Input).focus()
            return
        self.busy = True
        self.show_error("Checking…", error=False)
        self._login(user, password, project)

    @work(thread=True, exclusive=True, group="login", exit_on_error=False)
    def _login(self, user: str, password: str, project: str | None) -> None:
        from tui.cli.auth import save_token
        identity = self.cloud.identity
        try:
            token, info = identity.authenticate(user, password, project)
            ctx = identity.context_from_token(token)
            save_token(self.settings, token, info)
        except Exception as exc:  # noqa: BLE001 - every failure is shown on the form
            self.post_message(self.Done(error=describe_error(exc)))
            return
        self.post_message(self.Done(ctx=ctx))

    def on_login_screen_done(self, message: Done) -> None:
        self.busy = False
        if message.ctx is not None:
            self.dismiss(message.ctx)
            return
        self.show_error(message.error or "login failed")
        password = self.query_one("#login-password", Input)
        password.value = ""
        password.focus()

    def show_error(self, text: str, *, error: bool = True) -> None:
        box = self.query_one("#login-error", Static)
        box.update(text)
        box.set_class(not error, "-info")
        box.display = bool(text)

    def action_quit_login(self) -> None:
        self.dismiss(None)
