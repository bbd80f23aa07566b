"""The audit log: what is recorded, the filters, and that it cannot be rewritten."""
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend.errors import InvalidInput, PolicyDenied


def test_mutations_and_logins_are_recorded_reads_are_not(world):
    api, admin = world.api, world.admin
    n = len(api.audit.list(admin, limit=1000))
    api.projects.list(admin)
    api.users.show(admin, "alice")
    assert len(api.audit.list(admin, limit=1000)) == n
    api.roles.create(admin, "ops")
    rec = api.audit.list(admin, limit=1)[0]
    assert (rec["user"], rec["project"], rec["action"], rec["target"], rec["outcome"]) == \
        ("admin", "admin", "role:create", "role ops", "success")


def test_filters(world, clock):
    api, admin = world.api, world.admin
    start = clock()
    clock.advance(minutes=1)
    with pytest.raises(PolicyDenied):
        api.roles.create(world.contexts["carol"], "x")
    api.roles.create(admin, "ops")
    assert [r["user"] for r in api.audit.list(admin, action="role:create")] == ["admin", "carol"]
    assert [r["outcome"] for r in api.audit.list(admin, user="carol", action="role:*")] == \
        ["denied"]
    assert api.audit.list(admin, project="p2", outcome="denied")[0]["user"] == "carol"
    assert len(api.audit.list(admin, since=start + timedelta(seconds=30))) == 2
    assert len(api.audit.list(admin, since=(start + timedelta(seconds=30)).isoformat())) == 2
    assert len(api.audit.list(admin, limit=1)) == 1
    with pytest.raises(InvalidInput, match="outcome"):
        api.audit.list(admin, outcome="maybe")
    with pytest.raises(InvalidInput, match="limit"):
        api.audit.list(admin, limit=0)
    with pytest.raises(PolicyDenied, match="audit:list"):
        api.audit.list(world.contexts["alice"])


def test_records_cannot_be_changed_or_removed(world):
    db = world.api.db
    for sql in ("UPDATE audit_records SET outcome = 'success'", "DELETE FROM audit_records"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.transaction() as s:
                s.execute(text(sql))
    assert world.api.audit.list(world.admin)
