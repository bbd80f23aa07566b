"""Identity tables: users, projects, roles, role assignments, application credentials,
tokens (hashes only) and the append-only audit log.

Resources of other families belong to a project through a ``project_id`` column that
references ``projects.id``. Service users are ordinary users.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import (Boolean, Column, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, UTCDateTime, new_id, utcnow

BUILTIN_ROLES = ("admin", "member", "reader")
# A role implies the roles after it (keystone's default implied roles).
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


def expand_roles(names: Iterable[str]) -> tuple[str, ...]:
    """Add implied roles: admin -> member -> reader."""
    out = set(names)
    for name in list(out):
        out.update(IMPLIED_ROLES.get(name, ()))
    return tuple(sorted(out))


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    default_project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"),
                                         primary_key=True)

    user: Mapped[User] = relationship(lazy="joined")
    project: Mapped[Project] = relationship(lazy="joined")
    role: Mapped[Role] = relationship(lazy="joined")

    __table_args__ = (Index("ix_role_assignments_project_id", "project_id"),)


application_credential_roles = Table(
    "application_credential_roles", Base.metadata,
    Column("credential_id", ForeignKey("application_credentials.id", ondelete="CASCADE"),
           primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class ApplicationCredential(Base):
    __tablename__ = "application_credentials"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(255), default="")
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary=application_credential_roles,
                                             lazy="selectin")
    user: Mapped[User] = relationship(lazy="joined")
    project: Mapped[Project] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("user_id", "name"),)


class Token(Base):
    """An issued token. ``id`` is the SHA-256 of the secret the client holds: the secret
    itself is never stored."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    credential_id: Mapped[str | None] = mapped_column(
        ForeignKey("application_credentials.id", ondelete="CASCADE"), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRecord(Base):
    """Who did what to what, and how it went. Append-only (triggers refuse UPDATE/DELETE);
    no foreign keys, so records outlive the users and projects they name."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
