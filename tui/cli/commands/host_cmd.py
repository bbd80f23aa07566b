"""virtstack host list|show|probe"""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("host", help="hypervisor hosts")
    hs = p.add_subparsers(dest="host_command", metavar="ACTION", required=True)
    ls = hs.add_parser("list", help="list hosts and their connection state")
    ls.set_defaults(func=lambda env: env.cloud.hosts.list(env.ctx),
                    columns=["name", "state", "availability_zone", "hypervisor", "vcpus",
                             "memory_mb", "vms_total", "vms_running", "error"])
    show = hs.add_parser("show", help="show one host")
    show.add_argument("name")
    show.set_defaults(func=lambda env: env.cloud.hosts.get(env.ctx, env.args.name))
    probe = hs.add_parser("probe", help="check a host's KVM prerequisites (over SSH)")
    probe.add_argument("name")
    probe.set_defaults(func=lambda env: env.cloud.hosts.probe(env.ctx, env.args.name))
    usage = hs.add_parser("usage", help="CPU and memory of this machine (psutil)")
    usage.set_defaults(func=lambda env: env.cloud.hosts.local_usage(env.ctx))
    from tui.cli.commands._extend import call_hooks
    call_hooks("extend_host", hs)
