"""Front door: storage pools and volumes on every host (``cloud.pools``, ``cloud.volumes``).

A pool or volume is named by pool name plus host; the host may be left out when the name is
found on exactly one connected host (or only one host is configured).

Pools belong to the admin project (the cloud's plumbing). Volumes belong to projects
(backend.storage.ownership): listings are scoped, policy targets carry the volume's
``project_id``, and new or bigger volumes take the ``volumes``/``gigabytes`` quota before
the host is asked to make them.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from backend import errors
from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.storage import pools as P
from backend.storage import transfer as T
from backend.storage import volumes as V
from backend.storage.ownership import VolumeBook, file_virtual_bytes, size_gb
from backend.storage.xml import check_boot_disk
from backend.validation import parse_size, validate_name


def _admin_target(host: str | None = None) -> dict[str, Any]:
    # Pools are not owned by projects: they belong to the admin project.
    return {"project_id": None, "host": host}


class _StorageFamily(APIFamily):
    def _hosts(self, host: str | None):
        self.cloud.ensure_hosts()
        reg = self.cloud.registry
        if host:
            h = reg.get(host)
            h.conn()   # HostUnavailable with the reason
            return [h]
        return reg.connected()

    def _one_host(self, host: str | None, what: str):
        if host:
            return self._hosts(host)[0]
        hosts = self._hosts(None)
        if len(self.cloud.registry.hosts) == 1 and hosts:
            return hosts[0]
        raise errors.InvalidInput(f"{what}: pass --host (one of "
                                  f"{', '.join(sorted(self.cloud.registry.hosts))})")

    def _pool_host(self, pool: str, host: str | None):
        """The host holding pool ``pool``: ambiguity and absence are clear errors."""
        if host:
            h = self._hosts(host)[0]
            P.lookup(h, pool)
            return h
        found = []
        for h in self._hosts(None):
            try:
                P.lookup(h, pool)
                found.append(h)
            except errors.NotFound:
                continue
        if not found:
            raise errors.NotFound(f"no storage pool named {pool!r} on any connected host")
        if len(found) > 1:
            raise errors.Conflict(f"pool {pool!r} exists on hosts "
                                  f"{', '.join(h.name for h in found)}: pass --host")
        return found[0]


class PoolsAPI(_StorageFamily):
    def list(self, ctx: RequestContext, host: str | None = None) -> list[dict[str, Any]]:
        self.cloud.authorize(ctx, "pool:list", _admin_target(host))
        rows: list[dict[str, Any]] = []
        for h in self._hosts(host):
            rows.extend(P.list_pools(h))
        return sorted(rows, key=lambda r: (r["name"], r["host"]))

    def get(self, ctx: RequestContext, name: str, host: str | None = None) -> dict[str, Any]:
        self.cloud.authorize(ctx, "pool:show", _admin_target(host))
        h = self._pool_host(name, host)
        return P.show_pool(h, name)

    def create(self, ctx: RequestContext, name: str, pool_type: str = "dir",
               host: str | None = None, *, start: bool = True, build: bool = True,
               autostart: bool = True, **spec) -> dict[str, Any]:
        """spec: target, source_host, source_port, source_dir, source_name, source_devices,
        iqn, auth_user, secret_uuid (see backend.storage.xml.pool_xml)."""
        from backend.storage.xml import pool_xml
        pool_xml(name, pool_type, **spec)   # bad input fails before anything else
        h = self._one_host(host, f"pool create {name}")
        with self.mutation(ctx, "pool:create", f"{h.name}/{name}", _admin_target(h.name)):
            return P.create_pool(h, name, pool_type, start=start, build=build,
                                 autostart=autostart, **spec)

    def _act(self, ctx, action: str, name: str, host: str | None, fn, *args, **kw):
        h = self._pool_host(name, host)
        with self.mutation(ctx, f"pool:{action}", f"{h.name}/{name}", _admin_target(h.name)):
            return fn(h, name, *args, **kw)

    def start(self, ctx, name, host=None):
        return self._act(ctx, "start", name, host, P.start_pool)

    def stop(self, ctx, name, host=None):
        return self._act(ctx, "stop", name, host, P.stop_pool)

    def refresh(self, ctx, name, host=None):
        return self._act(ctx, "refresh", name, host, P.refresh_pool)

    def autostart(self, ctx, name, on: bool = True, host=None):
        return self._act(ctx, "autostart", name, host, P.set_autostart, on)

    def delete(self, ctx, name, host=None, *, delete_volumes: bool = False,
               delete_data: bool = False):
        out = self._act(ctx, "delete", name, host, P.delete_pool,
                        delete_volumes=delete_volumes, delete_data=delete_data)
        if delete_volumes:  # the records (and quota) of its volumes go with them
            self.cloud.volumes.book.forget(out["host"], name)
        return out


class VolumesAPI(_StorageFamily):
    def __init__(self, cloud):
        super().__init__(cloud)
        self.book = VolumeBook(cloud)

    def _owned(self, h, pool: str, name: str) -> tuple[str, dict[str, Any]]:
        """The audit name and the policy target (the owner's project) of a volume."""
        return f"{h.name}/{pool}/{name}", self.book.target(h.name, pool, name)

    def _new_project(self, ctx: RequestContext) -> str | None:
        """The project a new volume belongs to: the caller's scope (the backend's own
        context has none: the admin project's). None only for an admin before identity is
        bootstrapped (no projects: the volume is unmanaged, like one made with virsh)."""
        project = ctx.project_id or self.book.admin_project()
        if project is None and not ctx.is_admin:
            raise errors.InvalidInput("a volume needs a project: log in with a project scope")
        return project

    def list(self, ctx: RequestContext, pool: str | None = None,
             host: str | None = None) -> list[dict[str, Any]]:
        """Volumes on the hosts with their project and status; a member sees its
        project's, an admin all. Records whose volume the host no longer has show as
        ``missing`` (delete them to give their quota back)."""
        self.cloud.authorize(ctx, "volume:list", {"project_id": ctx.project_id})
        rows: list[dict[str, Any]] = []
        scanned: set[tuple[str, str]] = set()
        if pool:
            h = self._pool_host(pool, host)
            rows = V.list_volumes(h, pool)
            scanned.add((h.name, pool))
        else:
            for h in self._hosts(host):
                rows.extend(V.list_volumes(h))
                scanned.update((h.name, p["name"]) for p in P.list_pools(h)
                               if p.get("active"))
        rows = self.book.scope(ctx, rows, scanned, host)
        return sorted(rows, key=lambda r: (r["host"], r["pool"], r["name"]))

    def get(self, ctx, name: str, pool: str, host: str | None = None) -> dict[str, Any]:
        h = self._pool_host(pool, host)
        _what, target = self._owned(h, pool, name)
        self.cloud.authorize(ctx, "volume:show", target)
        row = V.show_volume(h, pool, name)
        row["attached_to"] = V.volume_users(h, pool, name)
        rec = self.book.record(h.name, pool, name)
        row["project_id"] = target["project_id"]
        row["status"] = rec["status"] if rec else "unmanaged"
        row["size_gb"] = rec["size_gb"] if rec else None
        return row

    def _mut(self, ctx, action: str, name: str, pool: str, host: str | None, fn, *a, **kw):
        h = self._pool_host(pool, host)
        what, target = self._owned(h, pool, name)
        with self.mutation(ctx, f"volume:{action}", what, target):
            return fn(h, pool, name, *a, **kw)

    def _new_volume(self, ctx, action: str, h, pool: str, name: str,
                    nbytes: int | Callable[[], int], fmt: str | None, make: Callable[[], dict],
                    target: dict[str, Any] | None = None) -> dict[str, Any]:
        """Reserve quota and the record, have the host ``make()`` the volume, then settle
        on its real size; a failure anywhere leaves neither volume nor usage. ``target``:
        the policy target (default: the new volume's project)."""
        project = self._new_project(ctx)
        with self.mutation(ctx, f"volume:{action}", f"{h.name}/{pool}/{name}",
                           target or {"project_id": project, "host": h.name}):
            if callable(nbytes):
                nbytes = nbytes()
            if project is None:
                return make()
            vid = self.book.reserve(project, ctx.user_id, h.name, pool, name, nbytes, fmt)
            try:
                row = make()
            except BaseException:
                self.book.abandon(vid)
                raise
            try:
                rec = self.book.confirm(vid, row)
            except errors.QuotaExceeded as exc:
                try:
                    V.delete_volume(h, pool, name)
                finally:
                    self.book.abandon(vid)
                raise errors.QuotaExceeded(f"{exc.message}; the new volume {name} was "
                                           "removed") from None
            return dict(row, project_id=rec["project_id"], status=rec["status"],
                        size_gb=rec["size_gb"])

    def create(self, ctx, name: str, pool: str, size: object, fmt: str = "raw",
               host: str | None = None, *, allocation: str = "sparse",
               backing: str | None = None, backing_format: str | None = None):
        from backend.storage.xml import volume_xml
        volume_xml(name, size, fmt, allocation=allocation, backing=backing,
                   backing_format=backing_format)   # bad input fails first
        h = self._pool_host(pool, host)
        return self._new_volume(
            ctx, "create", h, pool, name, parse_size(size, "size"), fmt,
            lambda: V.create_volume(h, pool, name, size, fmt, allocation=allocation,
                                    backing=backing, backing_format=backing_format))

    def resize(self, ctx, name, pool, size, host=None, *, allow_shrink: bool = False):
        def run(h, pool_, name_):
            new_gb = size_gb(parse_size(size, "size"))
            rec = self.book.record(h.name, pool_, name_)
            if rec is None:   # not counted here (unmanaged, or a server's root volume)
                return V.resize_volume(h, pool_, name_, size, allow_shrink=allow_shrink)
            old = self.book.grow(rec["id"], new_gb)   # QuotaExceeded: nothing resized
            try:
                row = V.resize_volume(h, pool_, name_, size, allow_shrink=allow_shrink)
            except BaseException:
                self.book.settle(rec["id"], old)
                raise
            self.book.settle(rec["id"], size_gb(row["capacity"]))
            return row
        return self._mut(ctx, "resize", name, pool, host, run)

    def clone(self, ctx, name, pool, new_name, host=None, *, target_pool: str | None = None):
        """Copy a volume the caller may use into a new one of the caller's project."""
        validate_name(new_name, "volume name")
        h = self._pool_host(pool, host)
        src: dict[str, Any] = {}

        def size() -> int:   # read once the caller is known to own the source
            src.update(V.show_volume(h, pool, name))
            return src["capacity"]
        return self._new_volume(
            ctx, "clone", h, target_pool or pool, new_name, size, None,
            lambda: V.clone_volume(h, pool, name, new_name, target_pool),
            target=self._owned(h, pool, name)[1])

    def wipe(self, ctx, name, pool, host=None):
        return self._mut(ctx, "wipe", name, pool, host, V.wipe_volume)

    def delete(self, ctx, name, pool, host=None):
        """Delete on the host, then drop the record and give its quota back. A record
        whose volume the host no longer has (``missing``) is dropped too."""
        def run(h, pool_, name_):
            try:
                out = V.delete_volume(h, pool_, name_)
            except errors.NotFound:
                if not self.book.forget(h.name, pool_, name_):
                    raise
                return {"name": name_, "pool": pool_, "host": h.name, "deleted": True,
                        "note": "the host no longer had it; its record was removed"}
            self.book.forget(h.name, pool_, name_)
            return out
        return self._mut(ctx, "delete", name, pool, host, run)

    def upload(self, ctx, name: str, pool: str, src: str, host: str | None = None, *,
               fmt: str | None = None, progress: T.Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Any]:
        """Upload a local file into a new volume (counted like a created one)."""
        validate_name(name, "volume name")
        nbytes = file_virtual_bytes(src, "upload")
        h = self._pool_host(pool, host)
        return self._new_volume(
            ctx, "upload", h, pool, name, nbytes, fmt,
            lambda: T.upload(h, pool, name, src, fmt=fmt, progress=progress, cancel=cancel))

    def import_image(self, ctx, name: str, pool: str, src: str, fmt: str,
                     host: str | None = None, *, progress: T.Progress | None = None,
                     cancel: threading.Event | None = None, on_phase=None,
                     src_format: str | None = None) -> dict[str, Any]:
        """qemu-img convert to ``fmt`` here, then upload as a new volume (with progress)."""
        validate_name(name, "volume name")
        nbytes = file_virtual_bytes(src, "import")
        h = self._pool_host(pool, host)
        return self._new_volume(
            ctx, "upload", h, pool, name, nbytes, fmt,
            lambda: T.import_image(h, pool, name, src, fmt, progress=progress, cancel=cancel,
                                   on_phase=on_phase, src_format=src_format))

    def download(self, ctx, name: str, pool: str, dest: str, host: str | None = None, *,
                 progress: T.Progress | None = None, cancel: threading.Event | None = None,
                 overwrite: bool = False) -> dict[str, Any]:
        h = self._pool_host(pool, host)
        self.cloud.authorize(ctx, "volume:download", self._owned(h, pool, name)[1])
        return T.download(h, pool, name, dest, progress=progress, cancel=cancel,
                          overwrite=overwrite)

    def check_boot(self, ctx, name: str, pool: str, host: str | None = None) -> None:
        """Raise InvalidInput (with the reason) unless the volume can be a boot disk."""
        h = self._pool_host(pool, host)
        self.cloud.authorize(ctx, "volume:show", self._owned(h, pool, name)[1])
        check_boot_disk(P.pool_type(h, pool), pool, name)

    def adopt(self, ctx, name: str, pool: str, project: str,
              host: str | None = None) -> dict[str, Any]:
        """(admin) Give a volume virtstack did not create to ``project``: it counts in the
        project's quota from now on, limits or not (it exists already)."""
        h = self._pool_host(pool, host)
        p = self.cloud.identity.service.show_project(project)
        with self.mutation(ctx, "volume:adopt", f"{h.name}/{pool}/{name} -> {p['name']}",
                           {"project_id": p["id"], "host": h.name}):
            rec = self.book.adopt(V.show_volume(h, pool, name), p["id"])
            return dict(rec, project=p["name"])

    def _server(self, server: str, host: str):
        h, row = self.cloud.servers.locate(server, host)
        return h, h._dom(server), row

    def _disk_change(self, ctx, verb: str, name: str, pool: str, server: str,
                     host: str | None, fn, **kw) -> dict[str, Any]:
        """Attach/detach: the caller must own the volume (the mutation's target) and the
        server (``server:attach``/``server:detach`` on the server's project)."""
        h = self._pool_host(pool, host)
        sh, dom, srow = self._server(server, h.name)
        what = f"{h.name}/{pool}/{name} -> {server}"
        try:
            self.cloud.authorize(ctx, f"server:{verb}", self.cloud.server_target(srow))
        except errors.PolicyDenied as exc:
            self.cloud.audit(ctx, f"volume:{verb}", what, "denied", exc.message)
            raise
        with self.mutation(ctx, f"volume:{verb}", what, self.book.target(h.name, pool, name)):
            return fn(sh, dom, pool, name, **kw)

    def attach(self, ctx, name: str, pool: str, server: str, host: str | None = None, *,
               bus: str = "virtio") -> dict[str, Any]:
        return self._disk_change(ctx, "attach", name, pool, server, host, V.attach_volume,
                                 bus=bus)

    def detach(self, ctx, name: str, pool: str, server: str,
               host: str | None = None) -> dict[str, Any]:
        return self._disk_change(ctx, "detach", name, pool, server, host, V.detach_volume)
