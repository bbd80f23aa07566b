"""Start or stop a real libvirt host on loopback by hand (tests/realhost.py).

    .venv/bin/python scripts/realhost.py start DIR   # prints the qemu+ssh URI
    .venv/bin/python scripts/realhost.py stop DIR    # stops what `start DIR` started

`start` leaves virtlogd, libvirtd and sshd running (in their private mount
namespace) and records them in DIR/state.json; `stop` reads that file and stops
exactly those processes by PID.  `stop` also cleans up after a test run that
was killed before its own clean-up ran.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.realhost import RealHost, RealHostError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            host = RealHost(args.workdir).start(stop_at_exit=False)
            print(host.uri)
            print(f"# direct: {host.local_uri}", file=sys.stderr)
        else:
            if not (args.workdir / "state.json").exists():
                print(f"realhost: nothing recorded in {args.workdir}/state.json", file=sys.stderr)
                return 1
            RealHost.from_state(args.workdir).stop()
    except RealHostError as exc:
        print(f"realhost: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
