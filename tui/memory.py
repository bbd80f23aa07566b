"""Keep a long-running TUI's resident memory close to what it uses (glibc only; elsewhere
these do nothing).

Every thread that allocates while another holds the heap lock gets a malloc arena of its
own; the TUI's threads (host connects, libvirt's event loop, workers) made a dozen of them,
about 18 MB for a 2,000-VM cloud. Two arenas are plenty under the GIL. After start-up, the
memory freed by parsing and first rendering is given back to the system once.

Start-up builds a few hundred thousand objects that live as long as the process (modules,
classes, the app's widgets): the cyclic garbage collector scanning them again and again
while they are made cost ~25 ms of the first rows' time, and scanning them later costs
idle CPU. So the collector is off while the modules load, which are then frozen (``gc.freeze``:
never scanned again); it runs while the app starts (the app's short-lived garbage is
freed as it goes: left to the end it cost ~2 MB of RSS), and once start-up is over what
is left is collected once and frozen too."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc

_M_ARENA_MAX = -8


_LIBC = []


def _libc():
    """glibc, loaded once (by its soname: find_library would run ldconfig each time)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL("libc.so.6"))
        except OSError:
            try:
                _LIBC.append(ctypes.CDLL(ctypes.util.find_library("c")))
            except OSError:
                _LIBC.append(None)
    return _LIBC[0]


def limit_arenas(count: int = 2) -> bool:
    """Call before the process starts its threads."""
    libc = _libc()
    try:
        return bool(libc and libc.mallopt(_M_ARENA_MAX, count))
    except AttributeError:  # not glibc
        return False


def trim() -> bool:
    libc = _libc()
    try:
        return bool(libc and libc.malloc_trim(0))
    except AttributeError:
        return False


_QUIET = []


def quiet_start() -> None:
    """No cyclic GC while the modules load (the process's own start-up: call it first)."""
    gc.disable()
    _QUIET.append(True)


_DEFAULT_THRESHOLD = gc.get_threshold()


def imports_done() -> None:
    """The modules are in (and never garbage): freeze them out of every later collection
    and turn the collector back on, less eager, for what the app makes and drops while it
    starts."""
    if _QUIET:
        gc.freeze()
        gc.set_threshold(10_000, *_DEFAULT_THRESHOLD[1:])
        gc.enable()


def settle() -> None:
    """Start-up is over: after a quiet start, collect once and freeze what is left (the
    app's long-lived widgets and data); then trim. (An app made without quiet_start(), as
    in tests that make many in one process, only trims: nothing of theirs is frozen.)"""
    if _QUIET:
        _QUIET.clear()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*_DEFAULT_THRESHOLD)
        gc.enable()
    trim()
