"""Tokens and application credentials: expiry (injected clock), revocation, scope."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.errors import AuthenticationFailed, NotFound, PolicyDenied
from backend.identity.models import ApplicationCredential, Token
from backend.identity.passwords import token_hash
from tests.identity.conftest import PASSWORD


def test_token_is_stored_as_its_hash_only(world):
    token = world.tokens["alice"]
    with world.api.db.transaction() as s:
        ids = list(s.scalars(select(Token.id)))
    assert token_hash(token) in ids and token not in ids
    assert len(token) >= 43  # 256 bits, URL-safe base64


def test_token_expires_with_the_clock(world, clock, settings):
    token, ctx = world.login("alice")
    assert ctx.project_name == "p1" and "member" in ctx.roles
    clock.advance(hours=settings.token_lifetime_hours, seconds=-1)
    world.api.context_from_token(token)
    clock.advance(seconds=1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        world.api.context_from_token(token)


def test_lifetime_comes_from_settings(api, admin, clock, settings):
    settings.token_lifetime_hours = 1
    api.users.create(admin, "zed", PASSWORD, project="admin")
    api.assignments.add(admin, "zed", "admin", "reader")
    token, info = api.authenticate("zed", PASSWORD)
    assert info["expires_at"] == (clock() + timedelta(hours=1)).isoformat(timespec="seconds")


def test_password_change_and_disable_revoke_all_tokens(world):
    api, admin = world.api, world.admin
    t1, _ = world.login("alice")
    t2, _ = world.login("alice")
    api.users.set(admin, "alice", password="N3w-password")
    for t in (t1, t2):
        with pytest.raises(AuthenticationFailed, match="revoked"):
            api.context_from_token(t)
    with pytest.raises(AuthenticationFailed):
        api.authenticate("alice", PASSWORD)
    token, _ = api.authenticate("alice", "N3w-password")
    api.context_from_token(token)
    api.users.set(admin, "alice", enabled=False)
    with pytest.raises(AuthenticationFailed, match="disabled"):
        api.context_from_token(token)
    with pytest.raises(AuthenticationFailed, match="disabled"):
        api.authenticate("alice", "N3w-password")


def test_self_service_password_change_needs_the_original(world):
    api = world.api
    token, alice = world.login("alice")
    with pytest.raises(PolicyDenied, match="original password"):
        api.users.set(alice, "alice", password="An0ther-pass", original_password="wrong")
    with pytest.raises(PolicyDenied, match="user:password"):
        api.users.set(alice, "rita", password="An0ther-pass", original_password=PASSWORD)
    api.users.set(alice, "alice", password="An0ther-pass", original_password=PASSWORD)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        api.context_from_token(token)


def test_role_removal_takes_effect_at_once(world):
    api, admin = world.api, world.admin
    token, _ = world.login("alice")
    api.assignments.remove(admin, "alice", "p1", "member")
    with pytest.raises(AuthenticationFailed, match="no longer has a role"):
        api.context_from_token(token)


def test_revoke_own_token_but_not_anothers(world):
    api = world.api
    alice, carol = world.contexts["alice"], world.contexts["carol"]
    with pytest.raises(PolicyDenied, match="token:revoke"):
        api.tokens.revoke(carol, world.tokens["alice"])
    api.tokens.revoke(alice, alice.token_id)  # by id works too
    with pytest.raises(AuthenticationFailed, match="revoked"):
        api.context_from_token(world.tokens["alice"])
    with pytest.raises(NotFound):
        api.tokens.revoke(world.admin, "no-such-token")
    with pytest.raises(AuthenticationFailed, match="invalid token"):
        api.context_from_token("x" * 43)


def test_login_picks_a_project_or_asks(world):
    api, admin = world.api, world.admin
    api.assignments.add(admin, "carol", "p1", "reader")
    _, ctx = world.login("carol")  # default project p2
    assert ctx.project_name == "p2"
    _, ctx = world.login("carol", "p1")
    assert ctx.roles == ("reader",)
    with pytest.raises(AuthenticationFailed, match="no role on project 'admin'"):
        world.login("carol", "admin")


def test_application_credential_subset_and_expiry(world, clock):
    api = world.api
    alice = world.contexts["alice"]
    with pytest.raises(PolicyDenied, match="admin"):
        api.credentials.create(alice, "too-much", roles=["admin"])
    cred = api.credentials.create(alice, "ci", roles=["reader"],
                                  expires_at=clock() + timedelta(hours=2))
    token, info = api.authenticate_credential(cred["id"], cred["secret"])
    assert info["roles"] == ["reader"] and info["project"] == "p1"
    ctx = api.context_from_token(token)
    with pytest.raises(PolicyDenied):  # reader through the credential, not member
        api.authorize(ctx, "server:create", {"project_id": world.p1})
    with pytest.raises(PolicyDenied):  # cannot mint a stronger credential from it
        api.credentials.create(ctx, "escalate", roles=["member"])
    with pytest.raises(AuthenticationFailed):
        api.authenticate_credential(cred["id"], "wrong-secret")
    with api.db.transaction() as s:
        stored = s.get(ApplicationCredential, cred["id"]).secret_hash
    assert stored.startswith("$argon2id$") and cred["secret"] not in stored
    assert [c["name"] for c in api.credentials.list(alice)] == ["ci"]
    with pytest.raises(PolicyDenied):
        api.credentials.list(world.contexts["carol"], user="alice")
    clock.advance(hours=2)
    with pytest.raises(AuthenticationFailed, match="expired"):
        api.context_from_token(token)
    with pytest.raises(AuthenticationFailed, match="expired"):
        api.authenticate_credential(cred["id"], cred["secret"])
    api.credentials.delete(alice, "ci")
    assert api.credentials.list(alice) == []


def test_rescope_to_another_project_with_a_role(world):
    api = world.api
    api.assignments.add(world.admin, "alice", "p2", "reader")
    ctx = world.contexts["alice"]
    issued = api.tokens.rescope(ctx, "p2")
    new = api.context_from_token(issued["token"])
    assert new.project_id == world.p2 and new.user_name == "alice"
    assert "reader" in new.roles and "member" not in new.roles
    assert any(r["action"] == "token:issue" and r["outcome"] == "success"
               for r in api.audit.list(world.admin, user="alice"))


def test_rescope_without_a_role_there_is_refused(world):
    from backend.errors import VirtstackError
    with pytest.raises(VirtstackError) as exc:
        world.api.tokens.rescope(world.contexts["carol"], "p1")
    assert "p1" in exc.value.message or "role" in exc.value.message
    with pytest.raises(VirtstackError):
        world.api.tokens.rescope(world.contexts["carol"], "no-such-project")
