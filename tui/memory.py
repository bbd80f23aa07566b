"""Keep a long-running TUI's resident memory close to what it uses (glibc only; elsewhere
these do nothing).

Every thread that allocates while another holds the heap lock gets a malloc arena of its
own; the TUI's threads (host connects, libvirt's event loop, workers) made a dozen of them,
about 18 MB for a 2,000-VM cloud. Two arenas are plenty under the GIL. After start-up, the
memory freed by parsing and first rendering is given back to the system once.

Start-up builds a few hundred thousand objects that live as long as the process (modules,
classes, the app's widgets): the cyclic garbage collector scanning them again and again
while they are made cost ~25 ms of the first rows' time, and scanning them later costs
idle CPU. So the collector is off during start-up, and once it is over they are collected
once and frozen (``gc.freeze``: never scanned again), then the collector runs as usual."""
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
    """No cyclic GC until settle() (the process's own start-up: call it first thing)."""
    gc.disable()
    _QUIET.append(True)


def settle() -> None:
    """Start-up is over: after a quiet start, collect once, freeze what is left and turn
    the collector back on; then trim. (An app made without quiet_start(), as in tests that
    make many in one process, only trims: nothing of theirs is frozen.)"""
    if _QUIET:
        _QUIET.clear()
        gc.collect()
        gc.freeze()
        gc.enable()
    trim()
