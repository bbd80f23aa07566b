"""Images (a small Glance): metadata in the state DB, bits in a local image store directory
(``settings.data_dir/images/<id>``). Uploading copies the file in chunks and reports
progress through a callback ``progress(done_bytes, total_bytes)``."""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.compute.models import Image
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.validation import validate_name

DISK_FORMATS = ("raw", "qcow2", "vmdk")
PROPERTIES = ("architecture", "hypervisor_type", "hw_vm_mode")
CHUNK = 1024 * 1024
MAX_MIN_RAM_MB = 4 * 1024 * 1024
MAX_MIN_DISK_GB = 100_000
Progress = Callable[[int, int], None]


def image_dict(i: Image) -> dict[str, Any]:
    return {"id": i.id, "name": i.name, "disk_format": i.disk_format, "status": i.status,
            "size_bytes": i.size_bytes, "virtual_size_bytes": i.virtual_size_bytes,
            "checksum": i.checksum, "min_ram_mb": i.min_ram_mb, "min_disk_gb": i.min_disk_gb,
            "properties": dict(i.properties or {}), "project_id": i.project_id}


def sniff(path: Path, disk_format: str, size: int) -> int:
    """The image's virtual size; a file that is not what the format says is refused."""
    with open(path, "rb") as f:
        head = f.read(512)
    if disk_format == "qcow2":
        if head[:4] != b"QFI\xfb" or len(head) < 32:
            raise InvalidInput(f"{path} is not a qcow2 image (no QFI header)")
        # A backing file would make the guest read a file of the host (nova refuses too).
        if struct.unpack(">Q", head[8:16])[0] != 0:
            raise InvalidInput(f"{path} is a qcow2 image with a backing file: only "
                               "self-contained images are accepted")
        return struct.unpack(">Q", head[24:32])[0]
    if disk_format == "vmdk":
        if head[:4] == b"KDMV":
            return struct.unpack("<Q", head[12:20])[0] * 512
        if b"# Disk DescriptorFile" in head:  # a text file naming extents elsewhere
            raise InvalidInput(f"{path} is a vmdk descriptor: only single-file "
                               "(monolithic sparse) vmdk images are accepted")
        raise InvalidInput(f"{path} is not a vmdk image")
    if head[:4] == b"QFI\xfb":
        raise InvalidInput(f"{path} is a qcow2 image: use --disk-format qcow2")
    return size


def check_properties(props: Any) -> dict[str, str]:
    if not isinstance(props, dict):
        raise InvalidInput("image properties must be a mapping")
    out = {}
    for k, v in props.items():
        if k not in PROPERTIES:
            raise InvalidInput(f"unknown image property {k!r} (known: {', '.join(PROPERTIES)})")
        if not isinstance(v, str) or not v or len(v) > 64:
            raise InvalidInput(f"image property {k}: expected a short text, got {v!r}")
        out[k] = v
    return out


def check_min(value: Any, what: str, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise InvalidInput(f"{what} must be a whole number, got {value!r}") from None
    if not 0 <= value <= hi:
        raise InvalidInput(f"{what} must be between 0 and {hi}, got {value}")
    return value


class ImageService:
    def __init__(self, db: Database, store: Path):
        self.db = db
        self.store = Path(store)

    def path_of(self, image_id: str) -> Path:
        return self.store / image_id

    @staticmethod
    def find(s: Session, ref: str) -> Image:
        if not isinstance(ref, str) or not ref:
            raise InvalidInput("image must not be empty")
        i = s.get(Image, ref) if len(ref) == 32 else None
        i = i or s.scalar(select(Image).where(Image.name == ref))
        if i is None:
            raise NotFound(f"no image {ref!r}")
        return i

    def create(self, name: str, file: str | os.PathLike, *, disk_format: str = "qcow2",
               min_ram_mb: Any = 0, min_disk_gb: Any = 0, properties: dict | None = None,
               project_id: str | None = None, progress: Progress | None = None,
               cancel: Callable[[], bool] | None = None) -> dict:
        validate_name(name, "image name")
        if disk_format not in DISK_FORMATS:
            raise InvalidInput(f"disk format must be one of {', '.join(DISK_FORMATS)}, "
                               f"got {disk_format!r}")
        min_ram = check_min(min_ram_mb, "min_ram", MAX_MIN_RAM_MB)
        min_disk = check_min(min_disk_gb, "min_disk", MAX_MIN_DISK_GB)
        props = check_properties(properties or {})
        src = Path(file).expanduser()
        if not src.is_file():
            raise InvalidInput(f"image file {src} does not exist or is not a file")
        size = src.stat().st_size
        if size == 0:
            raise InvalidInput(f"image file {src} is empty")
        virtual = sniff(src, disk_format, size)
        with self.db.transaction() as s:
            if s.scalar(select(Image.id).where(Image.name == name)):
                raise Conflict(f"image {name!r} already exists")
            img = Image(name=name, disk_format=disk_format, size_bytes=size,
                        virtual_size_bytes=virtual, min_ram_mb=min_ram, min_disk_gb=min_disk,
                        properties=props, status="saving", project_id=project_id)
            s.add(img)
            s.flush()
            image_id = img.id
        try:
            checksum = self._copy(src, self.path_of(image_id), size, progress, cancel)
        except BaseException:
            with self.db.transaction() as s:
                img = s.get(Image, image_id)
                if img is not None:
                    s.delete(img)
            self.path_of(image_id).unlink(missing_ok=True)
            raise
        with self.db.transaction() as s:
            img = s.get(Image, image_id)
            img.checksum, img.status = checksum, "active"
            return image_dict(img)

    def _copy(self, src: Path, dst: Path, size: int, progress: Progress | None,
              cancel: Callable[[], bool] | None) -> str:
        self.store.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".part")
        digest = hashlib.sha256()
        done = 0
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(CHUNK):
                if cancel is not None and cancel():
                    raise InvalidInput("image upload cancelled")
                fout.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, size)
        tmp.replace(dst)
        return digest.hexdigest()

    def list(self) -> list[dict]:
        with self.db.transaction() as s:
            return [image_dict(i) for i in s.scalars(select(Image).order_by(Image.name))]

    def show(self, ref: str) -> dict:
        with self.db.transaction() as s:
            return image_dict(self.find(s, ref))

    def delete(self, ref: str) -> dict:
        with self.db.transaction() as s:
            img = self.find(s, ref)
            out = {"id": img.id, "name": img.name, "deleted": True}
            s.delete(img)
        self.path_of(out["id"]).unlink(missing_ok=True)
        return out
