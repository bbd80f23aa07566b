"""One libvirt host: a long-lived connection, a domain cache fed by lifecycle events, one bulk
stats call per tick, and the lifecycle actions.

The cache is what makes listing cheap: domains are read once when the connection opens and
then kept current by libvirt's lifecycle events, so listing VMs costs no libvirt call and a
quiet host costs no traffic but the keepalive.
"""
from __future__ import annotations

import logging
import os
import shlex
import stat
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import libvirt

from backend import errors
from backend.config import HostConfig
from backend.virt.driver import STATES, HostDriver
from backend.virt.libvirt.errors import mapped, translate
from backend.virt.libvirt.events import ensure_event_loop
from backend.virt.libvirt.xml import TEST_NS, parse_domain

log = logging.getLogger(__name__)

_EVENT_STATE = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: "running",
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: "paused",
    libvirt.VIR_DOMAIN_EVENT_RESUMED: "running",
    libvirt.VIR_DOMAIN_EVENT_STOPPED: "shutoff",
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
    libvirt.VIR_DOMAIN_EVENT_CRASHED: "crashed",
}
_TEST_RUNSTATE = {"running": 1, "blocked": 1, "paused": 3, "shutdown": 5, "shutoff": 5,
                  "crashed": 5, "pmsuspended": 3, "nostate": 5}
ACTIONS = ("start", "shutdown", "reboot", "suspend", "resume", "destroy")
_ACTIVE = ("running", "blocked", "paused", "shutdown", "pmsuspended")
_ALLOWED_FROM = {"start": ("shutoff", "crashed", "nostate"),
                 "shutdown": ("running", "blocked"), "reboot": ("running", "blocked"),
                 "suspend": ("running", "blocked"), "resume": ("paused", "pmsuspended"),
                 "destroy": _ACTIVE}
_STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
          | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_INTERFACE
          | libvirt.VIR_DOMAIN_STATS_BLOCK)
_NOWAIT = getattr(libvirt, "VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT", 0)
# What listing needs of every domain, in one call: state, vCPUs, memory.
_LIST_STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
               | libvirt.VIR_DOMAIN_STATS_BALLOON)


def state_name(code: int) -> str:
    return STATES[code] if 0 <= code < len(STATES) else "nostate"


def effective_uri(cfg: HostConfig, wrapper_dir: Path) -> str:
    """The URI libvirt is given: for SSH transports the key file and host-key checking are
    made explicit. OpenSSH's transport ignores ``known_hosts=``, so it gets a wrapper command
    that runs ssh with StrictHostKeyChecking=yes against the configured known_hosts file."""
    parts = urlsplit(cfg.uri)
    scheme = parts.scheme
    transport = scheme.split("+", 1)[1] if "+" in scheme else ""
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if transport in ("ssh", "libssh", "libssh2"):
        if cfg.keyfile and "keyfile" not in query:
            query["keyfile"] = os.path.expanduser(cfg.keyfile)
        known = os.path.expanduser(cfg.known_hosts or "~/.ssh/known_hosts")
        if transport == "ssh":
            if "command" not in query:
                query["command"] = str(_ssh_wrapper(cfg.name, known, cfg.ssh_connect_timeout,
                                                    wrapper_dir))
            query.setdefault("no_tty", "1")
        else:
            query.setdefault("known_hosts", known)
            query.setdefault("known_hosts_verify", "normal")
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))


def _ssh_wrapper(name: str, known_hosts: str, timeout: float, wrapper_dir: Path) -> Path:
    wrapper_dir.mkdir(parents=True, exist_ok=True)
    path = wrapper_dir / f"ssh-{name}"
    body = ("#!/bin/sh\n# written by virtstack: verify host keys, never accept them silently\n"
            f"exec ssh -o UserKnownHostsFile={shlex.quote(known_hosts)} "
            "-o StrictHostKeyChecking=yes -o BatchMode=yes "
            f"-o ConnectTimeout={int(timeout)} \"$@\"\n")
    if not path.exists() or path.read_text() != body:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(body)
        tmp.chmod(stat.S_IRWXU)
        tmp.replace(path)
    return path


