"""virtstack server snapshot|clone|console|set|migrate and virtstack host evacuate

Added to the `server` and `host` parsers through the extend hooks (commands/_extend.py)."""
from __future__ import annotations

import os
import sys
import threading

from backend.errors import InvalidInput

SNAPSHOT_COLUMNS = ["name", "state", "created", "parent", "current", "description"]
ESCAPE = b"\x1d"  # ctrl+]


# -- snapshots ---------------------------------------------------------------------------
def _snap_create(env):
    a = env.args
    return env.cloud.server_ops.snapshot_create(env.ctx, a.server, a.snapshot,
                                                description=a.description, host=a.host)


def _snap_list(env):
    return env.cloud.server_ops.snapshot_list(env.ctx, env.args.server, host=env.args.host)


def _need_snapshot(env, verb):
    if not env.args.snapshot:
        raise InvalidInput(f"server snapshot {verb} needs SERVER and SNAPSHOT")
    return env.args.snapshot


def _snap_revert(env):
    name = _need_snapshot(env, "revert")
    if not env.args.yes:
        raise InvalidInput(f"reverting {env.args.server} to {name} discards its current state:"
                           " pass --yes to confirm")
    return env.cloud.server_ops.snapshot_revert(env.ctx, env.args.server, name,
                                                host=env.args.host)


def _snap_delete(env):
    name = _need_snapshot(env, "delete")
    if not env.args.yes:
        raise InvalidInput(f"server snapshot delete {env.args.server} {name} is destructive: "
                           "pass --yes to confirm")
    return env.cloud.server_ops.snapshot_delete(env.ctx, env.args.server, name,
                                                host=env.args.host)


# -- clone, set --------------------------------------------------------------------------
def _clone(env):
    return env.cloud.server_ops.clone(env.ctx, env.args.server, env.args.new_name,
                                      host=env.args.host)


def _set(env):
    a = env.args
    if a.vcpus is None and a.memory is None and a.autostart is None:
        raise InvalidInput("server set needs --vcpus, --memory or --autostart/--no-autostart")
    ops = env.cloud.server_ops
    changes = []
    if a.vcpus is not None:
        changes.append(ops.set_vcpus(env.ctx, a.server, a.vcpus, host=a.host))
    if a.memory is not None:
        changes.append(ops.set_memory(env.ctx, a.server, a.memory, host=a.host))
    if a.autostart is not None:
        changes.append(ops.set_autostart(env.ctx, a.server, a.autostart, host=a.host))
    rows = []
    for c in changes:
        for key in ("vcpus", "memory_mb", "autostart"):
            if key in c:
                rows.append({"setting": key, "value": c[key], "applied": c["applied"],
                             "note": c.get("note"), "name": c["name"], "host": c["host"]})
    return rows


# -- console -----------------------------------------------------------------------------
def _console(env):
    """A plain terminal on the guest's serial console; ctrl+] leaves."""
    out = sys.stdout.buffer
    closed = threading.Event()
    reason: list[str] = []

    def on_output(data: bytes) -> None:
        out.write(data)
        out.flush()

    def on_close(why: str) -> None:
        reason.append(why)
        closed.set()

    session = env.cloud.server_ops.console(env.ctx, env.args.server, on_output, on_close,
                                           host=env.args.host, force=env.args.force)
    print(f"Connected to {session.server} on {session.host}. Escape character is ^]",
          file=sys.stderr, flush=True)
    fd = sys.stdin.fileno()
    saved = None
    if os.isatty(fd):
        import termios
        import tty
        saved = termios.tcgetattr(fd)
        tty.setraw(fd)
    try:
        import select
        while not closed.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            data = os.read(fd, 1024)
            if not data:  # stdin closed: keep reading the guest until it ends or ^C
                closed.wait()
                break
            if ESCAPE in data:
                before = data.split(ESCAPE, 1)[0]
                if before:
                    session.write(before)
                break
            session.write(data)
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        session.close()
    why = reason[0] if reason and reason[0] != "closed" else None
    print(f"\r\nDisconnected from {session.server}" + (f": {why}" if why else "") + ".",
          file=sys.stderr, flush=True)
    return None


# -- migration ---------------------------------------------------------------------------
def _progress_printer():
    last = [None]

    def show(event):
        pct = event.get("percent")
        bar = ""
        if pct is not None:
            filled = int(pct / 5)
            bar = "[" + "#" * filled + "." * (20 - filled) + f"] {pct:5.1f}%"
        prefix = (f"({event['index']}/{event['count']}) " if "index" in event else "")
        line = (f"{prefix}{event.get('server')}: {event.get('source')} -> "
                f"{event.get('destination')} {event.get('phase')} {bar}")
        if line != last[0]:
            last[0] = line
            print("\r" + line.ljust(78), end="" if event.get("phase") not in
                  ("done", "failed", "cancelled") else "\n", file=sys.stderr, flush=True)
    return show


