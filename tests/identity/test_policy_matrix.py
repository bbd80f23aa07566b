"""The authorisation matrix: every action x every kind of caller, allow or deny.

The expectations are written out here, apart from the policy table, so a wrong default in
backend/identity/policy.py fails this test instead of redefining it."""
import pytest

from backend.api.cloud import Cloud
from backend.errors import AuthenticationFailed, PolicyDenied
from backend.identity.policy import ACTIONS

ADMIN_ONLY = """
server:list:all_projects server:adopt server:migrate server:live_migrate server:evacuate
host:probe host:enable host:disable host:add host:remove host:connect host:disconnect
host:evacuate flavor:create flavor:delete flavor:set flavor:access quota:list quota:set
quota:delete pool:create pool:delete pool:start pool:stop pool:refresh network:create
network:delete network:start network:stop network:update network:bridge user:list
user:create user:set user:delete project:create project:set project:delete role:create
role:delete assignment:create assignment:delete audit:list scheduler:simulate
pool:autostart network:autostart network:vlan volume:adopt
""".split()
ANY_ROLE = """
host:list host:show flavor:list flavor:show image:list image:show pool:list pool:show
network:list network:show project:list role:list token:issue catalog:list
""".split()
PROJECT_READ = """
server:list server:show image:download quota:show volume:list volume:show volume:download
project:show
""".split()
PROJECT_MEMBER = """
server:create server:start server:stop server:reboot server:suspend server:resume
server:pause server:unpause server:destroy server:delete server:rename server:resize
server:rebuild server:snapshot server:attach server:detach server:console image:create
image:upload image:set image:delete volume:create volume:delete volume:attach
volume:detach volume:resize volume:clone volume:upload volume:snapshot volume:wipe
""".split()
SELF = """
user:show user:password assignment:list token:revoke credential:list credential:show
credential:create credential:delete
""".split()
CATEGORIES = {"admin": ADMIN_ONLY, "any": ANY_ROLE, "read": PROJECT_READ,
              "member": PROJECT_MEMBER, "self": SELF}

# persona -> the categories it may do, on a target owned by project p1 and user alice
ALLOWED = {
    "admin": set(CATEGORIES),
    "member_of_owner": {"any", "read", "member", "self"},
    "member_of_other": {"any"},
    "reader_of_owner": {"any", "read"},
    "disabled_user": set(),
    "expired_token": set(),
    "revoked_token": set(),
    "no_credentials": set(),
}
PERSONA_USER = {"member_of_owner": "alice", "member_of_other": "carol",
                "reader_of_owner": "rita", "disabled_user": "dan", "expired_token": "eve",
                "revoked_token": "rob"}


def test_every_action_is_classified_once():
    listed = [a for acts in CATEGORIES.values() for a in acts]
    assert len(listed) == len(set(listed)), "an action is in two categories"
    assert set(listed) == set(ACTIONS)


def caller(world, persona):
    """The RequestContext a persona presents, or None when it cannot get one."""
    if persona == "admin":
        return world.admin
    if persona == "no_credentials":
        return None
    try:
        return world.api.context_from_token(world.tokens[PERSONA_USER[persona]])
    except AuthenticationFailed:
        assert persona in ("disabled_user", "expired_token", "revoked_token")
        return None


@pytest.mark.parametrize("persona", list(ALLOWED))
def test_matrix(world, persona):
    ctx = caller(world, persona)
    target = {"project_id": world.p1, "user_id": world.users["alice"]}
    wrong = []
    for category, actions in CATEGORIES.items():
        for action in actions:
            expected = category in ALLOWED[persona]
            try:
                world.api.authorize(ctx, action, dict(target))
                allowed = True
            except PolicyDenied as exc:
                allowed = False
                assert action in exc.message
                if ctx is not None:
                    assert "requires" in exc.message  # the rule is named
            if allowed != expected:
                wrong.append(f"{action}: {'allowed' if allowed else 'denied'}")
    assert not wrong, f"{persona}: " + ", ".join(wrong)


def test_token_personas_fail_with_a_reason(world):
    for name, words in (("dan", "disabled"), ("eve", "expired"), ("rob", "revoked")):
        with pytest.raises(AuthenticationFailed, match=words):
            world.api.context_from_token(world.tokens[name])


@pytest.mark.parametrize("persona", list(ALLOWED))
def test_front_door_sample(world, persona):
    """The same matrix through real identity API calls (policy -> work -> audit)."""
    ctx = caller(world, persona)
    api = world.api
    calls = {
        "admin": lambda: api.projects.create(ctx, f"new-{persona.replace('_', '-')}"),
        "any": lambda: api.catalog.list(ctx),
        "read": lambda: api.projects.show(ctx, "p1"),
        "self": lambda: api.users.show(ctx, "alice"),
    }
    for category, call in calls.items():
        expected = category in ALLOWED[persona]
        try:
            call()
            allowed = True
        except PolicyDenied:
            allowed = False
        assert allowed == expected, f"{persona} {category}"
    if ctx is not None:
        denied = api.audit.list(world.admin, action="project:create", outcome="denied")
        assert bool(denied) == (persona != "admin")


def test_non_admins_see_only_their_projects(world):
    names = [p["name"] for p in world.api.projects.list(world.contexts["alice"])]
    assert names == ["p1"]
    assert {"admin", "p1", "p2"} <= {p["name"] for p in world.api.projects.list(world.admin)}


def test_cloud_delegates_to_the_policy_engine(world, settings):
    cloud = Cloud(settings, connect=False)
    try:
        with pytest.raises(PolicyDenied, match="host:probe.*role:admin"):
            cloud.authorize(world.contexts["alice"], "host:probe", {})
        cloud.authorize(world.contexts["alice"], "host:list", {})
        cloud.audit(world.contexts["alice"], "server:stop", "vm1", "failure", "host down")
        rows = cloud.identity.audit.list(world.admin, action="server:stop")
        assert rows[0]["user"] == "alice" and rows[0]["reason"] == "host down"
        assert cloud.identity.admin_project_id() == world.admin.project_id
    finally:
        cloud.close()
