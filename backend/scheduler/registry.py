"""Find filter and weigher classes by name: a built-in's class name, or a dotted path
``pkg.module.Class`` for a third-party plugin. An unknown name is a ConfigError naming it,
raised when the Scheduler is built (at start-up), never mid-request."""
from __future__ import annotations

import importlib

from backend.errors import ConfigError
from backend.scheduler import filters as filters_pkg
from backend.scheduler import weighers as weighers_pkg


def import_class(path: str, kind: str) -> type:
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ConfigError(f"unknown scheduler {kind} {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot load scheduler {kind} {path!r}: {exc}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(f"cannot load scheduler {kind} {path!r}: "
                          f"module {module_name!r} has no class {attr!r}")
    return cls


def _check(cls: type, kind: str, name: str, methods: tuple[str, str]) -> type:
    if not any(callable(getattr(cls, m, None)) for m in methods):
        raise ConfigError(f"scheduler {kind} {name!r} is not a {kind}: it has no "
                          f"{' or '.join(methods)} method")
    return cls


def available_filters(entries: tuple[str, ...] | None) -> dict[str, str]:
    """name -> dotted path for every filter enabled_filters may name."""
    if entries is None:
        return dict(filters_pkg.BUILTIN)
    out = {}
    for entry in entries:
        if entry in filters_pkg.BUILTIN:
            out[entry] = filters_pkg.BUILTIN[entry]
        elif "." in entry:
            out[entry.rpartition(".")[2]] = entry
        else:
            raise ConfigError(f"scheduler.available_filters: unknown filter {entry!r}; "
                              f"built-in filters: {', '.join(filters_pkg.BUILTIN)}")
    return out


def filter_class(name: str, available: dict[str, str] | None = None) -> type:
    available = dict(filters_pkg.BUILTIN) if available is None else available
    if name in available:
        cls = import_class(available[name], "filter")
    elif "." in name:
        cls = import_class(name, "filter")
    else:
        raise ConfigError(f"unknown scheduler filter {name!r}; available: "
                          f"{', '.join(available) or 'none'}")
    return _check(cls, "filter", name, ("host_passes", "filter_all"))


def weigher_class(name: str) -> type:
    if name in weighers_pkg.BUILTIN:
        cls = import_class(weighers_pkg.BUILTIN[name], "weigher")
    elif "." in name:
        cls = import_class(name, "weigher")
    else:
        raise ConfigError(f"unknown scheduler weigher {name!r}; available: "
                          f"{', '.join(weighers_pkg.BUILTIN)}")
    return _check(cls, "weigher", name, ("weigh", "weigh_all"))