class LibvirtHost(HostDriver):
    def __init__(self, cfg: HostConfig, *, wrapper_dir: Path, persist_path: Path | None = None,
                 keepalive: tuple[int, int] = (5, 3)):
        self.cfg = cfg
        self.name = cfg.name
        self.uri = effective_uri(cfg, wrapper_dir)
        self.persist_path = persist_path
        self.keepalive = keepalive
        # The driver runs inside our process (the test driver on a file): connecting is CPU
        # work here, not waiting on a daemon or a network.
        self.in_process = urlsplit(cfg.uri).scheme == "test" and not self.is_remote
        self.state = "disconnected"
        self.last_error: str | None = None
        self.connected_at: float | None = None
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.RLock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._domains: dict[str, dict[str, Any]] = {}   # uuid -> row
        self._doms: dict[str, libvirt.virDomain] = {}   # uuid -> handle
        self._cpu_prev: dict[str, tuple[float, int]] = {}
        self._host_cpu_prev: tuple[int, int] | None = None
        self._info: dict[str, Any] = {}
        self._callback_ids: list[int] = []
        # Probed on the first stats tick, then remembered: does the bulk call carry figures
        # (cpu.time) or only state (the test driver)?
        self._bulk_has_figures: bool | None = None
        self._stats_period_set: set[str] = set()
        self._removals: dict[str, int] = {}  # uuid -> how many times its row was dropped

    # -- connection -------------------------------------------------------------------
    @property
    def is_remote(self) -> bool:
        return "+" in urlsplit(self.cfg.uri).scheme or bool(urlsplit(self.cfg.uri).hostname)

    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("host", self.name)
        for cb in list(self._listeners):
            try:
                cb(event)
            except Exception:  # a face's bug must not kill the event thread
                log.exception("listener failed")

    def _set_state(self, state: str, error: str | None = None) -> None:
        self.state = state
        self.last_error = error
        self._emit({"type": "host", "state": state, "error": error})

    def connect(self, fill_later: bool = False) -> None:
        """Open the connection and read every domain. fill_later: figures the bulk call
        lacks (the test driver's vCPUs and memory) are read after "connected", in the
        background, and a "figures" event says when they are in (the TUI: its rows show
        first); otherwise before connect() returns (the CLI)."""
        ensure_event_loop()
        with self._lock:
            if self._conn is not None:
                return
            self._set_state("connecting")
            try:
                conn = libvirt.openAuth(self.uri, [[libvirt.VIR_CRED_AUTHNAME,
                                                    libvirt.VIR_CRED_PASSPHRASE],
                                                   lambda creds, data: -1, None], 0)
                if self.is_remote and self.keepalive[0] > 0:
                    conn.setKeepAlive(*self.keepalive)
                conn.registerCloseCallback(self._on_close, None)
                cid = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                  self._on_lifecycle, None)
                self._callback_ids = [cid]
                self._conn = conn
                missing = self._load_domains()
                if missing and not fill_later:
                    self._fill_figures(missing)
                    missing = []
                self._load_info()
            except libvirt.libvirtError as exc:
                err = translate(exc, self.name, "connect")
                self._drop()
                self._set_state("disconnected", err.message)
                raise err from None
            self.connected_at = time.time()
            self._set_state("connected")
        if missing:
            threading.Thread(target=self._fill_figures, args=(missing, True), daemon=True,
                             name=f"figures-{self.name}").start()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._doms.clear()
        if conn is not None:
            for cid in self._callback_ids:
                try:
                    conn.domainEventDeregisterAny(cid)
                except libvirt.libvirtError:
                    pass
            try:
                conn.unregisterCloseCallback()
            except libvirt.libvirtError:
                pass
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
        self._callback_ids = []

    def close(self) -> None:
        """Never waits long: a connect() hung on an unreachable host holds the lock, and
        quitting must not wait for it (its thread is a daemon and dies with the process)."""
        if not self._lock.acquire(timeout=1.0):
            self.state = "disconnected"
            return
        try:
            self._drop()
            self.state = "disconnected"
        finally:
            self._lock.release()

    def _on_close(self, conn, reason, opaque) -> None:
        why = {0: "error", 1: "end of file", 2: "keepalive timeout", 3: "client closed"}.get(
            reason, str(reason))
        if self._conn is not conn:
            return
        self._conn = None
        self._doms.clear()
        self._set_state("disconnected", f"connection lost ({why})")

    def conn(self) -> libvirt.virConnect:
        c = self._conn
        if c is None:
            raise errors.HostUnavailable(
                f"host {self.name} is disconnected" + (f": {self.last_error}"
                                                       if self.last_error else ""))
        return c

    def is_alive(self) -> bool:
        c = self._conn
        try:
            return c is not None and c.isAlive() == 1
        except libvirt.libvirtError:
            return False

    # -- domain cache -----------------------------------------------------------------
    def _row(self, dom: libvirt.virDomain) -> dict[str, Any]:
        st, max_kib, _cur, ncpu, cpu_time = dom.info()
        uuid = dom.UUIDString()
        self._doms[uuid] = dom
        row = self._domains.get(uuid) or {}
        row.update({"uuid": uuid, "name": dom.name(), "host": self.name,
                    "state": state_name(st), "vcpus": ncpu, "memory_mb": max_kib // 1024,
                    "cpu_percent": row.get("cpu_percent")})
        return row

    def _load_domains(self) -> list[libvirt.virDomain]:
        """Every domain's row from one bulk call (state, vCPUs, memory: one round trip for
        a remote host, however many domains). Returns the domains whose vCPUs or memory the
        call did not carry (the test driver gives only state): see _fill_figures."""
        conn = self.conn()
        try:
            records = conn.getAllDomainStats(_LIST_STATS, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
            records = [(dom, {}) for dom in conn.listAllDomains(0)]
        rows, missing = {}, []
        for dom, rec in records:
            uuid = dom.UUIDString()
            self._doms[uuid] = dom
            row = {"uuid": uuid, "name": dom.name(), "host": self.name,
                   "state": state_name(rec.get("state.state", libvirt.VIR_DOMAIN_NOSTATE)),
                   "vcpus": rec.get("vcpu.current"),
                   "memory_mb": (rec["balloon.maximum"] // 1024
                                 if "balloon.maximum" in rec else None),
                   "cpu_percent": None}
            if "state.state" not in rec or row["vcpus"] is None or row["memory_mb"] is None:
                missing.append(dom)
            rows[uuid] = row
        self._domains = rows
        return missing

    def _fill_figures(self, doms: list[libvirt.virDomain], announce: bool = False) -> None:
        """One info() per domain for what the bulk call lacked; announce: then emit a
        "figures" event (the TUI reloads the host's rows)."""
        for dom in doms:
            if dom.UUIDString() not in self._domains:
                continue  # undefined meanwhile: never bring it back
            try:
                self._row(dom)  # updates the cached row in place
            except libvirt.libvirtError:
                continue  # vanished meanwhile, or the host dropped
        if announce:
            self._emit({"type": "domain", "event": "figures", "uuid": None, "name": None})

    def _load_info(self) -> None:
        conn = self.conn()
        model, mem_mb, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
        try:
            mem_total = conn.getMemoryStats(-1).get("total", mem_mb * 1024) // 1024
        except libvirt.libvirtError:
            mem_total = mem_mb
        self._info = {
            "hostname": conn.getHostname(),
            "hypervisor": conn.getType(),
            "hypervisor_version": conn.getVersion(),
            "libvirt_version": conn.getLibVersion(),
            "arch": model,
            "vcpus": cpus,
            "mhz": mhz,
            "sockets": sockets, "cores": cores, "threads": threads, "numa_nodes": nodes,
            "memory_mb": max(mem_mb, mem_total),
        }

    def _on_lifecycle(self, conn, dom, event, detail, opaque) -> None:
        try:
            uuid = dom.UUIDString()
            name = dom.name()
        except libvirt.libvirtError:
            return
        if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
            self._forget(uuid)
            self._emit({"type": "domain", "event": "undefined", "uuid": uuid, "name": name})
            return
        row = self._domains.get(uuid)
        if row is None or event == libvirt.VIR_DOMAIN_EVENT_DEFINED:
            # New or redefined: read its figures off the event thread.
            threading.Thread(target=self._refresh_one, args=(uuid,), daemon=True).start()
            if row is None:
                return
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            # a transient domain that stops is gone without an UNDEFINED event: check
            # (off the event thread) whether it still exists
            threading.Thread(target=self._drop_if_gone, args=(uuid,), daemon=True).start()
        if event in _EVENT_STATE:
            state = _EVENT_STATE[event]
            if event == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN and detail == 0:
                state = "shutdown"
            row["state"] = state
            if state != "running":
                row["cpu_percent"] = None
        self._emit({"type": "domain", "event": "state", "uuid": uuid, "name": name,
                    "state": row["state"]})

    def _drop_if_gone(self, uuid: str) -> None:
        """After a STOPPED event: a transient domain ends without an UNDEFINED event, so
        look it up once and drop its row if it no longer exists (never adds a row)."""
        try:
            self.conn().lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                row = self._forget(uuid)
                if row is not None:
                    self._emit({"type": "domain", "event": "undefined", "uuid": uuid,
                                "name": row["name"]})
        except errors.VirtstackError:
            pass

    def _forget(self, uuid: str) -> dict[str, Any] | None:
        """Drop a domain's row; a refresh already under way will not bring it back."""
        self._removals[uuid] = self._removals.get(uuid, 0) + 1
        self._doms.pop(uuid, None)
        return self._domains.pop(uuid, None)

    def _refresh_one(self, uuid: str) -> None:
        removals = self._removals.get(uuid, 0)
        try:
            dom = self.conn().lookupByUUIDString(uuid)
            row = self._row(dom)
        except (libvirt.libvirtError, errors.VirtstackError):
            return
        if self._removals.get(uuid, 0) != removals:
            return  # undefined or deleted while it was read
        self._domains[uuid] = row
        self._emit({"type": "domain", "event": "defined", "uuid": uuid, "name": row["name"],
                    "state": row["state"]})

    def list_domains(self) -> list[dict[str, Any]]:
        self.conn()
        return [dict(r) for r in self._domains.values()]

    def find(self, ref: str) -> dict[str, Any] | None:
        row = self._domains.get(ref)
        if row:
            return row
        for r in self._domains.values():
            if r["name"] == ref:
                return r
        return None

    def _dom(self, ref: str) -> libvirt.virDomain:
        conn = self.conn()
        row = self.find(ref)
        with mapped(self.name, f"server {ref}"):
            if row is not None:
                dom = self._doms.get(row["uuid"]) or conn.lookupByUUIDString(row["uuid"])
            else:
                try:
                    dom = conn.lookupByName(ref)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        raise errors.NotFound(f"no server {ref!r} on host {self.name}") from None
                    raise
        return dom

    # -- reads ------------------------------------------------------------------------
    def host_info(self) -> dict[str, Any]:
        rows = list(self._domains.values())
        info = {"name": self.name, "uri": self.cfg.uri, "state": self.state,
                "error": self.last_error, "availability_zone": self.cfg.availability_zone,
                "vms_total": len(rows),
                "vms_running": sum(1 for r in rows if r["state"] in ("running", "blocked")),
                "vcpus_allocated": sum(r["vcpus"] or 0 for r in rows
                                       if r["state"] in ("running", "blocked", "paused")),
                "memory_mb_allocated": sum(r["memory_mb"] or 0 for r in rows
                                           if r["state"] in ("running", "blocked", "paused"))}
        info.update(self._info)
        return info

    def domain_info(self, ref: str) -> dict[str, Any]:
        dom = self._dom(ref)
        with mapped(self.name, f"server {ref}"):
            xml = dom.XMLDesc(0)
            st, _reason = dom.state()
            autostart = bool(dom.autostart())
            persistent = bool(dom.isPersistent())
            snaps = dom.snapshotNum(0) if hasattr(dom, "snapshotNum") else 0
        data = parse_domain(xml)
        row = self._domains.get(data["uuid"], {})
        data.update({"host": self.name, "state": state_name(st), "autostart": autostart,
                     "persistent": persistent, "snapshots": snaps,
                     "cpu_percent": row.get("cpu_percent")})
        data["next_boot"] = self._next_boot(dom, data) if persistent and st in (1, 2, 3) \
            else None
        for disk in data["disks"]:
            disk.update(self._disk_size(disk))
        if data["state"] == "running":
            self.ensure_memory_stats(dom, data["uuid"])
        return data

    def _next_boot(self, dom, live: dict[str, Any]) -> dict[str, Any] | None:
        """What the persistent definition says, where it differs from the running guest
        (a change made for the next boot only)."""
        try:
            saved = parse_domain(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError:
            return None
        diff = {k: saved[k] for k in ("vcpus", "vcpus_max", "memory_mb", "current_memory_mb")
                if saved.get(k) != live.get(k)}
        return diff or None

    def _disk_size(self, disk: dict[str, Any]) -> dict[str, Any]:
        """Capacity and allocation of a disk's volume, where the host knows the volume."""
        if not disk.get("source") or disk.get("device") != "disk":
            return {}
        try:
            conn = self.conn()
            if disk.get("pool"):
                vol = conn.storagePoolLookupByName(disk["pool"]).storageVolLookupByName(
                    disk["source"].split("/", 1)[1])
            else:
                vol = conn.storageVolLookupByPath(disk["source"])
            _type, capacity, allocation = vol.info()
            pool = disk.get("pool") or vol.storagePoolLookupByVolume().name()
        except (libvirt.libvirtError, errors.VirtstackError, IndexError):
            return {}
        return {"capacity_bytes": capacity, "allocation_bytes": allocation, "pool": pool}

    def ensure_memory_stats(self, dom, uuid: str) -> None:
        """Guest memory figures (balloon.unused/available) need the balloon driver's stats
        period set: set it once per running guest, where the host supports it."""
        if uuid in self._stats_period_set or self._info.get("hypervisor") == "TEST":
            return
        try:
            dom.setMemoryStatsPeriod(5, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as exc:
            log.info("%s: no balloon stats period for %s: %s", self.name, uuid,
                     exc.get_error_message())
        self._stats_period_set.add(uuid)

    def domain_xml(self, ref: str) -> str:
        dom = self._dom(ref)
        with mapped(self.name, f"server {ref}"):
            return dom.XMLDesc(0)

    def host_cpu_percent(self) -> float | None:
        try:
            s = self.conn().getCPUStats(-1)
        except (libvirt.libvirtError, errors.VirtstackError):
            return None
        busy = s.get("user", 0) + s.get("kernel", 0) + s.get("iowait", 0)
        total = busy + s.get("idle", 0)
        prev, self._host_cpu_prev = self._host_cpu_prev, (busy, total)
        if not prev or total <= prev[1]:
            return None
        return round(100.0 * (busy - prev[0]) / (total - prev[1]), 1)

    def bulk_stats(self, visible: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """One bulk stats call (restricted to ``visible`` uuids when given). Where the host
        lacks cpu figures in bulk (the test driver), one info() per visible running VM."""
        conn = self.conn()
        if self._bulk_has_figures is False and self.is_remote:
            # Over the network, a host whose bulk call carries only state (events keep
            # states current) is not polled at all: no figures are worth the traffic.
            return {}
        now = time.monotonic()
        out: dict[str, dict[str, Any]] = {}
        with mapped(self.name, "stats"):
            if visible is not None:
                doms = [self._doms[u] for u in visible
                        if u in self._doms and self._domains.get(u, {}).get("state") == "running"]
                records = conn.domainListGetStats(doms, _STATS, _NOWAIT) if doms else []
            else:
                records = conn.getAllDomainStats(_STATS, _NOWAIT | libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
        if records:
            self._bulk_has_figures = any("cpu.time" in rec for _d, rec in records)
        for dom, rec in records:
            uuid = dom.UUIDString()
            row = self._domains.get(uuid)
            st = rec.get("state.state")
            if row is not None and st is not None:
                row["state"] = state_name(st)
            cpu_ns = rec.get("cpu.time")
            if (cpu_ns is None and row is not None and row["state"] == "running"
                    and not self.is_remote):
                # a local host without bulk cpu figures: one in-process info() per
                # visible running VM (no network cost)
                try:
                    cpu_ns = dom.info()[4]
                except libvirt.libvirtError:
                    cpu_ns = None
            entry: dict[str, Any] = {
                "cpu_time_ns": cpu_ns,
                "memory_kib": rec.get("balloon.current"),
                "memory_unused_kib": rec.get("balloon.unused"),
                "memory_available_kib": rec.get("balloon.available"),
                "rd_bytes": sum(v for k, v in rec.items() if k.startswith("block.")
                                and k.endswith(".rd.bytes")),
                "wr_bytes": sum(v for k, v in rec.items() if k.startswith("block.")
                                and k.endswith(".wr.bytes")),
                "rx_bytes": sum(v for k, v in rec.items() if k.startswith("net.")
                                and k.endswith(".rx.bytes")),
                "tx_bytes": sum(v for k, v in rec.items() if k.startswith("net.")
                                and k.endswith(".tx.bytes")),
            }
            if cpu_ns is not None:
                prev = self._cpu_prev.get(uuid)
                self._cpu_prev[uuid] = (now, cpu_ns)
                if prev and now > prev[0] and row is not None:
                    vcpus = max(1, row["vcpus"] or 1)
                    pct = 100.0 * (cpu_ns - prev[1]) / ((now - prev[0]) * 1e9 * vcpus)
                    entry["cpu_percent"] = round(max(0.0, min(100.0, pct)), 1)
                    row["cpu_percent"] = entry["cpu_percent"]
            out[uuid] = entry
        return out

    # -- actions ----------------------------------------------------------------------
    def domain_action(self, ref: str, action: str) -> dict[str, Any]:
        if action not in ACTIONS:
            raise errors.InvalidInput(f"unknown server action {action!r}; "
                                      f"expected one of {', '.join(ACTIONS)}")
        dom = self._dom(ref)
        label = (self.find(ref) or {}).get("name", ref)
        with mapped(self.name, f"{action} {label}"):
            st = state_name(dom.state()[0])
            allowed = _ALLOWED_FROM[action]
            if st not in allowed:
                raise errors.Conflict(f"cannot {action} server {label} on {self.name}: it is "
                                      f"{st} (needs {' or '.join(allowed)})")
            if action == "start":
                dom.create()
            elif action == "shutdown":
                dom.shutdown()
            elif action == "reboot":
                dom.reboot(0)
            elif action == "suspend":
                dom.suspend()
            elif action == "resume":
                dom.resume()
            elif action == "destroy":
                dom.destroy()
            row = self._row(dom)
        self._domains[row["uuid"]] = row
        self._persist()
        return dict(row)

    def define_domain(self, xml: str, start: bool = False) -> dict[str, Any]:
        conn = self.conn()
        with mapped(self.name, "define server"):
            dom = conn.defineXML(xml)
            if start:
                try:
                    dom.create()
                except libvirt.libvirtError:
                    dom.undefine()
                    raise
            row = self._row(dom)
        self._domains[row["uuid"]] = row
        self._persist()
        return dict(row)

    def delete_domain(self, ref: str, delete_volumes: bool = False) -> dict[str, Any]:
        dom = self._dom(ref)
        removed_volumes: list[str] = []
        with mapped(self.name, f"delete {ref}"):
            xml = dom.XMLDesc(0)
            uuid = dom.UUIDString()
            name = dom.name()
            if dom.isActive():
                dom.destroy()
            if delete_volumes:
                removed_volumes = self._delete_disks(xml)
            flags = 0
            for f in ("VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                      "VIR_DOMAIN_UNDEFINE_NVRAM"):
                flags |= getattr(libvirt, f, 0)
            try:
                dom.undefineFlags(flags)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT,
                                                libvirt.VIR_ERR_INVALID_ARG):
                    raise
                dom.undefine()
        self._forget(uuid)
        self._persist()
        return {"name": name, "uuid": uuid, "host": self.name, "deleted": True,
                "deleted_volumes": removed_volumes}

    def _delete_disks(self, xml: str) -> list[str]:
        """Delete a domain's disk volumes; returns them as "pool/volume" (where libvirt
        knows the pool) or the path."""
        conn = self.conn()
        removed = []
        for disk in parse_domain(xml)["disks"]:
            if disk["device"] != "disk" or not disk["source"]:
                continue
            try:
                if disk["pool"]:
                    pool_name, vol_name = disk["source"].split("/", 1)
                    vol = conn.storagePoolLookupByName(pool_name).storageVolLookupByName(vol_name)
                else:
                    vol = conn.storageVolLookupByPath(disk["source"])
                try:
                    where = f"{vol.storagePoolLookupByVolume().name()}/{vol.name()}"
                except libvirt.libvirtError:
                    where = disk["source"]
                vol.delete(0)
                removed.append(where)
            except libvirt.libvirtError as exc:
                log.warning("%s: could not delete volume %s: %s", self.name, disk["source"], exc)
        return removed

    # -- demo persistence -------------------------------------------------------------
    def _persist(self) -> None:
        if self.persist_path is None:
            return
        try:
            write_node_xml(self.conn(), self.persist_path, self._domains)
        except Exception:
            log.exception("%s: could not save demo state", self.name)


def write_node_xml(conn: libvirt.virConnect, path: Path,
                   cache: dict[str, dict[str, Any]] | None = None) -> None:
    """Dump a test-driver connection's state as a ``<node>`` file the test driver loads
    (domains with their run state and snapshots, networks, pools with their volumes)."""
    from backend.compute.snapshots import snapshot_elements
    model, mem_mb, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
    node = ET.Element("node")
    cpu = ET.SubElement(node, "cpu")
    for tag, val in (("mhz", mhz), ("model", model), ("active", cpus), ("nodes", nodes),
                     ("sockets", sockets), ("cores", cores), ("threads", threads)):
        ET.SubElement(cpu, tag).text = str(val)
    ET.SubElement(node, "memory").text = str(mem_mb * 1024)
    for dom in conn.listAllDomains(0):
        el = ET.fromstring(dom.XMLDesc(0))
        el.attrib.pop("id", None)
        st = state_name(dom.state()[0])
        rs = ET.SubElement(el, f"{{{TEST_NS}}}runstate")
        rs.text = str(_TEST_RUNSTATE.get(st, 5))
        el.extend(snapshot_elements(dom))
        node.append(el)
    for net in conn.listAllNetworks(0):
        node.append(ET.fromstring(net.XMLDesc(0)))
    for pool in conn.listAllStoragePools(0):
        el = ET.fromstring(pool.XMLDesc(0))
        if pool.isActive():
            for vol in pool.listAllVolumes(0):
                el.append(ET.fromstring(vol.XMLDesc(0)))
        node.append(el)
    tmp = path.with_suffix(".tmp")
    ET.ElementTree(node).write(tmp, encoding="unicode")
    tmp.replace(path)
