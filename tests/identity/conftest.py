"""Identity fixtures: every test runs against SQLite and against a real PostgreSQL server
that this conftest starts (and stops) itself."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # so that `from tests.pg import …` works
    sys.path.insert(0, str(REPO))

from backend.api.context import RequestContext  # noqa: E402
from backend.api.identity import IdentityAPI  # noqa: E402
from backend.config import Settings  # noqa: E402
from tests import pg  # noqa: E402

ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"


class FakeClock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(scope="session")
def pg_server():
    reason = pg.missing()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = pg.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return request.getfixturevalue("pg_server").create_database()


def make_settings(db_url: str, tmp_path: Path, **extra) -> Settings:
    settings = Settings(hosts=[], db_url=db_url, data_dir=tmp_path / "data",
                        state_dir=tmp_path / "st")
    settings.password_hash_profile = "fast"  # tests only; production is memory-hard
    for k, v in extra.items():
        setattr(settings, k, v)
    return settings


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def api(settings, clock):
    api = IdentityAPI(settings, clock=clock)
    api.bootstrap(ADMIN_PASSWORD)
    yield api
    api.close()


@pytest.fixture
def admin(api) -> RequestContext:
    token, _ = api.authenticate("admin", ADMIN_PASSWORD)
    return api.context_from_token(token)


@dataclass
class World:
    """Two projects and one user per persona; tokens for the ones whose token goes bad."""

    api: IdentityAPI
    admin: RequestContext
    p1: str
    p2: str
    contexts: dict
    tokens: dict
    users: dict

    def login(self, name: str, project: str | None = None):
        token, _ = self.api.authenticate(name, PASSWORD, project)
        return token, self.api.context_from_token(token)

    def login_admin(self) -> RequestContext:
        token, _ = self.api.authenticate("admin", ADMIN_PASSWORD)
        return self.api.context_from_token(token)


@pytest.fixture
def world(api, admin, clock, settings) -> World:
    p1 = api.projects.create(admin, "p1")["id"]
    p2 = api.projects.create(admin, "p2")["id"]
    users, contexts, tokens = {}, {}, {}
    for name, project, role in (("alice", "p1", "member"), ("carol", "p2", "member"),
                                ("rita", "p1", "reader"), ("dan", "p1", "member"),
                                ("eve", "p1", "member"), ("rob", "p1", "member")):
        users[name] = api.users.create(admin, name, PASSWORD, project=project)["id"]
        api.assignments.add(admin, name, project, role)
    w = World(api, admin, p1, p2, contexts, tokens, users)
    tokens["eve"], contexts["eve"] = w.login("eve")
    clock.advance(hours=settings.token_lifetime_hours + 1)  # eve's token has expired
    w.admin = admin = w.login_admin()
    for name in ("alice", "carol", "rita", "dan", "rob"):
        tokens[name], contexts[name] = w.login(name)
    api.users.set(admin, "dan", enabled=False)
    api.tokens.revoke(admin, tokens["rob"])
    return w
