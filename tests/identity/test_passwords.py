"""Passwords: argon2id, the strength rule, lockout after repeated failures."""
import pytest
from sqlalchemy import select

from backend.errors import AuthenticationFailed, InvalidInput
from backend.identity.models import User
from backend.identity.passwords import check_strength, make_hasher
from tests.identity.conftest import PASSWORD


@pytest.mark.parametrize("password, rule", [
    ("", "empty"), ("Ab1", "too short"), ("abcdefghij", "only lower"),
    ("12345678", "only digit"), ("x" * 2000 + "A", "too long"), ("Carol123", "user name"),
])
def test_strength_rule_says_what_failed(password, rule):
    with pytest.raises(InvalidInput, match=rule):
        check_strength(password, "carol123")


def test_strong_enough():
    assert check_strength("correct horse", "bob") == "correct horse"


def test_production_hasher_is_memory_hard_argon2id():
    h = make_hasher("default")._ph
    assert h.memory_cost >= 64 * 1024 and h.time_cost >= 2 and h.type.name == "ID"


def test_only_hashes_are_stored(world):
    with world.api.db.transaction() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_lockout_after_failures_then_unlocks(world, clock):
    api = world.api
    for i in range(5):
        with pytest.raises(AuthenticationFailed, match="invalid user name or password"):
            api.authenticate("alice", "wrong-pass-1")
    with pytest.raises(AuthenticationFailed, match="locked"):  # even the right password
        api.authenticate("alice", PASSWORD)
    failures = api.audit.list(world.admin, user="alice", action="identity:login",
                              outcome="failure")
    assert len(failures) == 6 and "locked until" in failures[1]["reason"]
    assert "account locked" in failures[0]["reason"]
    clock.advance(minutes=15, seconds=1)
    api.authenticate("alice", PASSWORD)


def test_lockout_is_configurable_and_reset_by_success(api, admin, settings):
    settings.lockout_failures = 2
    api.users.create(admin, "zed", PASSWORD, project="admin")
    api.assignments.add(admin, "zed", "admin", "reader")
    with pytest.raises(AuthenticationFailed):
        api.authenticate("zed", "wrong-pass-1")
    api.authenticate("zed", PASSWORD)  # resets the count
    with pytest.raises(AuthenticationFailed, match="invalid"):
        api.authenticate("zed", "wrong-pass-1")
    with pytest.raises(AuthenticationFailed, match="invalid"):
        api.authenticate("zed", "wrong-pass-1")
    with pytest.raises(AuthenticationFailed, match="locked"):
        api.authenticate("zed", PASSWORD)
    assert api.users.show(admin, "zed")["locked"]
    api.users.set(admin, "zed", enabled=True)  # an admin lifts the lock
    api.authenticate("zed", PASSWORD)


def test_unknown_user_looks_like_a_wrong_password(api):
    with pytest.raises(AuthenticationFailed) as exc:
        api.authenticate("nobody", PASSWORD)
    assert exc.value.message == "invalid user name or password"
    rec = api.audit.list(api.context_from_token(api.authenticate("admin", "Admin-pass-1")[0]),
                         outcome="failure")[0]
    assert rec["reason"] == "unknown user" and rec["user"] == "nobody"
