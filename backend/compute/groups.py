"""Server groups: affinity / anti-affinity sets of servers of one project."""
from __future__ import annotations

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
