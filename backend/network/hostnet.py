"""Host networking as a plan of steps with rollback: a Linux bridge with a NIC moved into it
(its addresses and gateway routes move to the bridge), and a VLAN sub-interface with a bridge.

A plan is built from what the host has now (``facts``), shown first (``--dry-run``: every
step with the ``ip`` command it amounts to), and applied step by step; when a step fails every
step already done is undone in reverse order, so the host ends as it began.

Two executors run the same operations:
- ``LocalNet``: this machine (or a network namespace of it) through pyroute2 netlink;
- ``IpCommandNet``: the ``ip`` command through a runner -- over SSH with paramiko
  (``ssh_runner``; every argument shlex-quoted) or locally (``local_runner``, ``ip -n NS``).
  Over SSH the whole plan goes as ONE shell script that rolls itself back, so losing the
  session half-way (the NIC it runs over being moved) never leaves the host half-configured.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

from backend import errors
from backend.network.xml import validate_ifname

log = logging.getLogger(__name__)

EOPNOTSUPP = 95
SCRIPT_FAILED = 3          # a plan script's exit status when a step failed (rolled back)
_STEP_RE = re.compile(r"virtstack: step (\d+) of \d+ failed")


# -- operations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    kind: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def make(cls, kind: str, **kw: Any) -> "Op":
        return cls(kind, tuple(sorted(kw.items())))

    @property
    def a(self) -> dict[str, Any]:
        return dict(self.args)

    def argv(self) -> list[str]:
        """The ``ip`` command line this operation amounts to."""
        a = self.a
        k = self.kind
        if k == "add_bridge":
            return ["ip", "link", "add", "name", a["name"], "type", "bridge"]
        if k == "add_vlan":
            return ["ip", "link", "add", "link", a["parent"], "name", a["name"], "type",
                    "vlan", "id", str(a["vlan_id"])]
        if k == "del_link":
            return ["ip", "link", "del", "dev", a["name"]]
        if k == "set_master":
            return ["ip", "link", "set", "dev", a["name"], "master", a["master"]]
        if k == "no_master":
            return ["ip", "link", "set", "dev", a["name"], "nomaster"]
        if k in ("set_up", "set_down"):
            return ["ip", "link", "set", "dev", a["name"], k[4:]]
        if k in ("add_addr", "del_addr"):
            return ["ip", "addr", k[:3], a["cidr"], "dev", a["name"]]
        if k in ("add_route", "del_route"):
            return ["ip", "route", k[:3], a["dst"], "via", a["gateway"], "dev", a["name"]]
        raise ValueError(f"unknown operation {k}")

    def inverse(self) -> "Op":
        a = self.a
        k = self.kind
        if k in ("add_bridge", "add_vlan"):
            return Op.make("del_link", name=a["name"])
        pairs = {"set_master": "no_master", "set_up": "set_down", "set_down": "set_up",
                 "add_addr": "del_addr", "del_addr": "add_addr",
                 "add_route": "del_route", "del_route": "add_route"}
        if k == "no_master":
            return Op.make("set_master", name=a["name"], master=a["master"])
        if k in pairs:
            return Op(pairs[k], self.args)
        raise ValueError(f"operation {k} has no inverse")


@dataclass
class Step:
    description: str
    op: Op
    undo: Op | None

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.description, "command": shlex.join(self.op.argv()),
                "undo": shlex.join(self.undo.argv()) if self.undo else None}


@dataclass
class Plan:
    title: str
    target: str
    steps: list[Step] = field(default_factory=list)

    def add(self, description: str, op: Op, undo: Op | None = "inverse") -> None:
        self.steps.append(Step(description, op, op.inverse() if undo == "inverse" else undo))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [{"n": i + 1, **s.as_dict()} for i, s in enumerate(self.steps)]

    def script(self) -> str:
        """The whole plan as one POSIX shell script that undoes itself when a step fails."""
        lines = ["set -u"]
        for i, step in enumerate(self.steps):
            undo = [shlex.join(s.undo.argv()) + " 2>/dev/null || true"
                    for s in reversed(self.steps[:i]) if s.undo]
            failed = f"virtstack: step {i + 1} of {len(self.steps)} failed: {step.description}"
            lines.append(f"if ! {shlex.join(step.op.argv())}; then")
            lines.append(f"  echo {shlex.quote(failed)} >&2")
            lines.extend("  " + u for u in undo)
            lines.append(f"  echo {shlex.quote(f'virtstack: rolled back {i} step(s)')} >&2")
            lines.append(f"  exit {SCRIPT_FAILED}")
            lines.append("fi")
        lines.append("echo virtstack: plan applied")
        return "\n".join(lines) + "\n"


class StepFailed(errors.OperationFailed):
    def __init__(self, message: str, *, step: int, errno: int | None = None,
                 rolled_back: int = 0, undo_errors: list[str] | None = None):
        super().__init__(message)
        self.step = step
        self.errno = errno
        self.rolled_back = rolled_back
        self.undo_errors = undo_errors or []


def apply(plan: Plan, executor: "Executor") -> dict[str, Any]:
    """Run every step; on a failure undo the steps done, newest first, and raise StepFailed."""
    if getattr(executor, "script_runner", None) is not None:
        return executor.apply_script(plan)   # type: ignore[attr-defined]
    done: list[Step] = []
    for i, step in enumerate(plan.steps):
        try:
            executor.run(step.op)
        except Exception as exc:  # noqa: BLE001 - any failure means: roll back
            errno = getattr(exc, "code", None) if isinstance(getattr(exc, "code", None),
                                                             int) else None
            undo_errors = []
            for d in reversed(done):
                if d.undo is None:
                    continue
                try:
                    executor.run(d.undo)
                except Exception as uexc:  # noqa: BLE001
                    undo_errors.append(f"{shlex.join(d.undo.argv())}: {uexc}")
            why = _describe(exc)
            msg = (f"{plan.target}: step {i + 1} of {len(plan.steps)} failed "
                   f"({step.description}: {why}); rolled back {len(done)} step(s)")
            if undo_errors:
                msg += "; could NOT undo: " + "; ".join(undo_errors)
            raise StepFailed(msg, step=i + 1, errno=errno, rolled_back=len(done),
                             undo_errors=undo_errors) from None
        done.append(step)
    return {"plan": plan.title, "target": plan.target, "applied": len(done),
            "steps": plan.as_dicts()}


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    if code == EOPNOTSUPP:
        return (f"the kernel says 'Operation not supported' (errno {EOPNOTSUPP}): the "
                "needed driver (e.g. 802.1Q for VLANs) is not in this kernel")
    return str(exc) or type(exc).__name__


# -- facts ---------------------------------------------------------------------------------
@dataclass
class LinkFacts:
    name: str
    exists: bool
    kind: str | None = None
    master: str | None = None
    up: bool = False
    addresses: list[str] = field(default_factory=list)        # CIDRs, IPv4
    gateway_routes: list[tuple[str, str]] = field(default_factory=list)  # (dst, gateway)


def link_row(*, index: int, name: str, kind: str | None, link_type: str | None,
             master: str | None, up: bool, state: str | None, mac: str | None,
             mtu: int | None) -> dict[str, Any]:
    """One interface as ``links()`` reports it (the same keys from both executors)."""
    if not kind:
        kind = "loopback" if link_type == "loopback" else "device"
    return {"index": index, "name": name, "kind": kind, "master": master, "up": up,
            "state": (state or "unknown").lower(), "mac": mac, "mtu": mtu,
            "ipv4": [], "ipv6": []}


class Executor:
    target: str

    def facts(self, name: str) -> LinkFacts:
        raise NotImplementedError

    def links(self) -> list[dict[str, Any]]:
        """Every interface, in index order: name, kind (bridge, veth, vlan, device for a
        plain NIC, loopback, ...), master (the bridge it is a port of), up (set up by the
        admin), state (the kernel's operstate), MAC, MTU and its IPv4/IPv6 addresses as
        CIDRs -- one query for the links and one for the addresses, however many links."""
        raise NotImplementedError

    def run(self, op: Op) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalNet(Executor):
    """This machine, or network namespace ``netns`` of it, through pyroute2."""

    def __init__(self, netns: str | None = None):
        from pyroute2 import IPRoute, NetNS
        self.netns = netns
        self.target = f"netns {netns}" if netns else "localhost"
        try:
            # flags=0: open an existing namespace only (pyroute2's default creates one)
            self.ipr = NetNS(netns, flags=0) if netns else IPRoute()
        except FileNotFoundError:
            raise errors.NotFound(f"no network namespace {netns!r} on this machine "
                                  "(ip netns list)") from None
        except Exception as exc:  # noqa: BLE001
            raise errors.HostUnavailable(f"cannot open {self.target}: {exc}") from None

    def close(self) -> None:
        self.ipr.close()

    def _idx(self, name: str) -> int:
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            raise errors.NotFound(f"{self.target}: no interface {name!r}")
        return found[0]

    def facts(self, name: str) -> LinkFacts:
        from socket import AF_INET
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            return LinkFacts(name, False)
        idx = found[0]
        link = self.ipr.get_links(idx)[0]
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        master_idx = link.get_attr("IFLA_MASTER")
        master = None
        if master_idx:
            master = self.ipr.get_links(master_idx)[0].get_attr("IFLA_IFNAME")
        addrs = [f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}"
                 for m in self.ipr.get_addr(index=idx, family=AF_INET)]
        routes = []
        for r in self.ipr.get_routes(family=AF_INET, oif=idx):
            gw = r.get_attr("RTA_GATEWAY")
            if r["table"] != 254 or not gw:
                continue
            dst = r.get_attr("RTA_DST")
            routes.append((f"{dst}/{r['dst_len']}" if dst else "default", gw))
        return LinkFacts(name, True, kind, master, bool(link["flags"] & 1), addrs, routes)

    def links(self) -> list[dict[str, Any]]:
        from socket import AF_INET, AF_INET6
        raw = sorted(self.ipr.get_links(), key=lambda m: m["index"])
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in raw}
        rows: dict[int, dict[str, Any]] = {}
        for m in raw:
            info = m.get_attr("IFLA_LINKINFO")
            rows[m["index"]] = link_row(
                index=m["index"], name=names[m["index"]],
                kind=info.get_attr("IFLA_INFO_KIND") if info else None,
                link_type="loopback" if m["ifi_type"] == 772 else "ether",
                master=names.get(m.get_attr("IFLA_MASTER") or -1), up=bool(m["flags"] & 1),
                state=m.get_attr("IFLA_OPERSTATE"), mac=m.get_attr("IFLA_ADDRESS"),
                mtu=m.get_attr("IFLA_MTU"))
        for a in self.ipr.get_addr():
            row = rows.get(a["index"])
            family = {AF_INET: "ipv4", AF_INET6: "ipv6"}.get(a["family"])
            if row is None or family is None:
                continue
            ip = a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")
            row[family].append(f"{ip}/{a['prefixlen']}")
        return list(rows.values())

    def run(self, op: Op) -> None:
        a = op.a
        k = op.kind
        ipr = self.ipr
        if k == "add_bridge":
            ipr.link("add", ifname=a["name"], kind="bridge")
        elif k == "add_vlan":
            ipr.link("add", ifname=a["name"], kind="vlan", link=self._idx(a["parent"]),
                     vlan_id=int(a["vlan_id"]))
        elif k == "del_link":
            ipr.link("del", index=self._idx(a["name"]))
        elif k == "set_master":
            ipr.link("set", index=self._idx(a["name"]), master=self._idx(a["master"]))
        elif k == "no_master":
            ipr.link("set", index=self._idx(a["name"]), master=0)
        elif k in ("set_up", "set_down"):
            ipr.link("set", index=self._idx(a["name"]), state=k[4:])
        elif k in ("add_addr", "del_addr"):
            iface = ipaddress.ip_interface(a["cidr"])
            ipr.addr(k[:3], index=self._idx(a["name"]), address=str(iface.ip),
                     prefixlen=iface.network.prefixlen)
        elif k in ("add_route", "del_route"):
            dst = "0.0.0.0/0" if a["dst"] == "default" else a["dst"]
            ipr.route(k[:3], dst=dst, gateway=a["gateway"], oif=self._idx(a["name"]))
        else:
            raise ValueError(f"unknown operation {k}")


Runner = Callable[[list[str]], tuple[int, str, str]]


class CommandFailed(Exception):
    def __init__(self, argv: list[str], rc: int, err: str):
        super().__init__(f"`{shlex.join(argv)}` exited {rc}: {err.strip()}")
        self.code = EOPNOTSUPP if "not supported" in err.lower() else None


class IpCommandNet(Executor):
    """The ``ip`` command through a runner (over SSH, or locally in a namespace)."""

    def __init__(self, runner: Runner, target: str, *, script_runner: Runner | None = None):
        self.runner = runner
        self.target = target
        self.script_runner = script_runner

    def _ip(self, argv: list[str]) -> str:
        rc, out, err = self.runner(argv)
        if rc != 0:
            raise CommandFailed(argv, rc, err)
        return out

    def facts(self, name: str) -> LinkFacts:
        rc, out, err = self.runner(["ip", "-j", "-d", "link", "show", "dev", name])
        if rc != 0:
            if "does not exist" in err or "Cannot find device" in err:
                return LinkFacts(name, False)
            raise CommandFailed(["ip", "link", "show", name], rc, err)
        link = json.loads(out or "[]")[0]
        kind = (link.get("linkinfo") or {}).get("info_kind")
        addrs_json = json.loads(self._ip(["ip", "-j", "-4", "addr", "show", "dev", name])
                                or "[]")
        addrs = [f"{ai['local']}/{ai['prefixlen']}" for e in addrs_json
                 for ai in e.get("addr_info", []) if ai.get("family") == "inet"]
        routes_json = json.loads(self._ip(["ip", "-j", "-4", "route", "show", "dev", name])
                                 or "[]")
        routes = [(r["dst"], r["gateway"]) for r in routes_json if r.get("gateway")]
        return LinkFacts(name, True, kind, link.get("master"), "UP" in link.get("flags", []),
                         addrs, routes)

    def links(self) -> list[dict[str, Any]]:
        raw = json.loads(self._ip(["ip", "-j", "-d", "link", "show"]) or "[]")
        rows: dict[int, dict[str, Any]] = {}
        for m in sorted(raw, key=lambda m: m["ifindex"]):
            rows[m["ifindex"]] = link_row(
                index=m["ifindex"], name=m["ifname"],
                kind=(m.get("linkinfo") or {}).get("info_kind"),
                link_type=m.get("link_type"), master=m.get("master"),
                up="UP" in m.get("flags", []), state=m.get("operstate"),
                mac=m.get("address"), mtu=m.get("mtu"))
        for m in json.loads(self._ip(["ip", "-j", "addr", "show"]) or "[]"):
            row = rows.get(m.get("ifindex"))
            if row is None:
                continue
            for ai in m.get("addr_info", []):
                family = {"inet": "ipv4", "inet6": "ipv6"}.get(ai.get("family"))
                if family:
                    row[family].append(f"{ai['local']}/{ai['prefixlen']}")
        return list(rows.values())

    def run(self, op: Op) -> None:
        self._ip(op.argv())

    def apply_script(self, plan: Plan) -> dict[str, Any]:
        """The plan as one script on the far side: it rolls itself back on a failure."""
        rc, out, err = self.script_runner(["sh", "-c", plan.script()])
        if rc != 0:
            m = _STEP_RE.search(err)
            step = int(m.group(1)) if m else 0
            text = " ".join(line.strip() for line in err.splitlines() if line.strip())
            raise StepFailed(f"{plan.target}: {text or out.strip()} (exit {rc})",
                             step=step, errno=EOPNOTSUPP if "not supported" in err.lower()
                             else None, rolled_back=max(step - 1, 0))
        return {"plan": plan.title, "target": plan.target, "applied": len(plan.steps),
                "steps": plan.as_dicts()}


def local_runner(netns: str | None = None) -> Runner:
    """Run ``ip`` here (in ``netns`` with ``ip -n``): for tests of the command path."""
    def run(argv: list[str]) -> tuple[int, str, str]:
        if netns and argv and argv[0] == "ip":
            argv = ["ip", "-n", netns, *argv[1:]]
        elif netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr
    return run


def ssh_runner(client, timeout: float = 60.0) -> Runner:
    """Run argv on a paramiko SSHClient; every argument is shlex-quoted."""
    def run(argv: list[str]) -> tuple[int, str, str]:
        _in, out, err = client.exec_command(shlex.join(argv), timeout=timeout)
        rc = out.channel.recv_exit_status()
        return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return run


# -- plans ---------------------------------------------------------------------------------
def bridge_plan(ex: Executor, bridge: str, port: str) -> Plan:
    """Create ``bridge``, move NIC ``port`` into it with its addresses and gateway routes."""
    validate_ifname(bridge, "bridge")
    validate_ifname(port, "port")
    if bridge == port:
        raise errors.InvalidInput("the bridge and its port must be different interfaces")
    br = ex.facts(bridge)
    if br.exists:
        raise errors.Conflict(f"{ex.target}: interface {bridge!r} already exists")
    nic = ex.facts(port)
    if not nic.exists:
        raise errors.NotFound(f"{ex.target}: no interface {port!r} to put into the bridge")
    if nic.master:
        raise errors.Conflict(f"{ex.target}: {port} is already a port of {nic.master}")
    if nic.kind in ("bridge",):
        raise errors.InvalidInput(f"{ex.target}: {port} is itself a bridge")
    if port == "lo":
        raise errors.InvalidInput(f"{ex.target}: the loopback interface cannot be a bridge port")
    plan = Plan(f"bridge {bridge} with port {port}", ex.target)
    plan.add(f"create bridge {bridge}", Op.make("add_bridge", name=bridge))
    plan.add(f"make {port} a port of {bridge}", Op.make("set_master", name=port, master=bridge))
    for dst, gw in nic.gateway_routes:
        plan.add(f"remove route {dst} via {gw} from {port}",
                 Op.make("del_route", name=port, dst=dst, gateway=gw))
    for cidr in nic.addresses:
        plan.add(f"remove address {cidr} from {port}", Op.make("del_addr", name=port,
                                                              cidr=cidr))
    plan.add(f"bring {bridge} up", Op.make("set_up", name=bridge))
    for cidr in nic.addresses:
        plan.add(f"add address {cidr} to {bridge}", Op.make("add_addr", name=bridge,
                                                            cidr=cidr))
    for dst, gw in nic.gateway_routes:
        plan.add(f"add route {dst} via {gw} to {bridge}",
                 Op.make("add_route", name=bridge, dst=dst, gateway=gw))
    if not nic.up:
        plan.add(f"bring {port} up", Op.make("set_up", name=port))
    return plan


def vlan_plan(ex: Executor, parent: str, vlan_id: int, bridge: str,
              name: str | None = None) -> Plan:
    """Sub-interface PARENT.ID (802.1Q VLAN ID) and a bridge with it as its port."""
    validate_ifname(parent, "parent NIC")
    validate_ifname(bridge, "bridge")
    if not isinstance(vlan_id, int) or isinstance(vlan_id, bool) or not 1 <= vlan_id <= 4094:
        raise errors.InvalidInput(f"invalid VLAN id {vlan_id!r}: expected 1-4094")
    sub = validate_ifname(name or f"{parent}.{vlan_id}", "VLAN interface")
    par = ex.facts(parent)
    if not par.exists:
        raise errors.NotFound(f"{ex.target}: no interface {parent!r}")
    for n in (sub, bridge):
        if ex.facts(n).exists:
            raise errors.Conflict(f"{ex.target}: interface {n!r} already exists")
    plan = Plan(f"VLAN {vlan_id} on {parent} bridged as {bridge}", ex.target)
    plan.add(f"create bridge {bridge}", Op.make("add_bridge", name=bridge))
    plan.add(f"create VLAN interface {sub} (id {vlan_id} on {parent})",
             Op.make("add_vlan", name=sub, parent=parent, vlan_id=vlan_id))
    plan.add(f"make {sub} a port of {bridge}", Op.make("set_master", name=sub, master=bridge))
    plan.add(f"bring {sub} up", Op.make("set_up", name=sub))
    plan.add(f"bring {bridge} up", Op.make("set_up", name=bridge))
    if not par.up:
        plan.add(f"bring {parent} up", Op.make("set_up", name=parent))
    return plan


def delete_bridge_plan(ex: Executor, bridge: str, ports: list[str] | None = None) -> Plan:
    """Undo bridge_plan: addresses and routes back to the (single) port, bridge removed."""
    validate_ifname(bridge, "bridge")
    br = ex.facts(bridge)
    if not br.exists:
        raise errors.NotFound(f"{ex.target}: no interface {bridge!r}")
    if br.kind != "bridge":
        raise errors.InvalidInput(f"{ex.target}: {bridge} is not a bridge")
    plan = Plan(f"remove bridge {bridge}", ex.target)
    for p in ports or []:
        validate_ifname(p, "port")
    target_port = (ports or [None])[0]
    for dst, gw in br.gateway_routes:
        plan.add(f"remove route {dst} via {gw} from {bridge}",
                 Op.make("del_route", name=bridge, dst=dst, gateway=gw))
    for cidr in br.addresses:
        plan.add(f"remove address {cidr} from {bridge}",
                 Op.make("del_addr", name=bridge, cidr=cidr))
    for p in ports or []:
        plan.add(f"release {p} from {bridge}", Op.make("no_master", name=p, master=bridge))
    if target_port:
        for cidr in br.addresses:
            plan.add(f"add address {cidr} to {target_port}",
                     Op.make("add_addr", name=target_port, cidr=cidr))
        for dst, gw in br.gateway_routes:
            plan.add(f"add route {dst} via {gw} to {target_port}",
                     Op.make("add_route", name=target_port, dst=dst, gateway=gw))
    plan.add(f"bring {bridge} down", Op.make("set_down", name=bridge))
    plan.add(f"delete bridge {bridge}", Op.make("del_link", name=bridge), undo=None)
    return plan
