"""Bad input gives a clear error and leaves nothing half-written."""
import pytest

from backend.errors import Conflict, InvalidInput, NotFound
from tests.identity.conftest import PASSWORD

BAD_NAMES = ["", "x" * 64, "it's", 'say"hi"', "a<b", "a&b", "a>b", "café", "日本",
             "-lead", "sp ace", "new\nline"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_everywhere(api, admin, name):
    before = (api.projects.list(admin), api.users.list(admin), api.roles.list(admin))
    for create in (lambda: api.projects.create(admin, name),
                   lambda: api.users.create(admin, name, PASSWORD),
                   lambda: api.roles.create(admin, name)):
        with pytest.raises(InvalidInput, match="empty|invalid"):
            create()
    assert (api.projects.list(admin), api.users.list(admin), api.roles.list(admin)) == before


def test_huge_lookup_is_refused_not_searched(api, admin):
    with pytest.raises(InvalidInput, match="too long"):
        api.users.show(admin, "u" * 100_000)


def test_duplicates_conflict(world):
    api, admin = world.api, world.admin
    with pytest.raises(Conflict, match="project 'p1' already exists"):
        api.projects.create(admin, "p1")
    with pytest.raises(Conflict, match="user 'alice' already exists"):
        api.users.create(admin, "alice", PASSWORD)
    with pytest.raises(Conflict, match="role 'member' already exists"):
        api.roles.create(admin, "member")
    with pytest.raises(Conflict, match="already has role"):
        api.assignments.add(admin, "alice", "p1", "member")


def test_unknown_references_are_not_found_and_write_nothing(world):
    api, admin = world.api, world.admin
    with pytest.raises(NotFound, match="role 'boss'"):
        api.assignments.add(admin, "alice", "p1", "boss")
    with pytest.raises(NotFound, match="project 'nowhere'"):
        api.users.create(admin, "newbie", PASSWORD, project="nowhere")
    with pytest.raises(NotFound):
        api.users.show(admin, "newbie")  # not half-created
    with pytest.raises(NotFound, match="role 'boss'"):
        api.credentials.create(world.contexts["alice"], "ci", roles=["reader", "boss"])
    assert api.credentials.list(world.contexts["alice"]) == []
    failures = api.audit.list(admin, outcome="failure")
    assert {r["action"] for r in failures} >= {"assignment:create", "user:create"}


def test_weak_password_creates_no_user(api, admin):
    with pytest.raises(InvalidInput, match="too short"):
        api.users.create(admin, "shorty", "Ab1")
    assert "shorty" not in {u["name"] for u in api.users.list(admin)}


def test_the_cloud_keeps_its_admin(api, admin):
    with pytest.raises(Conflict, match="admin project cannot be deleted"):
        api.projects.delete(admin, "admin")
    with pytest.raises(Conflict, match="last enabled admin"):
        api.users.set(admin, "admin", enabled=False)
    with pytest.raises(Conflict, match="last enabled admin"):
        api.users.delete(admin, "admin")
    with pytest.raises(Conflict, match="last enabled admin"):
        api.assignments.remove(admin, "admin", "admin", "admin")
    with pytest.raises(Conflict, match="built in"):
        api.roles.delete(admin, "reader")


def test_delete_cascades_identity_rows(world):
    api, admin = world.api, world.admin
    api.projects.delete(admin, "p2")
    assert api.assignments.list(admin, user="carol") == []
    assert api.users.show(admin, "carol")["default_project"] is None
    api.users.delete(admin, "alice")
    with pytest.raises(Exception):
        api.context_from_token(world.tokens["alice"])


def test_bootstrap_is_idempotent(api):
    again = api.bootstrap("Different-pw-1")
    assert again["created"] == []
    api.authenticate("admin", "Admin-pass-1")  # password unchanged
    assert api.admin_project_id() == again["project_id"]
