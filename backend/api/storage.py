"""Front door: storage pools and volumes on every host (``cloud.pools``, ``cloud.volumes``).

A pool or volume is named by pool name plus host; the host may be left out when the name is
found on exactly one connected host (or only one host is configured).
"""
from __future__ import annotations

import threading
from typing import Any

from backend import errors
from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.storage import pools as P
from backend.storage import transfer as T
from backend.storage import volumes as V
from backend.storage.xml import check_boot_disk


def _admin_target(host: str | None = None) -> dict[str, Any]:
    # Pools and volumes are not owned by projects yet: they belong to the admin project.
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
        return self._act(ctx, "delete", name, host, P.delete_pool,
                         delete_volumes=delete_volumes, delete_data=delete_data)


class VolumesAPI(_StorageFamily):
    def list(self, ctx: RequestContext, pool: str | None = None,
             host: str | None = None) -> list[dict[str, Any]]:
        self.cloud.authorize(ctx, "volume:list", _admin_target(host))
        if pool:
            return V.list_volumes(self._pool_host(pool, host), pool)
        rows: list[dict[str, Any]] = []
        for h in self._hosts(host):
            rows.extend(V.list_volumes(h))
        return sorted(rows, key=lambda r: (r["host"], r["pool"], r["name"]))

    def get(self, ctx, name: str, pool: str, host: str | None = None) -> dict[str, Any]:
        self.cloud.authorize(ctx, "volume:show", _admin_target(host))
        h = self._pool_host(pool, host)
        row = V.show_volume(h, pool, name)
        row["attached_to"] = V.volume_users(h, pool, name)
        return row

    def _mut(self, ctx, action: str, name: str, pool: str, host: str | None, fn, *a, **kw):
        h = self._pool_host(pool, host)
        with self.mutation(ctx, f"volume:{action}", f"{h.name}/{pool}/{name}",
                           _admin_target(h.name)):
            return fn(h, pool, name, *a, **kw)

    def create(self, ctx, name: str, pool: str, size: object, fmt: str = "raw",
               host: str | None = None, *, allocation: str = "sparse",
               backing: str | None = None, backing_format: str | None = None):
        from backend.storage.xml import volume_xml
        volume_xml(name, size, fmt, allocation=allocation, backing=backing,
                   backing_format=backing_format)   # bad input fails first
        return self._mut(ctx, "create", name, pool, host, V.create_volume, size, fmt,
                         allocation=allocation, backing=backing,
                         backing_format=backing_format)

    def resize(self, ctx, name, pool, size, host=None, *, allow_shrink: bool = False):
        return self._mut(ctx, "resize", name, pool, host, V.resize_volume, size,
                         allow_shrink=allow_shrink)

    def clone(self, ctx, name, pool, new_name, host=None, *, target_pool: str | None = None):
        return self._mut(ctx, "clone", name, pool, host, V.clone_volume, new_name, target_pool)

    def wipe(self, ctx, name, pool, host=None):
        return self._mut(ctx, "wipe", name, pool, host, V.wipe_volume)

    def delete(self, ctx, name, pool, host=None):
        return self._mut(ctx, "delete", name, pool, host, V.delete_volume)

    def upload(self, ctx, name: str, pool: str, src: str, host: str | None = None, *,
               fmt: str | None = None, progress: T.Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Any]:
        return self._mut(ctx, "upload", name, pool, host,
                         lambda h, p, n: T.upload(h, p, n, src, fmt=fmt, progress=progress,
                                                  cancel=cancel))

    def import_image(self, ctx, name: str, pool: str, src: str, fmt: str,
                     host: str | None = None, *, progress: T.Progress | None = None,
                     cancel: threading.Event | None = None, on_phase=None,
                     src_format: str | None = None) -> dict[str, Any]:
        """qemu-img convert to ``fmt`` here, then upload as a new volume (with progress)."""
        return self._mut(ctx, "upload", name, pool, host,
                         lambda h, p, n: T.import_image(h, p, n, src, fmt, progress=progress,
                                                        cancel=cancel, on_phase=on_phase,
                                                        src_format=src_format))

    def download(self, ctx, name: str, pool: str, dest: str, host: str | None = None, *,
                 progress: T.Progress | None = None, cancel: threading.Event | None = None,
                 overwrite: bool = False) -> dict[str, Any]:
        h = self._pool_host(pool, host)
        self.cloud.authorize(ctx, "volume:download", _admin_target(h.name))
        return T.download(h, pool, name, dest, progress=progress, cancel=cancel,
                          overwrite=overwrite)

    def check_boot(self, ctx, name: str, pool: str, host: str | None = None) -> None:
        """Raise InvalidInput (with the reason) unless the volume can be a boot disk."""
        self.cloud.authorize(ctx, "volume:show", _admin_target(host))
        h = self._pool_host(pool, host)
        check_boot_disk(P.pool_type(h, pool), pool, name)

    def _server(self, server: str, host: str):
        h, _row = self.cloud.servers.locate(server, host)
        return h, h._dom(server)

    def attach(self, ctx, name: str, pool: str, server: str, host: str | None = None, *,
               bus: str = "virtio") -> dict[str, Any]:
        h = self._pool_host(pool, host)
        sh, dom = self._server(server, h.name)
        with self.mutation(ctx, "volume:attach", f"{h.name}/{pool}/{name} -> {server}",
                           _admin_target(h.name)):
            return V.attach_volume(sh, dom, pool, name, bus=bus)

    def detach(self, ctx, name: str, pool: str, server: str,
               host: str | None = None) -> dict[str, Any]:
        h = self._pool_host(pool, host)
        sh, dom = self._server(server, h.name)
        with self.mutation(ctx, "volume:detach", f"{h.name}/{pool}/{name} -> {server}",
                           _admin_target(h.name)):
            return V.detach_volume(sh, dom, pool, name)
