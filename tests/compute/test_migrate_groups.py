"""Server groups hold when a member moves (live migration, host evacuation).

On the demo cloud (three test-driver hosts: the test driver cannot migrate, so the
destination choice and the claim move are checked at the layer they run on):
- no destination given: the scheduler picks one that keeps the group's policy, and says
  which group and members leave no host;
- a destination named that breaks the policy: the claim move is refused naming the group
  and the member in the way, and nothing changes;
- an evacuation stops at the member it cannot place, naming the group.
And at the claim layer on SQLite and PostgreSQL: the move's check waits for the group row
and sees a member committed meanwhile.
"""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from backend.compute.claims import Claims, GroupPolicyViolated, Usage
from backend.compute.groups import GroupService
from backend.compute.migrate import ClaimMove
from backend.compute.models import ComputeNode, Server, ServerGroup
from backend.db import Database
from backend.errors import NoValidHost
from tests.compute.test_claims_concurrency import seed
from tests.compute.test_create_demo import qcow2
from tests.compute.test_group_claims import make_group, row

HOSTS = ("node1", "node2", "node3")


@pytest.fixture
def image(world, tmp_path):
    return world.cloud.images.create(world.admin, "cirros", qcow2(tmp_path / "c.qcow2"),
                                     disk_format="qcow2")


def make(world, name: str, group: str | None = None) -> dict:
    req = {"name": name, "flavor": "m1.tiny", "image": "cirros"}
    if group:
        req["group"] = group
    [srv] = world.cloud.compute.create(world.member, req)
    assert srv["status"] == "ACTIVE", srv["fault"]
    return srv


def books(world) -> dict[str, tuple[int, int]]:
    """Per host: (instances claimed, memory claimed)."""
    return {r["host"]: (r["instances"], r["memory_mb"]["claimed"])
            for r in world.cloud.compute.resources(world.admin)}


def recorded_host(world, uuid: str) -> str:
    with world.cloud.db.transaction() as s:
        return s.get(Server, uuid).host


def runs_on(world, name: str) -> list[str]:
    return [h for h in HOSTS if world.cloud.registry.get(h).find(name) is not None]


# -- no destination given: the scheduler keeps the group ----------------------------------

def test_scheduler_keeps_a_moving_member_off_its_anti_affinity_peers(world, image):
    world.cloud.server_groups.create(world.member, "spread", "anti-affinity")
    a, b = make(world, "aa-1", "spread"), make(world, "aa-2", "spread")
    assert (a["host"], b["host"]) == ("node3", "node2")  # RAMWeigher: most free RAM first
    ops = world.cloud.server_ops
    for _ in range(3):  # node2 has more free RAM than node1, but runs aa-2
        assert ops.choose_destination(world.admin, "aa-1") == "node1"
        assert ops.choose_destination(world.admin, "aa-2") == "node1"
    with pytest.raises(NoValidHost) as err:
        ops.choose_destination(world.admin, "aa-1", exclude={"node1"})
    assert err.value.message == (
        "no host can take aa-1: no valid host for the instance: none left after "
        "ServerGroupAntiAffinityFilter (anti-affinity group 'spread' has members on "
        "node2 (aa-2))")


def test_scheduler_keeps_an_affinity_member_with_its_peers(world, image):
    c = world.cloud
    c.server_groups.create(world.member, "pack", "affinity")
    c.server_groups.create(world.member, "solo", "affinity")
    assert make(world, "af-1", "pack")["host"] == "node3"
    assert make(world, "af-2", "pack")["host"] == "node3"
    with pytest.raises(NoValidHost) as err:
        c.server_ops.choose_destination(world.admin, "af-1")
    assert err.value.message == (
        "no host can take af-1: no valid host for the instance: none left after "
        "ServerGroupAffinityFilter (affinity group 'pack' has members on node3 (af-2); "
        "moving af-1 off node3 would split the group)")
    # a group's only member is no one's neighbour: it may go anywhere
    assert make(world, "lone", "solo")["host"] == "node3"
    assert c.server_ops.choose_destination(world.admin, "lone") == "node2"


# -- a destination named: the claim move refuses what breaks the group --------------------

def test_a_named_destination_next_to_an_anti_affinity_peer_is_refused(world, image):
    c = world.cloud
    c.server_groups.create(world.member, "spread", "anti-affinity")
    a, b = make(world, "aa-1", "spread"), make(world, "aa-2", "spread")
    before = books(world)
    with pytest.raises(GroupPolicyViolated) as err:
        ClaimMove.begin(c, a["uuid"], "node2")
    assert err.value.host == "node2"
    assert err.value.message == ("cannot move server aa-1 to node2: host node2 already runs "
                                 "server aa-2 of anti-affinity group 'spread'")
    # nothing changed: the books, the record, the domain
    assert books(world) == before
    assert recorded_host(world, a["uuid"]) == "node3" and runs_on(world, "aa-1") == ["node3"]

    ClaimMove.begin(c, a["uuid"], "node1").commit()  # a free host: the move goes ahead
    assert recorded_host(world, a["uuid"]) == "node1"
    # once committed the member counts where it went, and no longer where it was
    with pytest.raises(GroupPolicyViolated, match="host node1 already runs server aa-1 of "
                                                  "anti-affinity group 'spread'"):
        ClaimMove.begin(c, b["uuid"], "node1")
    moved = books(world)
    ClaimMove.begin(c, b["uuid"], "node3").rollback()
    assert books(world) == moved


