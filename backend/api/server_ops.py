"""Front door: what one does to a server beyond its lifecycle -- snapshots, clone, the serial
console, vCPU/memory/autostart edits, live migration -- and host evacuation.

Hangs off the Cloud as ``cloud.server_ops``. Policy actions (backend.identity.policy):
snapshots ``server:snapshot`` (listing: ``server:show``), clone ``server:create``, edits
``server:resize``, console ``server:console``, migration ``server:live_migrate``,
evacuation ``host:evacuate``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from backend import errors
from backend.api.base import APIFamily
from backend.api.context import RequestContext
from backend.compute import clone as clone_mod
from backend.compute import migrate as migrate_mod
from backend.compute import snapshots
from backend.virt.libvirt import edit
from backend.virt.libvirt.console import ConsoleSession
from backend.virt.libvirt.errors import mapped

Progress = Callable[[dict[str, Any]], None]


def _same_kind(exc: errors.VirtstackError) -> type[errors.VirtstackError]:
    """The backend.errors class of ``exc`` (its exit code and kind), for a new message."""
    for cls in type(exc).__mro__:
        if getattr(errors, cls.__name__, None) is cls:
            return cls
    return errors.OperationFailed


def _forget_if_gone(h, uuid: str) -> None:
    """After a failed or cancelled migration the destination's incoming (transient) domain
    is gone, but a transient domain's end is only a STOPPED event: drop its cached row."""
    import libvirt
    try:
        h.conn().lookupByUUIDString(uuid)
        return
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            return
    except errors.VirtstackError:
        return
    h._forget(uuid)


def _is_test(h) -> bool:
    """A test-driver host (the demo): it cannot migrate, and says so in migrate_server."""
    return str(h.host_info().get("hypervisor", "")).upper() == "TEST"


