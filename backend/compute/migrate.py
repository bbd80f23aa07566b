"""Live migration and host evacuation.

``migrate_server`` moves one running (or paused) domain peer-to-peer: the SOURCE libvirtd
opens the destination URI itself (``VIR_MIGRATE_PEER2PEER``), so the URI must be one the
source host can reach -- over SSH, with keys that exist on the source host. The domain is
defined on the destination and undefined on the source (``PERSIST_DEST | UNDEFINE_SOURCE``).
``copy_storage`` copies non-shared disks (``NON_SHARED_DISK``); without it the disks must be
on storage both hosts see.

Progress comes from the job info, polled while the migration runs, as plain dicts handed to
``progress(event)``; setting ``cancel`` (a ``threading.Event``) aborts the job. A host whose
driver has no job info (the test driver) simply reports no progress; one that cannot migrate
raises NotSupported.

``pick_destination`` asks the scheduler (``backend.scheduler``) for a host, from HostStates
built off the connected hosts' figures; the source and any host in ``exclude`` are ignored.

A member of a server group keeps its group when it moves, as in nova: the scheduler gets
the group (its policy, the hosts of the OTHER members) so its ServerGroup filters choose,
and ``ClaimMove.begin`` checks the policy again where the claim moves -- in that transaction,
with the group row locked, like a create's claim (``Claims._keep_group_policy``) -- so a
destination the operator names that breaks an affinity or anti-affinity group is refused
(GroupPolicyViolated, naming the group and the member or host in the way) before anything
moves.

Known window: until ``commit`` the server's row names its source host, so a create or
another move into the same group that claims while this migration runs does not see the
destination this member is going to. Closing it needs the destination recorded on the row
during the move (a column and a migration in backend/db).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

import libvirt

from backend import errors
from backend.virt.libvirt.errors import translate

if TYPE_CHECKING:
    from backend.virt.libvirt.host import LibvirtHost

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], None]
_MIGRATABLE = ("running", "blocked", "paused")


def migration_flags(copy_storage: bool) -> int:
    flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
             | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    if copy_storage:
        flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
    return flags


def _job_event(stats: dict[str, Any], started: float) -> dict[str, Any]:
    total = stats.get("data_total") or 0
    processed = stats.get("data_processed") or 0
    remaining = stats.get("data_remaining")
    percent = None
    if total:
        done = total - remaining if remaining is not None else processed
        percent = round(max(0.0, min(100.0, 100.0 * done / total)), 1)
    return {"phase": "migrating", "percent": percent, "data_total": total,
            "data_processed": processed, "data_remaining": remaining,
            "memory_dirty_rate": stats.get("memory_dirty_rate"),
            "elapsed_s": round(time.monotonic() - started, 1)}


def _job_stats(dom: libvirt.virDomain) -> dict[str, Any] | None:
    try:
        return dom.jobStats(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in (libvirt.VIR_ERR_NO_SUPPORT,):
            return None
        try:
            t, elapsed, _rem, dtotal, dproc, drem, *_ = dom.jobInfo()
            return {"type": t, "time_elapsed": elapsed, "data_total": dtotal,
                    "data_processed": dproc, "data_remaining": drem}
        except libvirt.libvirtError:
            return None


def migrate_server(src: "LibvirtHost", ref: str, dest_uri: str, *, dest_name: str,
                   copy_storage: bool = False, migrate_uri: str | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None,
                   poll: float = 0.5, bandwidth_mib: int | None = None) -> dict[str, Any]:
    if str(src.host_info().get("hypervisor", "")).upper() == "TEST":
        raise errors.NotSupported(f"{src.name}: live migration is not supported by this host "
                                  "(the libvirt test driver cannot migrate)")
    dom = src._dom(ref)
    try:
        name = dom.name()
        uuid = dom.UUIDString()
        state = (src.find(uuid) or {}).get("state")
        if state is None:
            from backend.virt.libvirt.host import state_name
            state = state_name(dom.state()[0])
    except libvirt.libvirtError as exc:
        raise translate(exc, src.name, f"migrate {ref}") from None
    if state not in _MIGRATABLE:
        raise errors.Conflict(f"cannot live-migrate server {name} on {src.name}: it is "
                              f"{state} (needs running or paused); start it first")
    params: dict[str, Any] = {}
    if migrate_uri:
        params[libvirt.VIR_MIGRATE_PARAM_URI] = migrate_uri
    if bandwidth_mib:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mib)  # MiB/s
    flags = migration_flags(copy_storage)
    started = time.monotonic()
    done = threading.Event()
    cancelled = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        if progress is not None:
            event.update({"server": name, "source": src.name, "destination": dest_name})
            try:
                progress(event)
            except Exception:
                log.exception("migration progress callback failed")

    def watch() -> None:
        next_poll = time.monotonic() + poll
        while not done.wait(0.05):  # the cancel flag is checked often, the job every poll
            if cancel is not None and cancel.is_set() and not cancelled.is_set():
                cancelled.set()
                try:
                    dom.abortJob()
                except libvirt.libvirtError as exc:
                    log.warning("%s: abort of the migration of %s failed: %s", src.name,
                                name, exc)
                emit({"phase": "cancelling", "percent": None})
                continue
            if time.monotonic() < next_poll or cancelled.is_set():
                continue
            next_poll = time.monotonic() + poll
            stats = _job_stats(dom)
            if stats and stats.get("type", 0) not in (0, libvirt.VIR_DOMAIN_JOB_NONE):
                emit(_job_event(stats, started))

    emit({"phase": "starting", "percent": 0.0})
    if cancel is not None and cancel.is_set():
        raise errors.OperationFailed(f"migration of {name} cancelled before it started")
    watcher = threading.Thread(target=watch, name=f"migrate-{name}", daemon=True)
    watcher.start()
    try:
        dom.migrateToURI3(dest_uri, params, flags)
    except libvirt.libvirtError as exc:
        if cancelled.is_set():
            emit({"phase": "cancelled", "percent": None})
            raise errors.OperationFailed(
                f"migration of {name} from {src.name} to {dest_name} was cancelled; it "
                f"still runs on {src.name}") from None
        err = translate(exc, src.name, f"migrate {name} to {dest_name}")
        emit({"phase": "failed", "percent": None, "error": err.message})
        raise err from None
    finally:
        done.set()
        watcher.join(timeout=poll * 4 + 1)
    # The source undefined it: drop it from the cache now rather than on the event.
    src._forget(uuid)
    elapsed = round(time.monotonic() - started, 1)
    emit({"phase": "done", "percent": 100.0, "elapsed_s": elapsed})
    result = {"name": name, "uuid": uuid, "source": src.name, "destination": dest_name,
              "copy_storage": copy_storage, "elapsed_s": elapsed}
    if cancelled.is_set():
        result["note"] = "the cancel came too late: the migration had already finished"
    return result


def peer_uri(dest: "LibvirtHost") -> str:
    """The URI a source libvirtd uses to reach ``dest``: its ``migration_uri`` when the
    host config has one, else its configured URI (keys and host keys must then be set up
    on the source host the same way)."""
    uri = dest.cfg.migration_uri or dest.cfg.uri
    parts = urlsplit(uri)
    if not ("+" in parts.scheme or parts.hostname):
        raise errors.InvalidInput(
            f"host {dest.name} is configured with a local URI ({uri}): another host cannot "
            f"reach it for a migration; give the destination URI explicitly")
    return uri


def host_states(hosts: list["LibvirtHost"]):
    """HostStates for the scheduler from what the connected hosts report."""
    from backend.scheduler import HostState
    out = []
    for h in hosts:
        info = h.host_info()
        cfg = h.cfg
        out.append(HostState(
            name=h.name, az=cfg.availability_zone or "nova", vcpus=int(info.get("vcpus") or 0),
            vcpus_used=info.get("vcpus_allocated") or 0,
            memory_mb=int(info.get("memory_mb") or 0),
            memory_mb_used=info.get("memory_mb_allocated") or 0,
            disk_gb=10**6, disk_gb_used=0,
            cpu_allocation_ratio=cfg.cpu_allocation_ratio,
            ram_allocation_ratio=cfg.ram_allocation_ratio,
            disk_allocation_ratio=cfg.disk_allocation_ratio,
            reserved_host_memory_mb=cfg.reserved_host_memory_mb,
            reserved_host_disk_gb=cfg.reserved_host_disk_gb,
            hypervisor_type=str(info.get("hypervisor") or "QEMU"),
            arch=str(info.get("arch") or "x86_64"),
            num_instances=int(info.get("vms_running") or 0),
            aggregates=list(cfg.aggregates or [])))
    return out


def cloud_states(cloud, candidates: list["LibvirtHost"]):
    """HostStates with claims, enabled flags and unmanaged usage (backend.compute), for the
    connected ``candidates``; the hosts' own figures where the compute layer is absent."""
    manager = getattr(getattr(cloud, "compute", None), "manager", None)
    if manager is not None:
        names = {h.name for h in candidates}
        try:
            return [st for st in manager.fresh_states() if st.name in names]
        except Exception as exc:  # the compute tables unavailable: fall back, say so
            log.warning("compute host states unavailable (%s): using the hosts' figures",
                        exc)
    return host_states(candidates)


