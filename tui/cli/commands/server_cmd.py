"""virtstack server list|show|start|stop|reboot|suspend|resume|destroy|delete"""
from __future__ import annotations

import sys

from backend.errors import InvalidInput

LIST_COLUMNS = ["name", "host", "state", "vcpus", "memory_mb", "cpu_percent", "uuid"]
ACTIONS = {  # CLI verb -> backend action, needs --yes
    "start": ("start", False), "stop": ("shutdown", False), "shutdown": ("shutdown", False),
    "reboot": ("reboot", False), "suspend": ("suspend", False), "resume": ("resume", False),
    "destroy": ("destroy", True),
}


def _list(env):
    return env.cloud.servers.list(env.ctx, host=env.args.host)


def _show(env):
    return env.cloud.servers.get(env.ctx, env.args.server, host=env.args.host)


def _confirm(env, what: str) -> None:
    if not env.args.yes:
        raise InvalidInput(f"{what} is destructive: pass --yes to confirm")


def _action(verb):
    backend_action, destructive = ACTIONS[verb]

    def run(env):
        if destructive:
            _confirm(env, f"server {verb} {env.args.server}")
        row = env.cloud.servers.action(env.ctx, env.args.server, backend_action,
                                       host=env.args.host)
        return {k: row.get(k) for k in ("name", "host", "state", "uuid")}
    return run


def _delete(env):
    _confirm(env, f"server delete {env.args.server}")
    return env.cloud.servers.delete(env.ctx, env.args.server, host=env.args.host,
                                    delete_volumes=env.args.delete_volumes)


def register(sub) -> None:
    p = sub.add_parser("server", help="virtual machines across all hosts")
    ss = p.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    ls = ss.add_parser("list", help="list servers on every host")
    ls.add_argument("--host", help="only this host")
    ls.add_argument("--all-projects", action="store_true", help="(admin) every project")
    ls.set_defaults(func=_list, columns=LIST_COLUMNS)
    show = ss.add_parser("show", help="show one server")
    show.add_argument("server", help="name or UUID")
    show.add_argument("--host")
    show.set_defaults(func=_show)
    for verb, (_a, destructive) in ACTIONS.items():
        ap = ss.add_parser(verb, help=f"{verb} a server" + (" (needs --yes)" if destructive
                                                             else ""))
        ap.add_argument("server", help="name or UUID")
        ap.add_argument("--host")
        ap.add_argument("--yes", action="store_true", help="confirm a destructive action")
        ap.set_defaults(func=_action(verb))
    th = ss.add_parser("threads", help="a local VM's qemu process and its vCPU threads")
    th.add_argument("server")
    th.add_argument("--host")
    th.set_defaults(func=lambda env: env.cloud.servers.threads(env.ctx, env.args.server,
                                                               host=env.args.host))
    d = ss.add_parser("delete", help="delete a server (needs --yes)")
    d.add_argument("server")
    d.add_argument("--host")
    d.add_argument("--delete-volumes", action="store_true", help="also delete its disks")
    d.add_argument("--yes", action="store_true")
    d.set_defaults(func=_delete)
    from tui.cli.commands._extend import call_hooks
    call_hooks("extend_server", ss)
