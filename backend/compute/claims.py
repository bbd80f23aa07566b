"""Claims: promise a host's resources and a project's quota to new servers, atomically.

Every promise is a conditional UPDATE the database evaluates against the row as it is when
the write happens::

    UPDATE compute_nodes SET memory_mb_used = memory_mb_used + :r, ...
     WHERE host = :h AND enabled
       AND memory_mb_used + unmanaged_memory_mb + reserved_host_memory_mb + :r
           <= memory_mb * ram_allocation_ratio  AND ...

and a rowcount of 0 means "no room". On PostgreSQL a concurrent writer blocks on the row
lock and then re-checks the WHERE clause against the committed row (READ COMMITTED); on
SQLite writers are serialised by ``BEGIN IMMEDIATE``. So threads, processes and several
virtstack instances sharing one database can never push a host past total x ratio or a
project past its quota -- no in-process lock involved.

A claim for members of a server group also keeps the group's policy: it locks the group's
row (``SELECT ... FOR UPDATE``; SQLite's writers take turns anyway) and checks the chosen
hosts against the members committed by then (``GroupService.policy_violation``), so two
creates that scheduled from the same view cannot both land on one host of an anti-affinity
group, or split an affinity group; the loser gets GroupPolicyViolated and is rescheduled.
A member's claim moved to another host (``migrate.ClaimMove``) is checked the same way.

Lock order: group rows, then quota rows, then host rows, each in sorted order, so two
claims never wait on each other in a cycle.

A server row with ``claimed = true`` carries what it holds; ``release`` flips the flag and
gives the resources back in the same transaction, so a release happens exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.compute.groups import GroupService
from backend.compute.models import (DEFAULT_QUOTAS, QUOTA_RESOURCES, ComputeNode, QuotaUsage,
                                    Server)
from backend.db import Database, utcnow
from backend.errors import Conflict, NotFound, NoValidHost, QuotaExceeded

UNITS = {"ram": " MB", "gigabytes": " GB"}


class ClaimFailed(NoValidHost):
    """The chosen host has no room any more (someone else claimed it first)."""

    def __init__(self, host: str, message: str):
        super().__init__(message)
        self.host = host


class GroupPolicyViolated(ClaimFailed):
    """The chosen host breaks the server group's (hard) policy, given the members claimed
    since the scheduler looked. Like any failed claim: try another host."""


@dataclass(frozen=True)
class Usage:
    """What one instance holds on its host and against its project's quota."""

    vcpus: int
    memory_mb: int
    disk_gb: float      # root + ephemeral + swap, what the host's disk gives
    root_gb: int = 0    # the root volume: counted in the volumes/gigabytes quota
    volumes: int = 1    # every server counts one (root) volume, adopted ones too

    def quota(self, n: int = 1) -> dict[str, int]:
        return {"instances": n, "cores": self.vcpus * n, "ram": self.memory_mb * n,
                "volumes": self.volumes * n, "gigabytes": self.root_gb * self.volumes * n}


def _limit_expr(resource: str):
    return func.coalesce(QuotaUsage.hard_limit, DEFAULT_QUOTAS[resource])


