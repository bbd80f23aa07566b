"""The ``volumes`` table: what virtstack decided about a volume -- its project, who made
it, the size counted against the project's ``volumes``/``gigabytes`` quota. The host holds
whether the volume exists (``backend.storage.volumes``); ``backend.storage.ownership``
reconciles the two.

A volume on a host with no row here belongs to the admin project until an admin adopts it
(a server's root volume belongs to the server's project: it is counted by the server's
claim). ``project_id`` is a foreign key without ON DELETE: a project that still owns
volumes cannot be deleted.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, new_id, utcnow

# creating: quota taken, the host is making it; available: made (or adopted);
# error: the host failed after the row was written and the cleanup could not finish.
VOLUME_STATES = ("creating", "available", "error")


class Volume(Base):
    __tablename__ = "volumes"
    __table_args__ = (UniqueConstraint("host", "pool", "name",
                                       name="uq_volumes_host_pool_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    host: Mapped[str] = mapped_column(String(64), index=True)
    pool: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str | None] = mapped_column(String(1024), nullable=True)   # libvirt's key
    path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size_gb: Mapped[int] = mapped_column(Integer, default=0)   # counted in ``gigabytes``
    format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="creating")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
