"""libvirt's event loop on one daemon thread (keepalives, close callbacks, lifecycle events).

Registered once per process, before the first connection is opened."""
from __future__ import annotations

import threading

import libvirt

_lock = threading.Lock()
_started = False


def _silence(_ctx, _err):  # libvirt prints every error to stderr by default
    pass


def ensure_event_loop() -> None:
    global _started
    with _lock:
        if _started:
            return
        libvirt.registerErrorHandler(_silence, None)
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _started = True
