"""Compute fixtures: a state database on SQLite and on a real PostgreSQL server this
conftest starts (and stops) itself, and the demo cloud with an admin and a member."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # so that `from tests.pg import …` works
    sys.path.insert(0, str(REPO))

from backend.api.cloud import Cloud  # noqa: E402
from backend.api.context import RequestContext  # noqa: E402
from backend.virt.demo import demo_settings  # noqa: E402
from tests import pg  # noqa: E402

ADMIN_PASSWORD = "Admin-pass-1"
PASSWORD = "Passw0rd-ok"


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


@dataclass
class DemoWorld:
    cloud: Cloud
    admin: RequestContext
    member: RequestContext      # alice, member of p1
    other: RequestContext       # carol, member of p2
    p1: str
    p2: str


def login(cloud: Cloud, user: str, password: str, project: str | None = None):
    token, _ = cloud.identity.authenticate(user, password, project)
    return cloud.identity.context_from_token(token)


@pytest.fixture
def world(tmp_path) -> DemoWorld:
    settings = demo_settings(tmp_path)
    settings.password_hash_profile = "fast"  # tests only
    cloud = Cloud(settings)
    ident = cloud.identity
    ident.bootstrap(ADMIN_PASSWORD)
    admin = login(cloud, "admin", ADMIN_PASSWORD)
    p1 = ident.projects.create(admin, "p1")["id"]
    p2 = ident.projects.create(admin, "p2")["id"]
    for name, project in (("alice", "p1"), ("carol", "p2")):
        ident.users.create(admin, name, PASSWORD, project=project)
        ident.assignments.add(admin, name, project, "member")
    w = DemoWorld(cloud, admin, login(cloud, "alice", PASSWORD),
                  login(cloud, "carol", PASSWORD), p1, p2)
    yield w
    cloud.close()
