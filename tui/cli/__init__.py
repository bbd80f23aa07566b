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


def _global_parser(parser_class=argparse.ArgumentParser, **kwargs) -> argparse.ArgumentParser:
    """The parser of the options that come before any sub-command."""
    parser = parser_class(
        prog="virtstack",
        description="Keyboard-driven virtualization manager: libvirt hosts plus a small cloud.",
        **kwargs)
    parser.add_argument("--config", help="config file (default $VIRTSTACK_CONFIG or "
                        "$XDG_CONFIG_HOME/virtstack/config.toml)")
    parser.add_argument("--demo", action="store_true",
                        help="use the embedded demo cloud (three test-driver hosts)")
    parser.add_argument("-f", "--format", choices=["table", "json"], default="table",
                        help="output format")
    parser.add_argument("--theme", help="TUI theme (dark, light, high-contrast)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import tui.cli.commands as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


class _Undecided(Exception):
    pass


class _QuietParser(argparse.ArgumentParser):
    def error(self, message):
        raise _Undecided(message)


def parse_tui_args(argv: list[str]) -> argparse.Namespace | None:
    """The arguments when ``argv`` has global options only (start the TUI), else None.

    The TUI needs no sub-command parser, and building it imports every command module.
    Anything else -- a sub-command, --help, an error -- is left to the full parser, so its
    usage, help and error messages stay the same."""
    if "--" in argv:
        return None
    try:
        args, rest = _global_parser(_QuietParser, add_help=False).parse_known_args(argv)
    except _Undecided:
        return None
    if rest:
        return None
    args.command = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_tui_args(sys.argv[1:] if argv is None else argv)
    if args is None:
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
