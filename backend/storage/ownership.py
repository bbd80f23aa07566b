"""Which project a volume belongs to, and the ``volumes``/``gigabytes`` quota it holds.

The DB holds what virtstack decided (``volumes`` rows: project, size counted); the hosts
hold what is. A volume is owned by, in order:

1. its ``volumes`` row (virtstack made it, or an admin adopted it);
2. the server whose root volume it is (the server's claim counts it already);
3. the admin project (virtstack did not create it), until an admin adopts it.

Quota moves only through the compute claims' conditional UPDATEs (``Claims.take_quota``):
a new volume takes ``volumes: 1, gigabytes: size`` in the same transaction that writes
its row (status ``creating``) *before* the host is asked to make it, so a denied request
leaves nothing on the host; a failure on the host gives the quota back and drops the row;
a delete drops the row and gives the quota back in one transaction, so it happens once.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backend.compute.models import Server
from backend.errors import Conflict, InvalidInput
from backend.storage.models import Volume

GiB = 1 << 30
ROOT_POOL = "default"  # where backend.compute.spawn puts a server's root volume
Key = tuple[str, str, str]   # (host, pool, name)


def size_gb(nbytes: int | None) -> int:
    """What a volume counts in the ``gigabytes`` quota: whole GiB, rounded up."""
    return math.ceil(max(int(nbytes or 0), 0) / GiB)


def file_virtual_bytes(src: str | Path, what: str = "upload") -> int:
    """The size a volume made from this file will have: a qcow2's virtual size from its
    header, else the file's size (settled against the real volume once it is made)."""
    path = Path(src)
    if not path.is_file():
        raise InvalidInput(f"no such file to {what}: {str(path)!r}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(32)
    if len(head) == 32 and head[:4] == b"QFI\xfb":
        return max(size, struct.unpack(">Q", head[24:32])[0])
    return size


def volume_dict(v: Volume) -> dict[str, Any]:
    return {"id": v.id, "host": v.host, "pool": v.pool, "name": v.name, "key": v.key,
            "path": v.path, "project_id": v.project_id, "user_id": v.user_id,
            "size_gb": v.size_gb, "format": v.format, "status": v.status,
            "created_at": v.created_at.isoformat(timespec="seconds") if v.created_at
            else None}


def _quota(n: int, gb: int) -> dict[str, int]:
    return {"volumes": n, "gigabytes": gb}


class VolumeBook:
    """The ``volumes`` table and its quota; the front door (backend.api.storage) calls it
    around the host operations of backend.storage.volumes/transfer."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.db = cloud.db

    @property
    def claims(self):
        return self.cloud.compute.manager.claims

    def admin_project(self) -> str | None:
        return self.cloud.identity.admin_project_id()

    # -- ownership --------------------------------------------------------------------
    def records(self, host: str | None = None) -> dict[Key, dict[str, Any]]:
        with self.db.transaction() as s:
            q = select(Volume)
            if host:
                q = q.where(Volume.host == host)
            return {(v.host, v.pool, v.name): volume_dict(v) for v in s.scalars(q)}

    def record(self, host: str, pool: str, name: str) -> dict[str, Any] | None:
        with self.db.transaction() as s:
            v = s.scalars(select(Volume).where(Volume.host == host, Volume.pool == pool,
                                               Volume.name == name)).first()
            return volume_dict(v) if v is not None else None

    def server_roots(self) -> dict[Key, dict[str, Any]]:
        """(host, pool, volume) -> the live server whose root volume it is."""
        with self.db.transaction() as s:
            rows = s.execute(select(Server.host, Server.volume, Server.name,
                                    Server.project_id)
                             .where(Server.status != "DELETED", Server.volume.is_not(None),
                                    Server.host.is_not(None))).all()
        return {(h, ROOT_POOL, vol): {"server": name, "project_id": p}
                for h, vol, name, p in rows}

    def owner(self, host: str, pool: str, name: str) -> str | None:
        rec = self.record(host, pool, name)
        if rec is not None:
            return rec["project_id"]
        root = self.server_roots().get((host, pool, name))
        if root is not None and root["project_id"]:
            return root["project_id"]
        return self.admin_project()

    def target(self, host: str, pool: str, name: str) -> dict[str, Any]:
        """The policy target: ``project_id`` is the owner's, so project rules apply."""
        return {"project_id": self.owner(host, pool, name), "host": host, "pool": pool,
                "name": name}

    def scope(self, ctx, rows: list[dict[str, Any]], scanned: set[tuple[str, str]],
              host: str | None = None) -> list[dict[str, Any]]:
        """Give each host volume its project and status; add the rows the DB has but the
        scanned (host, pool)s do not (status ``missing``: never pretend it exists); keep
        only the caller's project unless it is an admin."""
        records, roots = self.records(host), self.server_roots()
        admin = self.admin_project()
        names = {p["id"]: p["name"] for p in self.cloud.identity.service.list_projects()}
        seen = set()
        out = []
        for r in rows:
            key = (r["host"], r["pool"], r["name"])
            seen.add(key)
            rec, root = records.get(key), roots.get(key)
            if rec is not None:
                r["project_id"], r["status"] = rec["project_id"], rec["status"]
            elif root is not None and root["project_id"]:
                r["project_id"], r["status"] = root["project_id"], "in-use"
                r["server"] = root["server"]
            else:
                r["project_id"], r["status"] = admin, "unmanaged"
            out.append(r)
        for key, rec in records.items():
            if key in seen or key[:2] not in scanned:
                continue
            out.append({"name": rec["name"], "pool": rec["pool"], "host": rec["host"],
                        "format": rec["format"], "type": None, "capacity": None,
                        "allocation": None, "path": rec["path"], "backing": None,
                        "project_id": rec["project_id"],
                        "status": "creating" if rec["status"] == "creating" else "missing"})
        for r in out:
            r["project"] = names.get(r["project_id"])
        if ctx.is_admin:
            return out
        return [r for r in out if r["project_id"] is not None
                and r["project_id"] == ctx.project_id]

    # -- new volumes: reserve -> (the host makes it) -> confirm, or abandon ------------
    def reserve(self, project_id: str, user_id: str | None, host: str, pool: str,
                name: str, nbytes: int, fmt: str | None) -> str:
        """Take ``volumes: 1`` and ``gigabytes`` and write the row (creating) in one
        transaction. QuotaExceeded (nothing written) or Conflict (a row exists)."""
        gb = size_gb(nbytes)
        self.claims.ensure_quota_rows(project_id)
        try:
            with self.db.transaction() as s:
                self.claims.take_quota(s, project_id, _quota(1, gb))
                v = Volume(host=host, pool=pool, name=name, project_id=project_id,
                           user_id=user_id, size_gb=gb, format=fmt, status="creating")
                s.add(v)
                s.flush()
                return v.id
        except IntegrityError:
            raise Conflict(f"virtstack already has a record of volume {name!r} in pool "
                           f"{pool} on {host}: delete that volume first") from None

    def confirm(self, vid: str, row: dict[str, Any]) -> dict[str, Any]:
        """The host made it: settle the quota on the real size (a qcow2 upload's virtual
        size may differ from the estimate) and mark it available. QuotaExceeded if the
        real size does not fit; the caller then removes the volume and abandons."""
        gb = size_gb(row.get("capacity"))
        with self.db.transaction() as s:
            v = s.get(Volume, vid)
            delta = gb - v.size_gb
            if delta > 0:
                self.claims.take_quota(s, v.project_id, _quota(0, delta))
            elif delta < 0:
                self.claims.give_quota(s, v.project_id, _quota(0, -delta))
            v.size_gb, v.status = gb, "available"
            v.path = row.get("path")
            v.key = row.get("key") or row.get("path")
            v.format = row.get("format") or v.format
            return volume_dict(v)

    def abandon(self, vid: str) -> bool:
        """Give back what the row holds and drop it (once)."""
        with self.db.transaction() as s:
            v = s.get(Volume, vid)
            if v is None:
                return False
            project, gb = v.project_id, v.size_gb
            res = s.execute(delete(Volume).where(Volume.id == vid)
                            .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                return False
            self.claims.give_quota(s, project, _quota(1, gb))
            return True

    def forget(self, host: str, pool: str, name: str | None = None) -> int:
        """The host no longer has the volume (deleted, or its pool deleted with its
        volumes): drop the row(s) and give their quota back. Returns how many."""
        q = select(Volume.id).where(Volume.host == host, Volume.pool == pool)
        if name is not None:
            q = q.where(Volume.name == name)
        with self.db.transaction() as s:
            ids = list(s.scalars(q))
        return sum(self.abandon(vid) for vid in ids)

    # -- resize -----------------------------------------------------------------------
    def grow(self, vid: str, new_gb: int) -> int:
        """Before a resize: take the extra gigabytes (if it grows) with the new size in
        one transaction. Returns the old size, for ``settle`` after a failure."""
        with self.db.transaction() as s:
            project = s.get(Volume, vid).project_id
        self.claims.ensure_quota_rows(project)
        with self.db.transaction() as s:
            v = s.get(Volume, vid)
            old = v.size_gb
            if new_gb > old:
                self.claims.take_quota(s, v.project_id, _quota(0, new_gb - old))
                v.size_gb = new_gb
            return old

    def settle(self, vid: str, gb: int) -> None:
        """Set the row's counted size to ``gb``, giving back (or, after a failed shrink,
        forcing) the difference."""
        with self.db.transaction() as s:
            v = s.get(Volume, vid)
            if v is None:
                return
            if gb < v.size_gb:
                self.claims.give_quota(s, v.project_id, _quota(0, v.size_gb - gb))
            elif gb > v.size_gb:
                self.claims.force_quota(s, v.project_id, _quota(0, gb - v.size_gb))
            v.size_gb = gb

    # -- adopt ------------------------------------------------------------------------
    def adopt(self, row: dict[str, Any], project_id: str) -> dict[str, Any]:
        """Record a volume virtstack did not create as ``project_id``'s; it counts in the
        quota limits or not (it already exists), like an adopted server."""
        key = (row["host"], row["pool"], row["name"])
        root = self.server_roots().get(key)
        if root is not None:
            raise Conflict(f"volume {row['name']} is the root volume of server "
                           f"{root['server']}: it belongs to the server's project")
        rec = self.record(*key)
        if rec is not None:
            if rec["project_id"] == project_id:
                return rec
            raise Conflict(f"volume {row['name']} already belongs to a project; moving "
                           "volumes between projects is not supported yet")
        gb = size_gb(row.get("capacity"))
        self.claims.ensure_quota_rows(project_id)
        try:
            with self.db.transaction() as s:
                v = Volume(host=row["host"], pool=row["pool"], name=row["name"],
                           key=row.get("key") or row.get("path"), path=row.get("path"),
                           project_id=project_id, size_gb=gb, format=row.get("format"),
                           status="available")
                s.add(v)
                self.claims.force_quota(s, project_id, _quota(1, gb))
                s.flush()
                return volume_dict(v)
        except IntegrityError:
            raise Conflict(f"volume {row['name']} was adopted meanwhile") from None

