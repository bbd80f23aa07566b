"""Front door for compute: ``cloud.flavors``, ``cloud.images``, ``cloud.quotas``,
``cloud.server_groups`` and ``cloud.compute`` (server create/preview/adopt, host
resources, host enable/disable). Each call: policy check -> work -> audit -> plain data.
The work lives in ``backend.compute``.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select, update

from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.compute import resources
from backend.compute.manager import ComputeManager, CreateRequest
from backend.compute.models import DEFAULT_QUOTAS, QUOTA_RESOURCES, ComputeNode, QuotaUsage
from backend.errors import InvalidInput, NotFound

MAX_QUOTA = 2_000_000_000


def attach(cloud) -> None:
    """Hang the compute families on the Cloud."""
    cloud.compute = ComputeAPI(cloud)
    cloud.flavors = FlavorsAPI(cloud)
    cloud.images = ImagesAPI(cloud)
    cloud.quotas = QuotasAPI(cloud)
    cloud.server_groups = ServerGroupsAPI(cloud)


class _Compute(APIFamily):
    @property
    def manager(self) -> ComputeManager:
        return self.cloud.compute.manager


class FlavorsAPI(_Compute):
    def create(self, ctx: RequestContext, name: str, **kw) -> dict:
        projects = [self._project_id(p) for p in kw.pop("projects", None) or []]
        with self.mutation(ctx, "flavor:create", f"flavor {name}"):
            return self.manager.flavors.create(name, projects=projects, **kw)

    def list(self, ctx: RequestContext) -> list[dict]:
        self.cloud.authorize(ctx, "flavor:list")
        return self.manager.flavors.list(ctx.project_id, ctx.is_admin)

    def show(self, ctx: RequestContext, ref: str) -> dict:
        self.cloud.authorize(ctx, "flavor:show")
        return self.manager.flavors.show(ref, ctx.project_id, ctx.is_admin)

    def set(self, ctx: RequestContext, ref: str, **kw) -> dict:
        for key in ("add_projects", "remove_projects"):
            kw[key] = [self._project_id(p) for p in kw.get(key) or []]
        with self.mutation(ctx, "flavor:set", f"flavor {ref}"):
            return self.manager.flavors.set(ref, **kw)

    def delete(self, ctx: RequestContext, ref: str) -> dict:
        with self.mutation(ctx, "flavor:delete", f"flavor {ref}"):
            return self.manager.flavors.delete(ref)

    def _project_id(self, ref: str) -> str:
        return self.cloud.identity.service.show_project(ref)["id"]


class ImagesAPI(_Compute):
    def create(self, ctx: RequestContext, name: str, file: str, *,
               progress: Callable[[int, int], None] | None = None, **kw) -> dict:
        with self.mutation(ctx, "image:create", f"image {name}"):
            return self.manager.images.create(name, file, project_id=ctx.project_id,
                                              progress=progress, **kw)

    def list(self, ctx: RequestContext) -> list[dict]:
        self.cloud.authorize(ctx, "image:list")
        return self.manager.images.list()

    def show(self, ctx: RequestContext, ref: str) -> dict:
        self.cloud.authorize(ctx, "image:show")
        return self.manager.images.show(ref)

    def delete(self, ctx: RequestContext, ref: str) -> dict:
        img = self.manager.images.show(ref)
        with self.mutation(ctx, "image:delete", f"image {img['name']}",
                           {"project_id": img["project_id"]}):
            return self.manager.images.delete(img["id"])


class QuotasAPI(_Compute):
    def _project(self, ctx: RequestContext, project: str | None) -> dict:
        if project is None:
            if ctx.project_id is None:
                raise InvalidInput("which project? pass --project")
            project = ctx.project_id
        return self.cloud.identity.service.show_project(project)

    def show(self, ctx: RequestContext, project: str | None = None) -> dict:
        p = self._project(ctx, project)
        self.cloud.authorize(ctx, "quota:show", {"project_id": p["id"]})
        with self.cloud.db.transaction() as s:
            report = self.manager.claims.quota_report(s, p["id"])
        return {"project": p["name"], "project_id": p["id"], **report}

    def set(self, ctx: RequestContext, project: str, **limits: Any) -> dict:
        p = self._project(ctx, project)
        clean = {}
        for k, v in limits.items():
            if v is None:
                continue
            if k not in QUOTA_RESOURCES:
                raise InvalidInput(f"unknown quota {k!r} (known: {', '.join(QUOTA_RESOURCES)})")
            if isinstance(v, bool) or not isinstance(v, int) or not -1 <= v <= MAX_QUOTA:
                raise InvalidInput(f"quota {k} must be a whole number from -1 (unlimited) to "
                                   f"{MAX_QUOTA}, got {v!r}")
            clean[k] = v
        if not clean:
            raise InvalidInput("nothing to set: give at least one of "
                               + ", ".join(f"--{r}" for r in QUOTA_RESOURCES))
        with self.mutation(ctx, "quota:set", f"quota {p['name']}", {"project_id": p["id"]}):
            self.manager.claims.ensure_quota_rows(p["id"])
            with self.cloud.db.transaction() as s:
                for k, v in clean.items():
                    s.execute(update(QuotaUsage).where(QuotaUsage.project_id == p["id"],
                                                       QuotaUsage.resource == k)
                              .values(hard_limit=v))
        return self.show(ctx, p["id"])

    @staticmethod
    def defaults() -> dict[str, int]:
        return dict(DEFAULT_QUOTAS)


class ServerGroupsAPI(_Compute):
    """Policy: the server:create/list/show/delete rules (the same people who make servers
    make their groups); the audit target names the group."""

    def create(self, ctx: RequestContext, name: str, policy: str) -> dict:
        with self.mutation(ctx, "server:create", f"server group {name}",
                           {"project_id": ctx.project_id}):
            if ctx.project_id is None:
                raise InvalidInput("a server group needs a project scope")
            return self.manager.groups.create(name, policy, ctx.project_id)

    def list(self, ctx: RequestContext) -> list[dict]:
        self.cloud.authorize(ctx, "server:list", {"project_id": ctx.project_id})
        return self.manager.groups.list(ctx.project_id, ctx.is_admin)

    def show(self, ctx: RequestContext, ref: str) -> dict:
        g = self.manager.groups.show(ref, ctx.project_id, ctx.is_admin)
        self.cloud.authorize(ctx, "server:show", {"project_id": g["project_id"]})
        return g

    def delete(self, ctx: RequestContext, ref: str) -> dict:
        g = self.manager.groups.show(ref, ctx.project_id, ctx.is_admin)
        with self.mutation(ctx, "server:delete", f"server group {g['name']}",
                           {"project_id": g["project_id"]}):
            return self.manager.groups.delete(g["id"], ctx.project_id, ctx.is_admin)


class ComputeAPI(APIFamily):
    def __init__(self, cloud):
        super().__init__(cloud)
        self.manager = ComputeManager(cloud)

    def preview(self, ctx: RequestContext, request: CreateRequest | dict) -> dict:
        """What create would decide now (the wizard's live view); writes nothing."""
        self.cloud.authorize(ctx, "server:create", {"project_id": ctx.project_id})
        return self.manager.preview(ctx, request)

    def create(self, ctx: RequestContext, request: CreateRequest | dict,
               progress: Callable[[dict], None] | None = None) -> list[dict]:
        req = CreateRequest.from_any(request)
        with self.mutation(ctx, "server:create", f"server {req.name}",
                           {"project_id": ctx.project_id}):
            return self.manager.create(ctx, req, progress)

    def records(self, ctx: RequestContext, include_deleted: bool = False) -> list[dict]:
        """What the DB knows of servers (BUILD/ACTIVE/ERROR with faults), project-scoped."""
        self.cloud.authorize(ctx, "server:list", {"project_id": ctx.project_id})
        return self.manager.records(ctx.project_id, ctx.is_admin, include_deleted)

    def adopt(self, ctx: RequestContext, ref: str, project: str,
              host: str | None = None) -> dict:
        h, row = self.cloud.servers.locate(ref, host)
        p = self.cloud.identity.service.show_project(project)
        with self.mutation(ctx, "server:adopt", f"{h.name}/{row['name']}",
                           {"project_id": p["id"]}):
            return self.manager.adopt(h, row, p["id"])

    def resize(self, ctx: RequestContext, ref: str, flavor: str,
               host: str | None = None) -> dict:
        """Resize a server virtstack manages to another flavor on the host it runs on: the
        difference is claimed on the host and in the project's quota (one transaction);
        vCPUs and memory change live where allowed, else at the next boot (``changes``
        says which); the root volume grows when the flavor's root disk does. A failure on
        the host moves the claim back: the server keeps its old flavor."""
        h, row = self.cloud.servers.locate(ref, host)
        with self.mutation(ctx, "server:resize", f"{h.name}/{row['name']} -> flavor {flavor}",
                           self.cloud.server_target(row)):
            return self.manager.resize(ctx, h, row, flavor)

    # -- hosts as resources -------------------------------------------------------------
    def resources(self, ctx: RequestContext, host: str | None = None) -> list[dict]:
        """Per host: physical, ratio, limit, allocated (claimed + unmanaged + reserved),
        free for vCPU, RAM and disk; refreshed from the connected hosts first."""
        self.cloud.authorize(ctx, "host:show")
        self.cloud.ensure_hosts()
        resources.sync_all(self.cloud.db, self.cloud.registry)
        with self.cloud.db.transaction() as s:
            q = select(ComputeNode).order_by(ComputeNode.host)
            if host:
                q = q.where(ComputeNode.host == host)
            rows = [resources.node_dict(n) for n in s.scalars(q)]
        if host and not rows:
            raise NotFound(f"no resource record for host {host!r}")
        return rows

    def set_host_enabled(self, ctx: RequestContext, host: str, enabled: bool,
                         reason: str | None = None) -> dict:
        self.cloud.registry.get(host)  # NotFound for an unknown host
        if reason is not None and (len(reason) > 255 or not reason.isprintable()):
            raise InvalidInput("reason must be at most 255 printable characters")
        action = "host:enable" if enabled else "host:disable"
        with self.mutation(ctx, action, f"host {host}"):
            return resources.set_enabled(self.cloud.db, host, enabled, reason)
