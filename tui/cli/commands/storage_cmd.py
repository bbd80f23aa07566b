"""virtstack pool list|show|create|start|stop|refresh|autostart|delete and
virtstack volume list|show|create|resize|clone|wipe|delete|upload|download|attach|detach|
adopt (volumes belong to projects: a member lists its project's, an admin all)"""
from __future__ import annotations

import sys
import time

from backend.errors import InvalidInput

POOL_COLUMNS = ["name", "host", "type", "state", "autostart", "capacity", "allocation",
                "available", "volumes", "target"]
VOLUME_COLUMNS = ["name", "pool", "host", "project", "status", "format", "capacity",
                  "allocation", "path"]


def human(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _humanize(env, data):
    if env.args.format == "json":
        return data
    rows = data if isinstance(data, list) else [data]
    for r in rows:
        for k in ("capacity", "allocation", "available"):
            if isinstance(r.get(k), int):
                r[k] = human(r[k])
    return data


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        rate = done / max(now - self.started, 1e-6)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{frac * 100:5.1f}% {human(done)}/{human(total)} "
                          f"{human(int(rate))}/s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def percent(self, done: int, total: int) -> None:
        """For work measured in steps, not bytes (a conversion): no sizes, no rate."""
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total if total else 1.0
        filled = int(frac * self.width)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{frac * 100:5.1f}%")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _confirm(env, what: str) -> None:
    if not env.args.yes:
        raise InvalidInput(f"{what} is destructive: pass --yes to confirm")


# -- pools ---------------------------------------------------------------------------------
def _pool_list(env):
    return _humanize(env, env.cloud.pools.list(env.ctx, host=env.args.host))


def _pool_show(env):
    return _humanize(env, env.cloud.pools.get(env.ctx, env.args.name, host=env.args.host))


def _pool_create(env):
    a = env.args
    spec = {k: getattr(a, k) for k in ("target", "source_host", "source_port", "source_dir",
                                       "source_name", "iqn", "auth_user", "secret_uuid")
            if getattr(a, k) is not None}
    if a.source_device:
        spec["source_devices"] = a.source_device
    return _humanize(env, env.cloud.pools.create(
        env.ctx, a.name, a.type, host=a.host, start=not a.no_start, build=not a.no_build,
        autostart=not a.no_autostart, **spec))


def _pool_simple(verb):
    def run(env):
        fn = getattr(env.cloud.pools, verb)
        return _humanize(env, fn(env.ctx, env.args.name, host=env.args.host))
    return run


def _pool_autostart(env):
    return _humanize(env, env.cloud.pools.autostart(env.ctx, env.args.name,
                                                    on=not env.args.off, host=env.args.host))


def _pool_delete(env):
    _confirm(env, f"pool delete {env.args.name}")
    return env.cloud.pools.delete(env.ctx, env.args.name, host=env.args.host,
                                  delete_volumes=env.args.delete_volumes,
                                  delete_data=env.args.delete_data)


# -- volumes -------------------------------------------------------------------------------
def _vol_list(env):
    return _humanize(env, env.cloud.volumes.list(env.ctx, pool=env.args.pool,
                                                 host=env.args.host))


def _vol_show(env):
    return _humanize(env, env.cloud.volumes.get(env.ctx, env.args.name, env.args.pool,
                                                host=env.args.host))


def _vol_create(env):
    a = env.args
    return _humanize(env, env.cloud.volumes.create(
        env.ctx, a.name, a.pool, a.size, a.vol_format, host=a.host, allocation=a.allocation,
        backing=a.backing, backing_format=a.backing_format))


def _vol_resize(env):
    a = env.args
    return _humanize(env, env.cloud.volumes.resize(env.ctx, a.name, a.pool, a.size,
                                                   host=a.host, allow_shrink=a.shrink))


def _vol_clone(env):
    a = env.args
    return _humanize(env, env.cloud.volumes.clone(env.ctx, a.name, a.pool, a.new_name,
                                                  host=a.host, target_pool=a.target_pool))


def _vol_wipe(env):
    _confirm(env, f"volume wipe {env.args.name}")
    return _humanize(env, env.cloud.volumes.wipe(env.ctx, env.args.name, env.args.pool,
                                                 host=env.args.host))


def _vol_delete(env):
    _confirm(env, f"volume delete {env.args.name}")
    return env.cloud.volumes.delete(env.ctx, env.args.name, env.args.pool, host=env.args.host)


def _progress(env, label):
    return None if env.args.no_progress else ProgressBar(label)


def _vol_upload(env):
    a = env.args
    return _humanize(env, env.cloud.volumes.upload(
        env.ctx, a.name, a.pool, a.file, host=a.host, fmt=a.vol_format,
        progress=_progress(env, f"upload {a.name}")))


def _vol_import(env):
    a = env.args
    state: dict = {"bar": None, "phase": None}

    def on_phase(phase):
        state["phase"] = phase
        state["bar"] = None if a.no_progress else ProgressBar(f"{phase} {a.name}")

    def progress(done, total):
        bar = state["bar"]
        if bar is not None:
            (bar.percent if state["phase"] == "convert" else bar)(done, total)

    return _humanize(env, env.cloud.volumes.import_image(
        env.ctx, a.name, a.pool, a.file, a.vol_format, host=a.host, progress=progress,
        on_phase=on_phase, src_format=a.source_format))


def _vol_download(env):
    a = env.args
    return env.cloud.volumes.download(env.ctx, a.name, a.pool, a.file, host=a.host,
                                      overwrite=a.overwrite,
                                      progress=_progress(env, f"download {a.name}"))


def _vol_attach(env):
    a = env.args
    return env.cloud.volumes.attach(env.ctx, a.name, a.pool, a.server, host=a.host,
                                    bus=a.bus)


def _vol_check_boot(env):
    a = env.args
    env.cloud.volumes.check_boot(env.ctx, a.name, a.pool, host=a.host)
    return {"volume": a.name, "pool": a.pool, "bootable": True}


def _vol_adopt(env):
    a = env.args
    return env.cloud.volumes.adopt(env.ctx, a.name, a.pool, a.project, host=a.host)


def _vol_detach(env):
    a = env.args
    return env.cloud.volumes.detach(env.ctx, a.name, a.pool, a.server, host=a.host)


def register(sub) -> None:
    p = sub.add_parser("pool", help="storage pools on every host")
    ps = p.add_subparsers(dest="pool_command", metavar="ACTION", required=True)
    ls = ps.add_parser("list", help="list pools with capacity, allocation, available")
    ls.add_argument("--host")
    ls.set_defaults(func=_pool_list, columns=POOL_COLUMNS)
    show = ps.add_parser("show", help="show one pool")
    show.add_argument("name")
    show.add_argument("--host")
    show.set_defaults(func=_pool_show)
    c = ps.add_parser("create", help="define, build, start and autostart a pool")
    c.add_argument("name")
    c.add_argument("--type", default="dir",
                   choices=["dir", "logical", "netfs", "iscsi", "rbd"])
    c.add_argument("--target", help="absolute path (dir, netfs mount point)")
    c.add_argument("--source-host", help="netfs/iscsi server, rbd monitor")
    c.add_argument("--source-port", type=int)
    c.add_argument("--source-dir", help="netfs: the exported directory")
    c.add_argument("--source-name", help="logical: volume group; rbd: Ceph pool")
    c.add_argument("--source-device", action="append",
                   help="logical: a physical volume (repeatable)")
    c.add_argument("--iqn", help="iscsi: the target IQN")
    c.add_argument("--auth-user")
    c.add_argument("--secret-uuid")
    c.add_argument("--no-build", action="store_true")
    c.add_argument("--no-start", action="store_true")
    c.add_argument("--no-autostart", action="store_true")
    c.add_argument("--host")
    c.set_defaults(func=_pool_create)
    for verb in ("start", "stop", "refresh"):
        v = ps.add_parser(verb, help=f"{verb} a pool")
        v.add_argument("name")
        v.add_argument("--host")
        v.set_defaults(func=_pool_simple(verb))
    au = ps.add_parser("autostart", help="start the pool with the host (--off: not)")
    au.add_argument("name")
    au.add_argument("--off", action="store_true")
    au.add_argument("--host")
    au.set_defaults(func=_pool_autostart)
    d = ps.add_parser("delete", help="stop and undefine a pool (needs --yes)")
    d.add_argument("name")
    d.add_argument("--host")
    d.add_argument("--delete-volumes", action="store_true",
                   help="also delete the volumes it holds")
    d.add_argument("--delete-data", action="store_true",
                   help="also remove the pool's storage (directory, volume group)")
    d.add_argument("--yes", action="store_true")
    d.set_defaults(func=_pool_delete)

    v = sub.add_parser("volume", help="volumes in storage pools")
    vs = v.add_subparsers(dest="volume_command", metavar="ACTION", required=True)
    ls = vs.add_parser("list", help="list volumes")
    ls.add_argument("--pool")
    ls.add_argument("--host")
    ls.set_defaults(func=_vol_list, columns=VOLUME_COLUMNS)

    def vol_parser(name, help_, func, pool_required=True):
        vp = vs.add_parser(name, help=help_)
        vp.add_argument("name", help="volume name")
        vp.add_argument("--pool", required=pool_required)
        vp.add_argument("--host")
        vp.set_defaults(func=func)
        return vp

    vol_parser("show", "show one volume", _vol_show)
    c = vol_parser("create", "create a volume", _vol_create)
    c.add_argument("--size", required=True, help="e.g. 10G, 512M")
    c.add_argument("--format", dest="vol_format", default="raw",
                   choices=["raw", "qcow2", "vmdk"])
    c.add_argument("--allocation", default="sparse", choices=["sparse", "full"],
                   help="raw: sparse (default) or fully allocated")
    c.add_argument("--backing", help="qcow2: absolute path of a backing image")
    c.add_argument("--backing-format", default=None)
    r = vol_parser("resize", "grow (or with --shrink, shrink) a volume", _vol_resize)
    r.add_argument("--size", required=True)
    r.add_argument("--shrink", action="store_true")
    cl = vol_parser("clone", "copy a volume to a new one", _vol_clone)
    cl.add_argument("new_name")
    cl.add_argument("--target-pool")
    w = vol_parser("wipe", "overwrite a volume's data (needs --yes)", _vol_wipe)
    w.add_argument("--yes", action="store_true")
    d = vol_parser("delete", "delete a volume (needs --yes)", _vol_delete)
    d.add_argument("--yes", action="store_true")
    u = vol_parser("upload", "upload a local file into a new volume", _vol_upload)
    u.add_argument("file")
    u.add_argument("--format", dest="vol_format", choices=["raw", "qcow2", "vmdk"],
                   help="default: detected from the file")
    u.add_argument("--no-progress", action="store_true")
    im = vol_parser("import", "convert a local image (qemu-img) and upload it as a new "
                    "volume", _vol_import)
    im.add_argument("file")
    im.add_argument("--format", dest="vol_format", required=True,
                    choices=["raw", "qcow2", "vmdk"], help="the volume's format")
    im.add_argument("--source-format", help="the file's format (default: detected)")
    im.add_argument("--no-progress", action="store_true")
    dl = vol_parser("download", "download a volume into a local file", _vol_download)
    dl.add_argument("file")
    dl.add_argument("--overwrite", action="store_true")
    dl.add_argument("--no-progress", action="store_true")
    at = vol_parser("attach", "attach a volume to a server as a data disk", _vol_attach)
    at.add_argument("--server", required=True)
    at.add_argument("--bus", default="virtio", choices=["virtio", "scsi", "sata"])
    vol_parser("check-boot", "can this volume be a boot disk? (LVM volumes cannot)",
               _vol_check_boot)
    dt = vol_parser("detach", "detach a volume from a server", _vol_detach)
    dt.add_argument("--server", required=True)
    ad = vol_parser("adopt", "(admin) give a volume virtstack did not create to a project",
                    _vol_adopt)
    ad.add_argument("--project", required=True)
