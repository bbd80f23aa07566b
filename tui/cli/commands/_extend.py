"""Let a command family add sub-commands to another family's parser.

A module in tui/cli/commands may define ``extend_server(subparsers)`` or
``extend_host(subparsers)``; server_cmd / host_cmd call every such hook after building their
own sub-commands, so no family edits another's file."""
from __future__ import annotations

import importlib
import pkgutil


def call_hooks(hook: str, subparsers) -> None:
    import tui.cli.commands as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        fn = getattr(mod, hook, None)
        if fn is not None:
            fn(subparsers)
