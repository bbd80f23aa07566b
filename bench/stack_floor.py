#!/usr/bin/env python3
"""What the stack alone costs: RSS of a process that only loads what virtstack is built on.

Issue 2's RSS target (<= 80 MB for the TUI with three test-driver hosts holding 2,000 VMs)
sits close to what the parts cost before virtstack adds a line of its own. This script
measures that floor, step by step, each step in a fresh interpreter run in tmux (160x50)
like bench/tui_bench.py, RSS read from outside after settling:

  python        the interpreter, idle
  libvirt       + import libvirt (libvirt.so and what it links: gnutls, libxml2, glib, ...)
  testdriver    + three test:/// connections holding 2,000 domains (the driver runs in
                  our process, so its state is ours)
  sqlalchemy    + import sqlalchemy.orm and a SQLite engine (the state DB)
  textual       + a Textual App showing one Static (no virtstack code at all)

Usage: .venv/bin/python bench/stack_floor.py
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.virt.demo import write_demo_hosts  # noqa: E402

PY = REPO / ".venv" / "bin" / "python"

STEPS = ["python", "libvirt", "testdriver", "sqlalchemy", "textual"]


def program(step: str, uris: list[str], db: Path) -> str:
    upto = STEPS.index(step)
    lines = ["import time, sys"]
    if upto >= 1:
        lines.append("import libvirt")
    if upto >= 2:
        lines.append(f"conns = [libvirt.open(u) for u in {uris!r}]")
        lines.append("assert sum(c.numOfDomains() + c.numOfDefinedDomains() "
                     "for c in conns) == 2000")
    if upto >= 3:
        lines.append("import sqlalchemy, sqlalchemy.orm")
        lines.append(f"engine = sqlalchemy.create_engine('sqlite:///{db}')")
        lines.append("with engine.connect() as c: c.execute(sqlalchemy.text('select 1'))")
    if upto >= 4:
        lines.append(textwrap.dedent("""\
            from textual.app import App
            from textual.widgets import Static
            class Floor(App):
                def compose(self):
                    yield Static("floor")
            Floor().run()"""))
    else:
        lines.append("print('ready', flush=True)\ntime.sleep(3600)")
    return "\n".join(lines) + "\n"


def measure(step: str, work: Path, uris: list[str]) -> float:
    script = work / f"floor_{step}.py"
    script.write_text(program(step, uris, work / "floor.db"))
    session = f"vsfloor-{step}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50",
                    str(PY), str(script)], check=True)
    try:
        time.sleep(6)  # settle
        pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                                 capture_output=True, text=True).stdout.strip())
        proc = psutil.Process(pid)
        if proc.cmdline()[-1:] != [str(script)]:
            raise RuntimeError(f"{step}: the pane runs {proc.cmdline()}, not the script "
                               f"(it failed: {script})")
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main() -> None:
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (bash scripts/setup.sh install)")
    work = Path(tempfile.mkdtemp(prefix="vsfloor-"))
    try:
        cfgs = write_demo_hosts(work / "hosts", hosts=[
            ("big1", 32, 256, "az1", 700), ("big2", 32, 256, "az1", 700),
            ("big3", 32, 256, "az2", 600)])
        uris = [c.uri for c in cfgs]
        print(f"{'step':12} {'RSS MB':>7} {'added':>7}")
        prev = 0.0
        for step in STEPS:
            rss = measure(step, work, uris)
            print(f"{step:12} {rss:7.1f} {rss - prev:+7.1f}", flush=True)
            prev = rss
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
