"""`virtstack scheduler simulate [FILE|-]`: dry-run the scheduler on a JSON scenario.

Needs no cloud: the scenario carries its own hosts, requests, filters and weighers
(see backend/scheduler/simulate.py for the format).
"""
from __future__ import annotations

import sys
from pathlib import Path

from backend.errors import InvalidInput


def _read(path: str | None) -> tuple[str, str]:
    if path in (None, "-"):
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(encoding="utf-8"), path
    except OSError as exc:
        raise InvalidInput(f"cannot read scenario {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"scenario {path} is not UTF-8 text") from None


def simulate_cmd(env):
    from backend.scheduler.simulate import parse_scenario, simulate
    text, source = _read(env.args.file)
    results = simulate(parse_scenario(text, source))
    if env.args.format == "json":
        return results
    rows = []
    for i, r in enumerate(results):
        passed = r["filters"][-1]["hosts"] if r["filters"] else []
        top = next(iter(r["weights"].values()), None)
        why = ""
        if not r["chosen"]:
            emptied = next((f["filter"] for f in r["filters"] if not f["hosts"]), None)
            why = f"none left after {emptied}" if emptied else "no hosts"
        rows.append({"request": i, "chosen": r["chosen"] or "-", "passed": len(passed),
                     "rejected": len(r["rejected"]),
                     "top weight": "" if top is None else f"{top:.3f}", "why not": why})
    return rows


def register(subparsers) -> None:
    sched = subparsers.add_parser("scheduler", help="the placement scheduler")
    sub = sched.add_subparsers(dest="scheduler_command", metavar="SUBCOMMAND")
    sim = sub.add_parser("simulate", help="place a JSON scenario's requests on its hosts and "
                         "explain each decision (no cloud needed)")
    sim.add_argument("file", nargs="?", metavar="FILE|-",
                     help="scenario JSON file; stdin when omitted or '-'")
    sim.set_defaults(func=simulate_cmd)