def _migrate(env):
    a = env.args
    cancel = threading.Event()
    try:
        return env.cloud.server_ops.migrate(env.ctx, a.server, a.dest, host=a.host,
                                            copy_storage=a.copy_storage, dest_uri=a.dest_uri,
                                            migrate_uri=a.migrate_uri,
                                            bandwidth_mib=a.bandwidth,
                                            progress=_progress_printer(), cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        raise


def _evacuate(env):
    a = env.args
    if not a.yes:
        raise InvalidInput(f"host evacuate {a.host_name} live-migrates every running server "
                           "off it: pass --yes to confirm")
    return env.cloud.server_ops.evacuate(env.ctx, a.host_name, copy_storage=a.copy_storage,
                                         progress=_progress_printer())


# -- parsers -----------------------------------------------------------------------------
def extend_server(ss) -> None:
    snap = ss.add_parser("snapshot", help="create, list, revert or delete snapshots")
    snap_sub = snap.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)
    for verb, func, help_ in (("create", _snap_create, "take an internal snapshot"),
                              ("list", _snap_list, "list a server's snapshots"),
                              ("revert", _snap_revert, "revert to a snapshot (needs --yes)"),
                              ("delete", _snap_delete, "delete a snapshot (needs --yes)")):
        p = snap_sub.add_parser(verb, help=help_)
        p.add_argument("server", help="name or UUID")
        p.add_argument("snapshot", nargs="?", help="snapshot name" +
                       (" (default: snap-DATE-TIME)" if verb == "create" else ""))
        p.add_argument("--host")
        if verb == "create":
            p.add_argument("--description")
        if verb in ("revert", "delete"):
            p.add_argument("--yes", action="store_true", help="confirm")
        p.set_defaults(func=func, columns=SNAPSHOT_COLUMNS if verb == "list" else None)

    cl = ss.add_parser("clone", help="clone a shut-off or paused server (new MACs, copied "
                       "disks in the same pool)")
    cl.add_argument("server", help="name or UUID")
    cl.add_argument("new_name")
    cl.add_argument("--host")
    cl.set_defaults(func=_clone)

    con = ss.add_parser("console", help="the serial console in this terminal (ctrl+] leaves)")
    con.add_argument("server", help="name or UUID")
    con.add_argument("--host")
    con.add_argument("--force", action="store_true",
                     help="take the console over from another session")
    con.set_defaults(func=_console)

    st = ss.add_parser("set", help="change vCPUs, memory or autostart (live where possible)")
    st.add_argument("server", help="name or UUID")
    st.add_argument("--host")
    st.add_argument("--vcpus", type=int)
    st.add_argument("--memory", type=int, metavar="MB")
    st.add_argument("--autostart", dest="autostart", action="store_true", default=None)
    st.add_argument("--no-autostart", dest="autostart", action="store_false")
    st.set_defaults(func=_set)

    mg = ss.add_parser("migrate", help="live-migrate a running server to another host")
    mg.add_argument("server", help="name or UUID")
    mg.add_argument("--host", dest="dest", metavar="DEST",
                    help="destination host (default: the scheduler chooses)")
    mg.add_argument("--from", dest="host", metavar="SOURCE",
                    help="the server's host, when its name is on several")
    mg.add_argument("--copy-storage", action="store_true",
                    help="copy non-shared disks to the destination")
    mg.add_argument("--dest-uri", help="the URI the source host uses to reach the "
                    "destination (default: the destination's configured URI)")
    mg.add_argument("--migrate-uri", help="where QEMU sends the memory (e.g. tcp://ADDR)")
    mg.add_argument("--bandwidth", type=int, metavar="MIB_S",
                    help="limit the migration's bandwidth (MiB/s)")
    mg.set_defaults(func=_migrate)


def extend_host(hs) -> None:
    ev = hs.add_parser("evacuate", help="live-migrate every running server off a host, one "
                       "at a time, to hosts the scheduler picks (needs --yes)")
    ev.add_argument("host_name", metavar="HOST")
    ev.add_argument("--copy-storage", action="store_true")
    ev.add_argument("--yes", action="store_true")
    ev.set_defaults(func=_evacuate)
