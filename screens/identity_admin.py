"""Identity administration: users, projects, roles and role assignments, one tab each.

Every list and change goes through ``cloud.identity`` in a thread worker, so the backend's
policy decides: anyone but an admin reads its denial in place of the table (and a refused
change as a notification). Deleting and disabling ask first (ConfirmScreen).

Keys: ``n`` new, ``d`` delete, ``e`` enable/disable, ``w`` set a user's password,
``1``-``4`` the tabs, ``R`` reload, ``escape`` back.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (Button, DataTable, Footer, Input, Label, Static, TabbedContent,
                             TabPane)

from screens.confirm import ConfirmScreen
from tui.widgets.status_bar import StatusBar
from themes import HERE as THEMES_DIR
from tui.workers import describe_error

IDENTITY_CSS = THEMES_DIR / "identity.tcss"


# -- a small form dialog ---------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    key: str
    label: str
    placeholder: str = ""
    password: bool = False
    required: bool = True
    value: str = ""


class FormScreen(ModalScreen):
    """Fields in, ``dict`` of their values out (None: cancelled). Enter moves to the next
    field and sends the form from the last one; a required empty field is refused here."""

    CSS_PATH = IDENTITY_CSS

    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[Field], *, submit_label: str = "Create",
                 check: Callable[[dict], str | None] | None = None) -> None:
        super().__init__(classes="dialog form")
        self.title_text = title
        self.fields = fields
        self.submit_label = submit_label
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            for f in self.fields:
                yield Label(f.label + ("" if f.required else " (optional)"),
                            classes="form-label")
                yield Input(value=f.value, placeholder=f.placeholder, password=f.password,
                            id=f"field-{f.key}", compact=True)
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(self.submit_label, id="submit", compact=True, variant="primary")
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-error").display = False
        self.query_one(Input).focus()

    def values(self) -> dict[str, str]:
        return {f.key: self.query_one(f"#field-{f.key}", Input).value.strip()
                if not f.password else self.query_one(f"#field-{f.key}", Input).value
                for f in self.fields}

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        keys = [f"field-{f.key}" for f in self.fields]
        i = keys.index(event.input.id)
        if i + 1 < len(keys):
            self.query_one(f"#{keys[i + 1]}", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.submit()
        else:
            self.dismiss(None)

    def submit(self) -> None:
        values = self.values()
        missing = [f.label for f in self.fields if f.required and not values[f.key]]
        problem = (f"{missing[0]} is required." if missing
                   else self.check(values) if self.check else None)
        if problem:
            err = self.query_one("#form-error", Static)
            err.update(problem)
            err.display = True
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _passwords_match(values: dict) -> str | None:
    if values.get("password") != values.get("repeat"):
        return "The two passwords differ."
    return None


# -- the tabs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    key: str                   # users / projects / roles / assignments
    title: str
    columns: tuple[str, ...]
    noun: str


KINDS = {k.key: k for k in (
    Kind("users", "Users", ("name", "enabled", "default_project", "locked", "id"), "user"),
    Kind("projects", "Projects", ("name", "enabled", "description", "id"), "project"),
    Kind("roles", "Roles", ("name", "builtin", "id"), "role"),
    Kind("assignments", "Assignments", ("user", "project", "role"), "role assignment"),
)}


def row_key(kind: str, row: dict) -> str:
    if kind == "assignments":
        return "\x1f".join((row["user"], row["project"], row["role"]))
    return row["name"]


def _cell(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "" if value is None else str(value)


class IdentityAdminScreen(Screen):
    CSS_PATH = IDENTITY_CSS
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "new", "New"),
        Binding("d", "delete", "Delete"),
        Binding("e", "toggle_enabled", "Enable/disable"),
        Binding("w", "password", "Password"),
        Binding("R", "reload", "Reload"),
        Binding("1", "tab('users')", "Tabs", key_display="1-4"),
        Binding("2", "tab('projects')", "Projects", show=False),
        Binding("3", "tab('roles')", "Roles", show=False),
        Binding("4", "tab('assignments')", "Assignments", show=False),
    ]

    class Loaded(Message):
        def __init__(self, kind: str, rows: list[dict] | None, error: str | None = None):
            super().__init__()
            self.kind = kind
            self.rows = rows
            self.error = error

    class Changed(Message):
        """A change finished: what to say, and whether it failed."""

        def __init__(self, kind: str, text: str, error: bool = False) -> None:
            super().__init__()
            self.kind = kind
            self.text = text
            self.error = error

    def __init__(self, cloud, ctx, *, initial: str = "users") -> None:
        super().__init__()
        self.cloud = cloud
        self.ctx = ctx
        self.initial = initial
        self.rows: dict[str, dict[str, dict]] = {k: {} for k in KINDS}

    @property
    def identity(self):
        return self.cloud.identity

    def compose(self) -> ComposeResult:
        yield Static("Identity", id="admin-title", classes="screen-title")
        with TabbedContent(initial=self.initial, id="admin-tabs"):
            for kind in KINDS.values():
                with TabPane(kind.title, id=kind.key):
                    yield Static("", id=f"{kind.key}-message", classes="admin-message",
                                 markup=False)
                    yield DataTable(id=f"{kind.key}-table", cursor_type="row",
                                    zebra_stripes=True, classes="admin-table")
        yield StatusBar(self.identity, self.ctx)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for kind in KINDS.values():
            table = self.table(kind.key)
            for c in kind.columns:
                table.add_column(c.replace("_", " "), key=c)
            self.query_one(f"#{kind.key}-message").display = False
            self._load(kind.key)
        self.table(self.initial).focus()

    # -- helpers ----------------------------------------------------------------------------
    def table(self, kind: str) -> DataTable:
        return self.query_one(f"#{kind}-table", DataTable)

    @property
    def current(self) -> str:
        return self.query_one(TabbedContent).active or self.initial

    def selected(self, kind: str | None = None) -> dict | None:
        kind = kind or self.current
        table = self.table(kind)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows[kind].get(key)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.table(event.pane.id).focus()

    def action_tab(self, kind: str) -> None:
        self.query_one(TabbedContent).active = kind
        self.table(kind).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self._load(self.current)

    # -- loading ----------------------------------------------------------------------------
    def _fetch(self, kind: str) -> list[dict]:
        return getattr(self.identity, kind).list(self.ctx)

    def _load(self, kind: str) -> None:
        self.run_worker(partial(self._load_work, kind), name=f"list {kind}",
                        group=f"list-{kind}", thread=True, exclusive=True,
                        exit_on_error=False)

    def _load_work(self, kind: str) -> None:
        try:
            rows = self._fetch(kind)
        except Exception as exc:  # noqa: BLE001 - shown in the tab
            self.post_message(self.Loaded(kind, None, describe_error(exc)))
            return
        self.post_message(self.Loaded(kind, rows))

    def on_identity_admin_screen_loaded(self, message: Loaded) -> None:
        kind = message.kind
        note = self.query_one(f"#{kind}-message", Static)
        table = self.table(kind)
        if message.rows is None:
            note.update(f"Denied: {message.error}")
            note.display = True
            table.display = False
            self.rows[kind] = {}
            return
        note.display = False
        table.display = True
        previous = self.selected(kind)
        self.rows[kind] = {row_key(kind, r): r for r in message.rows}
        table.clear()
        for key, r in self.rows[kind].items():
            table.add_row(*(_cell(r.get(c)) for c in KINDS[kind].columns), key=key)
        if previous is not None and row_key(kind, previous) in self.rows[kind]:
            table.move_cursor(row=table.get_row_index(row_key(kind, previous)))

    # -- changes ----------------------------------------------------------------------------
    def _change(self, kind: str, done_text: str, work_fn: Callable[[], Any],
                reload: tuple[str, ...] = ()) -> None:
        self.run_worker(partial(self._change_work, kind, done_text, work_fn,
                                (kind, *reload)),
                        name=done_text, group=f"change-{kind}", thread=True,
                        exit_on_error=False)

    def _change_work(self, kind: str, done_text: str, work_fn: Callable[[], Any],
                     reload: tuple[str, ...]) -> None:
        try:
            work_fn()
        except Exception as exc:  # noqa: BLE001 - the backend's message, as a notification
            self.post_message(self.Changed(kind, describe_error(exc), error=True))
            return
        self.post_message(self.Changed(kind, done_text))
        for k in dict.fromkeys(reload):
            self._load_work(k)

    def on_identity_admin_screen_changed(self, message: Changed) -> None:
        if message.error:
            self.notify(message.text, title="Refused", severity="error", timeout=8,
                        markup=False)
        else:
            self.notify(message.text, timeout=4, markup=False)

    def _confirm(self, title: str, text: str, label: str, then: Callable[[], None]) -> None:
        def answered(ok: bool | None) -> None:
            if ok:
                then()
        self.app.push_screen(ConfirmScreen(title, text, confirm_label=label), answered)

    def _form(self, title: str, fields: list[Field], then: Callable[[dict], None], *,
              submit_label: str = "Create", check=None) -> None:
        def answered(values: dict | None) -> None:
            if values:
                then(values)
        self.app.push_screen(FormScreen(title, fields, submit_label=submit_label,
                                        check=check), answered)

    # -- new --------------------------------------------------------------------------------
    def action_new(self) -> None:
        getattr(self, f"_new_{self.current}")()

    def _new_users(self) -> None:
        ident, ctx = self.identity, self.ctx

        def create(v: dict) -> None:
            def work_fn():
                ident.users.create(ctx, v["name"], v["password"], project=v["project"] or None)
                if v["project"] and v["role"]:
                    ident.assignments.add(ctx, v["name"], v["project"], v["role"])
            extra = f" ({v['role']} in {v['project']})" if v["project"] and v["role"] else ""
            self._change("users", f"Created user {v['name']}{extra}.", work_fn,
                         reload=("assignments",))
        self._form("New user", [
            Field("name", "Name", "user name"),
            Field("password", "Password", "at least 8 characters, mixed", password=True),
            Field("repeat", "Repeat the password", password=True),
            Field("project", "Default project", "project name", required=False),
            Field("role", "Role there", "member, reader or admin", required=False,
                  value="member"),
        ], create, check=_passwords_match)

    def _new_projects(self) -> None:
        ident, ctx = self.identity, self.ctx
        self._form("New project", [
            Field("name", "Name", "project name"),
            Field("description", "Description", required=False),
        ], lambda v: self._change("projects", f"Created project {v['name']}.",
                                  lambda: ident.projects.create(ctx, v["name"],
                                                                v["description"] or None)))

    def _new_roles(self) -> None:
        ident, ctx = self.identity, self.ctx
        self._form("New role", [Field("name", "Name", "role name")],
                   lambda v: self._change("roles", f"Created role {v['name']}.",
                                          lambda: ident.roles.create(ctx, v["name"])))

    def _new_assignments(self) -> None:
        ident, ctx = self.identity, self.ctx
        sel = self.selected("users")
        self._form("Add a role assignment", [
            Field("user", "User", "user name", value=sel["name"] if sel else ""),
            Field("project", "Project", "project name"),
            Field("role", "Role", "member, reader, admin, …", value="member"),
        ], lambda v: self._change(
            "assignments", f"Gave {v['user']} the role {v['role']} on {v['project']}.",
            lambda: ident.assignments.add(ctx, v["user"], v["project"], v["role"])),
            submit_label="Add")

    # -- delete -----------------------------------------------------------------------------
    def action_delete(self) -> None:
        kind = self.current
        row = self.selected(kind)
        if row is None:
            self.notify("Nothing selected.", severity="warning")
            return
        ident, ctx = self.identity, self.ctx
        if kind == "assignments":
            what = f"{row['role']} of {row['user']} on {row['project']}"
            self._confirm("Remove the role assignment?",
                          f"{what}\n\nThe user's tokens for that project stop working if "
                          "it was their last role there.", "Remove",
                          lambda: self._change("assignments", f"Removed {what}.",
                                               lambda: ident.assignments.remove(
                                                   ctx, row["user"], row["project"],
                                                   row["role"])))
            return
        noun = KINDS[kind].noun
        family = getattr(ident, kind)
        warning = {"users": "Their tokens and role assignments go with them.",
                   "projects": "Its role assignments go with it; a project that still "
                               "owns servers or volumes is refused.",
                   "roles": "Every assignment of the role goes with it."}[kind]
        self._confirm(f"Delete {noun} {row['name']}?", f"{row['name']}\n\n{warning}",
                      "Delete",
                      lambda: self._change(kind, f"Deleted {noun} {row['name']}.",
                                           lambda: family.delete(ctx, row["name"]),
                                           reload=("assignments",)))

    # -- enable / disable -------------------------------------------------------------------
    def action_toggle_enabled(self) -> None:
        kind = self.current
        if kind not in ("users", "projects"):
            self.notify("Only users and projects are enabled or disabled.",
                        severity="warning")
            return
        row = self.selected(kind)
        if row is None:
            self.notify("Nothing selected.", severity="warning")
            return
        family = getattr(self.identity, kind)
        ctx, name, noun = self.ctx, row["name"], KINDS[kind].noun
        if row.get("enabled"):
            text = (f"{name}\n\nTheir tokens are revoked and they cannot log in until "
                    "enabled again." if kind == "users" else
                    f"{name}\n\nNobody can use a token scoped to it until it is enabled again.")
            self._confirm(f"Disable {noun} {name}?", text, "Disable",
                          lambda: self._change(kind, f"Disabled {noun} {name}.",
                                               lambda: family.set(ctx, name, enabled=False)))
        else:
            self._change(kind, f"Enabled {noun} {name}.",
                         lambda: family.set(ctx, name, enabled=True))

    # -- password ---------------------------------------------------------------------------
    def action_password(self) -> None:
        row = self.selected("users")
        if self.current != "users" or row is None:
            self.notify("Choose a user on the Users tab first.", severity="warning")
            return
        ident, ctx, name = self.identity, self.ctx, row["name"]
        self._form(f"New password for {name}", [
            Field("password", "Password", password=True),
            Field("repeat", "Repeat the password", password=True),
        ], lambda v: self._change("users", f"Changed the password of {name}; their tokens "
                                  "are revoked.",
                                  lambda: ident.users.set(ctx, name, password=v["password"])),
            submit_label="Set", check=_passwords_match)