class Claims:
    def __init__(self, db: Database):
        self.db = db
        self._have_rows: set[str] = set()  # projects whose usage rows exist (never removed
        # but with the project itself)

    # -- quota rows -------------------------------------------------------------------
    def ensure_quota_rows(self, project_id: str) -> None:
        """Create the project's usage rows (limit NULL = default, in use 0) if missing.
        Two creators racing: one insert wins, the other retries and finds the rows."""
        if project_id in self._have_rows:
            return
        for _attempt in range(3):
            try:
                with self.db.transaction() as s:
                    have = set(s.scalars(select(QuotaUsage.resource)
                                         .where(QuotaUsage.project_id == project_id)))
                    missing = [r for r in QUOTA_RESOURCES if r not in have]
                    if missing:
                        s.execute(insert(QuotaUsage), [
                            {"project_id": project_id, "resource": r, "hard_limit": None,
                             "in_use": 0} for r in missing])
                self._have_rows.add(project_id)
                return
            except IntegrityError:
                continue

    def quota_report(self, s: Session, project_id: str) -> dict[str, dict[str, int]]:
        rows = {q.resource: q for q in s.scalars(
            select(QuotaUsage).where(QuotaUsage.project_id == project_id))}
        out = {}
        for r in QUOTA_RESOURCES:
            q = rows.get(r)
            limit = q.hard_limit if q is not None and q.hard_limit is not None \
                else DEFAULT_QUOTAS[r]
            out[r] = {"limit": limit, "in_use": q.in_use if q is not None else 0}
        return out

    def check_quota(self, project_id: str, usage: Usage, n: int) -> None:
        """An early, read-only answer (the API's check before scheduling); the claim
        re-checks atomically."""
        with self.db.transaction() as s:
            report = self.quota_report(s, project_id)
        for resource, want in sorted(usage.quota(n).items()):
            q = report[resource]
            if want and q["limit"] >= 0 and q["in_use"] + want > q["limit"]:
                unit = UNITS.get(resource, "")
                raise QuotaExceeded(
                    f"quota exceeded for {resource}: limit {q['limit']}{unit}, in use "
                    f"{q['in_use']}{unit}, requested {want}{unit}")

    def _take_quota(self, s: Session, project_id: str, deltas: dict[str, int]) -> None:
        for resource in sorted(deltas):
            n = deltas[resource]
            if n == 0:
                continue
            limit = _limit_expr(resource)
            res = s.execute(
                update(QuotaUsage)
                .where(QuotaUsage.project_id == project_id, QuotaUsage.resource == resource,
                       or_(limit < 0, QuotaUsage.in_use + n <= limit))
                .values(in_use=QuotaUsage.in_use + n)
                .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                now = self.quota_report(s, project_id)[resource]
                unit = UNITS.get(resource, "")
                raise QuotaExceeded(
                    f"quota exceeded for {resource}: limit {now['limit']}{unit}, in use "
                    f"{now['in_use']}{unit}, requested {n}{unit}")

    # -- quota alone (volumes and whatever else holds quota without a host claim) -------
    # Call ensure_quota_rows(project_id) before opening ``s`` (SQLite: one writer).
    def take_quota(self, s: Session, project_id: str, deltas: dict[str, int]) -> None:
        """The same conditional UPDATEs a server claim makes, in the caller's transaction:
        all of ``deltas`` or QuotaExceeded naming the quota, its limit and the usage."""
        self._take_quota(s, project_id, deltas)

    @staticmethod
    def force_quota(s: Session, project_id: str, deltas: dict[str, int]) -> None:
        """Count what already exists (adopted), limits or not."""
        for resource in sorted(deltas):
            if deltas[resource]:
                s.execute(update(QuotaUsage)
                          .where(QuotaUsage.project_id == project_id,
                                 QuotaUsage.resource == resource)
                          .values(in_use=QuotaUsage.in_use + deltas[resource])
                          .execution_options(synchronize_session=False))

    @classmethod
    def give_quota(cls, s: Session, project_id: str, deltas: dict[str, int]) -> None:
        """Give usage back (never checked against the limit: a lowered limit must not
        keep a project from freeing what it holds)."""
        cls.force_quota(s, project_id, {r: -n for r, n in deltas.items()})

    # -- host rows --------------------------------------------------------------------
    def _take_host(self, s: Session, host: str, usage: Usage, n: int) -> None:
        c, r, d = usage.vcpus * n, usage.memory_mb * n, usage.disk_gb * n
        N = ComputeNode
        res = s.execute(
            update(N)
            .where(N.host == host, N.enabled.is_(True),
                   N.vcpus_used + N.unmanaged_vcpus + c <= N.vcpus * N.cpu_allocation_ratio,
                   N.memory_mb_used + N.unmanaged_memory_mb + N.reserved_host_memory_mb + r
                   <= N.memory_mb * N.ram_allocation_ratio,
                   N.disk_gb_used + N.unmanaged_disk_gb + N.reserved_host_disk_gb + d
                   <= N.disk_gb * N.disk_allocation_ratio,
                   # one instance never exceeds the physical host
                   and_(N.vcpus >= usage.vcpus, N.memory_mb >= usage.memory_mb,
                        N.disk_gb >= usage.disk_gb))
            .values(vcpus_used=N.vcpus_used + c, memory_mb_used=N.memory_mb_used + r,
                    disk_gb_used=N.disk_gb_used + d, num_instances=N.num_instances + n)
            .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            node = s.get(N, host)
            if node is None:
                raise ClaimFailed(host, f"host {host} has no resource record")
            if not node.enabled:
                raise ClaimFailed(host, f"host {host} is disabled"
                                  + (f" ({node.disabled_reason})" if node.disabled_reason
                                     else ""))
            raise ClaimFailed(host, f"host {host} has no room left for {n} x "
                              f"{usage.vcpus} vCPU / {usage.memory_mb} MB / "
                              f"{usage.disk_gb:g} GB")

    # -- the claim --------------------------------------------------------------------
    def claim(self, project_id: str, usage: Usage, hosts: Iterable[str],
              servers: list[dict] | None = None) -> None:
        """Take quota for every instance and room on each host (one host name per
        instance), and insert the server rows (claimed), in one transaction: all or
        nothing. Rows with a ``group_id`` must keep their group's policy. Raises
        QuotaExceeded, ClaimFailed (GroupPolicyViolated), or NotFound (group deleted)."""
        hosts = list(hosts)
        per_host: dict[str, int] = {}
        for h in hosts:
            per_host[h] = per_host.get(h, 0) + 1
        self.ensure_quota_rows(project_id)
        with self.db.transaction() as s:
            for group_id in sorted({r["group_id"] for r in servers or []
                                    if r.get("group_id")}):
                self._keep_group_policy(s, group_id, [r["host"] for r in servers
                                                      if r.get("group_id") == group_id])
            self._take_quota(s, project_id, usage.quota(len(hosts)))
            for host in sorted(per_host):
                self._take_host(s, host, usage, per_host[host])
            for row in servers or []:
                s.add(Server(**row, claimed=True, vcpus=usage.vcpus,
                             memory_mb=usage.memory_mb, disk_gb=usage.disk_gb,
                             root_gb=usage.root_gb))

    @staticmethod
    def _keep_group_policy(s: Session, group_id: str, hosts: list[str],
                           moving: str | None = None) -> None:
        """Lock the group's row, then check new members on ``hosts`` against the members
        committed by now. ``moving``: the uuid of a member that moves to ``hosts[0]``
        (migrate.ClaimMove): it is checked against the other members only, and a group
        deleted meanwhile leaves no policy to keep."""
        group = GroupService.lock(s, group_id)
        if group is None:
            if moving is not None:
                return
            raise NotFound(f"server group {group_id} was deleted meanwhile")
        members = [m for m in GroupService.members(s, group_id) if m["uuid"] != moving]
        found = GroupService.policy_violation(group, members, hosts)
        if found is not None:
            raise GroupPolicyViolated(*found)

    def resize(self, uuid: str, old: Usage, new: Usage, flavor: str | None, *,
               force: bool = False) -> None:
        """Move server ``uuid``'s claim from ``old`` to ``new`` on the host it is on, in one
        transaction: the project's quota delta, the host's delta, the server row's sizes
        and flavor -- all or nothing. What grows is checked by the same conditional
        UPDATEs as a claim (QuotaExceeded / ClaimFailed); what shrinks is given back
        unchecked. ``force`` skips the checks (undoing a resize whose host work failed).
        The server row must still hold ``old`` (Conflict otherwise: a concurrent resize)."""
        with self.db.transaction() as s:
            srv = s.get(Server, uuid)
            if srv is None or not srv.claimed:
                raise Conflict(f"server {uuid} holds no claim")
            project_id, host = srv.project_id, srv.host
        if project_id:
            self.ensure_quota_rows(project_id)  # before the transaction (SQLite: one writer)
        want, have = new.quota(1), old.quota(1)
        deltas = {r: want[r] - have[r] for r in want if want[r] != have[r]}
        with self.db.transaction() as s:
            if project_id:  # quota rows first, host row second (the claims' lock order)
                grow = {r: n for r, n in deltas.items() if n > 0}
                if force:
                    self.force_quota(s, project_id, grow)
                else:
                    self._take_quota(s, project_id, grow)
                self.give_quota(s, project_id, {r: -n for r, n in deltas.items() if n < 0})
            if host:
                self._resize_host(s, host, old, new, force)
            res = s.execute(
                update(Server)
                .where(Server.uuid == uuid, Server.claimed.is_(True),
                       Server.vcpus == old.vcpus, Server.memory_mb == old.memory_mb,
                       Server.root_gb == old.root_gb)
                .values(vcpus=new.vcpus, memory_mb=new.memory_mb, disk_gb=new.disk_gb,
                        root_gb=new.root_gb, flavor=flavor)
                .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                raise Conflict(f"server {uuid} changed meanwhile (another resize?): "
                               "nothing was changed, try again")

    def _resize_host(self, s: Session, host: str, old: Usage, new: Usage,
                     force: bool) -> None:
        N = ComputeNode
        dc, dr = new.vcpus - old.vcpus, new.memory_mb - old.memory_mb
        dd = new.disk_gb - old.disk_gb
        checks = []
        if not force:
            if dc > 0:
                checks += [N.vcpus_used + N.unmanaged_vcpus + dc
                           <= N.vcpus * N.cpu_allocation_ratio, N.vcpus >= new.vcpus]
            if dr > 0:
                checks += [N.memory_mb_used + N.unmanaged_memory_mb
                           + N.reserved_host_memory_mb + dr
                           <= N.memory_mb * N.ram_allocation_ratio,
                           N.memory_mb >= new.memory_mb]
            if dd > 0:
                checks += [N.disk_gb_used + N.unmanaged_disk_gb + N.reserved_host_disk_gb + dd
                           <= N.disk_gb * N.disk_allocation_ratio, N.disk_gb >= new.disk_gb]
            if checks:
                checks.append(N.enabled.is_(True))
        res = s.execute(
            update(N).where(N.host == host, *checks)
            .values(vcpus_used=N.vcpus_used + dc, memory_mb_used=N.memory_mb_used + dr,
                    disk_gb_used=N.disk_gb_used + dd)
            .execution_options(synchronize_session=False))
        if res.rowcount == 1:
            return
        node = s.get(N, host)
        if node is None:
            raise ClaimFailed(host, f"host {host} has no resource record")
        if checks and not node.enabled:
            raise ClaimFailed(host, f"host {host} is disabled"
                              + (f" ({node.disabled_reason})" if node.disabled_reason else "")
                              + ": it takes no bigger servers")
        why = []
        for label, d, total, ratio, alloc, want in (
                ("vCPU", dc, node.vcpus, node.cpu_allocation_ratio,
                 node.vcpus_used + node.unmanaged_vcpus, new.vcpus),
                ("RAM", dr, node.memory_mb, node.ram_allocation_ratio,
                 node.memory_mb_used + node.unmanaged_memory_mb
                 + node.reserved_host_memory_mb, new.memory_mb),
                ("disk", dd, node.disk_gb, node.disk_allocation_ratio,
                 node.disk_gb_used + node.unmanaged_disk_gb + node.reserved_host_disk_gb,
                 new.disk_gb)):
            unit = {"RAM": " MB", "disk": " GB"}.get(label, "")
            if d > 0 and alloc + d > total * ratio:
                why.append(f"{label}: limit {total * ratio:g}{unit} ({total:g} x {ratio:g}), "
                           f"allocated {alloc:g}{unit}, needs {d:+g}{unit} more")
            elif d > 0 and want > total:
                why.append(f"{label}: {want:g}{unit} is more than the host's {total:g}{unit}")
        raise ClaimFailed(host, f"host {host} has no room to resize: " + "; ".join(why))

    def claim_again(self, project_id: str, usage: Usage, host: str, uuid: str) -> None:
        """Claim for an existing server row (released after a failed spawn) on a new host;
        its group's policy is checked as in ``claim``."""
        self.ensure_quota_rows(project_id)
        with self.db.transaction() as s:
            group_id = s.scalar(select(Server.group_id).where(Server.uuid == uuid))
            if group_id:
                self._keep_group_policy(s, group_id, [host])
            self._take_quota(s, project_id, usage.quota(1))
            self._take_host(s, host, usage, 1)
            res = s.execute(update(Server).where(Server.uuid == uuid,
                                                 Server.claimed.is_(False))
                            .values(host=host, claimed=True)
                            .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                raise ClaimFailed(host, f"server {uuid} is already claimed")

    def claim_forced(self, s: Session, project_id: str, host: str, usage: Usage) -> None:
        """Record what an existing VM (adopted) holds, limits or not: it already runs.
        Call ensure_quota_rows(project_id) before opening ``s``."""
        for resource, n in usage.quota(1).items():
            s.execute(update(QuotaUsage)
                      .where(QuotaUsage.project_id == project_id,
                             QuotaUsage.resource == resource)
                      .values(in_use=QuotaUsage.in_use + n)
                      .execution_options(synchronize_session=False))
        N = ComputeNode
        s.execute(update(N).where(N.host == host)
                  .values(vcpus_used=N.vcpus_used + usage.vcpus,
                          memory_mb_used=N.memory_mb_used + usage.memory_mb,
                          disk_gb_used=N.disk_gb_used + usage.disk_gb,
                          num_instances=N.num_instances + 1)
                  .execution_options(synchronize_session=False))

    def release(self, uuid: str, *, status: str | None = None,
                fault: str | None = None) -> bool:
        """Give back what server ``uuid`` holds (once); optionally set its status/fault.
        True if something was released."""
        with self.db.transaction() as s:
            values = {"claimed": False}
            if status:
                values["status"] = status
                if status == "DELETED":
                    values["deleted_at"] = utcnow()
            if fault is not None:
                values["fault"] = fault
            res = s.execute(update(Server).where(Server.uuid == uuid,
                                                 Server.claimed.is_(True))
                            .values(**values).execution_options(synchronize_session=False))
            if res.rowcount != 1:
                if values.keys() - {"claimed"}:
                    s.execute(update(Server).where(Server.uuid == uuid).values(**values)
                              .execution_options(synchronize_session=False))
                return False
            srv = s.get(Server, uuid)
            usage = Usage(srv.vcpus, srv.memory_mb, srv.disk_gb, srv.root_gb)
            if srv.project_id:
                for resource, n in sorted(usage.quota(1).items()):
                    if n:
                        s.execute(update(QuotaUsage)
                                  .where(QuotaUsage.project_id == srv.project_id,
                                         QuotaUsage.resource == resource)
                                  .values(in_use=QuotaUsage.in_use - n)
                                  .execution_options(synchronize_session=False))
            if srv.host:
                N = ComputeNode
                s.execute(update(N).where(N.host == srv.host)
                          .values(vcpus_used=N.vcpus_used - srv.vcpus,
                                  memory_mb_used=N.memory_mb_used - srv.memory_mb,
                                  disk_gb_used=N.disk_gb_used - srv.disk_gb,
                                  num_instances=N.num_instances - 1)
                          .execution_options(synchronize_session=False))
            return True
