"""virtstack flavor|image|quota ..., server create|resize|adopt|records|group ...,
host enable|disable|resources -- thin calls on cloud.flavors/images/quotas/compute."""
from __future__ import annotations

import sys

from backend.errors import InvalidInput


def _kv(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _progress_bar(label: str):
    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done < total:
            return
        width = 30
        frac = done / total if total else 1.0
        bar = "#" * int(frac * width)
        sys.stderr.write(f"\r{label} [{bar:<{width}}] {frac * 100:5.1f}% "
                         f"{done // (1024 * 1024)}/{total // (1024 * 1024)} MiB")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


# -- flavors ---------------------------------------------------------------------------------
def _flavor_create(env):
    a = env.args
    return env.cloud.flavors.create(
        env.ctx, a.name, vcpus=a.vcpus, ram_mb=a.ram, root_gb=a.disk,
        ephemeral_gb=a.ephemeral, swap_mb=a.swap, extra_specs=_kv(a.property, "--property"),
        public=not a.private, projects=a.project)


def _flavor_set(env):
    a = env.args
    public = True if a.public else False if a.private else None
    return env.cloud.flavors.set(env.ctx, a.name, properties=_kv(a.property, "--property"),
                                 unset=a.unset_property, public=public,
                                 add_projects=a.project, remove_projects=a.remove_project)


def _register_flavor(sub) -> None:
    p = sub.add_parser("flavor", help="server sizes")
    fs = p.add_subparsers(dest="flavor_command", metavar="ACTION", required=True)
    c = fs.add_parser("create", help="create a flavor (admin)")
    c.add_argument("name")
    c.add_argument("--vcpus", required=True)
    c.add_argument("--ram", required=True, help="MB")
    c.add_argument("--disk", default=0, help="root disk GB")
    c.add_argument("--ephemeral", default=0, help="GB")
    c.add_argument("--swap", default=0, help="MB")
    c.add_argument("--property", action="append", metavar="KEY=VALUE", help="extra spec")
    c.add_argument("--private", action="store_true", help="only for --project projects")
    c.add_argument("--project", action="append", help="project allowed to use it")
    c.set_defaults(func=_flavor_create)
    ls = fs.add_parser("list", help="list flavors")
    ls.set_defaults(func=lambda env: env.cloud.flavors.list(env.ctx),
                    columns=["name", "vcpus", "ram_mb", "root_gb", "ephemeral_gb", "swap_mb",
                             "public", "extra_specs"])
    sh = fs.add_parser("show", help="show one flavor")
    sh.add_argument("name")
    sh.set_defaults(func=lambda env: env.cloud.flavors.show(env.ctx, env.args.name))
    st = fs.add_parser("set", help="change extra specs or access (admin)")
    st.add_argument("name")
    st.add_argument("--property", action="append", metavar="KEY=VALUE")
    st.add_argument("--unset-property", action="append", metavar="KEY")
    st.add_argument("--public", action="store_true")
    st.add_argument("--private", action="store_true")
    st.add_argument("--project", action="append", help="grant a project access")
    st.add_argument("--remove-project", action="append", help="revoke a project's access")
    st.set_defaults(func=_flavor_set)
    d = fs.add_parser("delete", help="delete a flavor (admin)")
    d.add_argument("name")
    d.set_defaults(func=lambda env: env.cloud.flavors.delete(env.ctx, env.args.name))


# -- images ----------------------------------------------------------------------------------
def _image_create(env):
    a = env.args
    props = {k: v for k, v in (("architecture", a.architecture),
                               ("hypervisor_type", a.hypervisor_type),
                               ("hw_vm_mode", a.vm_mode)) if v}
    props.update(_kv(a.property, "--property"))
    return env.cloud.images.create(env.ctx, a.name, a.file, disk_format=a.disk_format,
                                   min_ram_mb=a.min_ram, min_disk_gb=a.min_disk,
                                   properties=props, progress=_progress_bar(a.name))


def _register_image(sub) -> None:
    p = sub.add_parser("image", help="server images (a small Glance)")
    ims = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    c = ims.add_parser("create", help="upload an image file into the image store")
    c.add_argument("name")
    c.add_argument("--file", required=True)
    c.add_argument("--disk-format", default="qcow2", choices=["raw", "qcow2", "vmdk"])
    c.add_argument("--min-ram", default=0, help="MB")
    c.add_argument("--min-disk", default=0, help="GB")
    c.add_argument("--architecture")
    c.add_argument("--hypervisor-type")
    c.add_argument("--vm-mode")
    c.add_argument("--property", action="append", metavar="KEY=VALUE")
    c.set_defaults(func=_image_create)
    ls = ims.add_parser("list", help="list images")
    ls.set_defaults(func=lambda env: env.cloud.images.list(env.ctx),
                    columns=["name", "disk_format", "status", "size_bytes", "min_ram_mb",
                             "min_disk_gb", "properties", "id"])
    sh = ims.add_parser("show", help="show one image")
    sh.add_argument("name")
    sh.set_defaults(func=lambda env: env.cloud.images.show(env.ctx, env.args.name))
    d = ims.add_parser("delete", help="delete an image")
    d.add_argument("name")
    d.set_defaults(func=lambda env: env.cloud.images.delete(env.ctx, env.args.name))


# -- quotas ----------------------------------------------------------------------------------
def _quota_rows(q: dict) -> list[dict]:
    return [{"resource": r, "limit": v["limit"], "in_use": v["in_use"]}
            for r, v in q.items() if isinstance(v, dict)]


def _quota_show(env):
    q = env.cloud.quotas.show(env.ctx, env.args.project)
    return q if env.args.format == "json" else _quota_rows(q)


def _quota_set(env):
    a = env.args
    q = env.cloud.quotas.set(env.ctx, a.project, instances=a.instances, cores=a.cores,
                             ram=a.ram, volumes=a.volumes, gigabytes=a.gigabytes)
    return q if a.format == "json" else _quota_rows(q)


def _register_quota(sub) -> None:
    p = sub.add_parser("quota", help="per-project quotas")
    qs = p.add_subparsers(dest="quota_command", metavar="ACTION", required=True)
    sh = qs.add_parser("show", help="limits and usage of a project (default: yours)")
    sh.add_argument("--project")
    sh.set_defaults(func=_quota_show)
    st = qs.add_parser("set", help="set a project's limits (admin; -1 = unlimited)")
    st.add_argument("project")
    for r in ("instances", "cores", "ram", "volumes", "gigabytes"):
        st.add_argument(f"--{r}", type=int)
    st.set_defaults(func=_quota_set)


def register(sub) -> None:
    _register_flavor(sub)
    _register_image(sub)
    _register_quota(sub)


# -- server create / adopt / group (hooked into `server`) ---------------------------------
def _server_create(env):
    a = env.args
    group = None
    for hint in a.hint or []:
        key, sep, value = hint.partition("=")
        if key != "group" or not sep:
            raise InvalidInput(f"unsupported hint {hint!r}: use --hint group=NAME")
        group = value
    request = {"name": a.name, "flavor": a.flavor, "image": a.image, "network": a.network,
               "availability_zone": a.availability_zone, "group": group,
               "min_count": a.min_count, "max_count": a.max_count or a.min_count}
    if a.dry_run:
        return env.cloud.compute.preview(env.ctx, request)

    def progress(event):
        if a.format != "json":
            print(f"{event['server']}: {event['status']} on {event['host']}", file=sys.stderr)
    return env.cloud.compute.create(env.ctx, request, progress)


def _group_create(env):
    return env.cloud.server_groups.create(env.ctx, env.args.name, env.args.policy)


def extend_server(ss) -> None:
    c = ss.add_parser("create", help="create servers: scheduler picks the host")
    c.add_argument("name")
    c.add_argument("--flavor", required=True)
    c.add_argument("--image", required=True)
    c.add_argument("--network")
    c.add_argument("--availability-zone")
    c.add_argument("--hint", action="append", metavar="group=NAME")
    c.add_argument("--min-count", type=int, default=1)
    c.add_argument("--max-count", type=int)
    c.add_argument("--dry-run", action="store_true",
                   help="only show the scheduler's decision (nothing is created)")
    c.set_defaults(func=_server_create,
                   columns=["name", "status", "host", "flavor", "image", "fault", "uuid"])
    rz = ss.add_parser("resize", help="resize a server to another flavor in place (live "
                       "where the guest allows it, else at its next boot)")
    rz.add_argument("server", help="name or UUID")
    rz.add_argument("--flavor", required=True)
    rz.add_argument("--host", help="the server's host, when its name is on several")
    rz.set_defaults(func=lambda env: env.cloud.compute.resize(
        env.ctx, env.args.server, env.args.flavor, env.args.host))
    ad = ss.add_parser("adopt", help="(admin) give a VM virtstack did not create to a project")
    ad.add_argument("server")
    ad.add_argument("--project", required=True)
    ad.add_argument("--host")
    ad.set_defaults(func=lambda env: env.cloud.compute.adopt(
        env.ctx, env.args.server, env.args.project, env.args.host))
    rec = ss.add_parser("records", help="what the state DB knows of servers (status, fault)")
    rec.add_argument("--deleted", action="store_true", help="include deleted servers")
    rec.set_defaults(func=lambda env: env.cloud.compute.records(env.ctx, env.args.deleted),
                     columns=["name", "status", "host", "flavor", "project_id", "fault"])
    g = ss.add_parser("group", help="server groups (affinity / anti-affinity)")
    gs = g.add_subparsers(dest="group_command", metavar="ACTION", required=True)
    gc = gs.add_parser("create")
    gc.add_argument("name")
    gc.add_argument("--policy", required=True, choices=["affinity", "anti-affinity"])
    gc.set_defaults(func=_group_create)
    gl = gs.add_parser("list")
    gl.set_defaults(func=lambda env: env.cloud.server_groups.list(env.ctx),
                    columns=["name", "policy", "members", "project_id", "id"])
    gsh = gs.add_parser("show")
    gsh.add_argument("name")
    gsh.set_defaults(func=lambda env: env.cloud.server_groups.show(env.ctx, env.args.name))
    gd = gs.add_parser("delete")
    gd.add_argument("name")
    gd.set_defaults(func=lambda env: env.cloud.server_groups.delete(env.ctx, env.args.name))


# -- host enable / disable / resources (hooked into `host`) ----------------------------------
def _resources(env):
    rows = env.cloud.compute.resources(env.ctx, env.args.name)
    if env.args.format == "json":
        return rows
    out = []
    for r in rows:
        row = {"host": r["host"], "az": r["az"], "enabled": r["enabled"],
               "instances": r["instances"], "unmanaged": r["unmanaged_instances"]}
        for key, label in (("vcpus", "vCPU"), ("memory_mb", "RAM MB"), ("disk_gb", "disk GB")):
            g = r[key]
            row[label] = f"{g['allocated']:g}/{g['limit']:g} ({g['physical']:g}x{g['ratio']:g})"
        out.append(row)
    return out


def extend_host(hs) -> None:
    for verb, enabled in (("enable", True), ("disable", False)):
        p = hs.add_parser(verb, help=f"(admin) {verb} a host for new servers")
        p.add_argument("name")
        if not enabled:
            p.add_argument("--reason")
        p.set_defaults(func=lambda env, e=enabled: env.cloud.compute.set_host_enabled(
            env.ctx, env.args.name, e, getattr(env.args, "reason", None)))
    r = hs.add_parser("resources", help="vCPU/RAM/disk: physical, ratio, limit, allocated")
    r.add_argument("name", nargs="?")
    r.set_defaults(func=_resources)
