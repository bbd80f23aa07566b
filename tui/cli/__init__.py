"""The `virtstack` command line: a thin face over the backend's front door (backend.api.Cloud).

Sub-commands live one family per module in ``tui/cli/commands/``; each module has
``register(subparsers)`` adding its parsers with ``set_defaults(func=handler)``, where
``handler(env) -> data``: plain data (dict / list of dicts) that ``output.render`` prints as a
table or as JSON. Modules are discovered, so adding a family touches no shared file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from backend.errors import VirtstackError
from tui.cli import output
from tui.cli.env import CliEnv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="virtstack",
        description="Keyboard-driven virtualization manager: libvirt hosts plus a small cloud.")
    parser.add_argument("--config", help="config file (default $VIRTSTACK_CONFIG or "
                        "$XDG_CONFIG_HOME/virtstack/config.toml)")
    parser.add_argument("--demo", action="store_true",
                        help="use the embedded demo cloud (three test-driver hosts)")
    parser.add_argument("-f", "--format", choices=["table", "json"], default="table",
                        help="output format")
    parser.add_argument("--theme", help="TUI theme (dark, light, high-contrast)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import tui.cli.commands as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = CliEnv(args)
    try:
        if not args.command:
            from tui.app import run_tui
            return run_tui(env)
        func = getattr(args, "func", None)
        if func is None:
            parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
            return 2
        data = func(env)
        if data is not None:
            output.render(data, args.format, getattr(args, "columns", None))
        return 0
    except VirtstackError as exc:
        if args.format == "json":
            output.print_json({"error": exc.kind, "message": exc.message}, stream=sys.stderr)
        else:
            print(f"virtstack: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("virtstack: interrupted", file=sys.stderr)
        return 130
    finally:
        env.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
