"""Keep a long-running TUI's resident memory close to what it uses (glibc only; elsewhere
these do nothing).

Every thread that allocates while another holds the heap lock gets a malloc arena of its
own; the TUI's threads (host connects, libvirt's event loop, workers) made a dozen of them,
about 18 MB for a 2,000-VM cloud. Two arenas are plenty under the GIL. After start-up, the
memory freed by parsing and first rendering is given back to the system once."""
from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


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