def server_group(cloud, uuid: str) -> tuple[Any, list[tuple[str, str]]]:
    """Server ``uuid``'s group as the scheduler takes it for a move -- its policy and the
    hosts of the OTHER members (the server itself is the one moving) -- and those members
    as (host, name) pairs. (None, []) for a server virtstack does not track, one in no
    group, or a group whose policy is not a hard one (the filters know only those)."""
    if getattr(getattr(cloud, "compute", None), "manager", None) is None:
        return None, []
    from sqlalchemy import select

    from backend.compute.groups import GroupService
    from backend.compute.models import Server
    from backend.compute.models import ServerGroup as GroupRow
    from backend.scheduler import ServerGroup
    from backend.scheduler.request_spec import POLICIES
    with cloud.db.transaction() as s:
        group_id = s.scalar(select(Server.group_id).where(Server.uuid == uuid,
                                                          Server.status != "DELETED"))
        group = s.get(GroupRow, group_id) if group_id else None
        if group is None or group.policy not in POLICIES:
            return None, []
        others = sorted((m["host"], m["name"]) for m in GroupService.members(s, group_id)
                        if m["uuid"] != uuid and m["host"])
        name, policy = group.name, group.policy
    return ServerGroup(name, policy, tuple(sorted({h for h, _ in others}))), others


