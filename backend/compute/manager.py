"""The server-create and server-delete flows (nova's API -> scheduler -> compute).

    validate (flavor usable, image fits the flavor, names free)
    -> sync the hosts' resource rows -> Scheduler.select (pure)
    -> claim in one transaction (quota + host limits re-checked by the DB, and a server
       group's policy against its members as they are then: a create that raced
       another into the group and lost is rescheduled like any failed claim)
    -> spawn on the chosen host: root volume, domain XML, define + start
    -> ACTIVE; or: release the claim, remove what was made, try the next host
       (RetryFilter: up to MAX_ATTEMPTS hosts), and ERROR with the reasons at the end.

``preview`` runs the same select on the same HostStates and writes nothing: the wizard's
live view and ``create`` cannot disagree about which hosts pass and why.
"""
from __future__ import annotations

import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select

from backend.api.context import RequestContext
from backend.compute import resources
from backend.compute.claims import ClaimFailed, Claims, GroupPolicyViolated, Usage
from backend.compute.flavors import FlavorService, flavor_dict
from backend.compute.groups import GroupService
from backend.compute.images import ImageService, image_dict
from backend.compute.models import Server
from backend.compute.spawn import cleanup, spawn, volume_name
from backend.errors import (Conflict, InvalidInput, NoValidHost, QuotaExceeded,
                            VirtstackError)
from backend.validation import validate_name

if TYPE_CHECKING:  # the scheduler loads when one schedules: listing servers needs none of it
    from backend.scheduler import RequestSpec, Scheduler

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
MAX_COUNT = 100
IMAGE_PROPS = ("architecture", "hypervisor_type", "hw_vm_mode")


@dataclass
class CreateRequest:
    name: str
    flavor: str
    image: str
    network: str | None = None
    availability_zone: str | None = None
    group: str | None = None
    min_count: int = 1
    max_count: int = 1
    hints: dict = field(default_factory=dict)

    @classmethod
    def from_any(cls, data: "CreateRequest | dict") -> "CreateRequest":
        if isinstance(data, CreateRequest):
            return data
        if not isinstance(data, dict):
            raise InvalidInput("a server request must be a mapping")
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(data) - known)
        if bad:
            raise InvalidInput(f"unknown request field(s) {', '.join(bad)}")
        for key in ("name", "flavor", "image"):
            if not data.get(key):
                raise InvalidInput(f"a server needs a {key}")
        return cls(**data)


def server_dict(s: Server) -> dict[str, Any]:
    return {"uuid": s.uuid, "name": s.name, "host": s.host, "status": s.status,
            "fault": s.fault, "project_id": s.project_id, "user_id": s.user_id,
            "flavor": s.flavor, "image": s.image, "vcpus": s.vcpus, "memory_mb": s.memory_mb,
            "disk_gb": s.disk_gb, "volume": s.volume,
            "created_at": s.created_at.isoformat(timespec="seconds") if s.created_at else None}


