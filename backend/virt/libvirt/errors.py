"""libvirtError -> the project's own exceptions."""
from __future__ import annotations

import contextlib

import libvirt

from backend import errors

_NOT_FOUND = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK,
              libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL,
              getattr(libvirt, "VIR_ERR_NO_DOMAIN_SNAPSHOT", -1)}
_UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
                getattr(libvirt, "VIR_ERR_OPERATION_UNSUPPORTED", -1)}
_CONN = {libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT,
         libvirt.VIR_ERR_INVALID_CONN, getattr(libvirt, "VIR_ERR_AUTH_FAILED", -1)}
_CONFLICT = {libvirt.VIR_ERR_OPERATION_INVALID, getattr(libvirt, "VIR_ERR_DOM_EXIST", -1)}


def translate(exc: libvirt.libvirtError, host: str, what: str) -> errors.VirtstackError:
    code = exc.get_error_code()
    msg = exc.get_error_message() or str(exc)
    if "Host key verification failed" in msg or "HOST IDENTIFICATION HAS CHANGED" in msg:
        return errors.HostKeyError(
            f"{host}: SSH host key verification failed (unknown or changed host key); "
            f"check the known_hosts file for this host: {msg}")
    if code in _NOT_FOUND:
        return errors.NotFound(f"{host}: {what}: {msg}")
    if code in _UNSUPPORTED:
        return errors.NotSupported(f"{host}: {what} is not supported by this host: {msg}")
    if code in _CONN:
        return errors.HostUnavailable(f"{host}: {what} failed, host unreachable: {msg}")
    if code in _CONFLICT:
        return errors.Conflict(f"{host}: {what}: {msg}")
    return errors.OperationFailed(f"{host}: {what} failed: {msg}")


@contextlib.contextmanager
def mapped(host: str, what: str):
    try:
        yield
    except libvirt.libvirtError as exc:
        raise translate(exc, host, what) from None
