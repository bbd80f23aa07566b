"""Identity work without policy: users, projects, roles, assignments, application
credentials and bootstrap. The front door (``backend.api.identity``) checks policy and
writes the audit record around these calls.

Every method runs in one transaction: on any error nothing is half-written.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound, PolicyDenied
from backend.identity.models import (BUILTIN_ROLES, ApplicationCredential, Project, Role,
                                     RoleAssignment, Token, User)
from backend.identity.passwords import Hasher, check_strength, make_hasher, new_secret
from backend.validation import validate_name

ADMIN_PROJECT = "admin"
ADMIN_ROLE = "admin"
MAX_REF = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_ref(ref: object, what: str) -> str:
    """A name-or-id given to look something up: a non-empty string of sane length."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"{what} must not be empty")
    if len(ref) > MAX_REF:
        raise InvalidInput(f"{what} is too long ({len(ref)} characters, at most {MAX_REF})")
    return ref


def check_description(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > 255 or _CONTROL.search(text):
        raise InvalidInput("description must be at most 255 printable characters")
    return text


def project_dict(p: Project) -> dict:
    return {"id": p.id, "name": p.name, "description": p.description, "enabled": p.enabled}


def role_dict(r: Role) -> dict:
    return {"id": r.id, "name": r.name, "builtin": r.builtin}


def assignment_dict(a: RoleAssignment) -> dict:
    return {"user": a.user.name, "project": a.project.name, "role": a.role.name,
            "user_id": a.user_id, "project_id": a.project_id}


class IdentityService:
    def __init__(self, db: Database, settings: Settings, *, hasher: Hasher | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.db = db
        self.settings = settings
        self.hasher = hasher or make_hasher(getattr(settings, "password_hash_profile",
                                                    "default"))
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    # -- lookups ---------------------------------------------------------------------------
    @staticmethod
    def _find(s: Session, model, ref: str, what: str):
        check_ref(ref, what)
        obj = s.scalars(select(model).where((model.name == ref) | (model.id == ref))).first()
        if obj is None:
            raise NotFound(f"{what} {ref!r} not found")
        return obj

    def user(self, s: Session, ref: str) -> User:
        return self._find(s, User, ref, "user")

    def project(self, s: Session, ref: str) -> Project:
        return self._find(s, Project, ref, "project")

    def role(self, s: Session, ref: str) -> Role:
        return self._find(s, Role, ref, "role")

    def user_dict(self, s: Session, u: User) -> dict:
        default = s.get(Project, u.default_project_id) if u.default_project_id else None
        now = self.clock()
        return {"id": u.id, "name": u.name, "enabled": u.enabled,
                "default_project": default.name if default else None,
                "locked": bool(u.locked_until and u.locked_until > now)}

    def roles_on(self, s: Session, user_id: str, project_id: str) -> set[str]:
        q = (select(Role.name).join(RoleAssignment, RoleAssignment.role_id == Role.id)
             .where(RoleAssignment.user_id == user_id, RoleAssignment.project_id == project_id))
        return set(s.scalars(q))

    def admin_project_id(self) -> str | None:
        with self.db.transaction() as s:
            return s.scalars(select(Project.id).where(Project.name == ADMIN_PROJECT)).first()

    def _flush(self, s: Session, what: str) -> None:
        """Flush, turning a unique-constraint race into Conflict."""
        try:
            s.flush()
        except IntegrityError as exc:
            raise Conflict(f"{what} conflicts with an existing record") from exc

    # -- bootstrap -------------------------------------------------------------------------
    def bootstrap(self, admin_password: str, admin_user: str = "admin") -> dict:
        """Built-in roles, the admin project, the admin user and its admin role there.
        Idempotent: what exists is kept (an existing admin's password is not changed)."""
        validate_name(admin_user, "user name")
        created: list[str] = []
        with self.db.transaction() as s:
            roles = {}
            for name in BUILTIN_ROLES:
                role = s.scalars(select(Role).where(Role.name == name)).first()
                if role is None:
                    role = Role(name=name, builtin=True)
                    s.add(role)
                    created.append(f"role {name}")
                roles[name] = role
            project = s.scalars(select(Project).where(Project.name == ADMIN_PROJECT)).first()
            if project is None:
                project = Project(name=ADMIN_PROJECT, description="the cloud's admin project")
                s.add(project)
                created.append(f"project {ADMIN_PROJECT}")
            s.flush()
            user = s.scalars(select(User).where(User.name == admin_user)).first()
            if user is None:
                check_strength(admin_password, admin_user)
                user = User(name=admin_user, password_hash=self.hasher.hash(admin_password),
                            default_project_id=project.id, password_changed_at=self.clock())
                s.add(user)
                created.append(f"user {admin_user}")
            elif not user.enabled:
                user.enabled = True
                created.append(f"user {admin_user} re-enabled")
            s.flush()
            if s.get(RoleAssignment, (user.id, project.id, roles[ADMIN_ROLE].id)) is None:
                s.add(RoleAssignment(user_id=user.id, project_id=project.id,
                                     role_id=roles[ADMIN_ROLE].id))
                created.append(f"role assignment {admin_user}/{ADMIN_PROJECT}/admin")
            self._flush(s, "bootstrap")
            return {"user": admin_user, "user_id": user.id, "project": ADMIN_PROJECT,
                    "project_id": project.id, "created": created}

    def is_bootstrapped(self) -> bool:
        return self.admin_project_id() is not None

    # -- projects --------------------------------------------------------------------------
    def create_project(self, name: str, description: str | None = None) -> dict:
        validate_name(name, "project name")
        description = check_description(description)
        with self.db.transaction() as s:
            if s.scalars(select(Project).where(Project.name == name)).first():
                raise Conflict(f"project {name!r} already exists")
            p = Project(name=name, description=description)
            s.add(p)
            self._flush(s, f"project {name!r}")
            return project_dict(p)

    def list_projects(self, user_id: str | None = None) -> list[dict]:
        """All projects, or (``user_id``) only those where the user holds a role."""
        with self.db.transaction() as s:
            q = select(Project).order_by(Project.name)
            if user_id is not None:
                q = q.where(Project.id.in_(select(RoleAssignment.project_id)
                                           .where(RoleAssignment.user_id == user_id)))
            return [project_dict(p) for p in s.scalars(q)]

    def show_project(self, ref: str) -> dict:
        with self.db.transaction() as s:
            return project_dict(self.project(s, ref))

    def set_project(self, ref: str, *, enabled: bool | None = None,
                    description: str | None = None) -> dict:
        with self.db.transaction() as s:
            p = self.project(s, ref)
            if enabled is not None:
                if not enabled and p.name == ADMIN_PROJECT:
                    raise Conflict("the admin project cannot be disabled")
                p.enabled = enabled
            if description is not None:
                p.description = check_description(description)
            return project_dict(p)

    def delete_project(self, ref: str) -> dict:
        with self.db.transaction() as s:
            p = self.project(s, ref)
            if p.name == ADMIN_PROJECT:
                raise Conflict("the admin project cannot be deleted: it owns the VMs "
                               "virtstack did not create and the admin role")
            out = project_dict(p)
            s.execute(update(User).where(User.default_project_id == p.id)
                      .values(default_project_id=None))
            s.delete(p)
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(f"project {out['name']!r} still owns resources (servers, "
                               "volumes, ...): delete or move them first") from exc
            return out

    # -- users -----------------------------------------------------------------------------
    def create_user(self, name: str, password: str, *, project: str | None = None,
                    enabled: bool = True) -> dict:
        validate_name(name, "user name")
        check_strength(password, name)
        with self.db.transaction() as s:
            if s.scalars(select(User).where(User.name == name)).first():
                raise Conflict(f"user {name!r} already exists")
            default = self.project(s, project).id if project else None
            u = User(name=name, enabled=bool(enabled), password_hash=self.hasher.hash(password),
                     default_project_id=default, password_changed_at=self.clock())
            s.add(u)
            self._flush(s, f"user {name!r}")
            return self.user_dict(s, u)

    def list_users(self) -> list[dict]:
        with self.db.transaction() as s:
            return [self.user_dict(s, u) for u in s.scalars(select(User).order_by(User.name))]

    def show_user(self, ref: str) -> dict:
        with self.db.transaction() as s:
            return self.user_dict(s, self.user(s, ref))

    def user_id_of(self, ref: str) -> str:
        with self.db.transaction() as s:
            return self.user(s, ref).id

    def _is_last_admin(self, s: Session, user: User) -> bool:
        """Would the cloud lose its last enabled admin of the admin project without user?"""
        q = (select(func.count()).select_from(RoleAssignment)
             .join(User, User.id == RoleAssignment.user_id)
             .join(Role, Role.id == RoleAssignment.role_id)
             .join(Project, Project.id == RoleAssignment.project_id)
             .where(Role.name == ADMIN_ROLE, Project.name == ADMIN_PROJECT,
                    User.enabled.is_(True), User.id != user.id))
        holds = self.roles_on(s, user.id, self.admin_project_id_in(s) or "")
        return ADMIN_ROLE in holds and user.enabled and s.scalar(q) == 0

    @staticmethod
    def admin_project_id_in(s: Session) -> str | None:
        return s.scalars(select(Project.id).where(Project.name == ADMIN_PROJECT)).first()

    def set_user(self, ref: str, *, enabled: bool | None = None, password: str | None = None,
                 default_project: str | None = None) -> dict:
        """Change a user. A new password or disabling revokes all the user's tokens;
        enabling also lifts a lockout."""
        with self.db.transaction() as s:
            u = self.user(s, ref)
            if password is not None:
                check_strength(password, u.name)
                u.password_hash = self.hasher.hash(password)
                u.password_changed_at = self.clock()
                self._revoke_user_tokens(s, u.id)
            if enabled is False and u.enabled:
                if self._is_last_admin(s, u):
                    raise Conflict(f"user {u.name!r} is the last enabled admin: "
                                   "give another user the admin role first")
                u.enabled = False
                self._revoke_user_tokens(s, u.id)
            elif enabled is True:
                u.enabled = True
                u.failed_logins = 0
                u.locked_until = None
            if default_project is not None:
                u.default_project_id = self.project(s, default_project).id
            return self.user_dict(s, u)

    def verify_password(self, ref: str, password: str) -> bool:
        with self.db.transaction() as s:
            return self.hasher.verify(self.user(s, ref).password_hash, password or "")

    def delete_user(self, ref: str) -> dict:
        with self.db.transaction() as s:
            u = self.user(s, ref)
            if self._is_last_admin(s, u):
                raise Conflict(f"user {u.name!r} is the last enabled admin and cannot be "
                               "deleted")
            out = self.user_dict(s, u)
            s.delete(u)
            self._flush(s, f"deleting user {u.name!r}")
            return out

    @staticmethod
    def _revoke_user_tokens(s: Session, user_id: str) -> None:
        s.execute(update(Token).where(Token.user_id == user_id).values(revoked=True))

    # -- roles -----------------------------------------------------------------------------
    def create_role(self, name: str) -> dict:
        validate_name(name, "role name")
        with self.db.transaction() as s:
            if s.scalars(select(Role).where(Role.name == name)).first():
                raise Conflict(f"role {name!r} already exists")
            r = Role(name=name)
            s.add(r)
            self._flush(s, f"role {name!r}")
            return role_dict(r)

    def list_roles(self) -> list[dict]:
        with self.db.transaction() as s:
            return [role_dict(r) for r in s.scalars(select(Role).order_by(Role.name))]

    def delete_role(self, ref: str) -> dict:
        with self.db.transaction() as s:
            r = self.role(s, ref)
            if r.builtin:
                raise Conflict(f"role {r.name!r} is built in and cannot be deleted")
            out = role_dict(r)
            s.delete(r)
            return out

    # -- assignments -----------------------------------------------------------------------
    def add_assignment(self, user: str, project: str, role: str) -> dict:
        with self.db.transaction() as s:
            u, p, r = self.user(s, user), self.project(s, project), self.role(s, role)
            if s.get(RoleAssignment, (u.id, p.id, r.id)) is not None:
                raise Conflict(f"user {u.name!r} already has role {r.name!r} on project "
                               f"{p.name!r}")
            a = RoleAssignment(user_id=u.id, project_id=p.id, role_id=r.id)
            s.add(a)
            self._flush(s, "role assignment")
            return {"user": u.name, "project": p.name, "role": r.name,
                    "user_id": u.id, "project_id": p.id}

    def remove_assignment(self, user: str, project: str, role: str) -> dict:
        with self.db.transaction() as s:
            u, p, r = self.user(s, user), self.project(s, project), self.role(s, role)
            a = s.get(RoleAssignment, (u.id, p.id, r.id))
            if a is None:
                raise NotFound(f"user {u.name!r} has no role {r.name!r} on project {p.name!r}")
            if r.name == ADMIN_ROLE and p.name == ADMIN_PROJECT and self._is_last_admin(s, u):
                raise Conflict(f"user {u.name!r} is the last enabled admin: give another "
                               "user the admin role first")
            out = assignment_dict(a)
            s.delete(a)
            return out

    def list_assignments(self, user: str | None = None, project: str | None = None) -> list[dict]:
        with self.db.transaction() as s:
            q = select(RoleAssignment)
            if user:
                q = q.where(RoleAssignment.user_id == self.user(s, user).id)
            if project:
                q = q.where(RoleAssignment.project_id == self.project(s, project).id)
            rows = [assignment_dict(a) for a in s.scalars(q)]
            return sorted(rows, key=lambda r: (r["user"], r["project"], r["role"]))

    # -- application credentials -----------------------------------------------------------
    def create_credential(self, user_id: str, project_id: str, name: str, *,
                          roles: list[str] | None, allowed_roles: Iterable[str],
                          expires_at: datetime | None = None,
                          description: str | None = None) -> dict:
        """A credential for (user, project) with a subset of ``allowed_roles`` (the
        caller's roles); the secret is returned once and only its hash is kept."""
        validate_name(name, "credential name")
        description = check_description(description)
        allowed = set(allowed_roles)
        wanted = set(roles) if roles else allowed
        if not wanted:
            raise InvalidInput("a credential needs at least one role")
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInput("expiry must include a time zone")
            if expires_at <= self.clock():
                raise InvalidInput("expiry is in the past")
        secret = new_secret()
        with self.db.transaction() as s:
            if s.scalars(select(ApplicationCredential).where(
                    ApplicationCredential.user_id == user_id,
                    ApplicationCredential.name == name)).first():
                raise Conflict(f"you already have a credential named {name!r}")
            role_rows = [self.role(s, r) for r in sorted(wanted)]  # NotFound first
            extra = sorted(wanted - allowed)
            if extra:
                raise PolicyDenied(f"credential:create denied: role(s) {', '.join(extra)} "
                                   "are not among your roles on this project "
                                   f"({', '.join(sorted(allowed))})")
            c = ApplicationCredential(name=name, description=description, user_id=user_id,
                                      project_id=project_id, secret_hash=self.hasher.hash(secret),
                                      expires_at=expires_at, roles=role_rows)
            s.add(c)
            self._flush(s, f"credential {name!r}")
            return {**self.credential_dict(c), "secret": secret}

    @staticmethod
    def credential_dict(c: ApplicationCredential) -> dict:
        return {"id": c.id, "name": c.name, "user": c.user.name if c.user else c.user_id,
                "project": c.project.name if c.project else c.project_id,
                "roles": sorted(r.name for r in c.roles),
                "expires_at": c.expires_at.isoformat(timespec="seconds") if c.expires_at
                else None, "description": c.description}

    def list_credentials(self, user_id: str | None) -> list[dict]:
        with self.db.transaction() as s:
            q = select(ApplicationCredential).order_by(ApplicationCredential.name)
            if user_id is not None:
                q = q.where(ApplicationCredential.user_id == user_id)
            return [self.credential_dict(c) for c in s.scalars(q)]

    def find_credential(self, s: Session, ref: str, user_id: str | None) -> ApplicationCredential:
        check_ref(ref, "credential")
        q = select(ApplicationCredential).where(
            (ApplicationCredential.id == ref) | (ApplicationCredential.name == ref))
        if user_id is not None:
            q = q.where(ApplicationCredential.user_id == user_id)
        c = s.scalars(q).first()
        if c is None:
            raise NotFound(f"credential {ref!r} not found")
        return c

    def credential_owner(self, ref: str) -> str:
        with self.db.transaction() as s:
            return self.find_credential(s, ref, None).user_id

    def delete_credential(self, ref: str, user_id: str | None) -> dict:
        with self.db.transaction() as s:
            c = self.find_credential(s, ref, user_id)
            out = self.credential_dict(c)
            s.execute(delete(Token).where(Token.credential_id == c.id))
            s.delete(c)
            return out

    def token_lifetime(self) -> timedelta:
        return timedelta(hours=float(self.settings.token_lifetime_hours))
