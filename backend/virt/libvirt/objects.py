"""Helpers shared by libvirt's defined objects (networks, storage pools)."""
from __future__ import annotations

import logging

import libvirt

log = logging.getLogger(__name__)


def discard(obj) -> None:
    """Stop and undefine a network or pool made by a step that then failed: best effort,
    the caller reports the original error."""
    try:
        if obj.isActive():
            obj.destroy()
    except libvirt.libvirtError:
        pass
    try:
        obj.undefine()
    except libvirt.libvirtError:
        log.warning("could not undefine a half-created %s", type(obj).__name__, exc_info=True)
