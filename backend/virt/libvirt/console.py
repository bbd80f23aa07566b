"""A domain's serial console on a non-blocking libvirt stream (``virDomainOpenConsole``).

libvirt's event loop (``backend.virt.libvirt.events``, one daemon thread) calls us when the
stream has data; we hand every chunk to ``on_output(bytes)`` and, when the stream ends or
fails, call ``on_close(reason)`` once. Works the same over ``qemu+ssh://``: the stream is
carried on the host's connection. ``write(bytes)`` types into the guest. A host whose driver
has no consoles (the test driver) raises NotSupported when the session is opened.

Callbacks run on the libvirt event thread: keep them short, never touch a UI from them (a
face posts a message instead).
"""
from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from typing import Callable

import libvirt

from backend import errors
from backend.virt.libvirt.errors import translate
from backend.virt.libvirt.events import ensure_event_loop

log = logging.getLogger(__name__)

ESCAPE = b"\x1d"  # ctrl+]
_EV_READ = libvirt.VIR_STREAM_EVENT_READABLE
_EV_END = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP


class ConsoleSession:
    """One open console: ``write(data)``, ``close()``, ``closed``, ``close_reason``."""

    def __init__(self, conn: libvirt.virConnect, dom: libvirt.virDomain, *, host: str,
                 on_output: Callable[[bytes], None],
                 on_close: Callable[[str], None] | None = None,
                 device: str | None = None, force: bool = False):
        ensure_event_loop()
        self.host = host
        self.server = dom.name()
        self.on_output = on_output
        self.on_close = on_close
        self.closed = False
        self.close_reason: str | None = None
        self._lock = threading.Lock()
        _check_console_device(dom, host)
        stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0
        try:
            dom.openConsole(device, stream, flags)
        except libvirt.libvirtError as exc:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass
            err = translate(exc, host, f"console of {self.server}")
            if isinstance(err, errors.NotSupported):
                raise errors.NotSupported(
                    f"{host}: this host cannot open a serial console (its libvirt driver "
                    f"has no console streams, e.g. the test driver): "
                    f"{exc.get_error_message()}") from None
            raise err from None
        self._stream = stream
        stream.eventAddCallback(_EV_READ | _EV_END, self._on_event, None)

    # -- events (libvirt's event thread) -------------------------------------------------
    def _on_event(self, stream, events, _opaque) -> None:
        if self.closed:
            return
        if events & _EV_READ:
            while True:
                try:
                    data = stream.recv(65536)
                except libvirt.libvirtError as exc:
                    self._finish(f"console error: {exc.get_error_message()}", abort=True)
                    return
                if data == -2:          # nothing more for now
                    break
                if not data:            # end of stream: the guest went away
                    self._finish("the console was closed by the host", abort=False)
                    return
                try:
                    self.on_output(data)
                except Exception:       # a face's bug must not kill the event thread
                    log.exception("console output callback failed")
        if events & _EV_END:
            why = ("the console was closed by the host" if events & libvirt.VIR_STREAM_EVENT_HANGUP
                   else "console stream error")
            self._finish(why, abort=True)

    def _finish(self, reason: str, abort: bool) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.close_reason = reason
            stream = self._stream
        try:
            stream.eventRemoveCallback()
        except libvirt.libvirtError:
            pass
        try:
            if abort:
                stream.abort()
            else:
                stream.finish()
        except libvirt.libvirtError:
            pass
        if self.on_close is not None:
            try:
                self.on_close(reason)
            except Exception:
                log.exception("console close callback failed")

    # -- what a face calls ---------------------------------------------------------------
    def write(self, data: bytes, timeout: float = 5.0) -> None:
        """Send keystrokes to the guest (waits briefly while the stream is full)."""
        if self.closed:
            raise errors.Conflict(f"the console of {self.server} is closed"
                                  + (f": {self.close_reason}" if self.close_reason else ""))
        view = memoryview(bytes(data))
        deadline = time.monotonic() + timeout
        while view:
            try:
                sent = self._stream.send(view.tobytes())
            except libvirt.libvirtError as exc:
                self._finish(f"console error: {exc.get_error_message()}", abort=True)
                raise errors.OperationFailed(
                    f"{self.host}: writing to the console of {self.server} failed: "
                    f"{exc.get_error_message()}") from None
            if sent == -2:
                if time.monotonic() > deadline:
                    raise errors.OperationFailed(
                        f"{self.host}: the console of {self.server} is not accepting input")
                time.sleep(0.01)
                continue
            view = view[sent:]

    def close(self) -> None:
        self._finish("closed", abort=True)

    def __enter__(self) -> "ConsoleSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_console_device(dom: libvirt.virDomain, host: str) -> None:
    try:
        root = ET.fromstring(dom.XMLDesc(0))
        active = dom.isActive()
    except libvirt.libvirtError as exc:
        raise translate(exc, host, f"console of {dom.name()}") from None
    if root.get("type") == "test":
        raise errors.NotSupported(
            f"{host}: this host cannot open a serial console (the libvirt test driver has "
            "no console streams)")
    if not active:
        raise errors.Conflict(f"server {dom.name()} on {host} is not running: start it to "
                              "reach its console")
    if root.find("devices/console") is None and root.find("devices/serial") is None:
        raise errors.NotSupported(f"server {dom.name()} on {host} has no serial console "
                                  "device (add <serial type='pty'/> to its definition)")