class ServerOpsAPI(APIFamily):
    def _locate(self, ref: str, host: str | None):
        return self.cloud.servers.locate(ref, host)

    # -- snapshots -----------------------------------------------------------------------
    def snapshot_list(self, ctx: RequestContext, ref: str,
                      host: str | None = None) -> list[dict[str, Any]]:
        h, row = self._locate(ref, host)
        self.cloud.authorize(ctx, "server:show", self.cloud.server_target(row))
        return snapshots.list_snapshots(h, row["uuid"])

    def snapshot_create(self, ctx: RequestContext, ref: str, name: str | None = None,
                        description: str | None = None,
                        host: str | None = None) -> dict[str, Any]:
        h, row = self._locate(ref, host)
        if name is not None:
            from backend.validation import validate_name
            validate_name(name, "snapshot name")
        with self.mutation(ctx, "server:snapshot", f"{h.name}/{row['name']}",
                           self.cloud.server_target(row)):
            return snapshots.create_snapshot(h, row["uuid"], name, description)

    def snapshot_revert(self, ctx: RequestContext, ref: str, snapshot: str,
                        host: str | None = None) -> dict[str, Any]:
        h, row = self._locate(ref, host)
        with self.mutation(ctx, "server:snapshot", f"{h.name}/{row['name']}@{snapshot}",
                           self.cloud.server_target(row)):
            return snapshots.revert_snapshot(h, row["uuid"], snapshot)

    def snapshot_delete(self, ctx: RequestContext, ref: str, snapshot: str,
                        host: str | None = None) -> dict[str, Any]:
        h, row = self._locate(ref, host)
        with self.mutation(ctx, "server:snapshot", f"{h.name}/{row['name']}@{snapshot}",
                           self.cloud.server_target(row)):
            return snapshots.delete_snapshot(h, row["uuid"], snapshot)

    # -- clone ---------------------------------------------------------------------------
    def clone(self, ctx: RequestContext, ref: str, new_name: str,
              host: str | None = None) -> dict[str, Any]:
        h, row = self._locate(ref, host)
        target = self.cloud.server_target(row)
        with self.mutation(ctx, "server:create", f"{h.name}/{new_name} (clone of "
                           f"{row['name']})", target):
            return clone_mod.clone_server(h, row["uuid"], new_name)

    # -- edits ---------------------------------------------------------------------------
    def _edit(self, ctx, ref, host, what: str, fn,
              size: dict[str, int] | None = None) -> dict[str, Any]:
        h, row = self._locate(ref, host)
        with self.mutation(ctx, "server:resize", f"{h.name}/{row['name']} {what}",
                           self.cloud.server_target(row)):
            booked = self._book_size(row, size) if size else None
            dom = h._dom(row["uuid"])
            try:
                with mapped(h.name, f"set {what} of {row['name']}"):
                    result = fn(dom)
            except Exception:
                if booked:  # the host refused: the books go back as they were
                    self.cloud.compute.manager.claims.resize(row["uuid"], booked[1],
                                                             booked[0], None, force=True)
                raise
            with mapped(h.name, f"read {row['name']}"):
                fresh = h._row(dom)
            h._domains[fresh["uuid"]] = fresh
            snapshots.persist(h)
        result.update({"name": row["name"], "host": h.name})
        return result

    def _book_size(self, row: dict[str, Any], size: dict[str, int]):
        """A server virtstack keeps books for changes size through its claim and quota
        first (checked like a create); one made from a flavor changes size only by
        ``resize`` to another flavor. Unmanaged VMs have no books: the host's unmanaged
        usage follows on its next sync. Returns (old, new) usage when booked."""
        import dataclasses
        from backend.compute.claims import Usage
        from backend.compute.models import Server
        with self.cloud.db.transaction() as s:
            srv = s.get(Server, row["uuid"])
            if srv is None or srv.status == "DELETED" or not srv.claimed:
                return None
            if srv.flavor:
                raise errors.Conflict(
                    f"server {row['name']} has flavor {srv.flavor}: change its size with "
                    f"'server resize {row['name']} --flavor F' (claims and quota follow)")
            old = Usage(vcpus=srv.vcpus, memory_mb=srv.memory_mb, disk_gb=srv.disk_gb,
                        root_gb=srv.root_gb)
        new = dataclasses.replace(old, **size)
        if new == old:
            return None
        self.cloud.compute.manager.claims.resize(row["uuid"], old, new, None)
        return old, new

    def set_vcpus(self, ctx: RequestContext, ref: str, vcpus: int,
                  host: str | None = None) -> dict[str, Any]:
        return self._edit(ctx, ref, host, "vcpus", lambda d: edit.set_vcpus(d, vcpus),
                          size=_checked_size(vcpus, "vcpus"))

    def set_memory(self, ctx: RequestContext, ref: str, memory_mb: int,
                   host: str | None = None) -> dict[str, Any]:
        return self._edit(ctx, ref, host, "memory", lambda d: edit.set_memory(d, memory_mb),
                          size=_checked_size(memory_mb, "memory_mb"))

    def set_autostart(self, ctx: RequestContext, ref: str, enabled: bool,
                      host: str | None = None) -> dict[str, Any]:
        return self._edit(ctx, ref, host, "autostart",
                          lambda d: edit.set_autostart(d, enabled))

    # -- console -------------------------------------------------------------------------
    def console(self, ctx: RequestContext, ref: str, on_output: Callable[[bytes], None],
                on_close: Callable[[str], None] | None = None, host: str | None = None,
                force: bool = False) -> ConsoleSession:
        """Open the serial console: a session with write(bytes) and close()."""
        h, row = self._locate(ref, host)
        self.cloud.authorize(ctx, "server:console", self.cloud.server_target(row))
        dom = h._dom(row["uuid"])
        return ConsoleSession(h.conn(), dom, host=h.name, on_output=on_output,
                              on_close=on_close, force=force)

    # -- migration -----------------------------------------------------------------------
    def choose_destination(self, ctx: RequestContext, ref: str, host: str | None = None,
                           exclude: set[str] | None = None) -> str:
        h, row = self._locate(ref, host)
        self.cloud.authorize(ctx, "server:live_migrate", self.cloud.server_target(row))
        return migrate_mod.pick_destination(self.cloud, row, h.name, exclude)

    def _move(self, src, row: dict[str, Any], dest: str, *, uri: str | None,
              copy_storage: bool, migrate_uri: str | None, progress: Progress | None,
              cancel: threading.Event | None,
              bandwidth_mib: int | None = None) -> dict[str, Any]:
        """One live migration, with its claim moved along (migrate.ClaimMove)."""
        if dest == src.name:
            raise errors.InvalidInput(f"server {row['name']} already runs on {dest}")
        d = self.cloud.registry.get(dest)
        d.conn()  # HostUnavailable with the reason when it is down
        uri = uri or (d.cfg.uri if _is_test(src) else migrate_mod.peer_uri(d))
        claim = None if _is_test(src) else migrate_mod.ClaimMove.begin(self.cloud,
                                                                       row["uuid"], dest)
        try:
            result = migrate_mod.migrate_server(src, row["uuid"], uri, dest_name=d.name,
                                                copy_storage=copy_storage,
                                                migrate_uri=migrate_uri, progress=progress,
                                                cancel=cancel, bandwidth_mib=bandwidth_mib)
        except BaseException:
            if claim is not None:
                claim.rollback()
            _forget_if_gone(d, row["uuid"])
            raise
        if claim is not None:
            claim.commit()
        result["claim_moved"] = claim is not None
        d._refresh_one(result["uuid"])
        moved = d.find(result["uuid"])
        result["state"] = moved["state"] if moved else None
        return result

    def migrate(self, ctx: RequestContext, ref: str, dest: str | None = None, *,
                host: str | None = None, copy_storage: bool = False,
                dest_uri: str | None = None, migrate_uri: str | None = None,
                progress: Progress | None = None, cancel: threading.Event | None = None,
                dest_uris: dict[str, str] | None = None,
                bandwidth_mib: int | None = None) -> dict[str, Any]:
        """Live-migrate a server to ``dest`` (a configured host) or where the scheduler says.

        The source host reaches the destination at ``dest_uri``, else ``dest_uris[dest]``,
        else the destination's configured URI (see migrate.peer_uri)."""
        h, row = self._locate(ref, host)
        label = f"{h.name}/{row['name']}"
        with self.mutation(ctx, "server:live_migrate", label, self.cloud.server_target(row)):
            if dest is None:
                dest = migrate_mod.pick_destination(self.cloud, row, h.name)
            return self._move(h, row, dest, uri=dest_uri or (dest_uris or {}).get(dest),
                              copy_storage=copy_storage, migrate_uri=migrate_uri,
                              progress=progress, cancel=cancel, bandwidth_mib=bandwidth_mib)

    def evacuate(self, ctx: RequestContext, host: str, *, copy_storage: bool = False,
                 progress: Progress | None = None,
                 cancel: threading.Event | None = None,
                 dest_uris: dict[str, str] | None = None) -> dict[str, Any]:
        """Disable ``host`` and live-migrate every running server off it, one at a time,
        each where the scheduler says; stop at the first one that cannot move and report it.
        The host stays disabled (``host enable`` when it is back in service)."""
        self.cloud.ensure_hosts()
        src = self.cloud.registry.get(host)
        src.conn()
        moved: list[dict[str, Any]] = []
        with self.mutation(ctx, "host:evacuate", host, {}):
            # disabled first, so the scheduler sends nothing new to it meanwhile
            self.cloud.compute.set_host_enabled(ctx, host, False, "evacuated")
            todo = [r for r in src.list_domains()
                    if r["state"] in ("running", "blocked", "paused")]
            todo.sort(key=lambda r: r["name"])
            for i, row in enumerate(todo):
                if cancel is not None and cancel.is_set():
                    raise errors.OperationFailed(
                        f"evacuation of {host} cancelled after {len(moved)} of {len(todo)} "
                        "servers")

                def relay(event, i=i):
                    if progress is not None:
                        progress({**event, "index": i + 1, "count": len(todo)})
                try:
                    dest = migrate_mod.pick_destination(self.cloud, row, host)
                    result = self._move(src, row, dest, uri=(dest_uris or {}).get(dest),
                                        copy_storage=copy_storage, migrate_uri=None,
                                        progress=relay, cancel=cancel)
                except errors.VirtstackError as exc:
                    done = ", ".join(f"{m['name']} -> {m['destination']}" for m in moved)
                    raise _same_kind(exc)(
                        f"evacuation of {host} stopped at server {row['name']} "
                        f"({i + 1} of {len(todo)}): {exc.message}"
                        + (f"; already moved: {done}" if done else "")) from None
                moved.append(result)
        return {"host": host, "moved": moved, "count": len(moved)}


def _checked_size(value: Any, field: str) -> dict[str, int]:
    """A size for the books; its sanity (positive, not absurd) is edit.py's to judge, so a
    bad value books nothing here and fails there with edit's own message."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return {field: value}
    return {}