class ComputeManager:
    def __init__(self, cloud):
        self.cloud = cloud
        self.db = cloud.db
        self.claims = Claims(self.db)
        self.flavors = FlavorService(self.db)
        self.images = ImageService(self.db, Path(cloud.settings.data_dir) / "images")
        self.groups = GroupService(self.db)
        self._scheduler: Scheduler | None = None

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            from backend.scheduler import Scheduler
            self._scheduler = Scheduler(self.cloud.settings.scheduler)
        return self._scheduler

    # -- what a request means ---------------------------------------------------------
    def resolve(self, ctx: RequestContext, req: CreateRequest) -> dict[str, Any]:
        """Check a request without side effects; returns flavor, image, group and names."""
        validate_name(req.name, "server name")
        for what in ("min_count", "max_count"):
            v = getattr(req, what)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_COUNT:
                raise InvalidInput(f"{what} must be a whole number from 1 to {MAX_COUNT}, "
                                   f"got {v!r}")
        if req.min_count > req.max_count:
            raise InvalidInput(f"min_count {req.min_count} is more than max_count "
                               f"{req.max_count}")
        if req.network is not None:
            validate_name(req.network, "network name")
        if req.availability_zone is not None:
            validate_name(req.availability_zone, "availability zone")
        with self.db.transaction() as s:
            f = self.flavors.find(s, req.flavor)
            if not self.flavors.usable_by(s, f, ctx.project_id, ctx.is_admin):
                raise InvalidInput(f"flavor {req.flavor!r} is not available to this project")
            flavor = flavor_dict(f)
            image = image_dict(self.images.find(s, req.image))
            group = None
            if req.group:
                g = self.groups.find(s, req.group, ctx.project_id, ctx.is_admin)
                group = {"id": g.id, "name": g.name, "policy": g.policy,
                         "hosts": self.groups.member_hosts(s, g.id)}
        if image["status"] != "active":
            raise Conflict(f"image {image['name']} is {image['status']}, not active")
        if image["min_ram_mb"] > flavor["ram_mb"]:
            raise InvalidInput(f"flavor {flavor['name']} has {flavor['ram_mb']} MB of RAM; "
                               f"image {image['name']} needs at least {image['min_ram_mb']} MB")
        if image["min_disk_gb"] > flavor["root_gb"]:
            raise InvalidInput(f"flavor {flavor['name']} has a {flavor['root_gb']} GB root "
                               f"disk; image {image['name']} needs at least "
                               f"{image['min_disk_gb']} GB")
        return {"flavor": flavor, "image": image, "group": group}

    def current_group(self, resolved: dict) -> dict:
        """``resolved`` with its group's members' hosts as they are now."""
        g = resolved["group"]
        if g is None:
            return resolved
        with self.db.transaction() as s:
            return dict(resolved, group=dict(g, hosts=self.groups.member_hosts(s, g["id"])))

    @staticmethod
    def spec(resolved: dict, req: CreateRequest, n: int,
             retry: frozenset[str] = frozenset(), extra_hosts: tuple = ()) -> RequestSpec:
        from backend.scheduler import Flavor, RequestSpec, ServerGroup
        f = resolved["flavor"]
        g = resolved["group"]
        group = None
        if g is not None:
            group = ServerGroup(g["name"], g["policy"], tuple(g["hosts"]) + tuple(extra_hosts))
        props = {k: v for k, v in resolved["image"]["properties"].items() if k in IMAGE_PROPS}
        return RequestSpec(
            flavor=Flavor(vcpus=f["vcpus"], memory_mb=f["ram_mb"], root_gb=f["root_gb"],
                          ephemeral_gb=f["ephemeral_gb"], swap_mb=f["swap_mb"],
                          extra_specs=f["extra_specs"]),
            az=req.availability_zone, image_properties=props, group=group, num_instances=n,
            retry=retry)

    @staticmethod
    def usage(flavor: dict) -> Usage:
        return Usage(vcpus=flavor["vcpus"], memory_mb=flavor["ram_mb"],
                     disk_gb=flavor["root_gb"] + flavor["ephemeral_gb"]
                     + flavor["swap_mb"] / 1024, root_gb=flavor["root_gb"])

    def fresh_states(self):
        self.cloud.ensure_hosts()
        names = resources.sync_all(self.db, self.cloud.registry)
        return resources.host_states(self.db, names)

    # -- preview (the wizard) ---------------------------------------------------------
    def preview(self, ctx: RequestContext, req: CreateRequest) -> dict[str, Any]:
        req = CreateRequest.from_any(req)
        resolved = self.resolve(ctx, req)
        spec = self.spec(resolved, req, req.max_count)
        states = self.fresh_states()
        decision = self.scheduler.select(spec, states)
        out = decision.to_dict()
        out["ok"] = decision.ok
        out["reason"] = decision.reason
        after = {h.name: h.copy() for h in states}
        for h in decision.hosts:
            after[h.name].consume(spec)
        out["hosts"] = [{
            "host": h.name, "passes": h.name not in decision.rejected,
            "rejected_by": decision.rejected.get(h.name),
            "vcpus_used": after[h.name].vcpus_used, "vcpus_limit": h.vcpus_limit,
            "memory_mb_used": after[h.name].ram_used_mb, "memory_mb_limit": h.ram_limit_mb,
            "disk_gb_used": after[h.name].disk_used_gb, "disk_gb_limit": h.disk_limit_gb,
        } for h in states]
        return out

    # -- create -----------------------------------------------------------------------
    def _names(self, req: CreateRequest, n: int) -> list[str]:
        names = [req.name] if n == 1 else [f"{req.name}-{i}" for i in range(1, n + 1)]
        for nm in names:
            validate_name(nm, "server name")
        with self.db.transaction() as s:
            taken = set(s.scalars(select(Server.name).where(Server.name.in_(names),
                                                            Server.status != "DELETED")))
        for h in self.cloud.registry.connected():
            taken.update(nm for nm in names if h.find(nm) is not None)
        if taken:
            raise Conflict(f"server name(s) already in use: {', '.join(sorted(taken))}")
        return names

    def create(self, ctx: RequestContext, req: CreateRequest | dict,
               progress: Callable[[dict], None] | None = None) -> list[dict[str, Any]]:
        req = CreateRequest.from_any(req)
        resolved = self.resolve(ctx, req)
        if ctx.project_id is None:
            raise InvalidInput("a server needs a project: log in with a project scope")
        flavor, image, group = resolved["flavor"], resolved["image"], resolved["group"]
        usage = self.usage(flavor)
        self.claims.check_quota(ctx.project_id, usage, req.min_count)
        states = self.fresh_states()
        last_error: VirtstackError | None = None
        placed: list[dict] | None = None
        for n in range(req.max_count, req.min_count - 1, -1):
            try:
                placed = self._place(ctx, req, resolved, usage, n, states)
                break
            except (NoValidHost, QuotaExceeded) as exc:
                last_error = exc
                states = resources.host_states(self.db, [h.name for h in states])
                resolved = self.current_group(resolved)
        if placed is None:
            raise last_error or NoValidHost("no valid host")
        out = []
        for row in placed:
            if progress:
                progress({"server": row["name"], "status": "BUILD", "host": row["host"]})
            out.append(self._build(ctx, req, resolved, usage, row))
            if progress:
                progress({"server": row["name"], "status": out[-1]["status"],
                          "host": out[-1]["host"]})
        return out

    def _place(self, ctx, req, resolved, usage, n, states) -> list[dict]:
        names = self._names(req, n)
        retry: frozenset[str] = frozenset()
        failed: list[str] = []  # why each claim failed, for the error at the end
        for _attempt in range(MAX_ATTEMPTS):
            decision = self.scheduler.select(self.spec(resolved, req, n, retry), states)
            if not decision.ok:
                raise NoValidHost(self._why_not(decision, resolved, failed))
            rows = []
            for name, host in zip(names, decision.chosen):
                u = str(uuidlib.uuid4())
                rows.append({"uuid": u, "name": name, "host": host,
                             "project_id": ctx.project_id, "user_id": ctx.user_id,
                             "flavor": resolved["flavor"]["name"],
                             "image": resolved["image"]["name"],
                             "group_id": resolved["group"]["id"] if resolved["group"] else None,
                             "status": "BUILD",
                             "volume": volume_name(u, resolved["image"]["disk_format"])})
            try:
                self.claims.claim(ctx.project_id, usage, decision.chosen, rows)
                return rows
            except ClaimFailed as exc:
                # Raced: another create took the room or joined the group first; look
                # again. The group as it is now rules out its hosts itself (no retry mark:
                # a host it refused may be fine again once a member is gone).
                failed.append(exc.message)
                if not isinstance(exc, GroupPolicyViolated):
                    retry = retry | {exc.host}
                states = resources.host_states(self.db, [h.name for h in states])
                resolved = self.current_group(resolved)
        raise NoValidHost(f"no host could be claimed after {MAX_ATTEMPTS} attempts: "
                          + "; ".join(failed))

    @staticmethod
    def _why_not(decision, resolved: dict, failed: list[str]) -> str:
        """The scheduler's reason, with the group's hosts when a group filter left no
        host, and the claims that failed before."""
        why = decision.reason
        g = resolved["group"]
        emptied = next((name for name, left in decision.filters if not left), "")
        if g is not None and emptied.startswith("ServerGroup"):
            why += f" ({g['policy']} group {g['name']!r} has members on {', '.join(g['hosts'])})"
        if failed:
            why += "; claims that failed before: " + "; ".join(failed)
        return why

    def _build(self, ctx, req, resolved, usage, row) -> dict[str, Any]:
        image = resolved["image"]
        path = self.images.path_of(image["id"])
        tried: list[str] = []
        faults: list[str] = []
        host_name = row["host"]
        server = dict(row, vcpus=usage.vcpus, memory_mb=usage.memory_mb,
                      root_gb=usage.root_gb)
        while True:
            tried.append(host_name)
            try:
                host = self.cloud.registry.get(host_name)
                spawn(host, dict(server, host=host_name), image, path, req.network)
                with self.db.transaction() as s:
                    srv = s.get(Server, row["uuid"])
                    srv.status, srv.fault, srv.host = "ACTIVE", None, host_name
                    return server_dict(srv)
            except VirtstackError as exc:
                faults.append(f"{host_name}: {exc.message}")
                log.warning("spawn of %s on %s failed: %s", row["name"], host_name,
                            exc.message)
            self.claims.release(row["uuid"])
            if len(tried) >= MAX_ATTEMPTS:
                break
            try:
                host_name = self._reschedule(ctx, req, resolved, usage, row, tried)
            except VirtstackError as exc:
                faults.append(f"rescheduling: {exc.message}")
                break
        fault = "; ".join(faults)
        self.claims.release(row["uuid"], status="ERROR", fault=fault)
        with self.db.transaction() as s:
            return server_dict(s.get(Server, row["uuid"]))

    def _reschedule(self, ctx, req, resolved, usage, row, tried) -> str:
        failed: list[str] = []
        for _attempt in range(MAX_ATTEMPTS):
            resolved = self.current_group(resolved)
            states = resources.host_states(self.db, [h.name for h in
                                                     self.cloud.registry.connected()])
            decision = self.scheduler.select(
                self.spec(resolved, req, 1, frozenset(tried)), states)
            if not decision.ok:
                raise NoValidHost(self._why_not(decision, resolved, failed))
            try:
                self.claims.claim_again(ctx.project_id, usage, decision.chosen[0],
                                        row["uuid"])
                return decision.chosen[0]
            except ClaimFailed as exc:
                failed.append(exc.message)
                if not isinstance(exc, GroupPolicyViolated):
                    tried = [*tried, exc.host]
        raise NoValidHost("no other host could be claimed: " + "; ".join(failed))

    # -- resize -----------------------------------------------------------------------
    def resize(self, ctx: RequestContext, host, row: dict[str, Any],
               flavor: str) -> dict[str, Any]:
        """Resize a server to ``flavor`` in place (backend.compute.resize)."""
        from backend.compute import resize as resize_mod
        return resize_mod.resize(self, ctx, host, row, flavor)

    # -- ownership, delete, adopt -----------------------------------------------------
    def owners(self) -> dict[str, str | None]:
        """uuid -> project of every live server virtstack knows."""
        with self.db.transaction() as s:
            return dict(s.execute(select(Server.uuid, Server.project_id)
                                  .where(Server.status != "DELETED")).all())

    def owner(self, uuid: str | None) -> str | None:
        if not uuid:
            return None
        with self.db.transaction() as s:
            srv = s.get(Server, uuid)
            return srv.project_id if srv is not None and srv.status != "DELETED" else None

    def forget(self, row: dict[str, Any]) -> None:
        """After the domain was deleted: release the claim, drop the root volume, DELETED."""
        uuid = row.get("uuid")
        with self.db.transaction() as s:
            srv = s.get(Server, uuid) if uuid else None
            vol, host_name = (srv.volume, srv.host) if srv is not None else (None, None)
        if srv is None:
            return
        self.claims.release(uuid, status="DELETED")
        if vol and host_name in self.cloud.registry.hosts:
            cleanup(self.cloud.registry.get(host_name), uuid, vol)

    def adopt(self, host, row: dict[str, Any], project_id: str) -> dict[str, Any]:
        """Record a VM virtstack did not create as belonging to ``project_id``."""
        usage = Usage(vcpus=int(row.get("vcpus") or 0), memory_mb=int(row.get("memory_mb") or 0),
                      disk_gb=0.0, root_gb=0)
        self.claims.ensure_quota_rows(project_id)  # before the transaction (SQLite: one writer)
        resources.sync_node(self.db, host)  # the host's usage row must exist to take the claim
        with self.db.transaction() as s:
            srv = s.get(Server, row["uuid"])
            if srv is not None and srv.status != "DELETED":
                if srv.project_id == project_id:
                    return server_dict(srv)
                raise Conflict(f"server {row['name']} already belongs to a project; "
                               "moving servers between projects is not supported yet")
            if srv is not None:
                s.delete(srv)
                s.flush()
            s.add(Server(uuid=row["uuid"], name=row["name"], host=host.name,
                         project_id=project_id, status="ACTIVE", vcpus=usage.vcpus,
                         memory_mb=usage.memory_mb, disk_gb=0.0, root_gb=0, claimed=True))
            self.claims.claim_forced(s, project_id, host.name, usage)
        resources.sync_node(self.db, host)  # it is no longer unmanaged
        with self.db.transaction() as s:
            return server_dict(s.get(Server, row["uuid"]))

    def records(self, project_id: str | None, admin: bool,
                include_deleted: bool = False) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            q = select(Server).order_by(Server.name)
            if not include_deleted:
                q = q.where(Server.status != "DELETED")
            if not admin:
                q = q.where(Server.project_id == project_id)
            return [server_dict(x) for x in s.scalars(q)]

