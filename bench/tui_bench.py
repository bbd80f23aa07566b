#!/usr/bin/env python3
"""Issue 2's TUI benchmark: run `virtstack` in tmux (160x50) and measure from outside.

Figures per scenario:
  first_rows_s     launch -> the first VM rows are on screen (capture-pane polled every 10 ms)
  all_hosts_s      launch -> a VM row of every host is on screen
  rss_mb           RSS of the whole process tree (virtstack + its ssh children) after settling
  idle_cpu_pct     CPU % of that tree over IDLE seconds with nothing happening
  ssh_kb_per_min   bytes through the ssh client processes per minute while idle (SSH hosts)
  ssh_true_s       (SSH scenarios) a bare `ssh host true` to the same sshd: the floor under
                   an SSH host's first rows, before libvirt or virtstack do anything

Scenarios:
  local2000  three test-driver hosts holding 2,000 VMs together
  ssh        two hosts over test+ssh:// with 8 and 300 VMs (a real sshd + libvirtd on loopback)
  ssh-slow   the same, with one host whose SSH takes 5 s to connect

Usage: .venv/bin/python bench/tui_bench.py [--idle 60] [--only local2000,ssh,ssh-slow]
Run as root on the project's machine (the SSH scenarios start their own libvirtd + sshd by
tests/realhost.py, and stop them by PID).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.virt.demo import write_demo_hosts  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
PASSWORD = "Bench-Admin-Pw-1"
# a VM row of that host in the table (not the host's card in the hosts panel)
ROW = r"\s{host}\s+(running|shutoff|paused)\s"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def ssh_bytes(procs) -> int:
    total = 0
    for p in procs:
        try:
            if p.name() == "ssh":
                io = p.io_counters()
                total += io.read_chars + io.write_chars
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def ssh_handshake(rh, runs: int = 5) -> float:
    """Median time of a bare `ssh host true` to the same sshd (the transport's own cost,
    before libvirt or virtstack do anything): the floor under an SSH host's first rows."""
    cmd = ["ssh", "-o", f"UserKnownHostsFile={rh.known_hosts}", "-o", "StrictHostKeyChecking=yes",
           "-o", "BatchMode=yes", "-i", str(rh.keyfile), "-p", str(rh.port), "root@127.0.0.1",
           "true"]
    times = []
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.monotonic() - t)
    return round(sorted(times)[len(times) // 2], 3)


def write_config(home: Path, hosts: list[tuple[str, str]]) -> Path:
    lines = [f'[state]\ndb_url = "sqlite:///{home / "state.db"}"\n']
    for name, uri, *extra in hosts:
        lines.append(f'[[hosts]]\nname = "{name}"\nuri = "{uri}"\n' + "".join(extra))
    cfg = home / "config.toml"
    cfg.write_text("\n".join(lines))
    return cfg


def run_scenario(name: str, home: Path, cfg: Path, host_names: list[str], idle: float,
                 patterns: dict[str, str]) -> dict:
    env = dict(os.environ, XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
               XDG_CONFIG_HOME=str(home / "cfg"), VIRTSTACK_CONFIG=str(cfg),
               VIRTSTACK_USERNAME="admin", VIRTSTACK_PASSWORD=PASSWORD,
               VIRTSTACK_PROJECT="admin", TERM="xterm-256color")
    pw = home / "pw"
    pw.write_text(PASSWORD + "\n")
    subprocess.run([str(VENV_BIN / "virtstack"), "bootstrap", "--admin-password-file", str(pw)],
                   env=env, capture_output=True, check=True)
    # log in once so the TUI starts from a cached token (as a user who ran `virtstack login`)
    subprocess.run([str(VENV_BIN / "virtstack"), "login", "--password-file", str(pw)],
                   env=env, capture_output=True)
    for k in ("VIRTSTACK_USERNAME", "VIRTSTACK_PASSWORD", "VIRTSTACK_PROJECT"):
        env.pop(k)
    session = f"vsbench-{os.getpid()}"
    envargs = []
    for k in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VIRTSTACK_CONFIG"):
        envargs += ["-e", f"{k}={env[k]}"]
    t0 = time.monotonic()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
                    *envargs, str(VENV_BIN / "virtstack")], check=True, env=env)
    first = None
    per_host: dict[str, float] = {}
    try:
        deadline = t0 + 60
        while time.monotonic() < deadline and len(per_host) < len(host_names):
            screen = tmux("capture-pane", "-p", "-t", session)
            now = time.monotonic() - t0
            for h in host_names:
                if h not in per_host and re.search(patterns[h], screen):
                    per_host[h] = now
                    first = first if first is not None else now
            time.sleep(0.01)
        pane_pid = int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
        time.sleep(10)  # settle
        procs = tree(pane_pid)
        rss = sum(p.memory_info().rss for p in procs if p.is_running())
        cpu0, ssh0, w0 = tree_cpu(procs), ssh_bytes(procs), time.monotonic()
        time.sleep(idle)
        procs2 = tree(pane_pid)
        cpu1, ssh1, w1 = tree_cpu(procs2), ssh_bytes(procs2), time.monotonic()
        screen = tmux("capture-pane", "-p", "-t", session)
    finally:
        tmux("kill-session", "-t", session)
    return {
        "scenario": name,
        "first_rows_s": round(first, 3) if first is not None else None,
        "rows_per_host_s": {h: round(v, 3) for h, v in per_host.items()},
        "rss_mb": round(rss / 2**20, 1),
        "idle_cpu_pct": round(100 * (cpu1 - cpu0) / (w1 - w0), 3),
        "ssh_kb_per_min": round((ssh1 - ssh0) / 1024 / ((w1 - w0) / 60), 1)
        if any(p.name() == "ssh" for p in procs2 if p.is_running()) else None,
        "processes": len(procs2),
        "screen_tail": screen.splitlines()[-3:],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--only", default="local2000,ssh,ssh-slow")
    args = ap.parse_args()
    wanted = args.only.split(",")
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (bash scripts/setup.sh install)")
    results = []
    work = Path(tempfile.mkdtemp(prefix="vsbench-"))
    try:
        if "local2000" in wanted:
            home = work / "local2000"
            home.mkdir()
            cfgs = write_demo_hosts(home / "hosts", hosts=[
                ("big1", 32, 256, "az1", 700), ("big2", 32, 256, "az1", 700),
                ("big3", 32, 256, "az2", 600)])
            cfg = write_config(home, [(c.name, c.uri) for c in cfgs])
            results.append(run_scenario("local2000 (3 test hosts, 2000 VMs)", home, cfg,
                                        [c.name for c in cfgs], args.idle,
                                        {c.name: ROW.format(host=c.name) for c in cfgs}))
            print(json.dumps(results[-1]), flush=True)
        if "ssh" in wanted or "ssh-slow" in wanted:
            from tests.realhost import RealHost
            rh = RealHost(work / "realhost").start()
            try:
                hostdir = rh.workdir / "root"
                hostdir.mkdir(exist_ok=True)
                cfgs = write_demo_hosts(work / "sshhosts", hosts=[
                    ("small", 8, 32, "az1", 8), ("wide", 32, 256, "az2", 300)])
                extra = (f'keyfile = "{rh.keyfile}"\n', f'known_hosts = "{rh.known_hosts}"\n')
                slow = work / "slow-ssh"
                slow.write_text("#!/bin/sh\nsleep 5\nexec ssh -o UserKnownHostsFile="
                                f"{rh.known_hosts} -o StrictHostKeyChecking=yes "
                                "-o BatchMode=yes \"$@\"\n")
                slow.chmod(0o755)
                floor = ssh_handshake(rh)
                print(json.dumps({"ssh_true_s": floor}), flush=True)
                for scen in ("ssh", "ssh-slow"):
                    if scen not in wanted:
                        continue
                    home = work / scen
                    home.mkdir()
                    hosts = []
                    for c in cfgs:
                        path = c.uri[len("test://"):]
                        uri = f"test+ssh://root@127.0.0.1:{rh.port}{path}"
                        if scen == "ssh-slow" and c.name == "small":
                            uri += f"?command={slow}"
                        hosts.append((c.name, uri, *extra))
                    cfg = write_config(home, hosts)
                    results.append(run_scenario(
                        f"{scen} (test+ssh, 8 + 300 VMs{', small host SSH +5 s' if scen == 'ssh-slow' else ''})",
                        home, cfg, [c.name for c in cfgs], args.idle,
                        {c.name: ROW.format(host=c.name) for c in cfgs}))
                    print(json.dumps(results[-1]), flush=True)
            finally:
                rh.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if "ssh" in wanted or "ssh-slow" in wanted:
        print(f"\nA bare `ssh host true` to that sshd took {floor} s (median of 5): "
              "the transport's floor under the SSH hosts' first rows.")
    print("\nscenario                                   first rows  per host                      RSS MB  idle CPU %  SSH kB/min")
    for r in results:
        print(f"{r['scenario'][:42]:42} {r['first_rows_s']!s:>10}  "
              f"{json.dumps(r['rows_per_host_s'])[:28]:28} {r['rss_mb']:>7} "
              f"{r['idle_cpu_pct']:>10} {r['ssh_kb_per_min']!s:>11}")


if __name__ == "__main__":
    main()
