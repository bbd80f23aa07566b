"""Server groups: affinity / anti-affinity sets of servers of one project.

The scheduler's group filters place a server by the members it saw; two creates racing
into one group both see the same members. So the claim checks the policy again
(``policy_violation``) against the members as they are inside its own transaction, with
the group row locked (``lock``) -- nova's late ``_validate_instance_group_policy``, done
where the claim commits instead of on the compute host.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.compute.models import Server, ServerGroup
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.validation import validate_name


def group_dict(g: ServerGroup, members: list[dict] | None = None) -> dict:
    return {"id": g.id, "name": g.name, "policy": g.policy, "project_id": g.project_id,
            "members": members or []}


class GroupService:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def find(s: Session, ref: str, project_id: str | None, admin: bool) -> ServerGroup:
        if not isinstance(ref, str) or not ref:
            raise InvalidInput("server group must not be empty")
        q = select(ServerGroup).where((ServerGroup.id == ref) | (ServerGroup.name == ref))
        found = [g for g in s.scalars(q) if admin or g.project_id == project_id]
        if not found:
            raise NotFound(f"no server group {ref!r}")
        if len(found) > 1:
            own = [g for g in found if g.project_id == project_id]
            if len(own) != 1:
                raise Conflict(f"server group name {ref!r} is ambiguous: use its id")
            return own[0]
        return found[0]

    @staticmethod
    def members(s: Session, group_id: str) -> list[dict]:
        return [{"uuid": u, "name": n, "host": h} for u, n, h in s.execute(
            select(Server.uuid, Server.name, Server.host)
            .where(Server.group_id == group_id, Server.status != "DELETED",
                   Server.claimed.is_(True)))]

    @classmethod
    def member_hosts(cls, s: Session, group_id: str) -> list[str]:
        return sorted({m["host"] for m in cls.members(s, group_id) if m["host"]})

    @staticmethod
    def lock(s: Session, group_id: str) -> ServerGroup | None:
        """The group's row, locked until ``s`` ends (SELECT ... FOR UPDATE on PostgreSQL;
        SQLite's BEGIN IMMEDIATE already makes writers take turns): two claims for one
        group run one after the other, the second seeing the first's members. None if the
        group was deleted."""
        return s.scalars(select(ServerGroup).where(ServerGroup.id == group_id)
                         .with_for_update()).one_or_none()

    @staticmethod
    def policy_violation(group: ServerGroup, members: list[dict],
                         hosts: Iterable[str]) -> tuple[str, str] | None:
        """(host, why) if new members on ``hosts`` (one per instance) break the group's
        hard policy next to its ``members``; None if they keep it. The same rules as the
        scheduler's ServerGroup*AffinityFilter, on the members as they are now. Only the
        hard policies are checked: any other (a soft one, should one be added) is a
        preference for the weighers and never refuses a claim."""
        hosts = list(hosts)
        if group.policy == "anti-affinity":
            taken = {m["host"]: m["name"] for m in members if m["host"]}
            for i, h in enumerate(hosts):
                if h in taken:
                    return h, (f"host {h} already runs server {taken[h]} of anti-affinity "
                               f"group {group.name!r}")
                if h in hosts[:i]:
                    return h, (f"host {h} would run two new members of anti-affinity group "
                               f"{group.name!r}")
        elif group.policy == "affinity":  # the members' host(s), or the first new one's
            home = sorted({m["host"] for m in members if m["host"]}) or hosts[:1]
            for h in hosts:
                if h not in home:
                    return h, (f"affinity group {group.name!r} lives on {', '.join(home)}; "
                               f"host {h} would split it")
        return None

    def create(self, name: str, policy: str, project_id: str) -> dict:
        from backend.scheduler.request_spec import POLICIES
        validate_name(name, "server group name")
        if policy not in POLICIES:
            raise InvalidInput(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        with self.db.transaction() as s:
            if s.scalar(select(ServerGroup.id).where(ServerGroup.name == name,
                                                     ServerGroup.project_id == project_id)):
                raise Conflict(f"server group {name!r} already exists in this project")
            g = ServerGroup(name=name, policy=policy, project_id=project_id)
            s.add(g)
            s.flush()
            return group_dict(g)

    def list(self, project_id: str | None, admin: bool) -> list[dict]:
        with self.db.transaction() as s:
            q = select(ServerGroup).order_by(ServerGroup.name)
            if not admin:
                q = q.where(ServerGroup.project_id == project_id)
            return [group_dict(g, self.members(s, g.id)) for g in s.scalars(q)]

    def show(self, ref: str, project_id: str | None, admin: bool) -> dict:
        with self.db.transaction() as s:
            g = self.find(s, ref, project_id, admin)
            return group_dict(g, self.members(s, g.id))

    def delete(self, ref: str, project_id: str | None, admin: bool) -> dict:
        with self.db.transaction() as s:
            g = self.find(s, ref, project_id, admin)
            out = {"id": g.id, "name": g.name, "deleted": True}
            s.delete(g)
            return out
