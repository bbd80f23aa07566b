"""Identity in the TUI, driven as a user: the login screen, the status bar, the project
switch, the admin screens and the audit log, over a demo cloud in tmp_path."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from backend.api.cloud import Cloud
from backend.api.context import RequestContext
from backend.virt.demo import demo_settings
from screens.audit import AuditScreen
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from screens.identity_admin import FormScreen, IdentityAdminScreen
from screens.login import LoginScreen
from screens.project_switch import ProjectSwitchScreen
from tests.tui.helpers import screen_text, wait_for
from tui.cli.auth import token_cache_path
from tui.widgets.status_bar import StatusBar, remaining_text

ADMIN_PW = "Admin-pass-123"
MEMBER_PW = "Member-pass-456"


@pytest.fixture
def settings(tmp_path):
    s = demo_settings(tmp_path)
    s.password_hash_profile = "fast"
    return s


@pytest.fixture
def cloud(settings):
    c = Cloud(settings, connect=False)
    c.identity.bootstrap(ADMIN_PW)
    yield c
    c.close()


@pytest.fixture
def admin(cloud):
    token, _ = cloud.identity.authenticate("admin", ADMIN_PW, "admin")
    return cloud.identity.context_from_token(token)


@pytest.fixture
def team(cloud, admin):
    """Project ``team`` with member ``alice`` and the demo VM web-01 adopted into it;
    alice is also a reader of ``lab``."""
    ident = cloud.identity
    ident.projects.create(admin, "team")
    ident.projects.create(admin, "lab")
    ident.users.create(admin, "alice", MEMBER_PW, project="team")
    ident.assignments.add(admin, "alice", "team", "member")
    ident.assignments.add(admin, "alice", "lab", "reader")
    cloud.compute.adopt(admin, "web-01", "team", host="node1")
    return "team"


def login_app(cloud, settings):
    from tui.app import VirtstackApp
    return VirtstackApp(cloud, None, settings,
                        login=lambda app: LoginScreen(app.cloud, app.settings))


async def log_in(pilot, user: str, password: str, project: str = "") -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen), what="login screen")
    screen = app.screen
    for field, value in (("#login-user", user), ("#login-password", password),
                         ("#login-project", project)):
        screen.query_one(field).value = value
    screen.query_one("#login-project").focus()
    await pilot.pause()
    assert password not in screen_text(app)  # masked
    await pilot.press("enter")


def dashboard_names(screen: DashboardScreen) -> list[str]:
    return sorted(r["name"] for r in screen.table.servers.values())


async def test_wrong_password_stays_right_one_reaches_the_dashboard(cloud, settings):
    app = login_app(cloud, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await log_in(pilot, "admin", "wrong-password-1")
        screen = app.screen
        error = screen.query_one("#login-error")
        await wait_for(pilot, lambda: "invalid user name or password" in str(error.render()),
                       what="the login error")
        assert isinstance(app.screen, LoginScreen)
        assert app.ctx is None
        assert screen.query_one("#login-password").value == ""  # typed again

        await log_in(pilot, "admin", ADMIN_PW, "admin")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen),
                       what="the dashboard")
        assert app.ctx.user_name == "admin" and app.ctx.project_name == "admin"
        bar = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "left" in str(bar.render()), what="the token expiry")
        text = str(bar.render())
        assert "admin @ admin" in text and "23h" in text
        # Cached like `virtstack login`: the CLI picks the same token up.
        cached = json.loads(token_cache_path(settings).read_text())
        assert cloud.identity.context_from_token(cached["token"]).user_name == "admin"
        assert oct(token_cache_path(settings).stat().st_mode & 0o777) == "0o600"


async def test_member_sees_only_its_project_and_switches(cloud, settings, team):
    app = login_app(cloud, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await log_in(pilot, "alice", MEMBER_PW, "team")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen)
                       and app.screen.table.servers, timeout=8, what="alice's servers")
        dash = app.screen
        await wait_for(pilot, lambda: all(s == "connected" for s in dash.host_states.values()),
                       what="hosts")
        await pilot.pause(0.3)  # every host's rows have arrived: still only web-01
        assert dashboard_names(dash) == ["web-01"]
        assert "alice @ team" in str(dash.query_one(StatusBar).render())

        # P lists alice's projects; choosing lab re-scopes, and lab owns no server.
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectSwitchScreen))
        options = app.screen.query_one("#switch-projects")
        await wait_for(pilot, lambda: options.option_count == 2, what="projects")
        text = screen_text(app)
        assert "lab  (reader)" in text and "team  (member)" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen)
                       and app.screen is not dash, what="the new dashboard")
        assert app.ctx.project_name == "lab" and app.ctx.roles == ("reader",)
        new = app.screen
        await wait_for(pilot, lambda: all(s == "connected"
                                          for s in new.host_states.values()), what="hosts")
        await pilot.pause(0.3)
        assert dashboard_names(new) == []
        assert "alice @ lab" in str(new.query_one(StatusBar).render())
        # The cached login follows the switch.
        cached = json.loads(token_cache_path(settings).read_text())
        assert cached["project"] == "lab"

        # Not an admin: the admin and audit screens show the backend's refusal.
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, IdentityAdminScreen))
        note = app.screen.query_one("#users-message")
        await wait_for(pilot, lambda: note.display, what="the denial")
        assert "Denied" in str(note.render()) and "user:list" in str(note.render())
        await pilot.press("escape", "L")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        status = app.screen.query_one("#audit-status")
        await wait_for(pilot, lambda: "Denied" in str(status.render()), what="audit denial")


async def test_admin_creates_and_deletes_a_user(cloud, settings, admin):
    from tui.app import VirtstackApp
    cloud.identity.projects.create(admin, "team")
    app = VirtstackApp(cloud, admin, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, IdentityAdminScreen))
        admin_screen = app.screen
        await wait_for(pilot, lambda: "admin" in admin_screen.rows["users"], what="users")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press(*"bob", "enter")
        await pilot.press(*"Bob-pass-789", "enter", *"Bob-pass-789", "enter")
        await pilot.press(*"team", "enter", "enter")  # role: member (the default)
        await wait_for(pilot, lambda: "bob" in admin_screen.rows["users"], what="bob listed")
        assert cloud.identity.users.show(admin, "bob")["default_project"] == "team"
        assert [(a["project"], a["role"]) for a in
                cloud.identity.assignments.list(admin, user="bob")] == [("team", "member")]
        token, _ = cloud.identity.authenticate("bob", "Bob-pass-789")
        assert cloud.identity.context_from_token(token).project_name == "team"

        # A weak password: the backend's message, nothing created.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press(*"carol", "enter", *"short", "enter", *"short", "enter", "enter",
                          "enter")
        await wait_for(pilot, lambda: any("password too short" in str(n.message)
                                          for n in app._notifications), what="refusal")
        assert "carol" not in {u["name"] for u in cloud.identity.users.list(admin)}

        # Delete bob: asked first.
        admin_screen.table("users").move_cursor(
            row=admin_screen.table("users").get_row_index("bob"))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "bob" not in admin_screen.rows["users"], what="bob gone")
        assert "bob" not in {u["name"] for u in cloud.identity.users.list(admin)}


async def test_audit_screen_lists_logins_newest_first(cloud, settings, admin):
    from tui.app import VirtstackApp
    with pytest.raises(Exception):
        cloud.identity.authenticate("admin", "nope-nope-1")
    app = VirtstackApp(cloud, admin, settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        audit = app.screen
        await wait_for(pilot, lambda: audit.rows, what="records")
        logins = [r for r in audit.shown if r["action"] == "identity:login"]
        assert [r["outcome"] for r in logins[:2]] == ["failure", "success"]  # newest first
        assert logins[0]["reason"].startswith("wrong password")
        text = screen_text(app)
        assert "identity:login" in text and "user admin" in text
        await pilot.press("slash", *"failure")
        await wait_for(pilot, lambda: audit.shown and all(r["outcome"] == "failure"
                                                          for r in audit.shown),
                       what="the filter")
        assert audit.query_one("#audit-table").row_count == len(audit.shown)


def test_remaining_text():
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert remaining_text(now + timedelta(hours=23, minutes=59, seconds=30), now) \
        == "23h 59m left"
    assert remaining_text(now + timedelta(minutes=4, seconds=5), now) == "4m left"
    assert remaining_text(now + timedelta(seconds=20), now) == "<1m left"
    assert remaining_text(now - timedelta(seconds=1), now) == "expired"
    assert remaining_text(now + timedelta(days=3, hours=2), now) == "3d 2h left"
    assert remaining_text(None, now) == "no expiry"


async def test_status_bar_counts_down_and_warns(cloud, settings, admin):
    """The expiry is read once; the remaining time is repainted from the clock."""
    from textual.app import App
    clock = [datetime.now(timezone.utc)]

    class Bare(App):
        def compose(self):
            yield StatusBar(cloud.identity, admin, clock=lambda: clock[0])

    app = Bare()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_for(pilot, lambda: bar.expires_at is not None)
        assert "23h 59m left" in str(bar.render())
        clock[0] = bar.expires_at - timedelta(minutes=30)
        bar._paint()
        assert "30m left" in str(bar.render())
        clock[0] = bar.expires_at + timedelta(seconds=1)
        bar._paint()
        assert "expired" in str(bar.render())
    assert RequestContext.system().token_id is None  # the system context has no token