def _group_reason(group, others: list[tuple[str, str]], name: str, source: str) -> str:
    """Which members keep ``name`` from every host: ' (anti-affinity group 'g' has members
    on node2 (a), node3 (b, c))'."""
    where = ", ".join(f"{h} ({', '.join(n for hh, n in others if hh == h)})"
                      for h in group.members_on_hosts)
    why = f" ({group.policy} group {group.name!r} has members on {where}"
    if group.policy == "affinity" and set(group.members_on_hosts) == {source}:
        why += f"; moving {name} off {source} would split the group"
    return why + ")"


def pick_destination(cloud, row: dict[str, Any], source: str,
                     exclude: set[str] | None = None) -> str:
    """The host the scheduler picks for ``row`` (a server cache row) off ``source``; one
    that keeps the server's group, if it is in one."""
    from backend.scheduler import Flavor, RequestSpec, Scheduler
    hosts = [h for h in cloud.registry.connected()
             if h.name != source and h.name not in (exclude or set())]
    if not hosts:
        raise errors.NoValidHost(f"no other connected host to move {row['name']} to")
    group, others = server_group(cloud, row["uuid"])
    spec = RequestSpec(flavor=Flavor(vcpus=int(row.get("vcpus") or 1),
                                     memory_mb=int(row.get("memory_mb") or 0)),
                       group=group, ignore_hosts=frozenset({source}))
    decision = Scheduler(cloud.settings.scheduler).select(spec, cloud_states(cloud, hosts))
    if not decision.ok:
        why = decision.reason
        emptied = next((f for f, left in decision.filters if not left), "")
        if group is not None and emptied.startswith("ServerGroup"):
            why += _group_reason(group, others, row["name"], source)
        raise errors.NoValidHost(f"no host can take {row['name']}: {why}")
    return decision.chosen[0]


class ClaimMove:
    """The claim moves with the VM. For a server virtstack tracks (a servers-table row that
    holds a claim), room is taken on the destination BEFORE the move -- the host's limits
    apply, atomically, and so does the server group's policy -- and given back on the
    source after it (``commit``), or on the destination if the move fails (``rollback``).
    Quota is the project's: unchanged."""

    def __init__(self, cloud, uuid: str, source: str, dest: str, usage):
        self.db = cloud.db
        self.uuid, self.source, self.dest, self.usage = uuid, source, dest, usage

    @classmethod
    def begin(cls, cloud, uuid: str, dest: str) -> "ClaimMove | None":
        manager = getattr(getattr(cloud, "compute", None), "manager", None)
        if manager is None:
            return None
        from backend.compute.claims import GroupPolicyViolated, Usage
        from backend.compute.models import Server
        with cloud.db.transaction() as s:
            srv = s.get(Server, uuid)
            if srv is None or not srv.claimed or srv.host == dest:
                return None
            if srv.group_id:  # group row locked, then the other members read (lock order)
                try:
                    manager.claims._keep_group_policy(s, srv.group_id, [dest], moving=uuid)
                except GroupPolicyViolated as exc:
                    raise GroupPolicyViolated(
                        dest, f"cannot move server {srv.name} to {dest}: {exc.message}"
                    ) from None
            usage = Usage(srv.vcpus, srv.memory_mb, srv.disk_gb, srv.root_gb)
            manager.claims._take_host(s, dest, usage, 1)  # ClaimFailed: no room there
            return cls(cloud, uuid, srv.host, dest, usage)

    def _give_back(self, s, host: str) -> None:
        from sqlalchemy import update

        from backend.compute.models import ComputeNode as N
        u = self.usage
        s.execute(update(N).where(N.host == host)
                  .values(vcpus_used=N.vcpus_used - u.vcpus,
                          memory_mb_used=N.memory_mb_used - u.memory_mb,
                          disk_gb_used=N.disk_gb_used - u.disk_gb,
                          num_instances=N.num_instances - 1)
                  .execution_options(synchronize_session=False))

    def commit(self) -> None:
        from sqlalchemy import update

        from backend.compute.models import Server
        with self.db.transaction() as s:
            self._give_back(s, self.source)
            s.execute(update(Server).where(Server.uuid == self.uuid).values(host=self.dest)
                      .execution_options(synchronize_session=False))

    def rollback(self) -> None:
        with self.db.transaction() as s:
            self._give_back(s, self.dest)
