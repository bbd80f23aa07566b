"""Upload a local file into a new volume and download a volume to a file, through libvirt
streams, reporting progress through a callback and checking a cancel flag between chunks.

An upload that does not finish (error, cancel, Ctrl-C) aborts the stream and deletes the
volume it created, so no half-written volume is left looking whole. A download writes to a
temporary file next to the destination and renames it only when complete.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import libvirt

from backend import errors
from backend.storage import volumes as vols
from backend.validation import validate_name
from backend.virt.libvirt.errors import mapped, translate

CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]   # (bytes done, bytes total)

_QCOW2_MAGIC = b"QFI\xfb"
_VMDK_MAGIC = b"KDMV"


class TransferCancelled(errors.VirtstackError):
    exit_code = 130
    kind = "cancelled"


def sniff_format(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head == _QCOW2_MAGIC:
        return "qcow2"
    if head == _VMDK_MAGIC:
        return "vmdk"
    return "raw"


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


@contextlib.contextmanager
def _removed_note(name: str):
    """Say, in the error, that the half-made volume is gone."""
    try:
        yield
    except TransferCancelled:
        raise
    except errors.VirtstackError as exc:
        raise type(exc)(f"{exc.message}; the new volume {name} was removed") from None


def upload(host, pool: str, name: str, src: str | os.PathLike, *, fmt: str | None = None,
           progress: Progress | None = None,
           cancel: threading.Event | None = None) -> dict[str, Any]:
    """Create volume ``name`` in ``pool`` sized to the file and stream the file into it."""
    validate_name(name, "volume name")
    path = Path(src)
    if not path.is_file():
        raise errors.InvalidInput(f"no such file to upload: {str(path)!r}")
    total = path.stat().st_size
    if total == 0:
        raise errors.InvalidInput(f"{str(path)!r} is empty: nothing to upload")
    fmt = fmt or sniff_format(path)
    # The volume's size is the file's; libvirt re-reads the real header on refresh.
    row = vols.create_volume(host, pool, name, total, fmt)
    p, vol = vols.lookup(host, pool, name)
    conn = host.conn()
    stream = None
    done = 0
    ok = False
    try:
        with _removed_note(name), mapped(host.name, f"upload into volume {name}"):
            stream = conn.newStream(0)
            vol.upload(stream, 0, total, 0)
            with open(path, "rb") as f:
                while True:
                    if _cancelled(cancel):
                        raise TransferCancelled(
                            f"upload of {path.name} cancelled after {done} of {total} bytes; "
                            f"the partial volume {name} was removed")
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        sent = stream.send(view.tobytes())
                        if sent < 0:
                            raise errors.OperationFailed(f"{host.name}: stream send failed")
                        view = view[sent:]
                        done += sent
                    if progress:
                        progress(done, total)
            stream.finish()
            stream = None
        ok = True
    finally:
        if not ok:
            if stream is not None:
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass
            host._persist()
    with mapped(host.name, f"refresh pool {pool}"):
        p.refresh(0)
        vol = p.storageVolLookupByName(name)
    row = vols.volume_row(host, pool, vol)
    row["uploaded_bytes"] = done
    return row


def download(host, pool: str, name: str, dest: str | os.PathLike, *,
             progress: Progress | None = None, cancel: threading.Event | None = None,
             overwrite: bool = False) -> dict[str, Any]:
    """Stream a volume into ``dest`` (written to DEST.part, renamed when complete)."""
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise errors.Conflict(f"{str(dest)!r} exists: pass --overwrite to replace it")
    if not dest.parent.is_dir():
        raise errors.InvalidInput(f"no such directory: {str(dest.parent)!r}")
    _p, vol = vols.lookup(host, pool, name)
    conn = host.conn()
    with mapped(host.name, f"volume {name}"):
        try:
            total = vol.infoFlags(libvirt.VIR_STORAGE_VOL_GET_PHYSICAL)[2]
        except (libvirt.libvirtError, AttributeError):
            total = vol.info()[2]
    part = dest.with_name(dest.name + ".part")
    done = 0
    stream = None
    ok = False
    try:
        with mapped(host.name, f"download volume {name}"), open(part, "wb") as out:
            stream = conn.newStream(0)
            vol.download(stream, 0, 0, 0)
            while True:
                if _cancelled(cancel):
                    raise TransferCancelled(f"download of {name} cancelled after {done} "
                                            f"bytes; {str(part)!r} was removed")
                data = stream.recv(CHUNK)
                if data == -2:   # would block (never in a blocking stream)
                    continue
                if not data:
                    break
                out.write(data)
                done += len(data)
                if progress:
                    progress(done, max(total, done))
            stream.finish()
            stream = None
        os.replace(part, dest)
        ok = True
    except libvirt.libvirtError as exc:   # raised outside mapped (e.g. finish)
        raise translate(exc, host.name, f"download volume {name}") from None
    finally:
        if not ok:
            if stream is not None:
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            part.unlink(missing_ok=True)
    return {"name": name, "pool": pool, "host": host.name, "file": str(dest), "bytes": done}


_QEMU_IMG_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def convert(src: str | os.PathLike, dest: str | os.PathLike, fmt: str, *,
            progress: Progress | None = None, cancel: threading.Event | None = None,
            src_format: str | None = None) -> None:
    """qemu-img convert SRC -> DEST in ``fmt``, progress in hundredths of a percent."""
    if shutil.which("qemu-img") is None:
        raise errors.NotSupported("qemu-img is not installed here: cannot convert images")
    argv = ["qemu-img", "convert", "-p", "-O", fmt]
    if src_format:
        argv += ["-f", src_format]
    argv += [str(src), str(dest)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = b""
    try:
        while True:
            if _cancelled(cancel):
                proc.terminate()
                proc.wait(timeout=10)
                raise TransferCancelled(f"conversion of {Path(src).name} cancelled")
            chunk = proc.stdout.read1(256) if hasattr(proc.stdout, "read1") else \
                proc.stdout.read(256)
            if not chunk:
                break
            buf = (buf + chunk)[-256:]
            found = _QEMU_IMG_PROGRESS.findall(buf)
            if found and progress:
                progress(int(float(found[-1]) * 100), 10000)
        rc = proc.wait()
        err = proc.stderr.read().decode(errors="replace").strip()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0:
        raise errors.OperationFailed(f"qemu-img convert failed (exit {rc}): {err}")
    if progress:
        progress(10000, 10000)


def import_image(host, pool: str, name: str, src: str | os.PathLike, fmt: str, *,
                 progress: Progress | None = None, cancel: threading.Event | None = None,
                 on_phase: Callable[[str], None] | None = None,
                 src_format: str | None = None) -> dict[str, Any]:
    """Convert a local image to ``fmt`` (raw, qcow2, vmdk) and upload it as a new volume.
    Two phases, announced through ``on_phase``: 'convert', then 'upload'."""
    from backend.storage.xml import VOLUME_FORMATS
    validate_name(name, "volume name")
    if fmt not in VOLUME_FORMATS:
        raise errors.InvalidInput(f"unknown volume format {fmt!r}; expected one of "
                                  f"{', '.join(VOLUME_FORMATS)}")
    path = Path(src)
    if not path.is_file():
        raise errors.InvalidInput(f"no such file to import: {str(path)!r}")
    vols.active_pool(host, pool)        # fail before the (long) conversion
    tmp = Path(tempfile.mkdtemp(prefix="virtstack-import-"))
    try:
        out = tmp / f"{name}.{fmt}"
        if on_phase:
            on_phase("convert")
        convert(path, out, fmt, progress=progress, cancel=cancel, src_format=src_format)
        if on_phase:
            on_phase("upload")
        row = upload(host, pool, name, out, fmt=fmt, progress=progress, cancel=cancel)
        row["converted_from"] = str(path)
        return row
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
