"""8 workers claim 1,000 instances onto 50 hosts through the claim layer, each worker with
its own Database (its own engine and connections, like separate virtstack instances). The
demand is larger than the hosts and the quota allow, so limits are hit -- and held."""
from __future__ import annotations

import random
import uuid

from sqlalchemy import func, insert, select

from backend.compute.claims import Claims, ClaimFailed, Usage
from backend.compute.models import ComputeNode, QuotaUsage, Server
from backend.db import Database
from backend.errors import QuotaExceeded
from backend.identity.models import Project
from tests.compute.racing import race

WORKERS, INSTANCES, HOSTS = 8, 1000, 50
SMALL = Usage(vcpus=1, memory_mb=1024, disk_gb=10, root_gb=10)
BIG = Usage(vcpus=4, memory_mb=4096, disk_gb=40, root_gb=40)


def seed(db: Database) -> tuple[str, str]:
    with db.transaction() as s:
        s.add_all([Project(id="a" * 32, name="pa"), Project(id="b" * 32, name="pb")])
        s.flush()
        # Host i: 16-32 GiB RAM (ratio 1.5), 16 cores (ratio 2.0), 2 TB: room for ~1,000.
        s.execute(insert(ComputeNode), [
            {"host": f"h{i:02d}", "az": "nova", "vcpus": 16, "memory_mb": 16384 + 2048 * (i % 9),
             "disk_gb": 2000, "cpu_allocation_ratio": 2.0, "ram_allocation_ratio": 1.5,
             "disk_allocation_ratio": 1.0, "reserved_host_memory_mb": 512,
             "reserved_host_disk_gb": 0, "vcpus_used": 0, "memory_mb_used": 0,
             "disk_gb_used": 0.0, "num_instances": 0, "unmanaged_vcpus": i % 3,
             "unmanaged_memory_mb": 256 * (i % 4), "unmanaged_disk_gb": 0.0,
             "unmanaged_instances": 0, "enabled": i != 7, "hypervisor_type": "QEMU",
             "arch": "x86_64", "capabilities": {}, "aggregates": []}
            for i in range(HOSTS)])
        s.execute(insert(QuotaUsage), [
            {"project_id": "a" * 32, "resource": "instances", "hard_limit": 150, "in_use": 0},
            {"project_id": "a" * 32, "resource": "ram", "hard_limit": -1, "in_use": 0},
            {"project_id": "a" * 32, "resource": "cores", "hard_limit": -1, "in_use": 0},
            {"project_id": "b" * 32, "resource": "cores", "hard_limit": 2000, "in_use": 0},
            {"project_id": "b" * 32, "resource": "ram", "hard_limit": 10**6, "in_use": 0},
            {"project_id": "b" * 32, "resource": "instances", "hard_limit": -1,
             "in_use": 0},
            {"project_id": "b" * 32, "resource": "volumes", "hard_limit": -1, "in_use": 0},
            {"project_id": "b" * 32, "resource": "gigabytes", "hard_limit": -1,
             "in_use": 0},
            {"project_id": "a" * 32, "resource": "volumes", "hard_limit": -1, "in_use": 0},
            {"project_id": "a" * 32, "resource": "gigabytes", "hard_limit": -1,
             "in_use": 0}])
    return "a" * 32, "b" * 32


def test_concurrent_claims_never_pass_a_limit(db_url):
    main = Database(db_url)
    pa, pb = seed(main)

    def attempt(claims: Claims, rng: random.Random) -> str:
        project = pa if rng.random() < 0.5 else pb
        usage = BIG if rng.random() < 0.25 else SMALL
        # Hot spots on purpose: every worker favours the first ten hosts.
        for host in rng.sample([f"h{i:02d}" for i in range(10)], 3) + \
                rng.sample([f"h{i:02d}" for i in range(HOSTS)], 3):
            u = str(uuid.uuid4())
            try:
                claims.claim(project, usage, [host], [
                    {"uuid": u, "name": f"vm-{u[:8]}", "host": host,
                     "project_id": project, "status": "ACTIVE"}])
                return "ok"
            except QuotaExceeded:
                return "quota"
            except ClaimFailed:
                continue
        return "full"
    counts = race(db_url, attempt, WORKERS, INSTANCES // WORKERS)
    assert counts["ok"] > 500 and counts["quota"] > 0, counts

    with main.transaction() as s:
        nodes = {n.host: n for n in s.scalars(select(ComputeNode))}
        per_host = {h: (c or 0, m or 0, d or 0, k) for h, c, m, d, k in s.execute(
            select(Server.host, func.sum(Server.vcpus), func.sum(Server.memory_mb),
                   func.sum(Server.disk_gb), func.count()).group_by(Server.host))}
        at_limit = 0
        for name, n in nodes.items():
            c, m, d, k = per_host.get(name, (0, 0, 0, 0))
            # the books match the servers, and stay within total x ratio
            assert (n.vcpus_used, n.memory_mb_used, n.num_instances) == (c, m, k)
            assert abs(n.disk_gb_used - d) < 1e-6
            assert n.vcpus_used + n.unmanaged_vcpus <= n.vcpus * n.cpu_allocation_ratio
            ram_room = n.memory_mb * n.ram_allocation_ratio - n.reserved_host_memory_mb \
                - n.unmanaged_memory_mb
            assert n.memory_mb_used <= ram_room, name
            assert n.disk_gb_used <= n.disk_gb * n.disk_allocation_ratio
            if not n.enabled:
                assert k == 0
            at_limit += ram_room - n.memory_mb_used < 1024 or \
                n.vcpus * n.cpu_allocation_ratio - n.vcpus_used - n.unmanaged_vcpus < 1
        assert at_limit >= 10, at_limit  # the hot hosts really filled up
        quota = {(q.project_id, q.resource): q for q in s.scalars(select(QuotaUsage))}
        used = {p: (k, c or 0, m or 0) for p, k, c, m in s.execute(
            select(Server.project_id, func.count(), func.sum(Server.vcpus),
                   func.sum(Server.memory_mb)).group_by(Server.project_id))}
        assert quota[(pa, "instances")].in_use == used[pa][0] <= 150
        assert used[pa][0] == 150  # project a ran into its instance quota exactly
        assert quota[(pb, "cores")].in_use == used[pb][1] <= 2000
        assert quota[(pb, "ram")].in_use == used[pb][2] <= 10**6
    main.close()


def test_release_gives_back_exactly_once(db_url):
    db = Database(db_url)
    pa, _pb = seed(db)
    claims = Claims(db)
    u = str(uuid.uuid4())
    claims.claim(pa, BIG, ["h01"], [{"uuid": u, "name": "x", "host": "h01",
                                     "project_id": pa, "status": "BUILD"}])
    assert claims.release(u, status="DELETED") is True
    assert claims.release(u, status="DELETED") is False
    with db.transaction() as s:
        n = s.get(ComputeNode, "h01")
        assert (n.vcpus_used, n.memory_mb_used, n.num_instances) == (0, 0, 0)
        assert claims.quota_report(s, pa)["instances"]["in_use"] == 0
        assert s.get(Server, u).status == "DELETED"
    db.close()