def test_a_named_destination_that_splits_an_affinity_group_is_refused(world, image):
    c = world.cloud
    c.server_groups.create(world.member, "pack", "affinity")
    c.server_groups.create(world.member, "solo", "affinity")
    a = make(world, "af-1", "pack")
    make(world, "af-2", "pack")
    lone = make(world, "lone", "solo")
    before = books(world)
    for dest in ("node1", "node2"):
        with pytest.raises(GroupPolicyViolated) as err:
            ClaimMove.begin(c, a["uuid"], dest)
        assert err.value.message == (f"cannot move server af-1 to {dest}: affinity group "
                                     f"'pack' lives on node3; host {dest} would split it")
    assert books(world) == before and recorded_host(world, a["uuid"]) == "node3"
    # the group's only member carries the group with it
    ClaimMove.begin(c, lone["uuid"], "node1").commit()
    assert recorded_host(world, lone["uuid"]) == "node1"


# -- evacuation: stops at the member it cannot place --------------------------------------

def test_evacuation_stops_at_a_member_with_nowhere_to_go(world, image):
    c = world.cloud
    c.server_groups.create(world.member, "spread", "anti-affinity")
    for i in (1, 2, 3):
        make(world, f"aa-{i}", "spread")  # node3, node2, node1: one member per host
    before = books(world)
    with pytest.raises(NoValidHost) as err:
        c.server_ops.evacuate(world.admin, "node1")
    count = len([r for r in c.registry.get("node1").list_domains()
                 if r["state"] in ("running", "blocked", "paused")])
    assert err.value.message == (
        f"evacuation of node1 stopped at server aa-3 (1 of {count}): no host can take aa-3: "
        "no valid host for the instance: none left after ServerGroupAntiAffinityFilter "
        "(anti-affinity group 'spread' has members on node2 (aa-2), node3 (aa-1))")
    assert runs_on(world, "aa-3") == ["node1"] and books(world) == before
    [rec] = c.identity.audit.list(world.admin, action="host:evacuate")
    assert rec["outcome"] == "failure" and rec["reason"] == err.value.message


def test_evacuation_does_not_split_an_affinity_group(world, image):
    c = world.cloud
    c.server_groups.create(world.member, "pack", "affinity")
    make(world, "af-1", "pack")
    make(world, "af-2", "pack")
    with pytest.raises(NoValidHost) as err:
        c.server_ops.evacuate(world.admin, "node3")
    assert "stopped at server af-1 (1 of " in err.value.message
    assert err.value.message.endswith(
        "(affinity group 'pack' has members on node3 (af-2); moving af-1 off node3 would "
        "split the group)")
    assert runs_on(world, "af-1") == runs_on(world, "af-2") == ["node3"]


# -- the claim layer, on SQLite and PostgreSQL --------------------------------------------

TINY = Usage(vcpus=1, memory_mb=512, disk_gb=1, root_gb=1)


def test_a_move_waits_for_the_group_row_and_sees_a_member_committed_meanwhile(db_url):
    """A create into the group holds the group row (as Claims.claim does) and puts a member
    on h05; a move of another member to h05 started meanwhile must wait for that
    transaction and then see the new member -- not pass on the members it read before."""
    db = Database(db_url)
    _pa, pb = seed(db)
    claims = Claims(db)
    cloud = SimpleNamespace(db=db, compute=SimpleNamespace(manager=SimpleNamespace(
        claims=claims)))
    gid = make_group(db, pb, "anti-affinity")
    mover = row(pb, "h01", gid)
    claims.claim(pb, TINY, ["h01"], [mover])
    locked, outcome = threading.Event(), {}

    def move() -> None:
        locked.wait(30)
        other = Database(db_url, migrate=False)
        try:
            ClaimMove.begin(SimpleNamespace(db=other, compute=cloud.compute), mover["uuid"],
                            "h05")
            outcome["got"] = "moved"
        except GroupPolicyViolated as exc:
            outcome["got"] = exc.message
        finally:
            other.close()

    mover_thread = threading.Thread(target=move)
    mover_thread.start()
    newcomer = row(pb, "h05", gid)
    with db.transaction() as s:
        assert GroupService.lock(s, gid) is not None
        s.add(Server(**newcomer, claimed=True, vcpus=1, memory_mb=512, disk_gb=1, root_gb=1))
        s.flush()
        locked.set()
        time.sleep(0.5)  # the move reaches the group row while this transaction holds it
    mover_thread.join(60)
    assert outcome["got"] == (f"cannot move server {mover['name']} to h05: host h05 already "
                              f"runs server {newcomer['name']} of anti-affinity group "
                              "'g-anti-affinity'")
    with db.transaction() as s:
        assert s.get(ComputeNode, "h05").num_instances == 0  # the refused move took nothing
        assert s.scalar(select(Server.host).where(Server.uuid == mover["uuid"])) == "h01"
    db.close()


def test_a_group_deleted_under_a_move_leaves_nothing_to_keep(db_url):
    db = Database(db_url)
    _pa, pb = seed(db)
    claims = Claims(db)
    cloud = SimpleNamespace(db=db, compute=SimpleNamespace(manager=SimpleNamespace(
        claims=claims)))
    gid = make_group(db, pb, "affinity")
    a, b = row(pb, "h01", gid), row(pb, "h01", gid)
    claims.claim(pb, TINY, ["h01", "h01"], [a, b])
    with pytest.raises(GroupPolicyViolated, match="lives on h01; host h02 would split it"):
        ClaimMove.begin(cloud, a["uuid"], "h02")
    with db.transaction() as s:
        s.delete(s.get(ServerGroup, gid))
    ClaimMove.begin(cloud, a["uuid"], "h02").commit()  # no group: no policy to keep
    with db.transaction() as s:
        assert s.get(Server, a["uuid"]).host == "h02"
        assert s.get(ComputeNode, "h02").num_instances == 1
    db.close()
