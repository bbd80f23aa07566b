"""A server group's policy at the claim layer, on SQLite and on PostgreSQL: workers with
their own Database each (like separate virtstack instances) claim members of one group
from stale views -- every worker believes the group is empty -- and the claims alone must
keep the policy (the group row locked, the members re-read in the claim's transaction)."""
from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from backend.compute.claims import Claims, GroupPolicyViolated, Usage
from backend.compute.models import ComputeNode, Server, ServerGroup
from backend.db import Database
from backend.errors import NotFound
from tests.compute import racing
from tests.compute.test_claims_concurrency import seed

WORKERS, TRIES = 8, 6
TINY = Usage(vcpus=1, memory_mb=512, disk_gb=1, root_gb=1)
HOSTS = [f"h{i:02d}" for i in range(10) if i != 7]  # h07 is disabled


def make_group(db: Database, project: str, policy: str) -> str:
    with db.transaction() as s:
        g = ServerGroup(name=f"g-{policy}", policy=policy, project_id=project)
        s.add(g)
        s.flush()
        return g.id


def row(project: str, host: str, group_id: str) -> dict:
    u = str(uuid.uuid4())
    return {"uuid": u, "name": f"vm-{u[:8]}", "host": host, "project_id": project,
            "group_id": group_id, "status": "ACTIVE"}


def members(db: Database, group_id: str) -> list[str]:
    with db.transaction() as s:
        return list(s.scalars(select(Server.host).where(Server.group_id == group_id,
                                                        Server.claimed.is_(True))))


def race(db_url: str, attempt) -> Counter:
    return racing.race(db_url, attempt, WORKERS, TRIES)


def test_racing_claims_keep_anti_affinity(db_url):
    main = Database(db_url)
    _pa, pb = seed(main)
    gid = make_group(main, pb, "anti-affinity")

    def attempt(claims: Claims, rng: random.Random) -> str:
        # A stale view: the group looks empty, so any host will do -- in the worker's own
        # order, the first three hot (every worker wants h00-h02 first).
        for host in rng.sample(HOSTS[:3], 3) + rng.sample(HOSTS[3:], 3):
            try:
                claims.claim(pb, TINY, [host], [row(pb, host, gid)])
                return "placed"
            except GroupPolicyViolated as exc:
                assert exc.host == host and "anti-affinity group 'g-anti-affinity'" in \
                    exc.message, exc.message
                continue
        return "refused"

    outcomes = race(db_url, attempt)
    hosts = Counter(members(main, gid))
    assert all(n == 1 for n in hosts.values()), hosts  # at most one member per host
    assert outcomes["placed"] == len(hosts) <= len(HOSTS)
    assert hosts.keys() >= set(HOSTS[:3])
    assert outcomes["refused"] == WORKERS * TRIES - outcomes["placed"]
    with main.transaction() as s:  # a refused claim took nothing
        for n in s.scalars(select(ComputeNode)):
            assert n.num_instances == hosts.get(n.host, 0), n.host
        assert Claims(main).quota_report(s, pb)["instances"]["in_use"] == len(hosts)
    main.close()


def test_racing_claims_keep_affinity(db_url):
    main = Database(db_url)
    _pa, pb = seed(main)
    gid = make_group(main, pb, "affinity")

    def attempt(claims: Claims, rng: random.Random) -> str:
        host = rng.choice(HOSTS)  # a stale view: the group looks empty, any host will do
        try:
            claims.claim(pb, TINY, [host], [row(pb, host, gid)])
            return "placed"
        except GroupPolicyViolated as exc:
            assert exc.host == host and "would split it" in exc.message, exc.message
            return "refused"

    outcomes = race(db_url, attempt)
    hosts = Counter(members(main, gid))
    assert len(hosts) == 1, hosts  # one host holds the whole group
    assert outcomes["placed"] == sum(hosts.values())
    assert outcomes["refused"] > 0  # the workers did pick different hosts
    main.close()


def test_a_claim_for_two_members_keeps_the_policy_among_them(db_url):
    db = Database(db_url)
    _pa, pb = seed(db)
    claims = Claims(db)
    apart, together = make_group(db, pb, "anti-affinity"), make_group(db, pb, "affinity")
    with pytest.raises(GroupPolicyViolated, match="two new members"):
        claims.claim(pb, TINY, ["h01", "h01"], [row(pb, "h01", apart), row(pb, "h01", apart)])
    with pytest.raises(GroupPolicyViolated, match="lives on h01; host h02 would split it"):
        claims.claim(pb, TINY, ["h01", "h02"], [row(pb, "h01", together),
                                                row(pb, "h02", together)])
    claims.claim(pb, TINY, ["h01", "h02"], [row(pb, "h01", apart), row(pb, "h02", apart)])
    claims.claim(pb, TINY, ["h03", "h03"], [row(pb, "h03", together),
                                            row(pb, "h03", together)])
    assert sorted(members(db, apart)) == ["h01", "h02"]
    assert members(db, together) == ["h03", "h03"]
    db.close()


def test_claim_again_keeps_the_policy(db_url):
    """A member released after a failed spawn is claimed again elsewhere: not where another
    member went meanwhile."""
    db = Database(db_url)
    _pa, pb = seed(db)
    claims = Claims(db)
    gid = make_group(db, pb, "anti-affinity")
    first, second = row(pb, "h01", gid), row(pb, "h02", gid)
    claims.claim(pb, TINY, ["h01"], [first])
    claims.release(first["uuid"])          # its spawn failed
    claims.claim(pb, TINY, ["h02"], [second])  # another create took h02 meanwhile
    with pytest.raises(GroupPolicyViolated, match="h02 already runs server vm-"):
        claims.claim_again(pb, TINY, "h02", first["uuid"])
    claims.claim_again(pb, TINY, "h03", first["uuid"])
    assert sorted(members(db, gid)) == ["h02", "h03"]
    with db.transaction() as s:
        assert s.get(ComputeNode, "h02").num_instances == 1
        assert claims.quota_report(s, pb)["instances"]["in_use"] == 2
    db.close()


def test_other_policies_and_no_group_never_refuse(db_url):
    """Only the hard policies are enforced: a group with any other policy (nova's
    soft-affinity, were it stored) is a preference, never a failed claim."""
    db = Database(db_url)
    _pa, pb = seed(db)
    claims = Claims(db)
    gid = make_group(db, pb, "soft-affinity")
    for host in ("h01", "h01", "h02"):
        claims.claim(pb, TINY, [host], [row(pb, host, gid)])
    assert sorted(members(db, gid)) == ["h01", "h01", "h02"]
    claims.claim(pb, TINY, ["h01", "h01"], [row(pb, "h01", None), row(pb, "h01", None)])
    db.close()


def test_a_group_deleted_before_the_claim_is_named(db_url):
    db = Database(db_url)
    _pa, pb = seed(db)
    gid = make_group(db, pb, "anti-affinity")
    with db.transaction() as s:
        s.delete(s.get(ServerGroup, gid))
    with pytest.raises(NotFound, match="deleted meanwhile"):
        Claims(db).claim(pb, TINY, ["h01"], [row(pb, "h01", gid)])
    with db.transaction() as s:
        assert s.get(ComputeNode, "h01").num_instances == 0
    db.close()
