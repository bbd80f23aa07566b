"""Compute tables: flavors (and who may use a private one), images, per-project quota
usage, per-host resource books (``compute_nodes``), servers and server groups.

The two books that claims change -- ``compute_nodes`` and ``quota_usages`` -- are only ever
moved by conditional UPDATEs (``SET used = used + :n WHERE used + :n <= limit``) in
``backend.compute.claims``, so the database itself keeps every host under total x ratio and
every project under its quota, whoever the writers are.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, new_id, utcnow

SERVER_STATES = ("BUILD", "ACTIVE", "ERROR", "DELETED")
QUOTA_RESOURCES = ("instances", "cores", "ram", "volumes", "gigabytes")
# nova's and cinder's classic defaults; -1 means unlimited.
DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200, "volumes": 10,
                  "gigabytes": 1000}


class Flavor(Base):
    __tablename__ = "flavors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap_mb: Mapped[int] = mapped_column(Integer, default=0)
    extra_specs: Mapped[dict] = mapped_column(JSON, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlavorProject(Base):
    """A private flavor is usable by the projects listed here."""

    __tablename__ = "flavor_projects"

    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id", ondelete="CASCADE"),
                                           primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)


class Image(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    disk_format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    virtual_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    min_ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    min_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaUsage(Base):
    """One project's limit (NULL: the default) and usage of one resource."""

    __tablename__ = "quota_usages"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    resource: Mapped[str] = mapped_column(String(32), primary_key=True)
    hard_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_use: Mapped[int] = mapped_column(Integer, default=0)


class ComputeNode(Base):
    """A host as a resource: totals read from the host, policy from its HostConfig, usage
    promised by claims (``*_used``) and usage found on the host that virtstack did not
    create (``unmanaged_*``)."""

    __tablename__ = "compute_nodes"

    host: Mapped[str] = mapped_column(String(64), primary_key=True)
    az: Mapped[str] = mapped_column(String(64), default="nova")
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Float, default=16.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    reserved_host_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    reserved_host_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb_used: Mapped[float] = mapped_column(Float, default=0.0)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    unmanaged_vcpus: Mapped[int] = mapped_column(Integer, default=0)
    unmanaged_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    unmanaged_disk_gb: Mapped[float] = mapped_column(Float, default=0.0)
    unmanaged_instances: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32), default="QEMU")
    hypervisor_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    arch: Mapped[str] = mapped_column(String(32), default="x86_64")
    capabilities: Mapped[dict] = mapped_column(JSON, default=dict)
    aggregates: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ServerGroup(Base):
    __tablename__ = "server_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Server(Base):
    """What virtstack decided about a server; the host holds whether it runs. ``claimed``
    says the server's resources are still counted in compute_nodes and quota_usages (a
    release flips it in the same transaction that gives them back, so it happens once)."""

    __tablename__ = "servers"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)  # the libvirt UUID
    name: Mapped[str] = mapped_column(String(64), index=True)
    host: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flavor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("server_groups.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="BUILD")
    fault: Mapped[str | None] = mapped_column(Text, nullable=True)
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[float] = mapped_column(Float, default=0.0)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    volume: Mapped[str | None] = mapped_column(String(255), nullable=True)
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
