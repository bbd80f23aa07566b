"""Switch project: the caller's projects (from their role assignments); choosing one issues
a token scoped to it through the backend and dismisses with its RequestContext.

``ModalScreen[RequestContext | None]``: None when cancelled.
"""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from themes import HERE as THEMES_DIR
from tui.workers import describe_error

IDENTITY_CSS = THEMES_DIR / "identity.tcss"


def my_projects(identity, ctx) -> list[dict]:
    """The caller's projects with their roles there: ``[{project, project_id, roles}]``."""
    rows = identity.assignments.list(ctx, user=ctx.user_id)
    by_project: dict[str, dict] = {}
    for a in rows:
        p = by_project.setdefault(a["project_id"], {"project": a["project"],
                                                     "project_id": a["project_id"],
                                                     "roles": []})
        p["roles"].append(a["role"])
    return sorted(by_project.values(), key=lambda p: p["project"])


def rescope(identity, settings, ctx, project_id: str, project_name: str | None = None):
    """A token for the caller's user on another project (the backend's Keystone-style
    rescope checks and audits it). The new token replaces the cached login when the cache
    holds this session's token."""
    from backend.identity.passwords import token_hash
    from tui.cli.auth import load_token, save_token
    issued = identity.tokens.rescope(ctx, project_id)
    token = issued.pop("token")
    new_ctx = identity.context_from_token(token)
    cached = load_token(settings)
    if cached and token_hash(cached["token"]) == ctx.token_id:
        save_token(settings, token, issued)
    return new_ctx


class ProjectSwitchScreen(ModalScreen):
    CSS_PATH = IDENTITY_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    class Loaded(Message):
        def __init__(self, projects: list[dict] | None, error: str | None = None) -> None:
            super().__init__()
            self.projects = projects
            self.error = error

    class Switched(Message):
        def __init__(self, ctx=None, error: str | None = None) -> None:
            super().__init__()
            self.ctx = ctx
            self.error = error

    def __init__(self, cloud, settings, ctx) -> None:
        super().__init__(classes="dialog picker")
        self.cloud = cloud
        self.settings = settings
        self.ctx = ctx
        self.busy = False
        self._names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Switch project", id="dialog-title")
            yield Static(f"Logged in as {self.ctx.user_name}, now in "
                         f"{self.ctx.project_name}.", id="switch-who", markup=False)
            yield OptionList(id="switch-projects")
            yield Static("Loading your projects…", id="switch-message", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._load()

    @work(thread=True, exclusive=True, group="projects", exit_on_error=False)
    def _load(self) -> None:
        try:
            self.post_message(self.Loaded(my_projects(self.cloud.identity, self.ctx)))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.post_message(self.Loaded(None, describe_error(exc)))

    def on_project_switch_screen_loaded(self, message: Loaded) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if message.projects is None:
            self._say(message.error or "cannot list your projects")
            return
        for p in message.projects:
            self._names[p["project_id"]] = p["project"]
            current = p["project_id"] == self.ctx.project_id
            label = f"{'● ' if current else '  '}{p['project']}  ({', '.join(p['roles'])})"
            options.add_option(Option(label, id=p["project_id"], disabled=current))
        others = [p for p in message.projects if p["project_id"] != self.ctx.project_id]
        if others:  # the cursor starts on the first project one can switch to
            options.highlighted = message.projects.index(others[0])
        self._say("Enter switches, escape cancels." if others
                  else "You have a role in no other project.")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.busy or event.option.id is None:
            return
        self.busy = True
        self._say(f"Switching to {event.option.prompt}…".replace("  ", " "))
        self._switch(event.option.id, self._names.get(event.option.id))

    @work(thread=True, exclusive=True, group="switch", exit_on_error=False)
    def _switch(self, project_id: str, project_name: str | None) -> None:
        try:
            ctx = rescope(self.cloud.identity, self.settings, self.ctx, project_id,
                          project_name)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.post_message(self.Switched(error=describe_error(exc)))
            return
        self.post_message(self.Switched(ctx))

    def on_project_switch_screen_switched(self, message: Switched) -> None:
        self.busy = False
        if message.ctx is not None:
            self.dismiss(message.ctx)
        else:
            self._say(message.error or "switch failed")

    def _say(self, text: str) -> None:
        self.query_one("#switch-message", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
