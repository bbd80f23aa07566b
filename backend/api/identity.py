"""The identity front door: ``cloud.identity``.

Families hang off it -- ``users``, ``projects``, ``roles``, ``assignments``, ``tokens``,
``credentials``, ``catalog``, ``audit`` -- and each method does policy check -> work ->
audit record -> plain dicts. Logging in: ``authenticate`` / ``authenticate_credential``
return ``(token, context dict)``; ``context_from_token`` turns a token back into the
RequestContext every other call takes.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from backend.api.context import RequestContext
from backend.config import Settings
from backend.db import Database
from backend.errors import (AuthenticationFailed, InvalidInput, NotFound, PolicyDenied,
                            VirtstackError)
from backend.identity.audit import AuditLog
from backend.identity.policy import Policy, is_mutating
from backend.identity.service import IdentityService, check_ref
from backend.identity.tokens import Authenticator, LoginFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


def context_dict(ctx: RequestContext, expires_at: datetime | None = None) -> dict:
    return {"user": ctx.user_name, "user_id": ctx.user_id, "project": ctx.project_name,
            "project_id": ctx.project_id, "roles": list(ctx.roles),
            "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None}


class IdentityAPI:
    def __init__(self, settings: Settings, db: Database | None = None, *,
                 clock: Callable[[], datetime] | None = None, hosts: Callable[[], list] | None
                 = None):
        self.settings = settings
        self.policy = Policy.from_file(settings.policy_file)  # a bad file fails before the DB
        self.db = db or Database(settings.resolved_db_url())
        self.service = IdentityService(self.db, settings,
                                       clock=clock or (lambda: datetime.now(timezone.utc)))
        self.auth = Authenticator(self.service)
        self.audit_log = AuditLog(self.db, lambda: self.service.clock())
        self._hosts = hosts or (lambda: list(settings.hosts))
        self.users = UsersAPI(self)
        self.projects = ProjectsAPI(self)
        self.roles = RolesAPI(self)
        self.assignments = AssignmentsAPI(self)
        self.tokens = TokensAPI(self)
        self.credentials = CredentialsAPI(self)
        self.catalog = CatalogAPI(self)
        self.audit = AuditAPI(self)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.service.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.service.clock = value

    # -- the two hooks every API call goes through -----------------------------------------
    def authorize(self, ctx: RequestContext | None, action: str,
                  target: dict[str, Any] | None = None, label: str | None = None) -> None:
        """Raise PolicyDenied unless ctx may do action on target; a denied mutation is
        audited."""
        try:
            self.policy.enforce(ctx, action, target)
        except PolicyDenied as exc:
            if is_mutating(action):
                self.record(ctx, action, label or _label(target), "denied", exc.message)
            raise

    def record(self, ctx: RequestContext | None, action: str, target: Any, outcome: str,
               reason: str | None = None, *, user_name: str | None = None) -> None:
        try:
            self.audit_log.record(ctx, action, target, outcome, reason, user_name=user_name)
        except VirtstackError:
            raise
        except Exception:  # noqa: BLE001 - an audit failure must be loud, not silent
            log.exception("could not write the audit record for %s", action)
            raise

    def run(self, ctx: RequestContext | None, action: str, target: dict[str, Any] | None,
            label: str, work: Callable[[], T]) -> T:
        """Policy check -> work -> audit (for mutations) -> result."""
        self.authorize(ctx, action, target, label)
        if not is_mutating(action):
            return work()
        try:
            result = work()
        except VirtstackError as exc:
            self.record(ctx, action, label, "failure", exc.message)
            raise
        self.record(ctx, action, label, "success")
        return result

    # -- logging in ------------------------------------------------------------------------
    def authenticate(self, username: str, password: str,
                     project: str | None = None) -> tuple[str, dict]:
        try:
            token, ctx = self.auth.authenticate(username, password, project)
        except LoginFailed as exc:
            self.record(None, "identity:login", f"user {exc.user_name or username!r}"[:255],
                        "failure", exc.reason, user_name=str(exc.user_name or username)[:255])
            raise
        self.record(ctx, "identity:login", f"user {ctx.user_name}", "success")
        return token, context_dict(ctx, self.auth.expiry(ctx.token_id))

    def authenticate_credential(self, credential_id: str, secret: str) -> tuple[str, dict]:
        try:
            token, ctx = self.auth.authenticate_credential(credential_id, secret)
        except LoginFailed as exc:
            self.record(None, "identity:login", f"credential {str(credential_id)[:64]!r}",
                        "failure", exc.reason, user_name=exc.user_name)
            raise
        self.record(ctx, "identity:login", f"credential {credential_id}", "success")
        return token, context_dict(ctx, self.auth.expiry(ctx.token_id))

    def context_from_token(self, token: str) -> RequestContext:
        return self.auth.context_from_token(token)

    def token_info(self, ctx: RequestContext) -> dict:
        return context_dict(ctx, self.auth.expiry(ctx.token_id) if ctx.token_id else None)

    def admin_project_id(self) -> str | None:
        """The project that owns what virtstack did not create (until adopted)."""
        return self.service.admin_project_id()

    def bootstrap(self, admin_password: str, admin_user: str = "admin") -> dict:
        """Create the built-in roles, the admin project and user (idempotent). Needs no
        token: whoever can write the state database is already its master."""
        ctx = RequestContext.system()
        try:
            out = self.service.bootstrap(admin_password, admin_user)
        except VirtstackError as exc:
            self.record(ctx, "identity:bootstrap", f"user {admin_user}", "failure", exc.message)
            raise
        if out["created"]:
            self.record(ctx, "identity:bootstrap", f"user {admin_user}", "success",
                        "created " + ", ".join(out["created"]))
        return out

    def is_bootstrapped(self) -> bool:
        return self.service.is_bootstrapped()

    def close(self) -> None:
        self.db.close()


def _label(target: dict | None) -> str | None:
    if not target:
        return None
    return ", ".join(f"{k}={v}" for k, v in target.items())[:255]


class _Family:
    def __init__(self, api: IdentityAPI):
        self.api = api
        self.svc = api.service


class ProjectsAPI(_Family):
    def create(self, ctx, name: str, description: str | None = None) -> dict:
        return self.api.run(ctx, "project:create", None, f"project {name}",
                            lambda: self.svc.create_project(name, description))

    def list(self, ctx) -> list[dict]:
        self.api.authorize(ctx, "project:list")
        if self.api.policy.allowed(ctx, "project:create"):
            return self.svc.list_projects()
        return self.svc.list_projects(user_id=ctx.user_id)

    def show(self, ctx, ref: str) -> dict:
        p = self.svc.show_project(ref)
        self.api.authorize(ctx, "project:show", {"project_id": p["id"]})
        return p

    def set(self, ctx, ref: str, *, enabled: bool | None = None,
            description: str | None = None) -> dict:
        return self.api.run(ctx, "project:set", None, f"project {ref}",
                            lambda: self.svc.set_project(ref, enabled=enabled,
                                                         description=description))

    def delete(self, ctx, ref: str) -> dict:
        return self.api.run(ctx, "project:delete", None, f"project {ref}",
                            lambda: self.svc.delete_project(ref))


class UsersAPI(_Family):
    def create(self, ctx, name: str, password: str, *, project: str | None = None,
               enabled: bool = True) -> dict:
        return self.api.run(ctx, "user:create", None, f"user {name}",
                            lambda: self.svc.create_user(name, password, project=project,
                                                         enabled=enabled))

    def list(self, ctx) -> list[dict]:
        self.api.authorize(ctx, "user:list")
        return self.svc.list_users()

    def show(self, ctx, ref: str) -> dict:
        u = self.svc.show_user(ref)
        self.api.authorize(ctx, "user:show", {"user_id": u["id"]})
        return u

    def set(self, ctx, ref: str, *, enabled: bool | None = None, password: str | None = None,
            project: str | None = None, original_password: str | None = None) -> dict:
        """Enable/disable, new password, default project. A user may change their own
        password (action ``user:password``) by giving the original one."""
        user_id = self.svc.user_id_of(ref)
        only_password = password is not None and enabled is None and project is None
        if only_password and not self.api.policy.allowed(ctx, "user:set"):
            def work():
                if not self.svc.verify_password(user_id, original_password or ""):
                    raise PolicyDenied("user:password denied: the original password is "
                                       "wrong or missing")
                return self.svc.set_user(user_id, password=password)
            return self.api.run(ctx, "user:password", {"user_id": user_id}, f"user {ref}", work)
        return self.api.run(ctx, "user:set", {"user_id": user_id}, f"user {ref}",
                            lambda: self.svc.set_user(user_id, enabled=enabled,
                                                      password=password,
                                                      default_project=project))

    def delete(self, ctx, ref: str) -> dict:
        return self.api.run(ctx, "user:delete", None, f"user {ref}",
                            lambda: self.svc.delete_user(ref))


class RolesAPI(_Family):
    def create(self, ctx, name: str) -> dict:
        return self.api.run(ctx, "role:create", None, f"role {name}",
                            lambda: self.svc.create_role(name))

    def list(self, ctx) -> list[dict]:
        self.api.authorize(ctx, "role:list")
        return self.svc.list_roles()

    def delete(self, ctx, ref: str) -> dict:
        return self.api.run(ctx, "role:delete", None, f"role {ref}",
                            lambda: self.svc.delete_role(ref))


class AssignmentsAPI(_Family):
    def add(self, ctx, user: str, project: str, role: str) -> dict:
        return self.api.run(ctx, "assignment:create", None, f"{user}/{project}/{role}",
                            lambda: self.svc.add_assignment(user, project, role))

    def remove(self, ctx, user: str, project: str, role: str) -> dict:
        return self.api.run(ctx, "assignment:delete", None, f"{user}/{project}/{role}",
                            lambda: self.svc.remove_assignment(user, project, role))

    def list(self, ctx, user: str | None = None, project: str | None = None) -> list[dict]:
        """Everyone's (admin) or the caller's own assignments."""
        if ctx is not None and user is None and not self.api.policy.allowed(
                ctx, "assignment:list", {"user_id": None}):
            user = ctx.user_id
        user_id = self.svc.user_id_of(user) if user else None
        self.api.authorize(ctx, "assignment:list", {"user_id": user_id})
        return self.svc.list_assignments(user_id, project)


class TokensAPI(_Family):
    def issue(self, ctx) -> dict:
        """A new token for the caller's user and project (the secret is shown once)."""
        def work():
            token, new = self.api.auth.reissue(ctx)
            return {"token": token, **self.api.token_info(new)}
        return self.api.run(ctx, "token:issue", {"user_id": ctx and ctx.user_id},
                            "token", work)

    def rescope(self, ctx, project: str) -> dict:
        """A token for the caller's user on another project (Keystone's rescope): the user
        needs a role there; the new token is checked like any issue and audited. A token
        from an application credential stays bound to its project."""
        if ctx is None or ctx.token_id is None:
            raise AuthenticationFailed("this session has no token to re-scope: log in again")
        check_ref(project, "project")
        tok = self.api.auth.find_token(ctx.token_id)
        if tok is not None and tok.credential_id:
            raise PolicyDenied("an application credential's token is bound to its project: "
                               "log in with a password to switch projects")
        with self.svc.db.transaction() as s:
            target = self.svc.project(s, project)
            target_id, target_name = target.id, target.name
        import dataclasses
        return self.issue(dataclasses.replace(ctx, project_id=target_id,
                                              project_name=target_name))

    def revoke(self, ctx, token: str) -> dict:
        check_ref(token, "token")
        tok = self.api.auth.find_token(token)
        if tok is None:
            raise NotFound("token not found (give the token itself or its id)")
        return self.api.run(ctx, "token:revoke", {"user_id": tok.user_id},
                            f"token {tok.id[:12]}",
                            lambda: (self.api.auth.revoke(tok.id),
                                     {"id": tok.id, "revoked": True})[1])


def _parse_time(value: str | datetime | None, what: str) -> datetime | None:
    """ISO 8601 text (``Z`` allowed; no zone means UTC) or a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid {what} {value!r}: use ISO 8601, e.g. "
                           "2027-01-31T12:00:00Z") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class CredentialsAPI(_Family):
    def create(self, ctx, name: str, *, roles: list[str] | None = None,
               expires_at: str | datetime | None = None,
               description: str | None = None) -> dict:
        """An application credential for the caller's user and project, with a subset of
        the caller's roles. The secret is in the result once, never again."""
        expiry = _parse_time(expires_at, "expiry")
        return self.api.run(ctx, "credential:create", {"user_id": ctx and ctx.user_id},
                            f"credential {name}",
                            lambda: self.svc.create_credential(
                                ctx.user_id, ctx.project_id, name, roles=roles,
                                allowed_roles=ctx.roles, expires_at=expiry,
                                description=description))

    def list(self, ctx, user: str | None = None) -> list[dict]:
        user_id = self.svc.user_id_of(user) if user else (ctx.user_id if ctx else None)
        self.api.authorize(ctx, "credential:list", {"user_id": user_id})
        return self.svc.list_credentials(user_id)

    def delete(self, ctx, ref: str) -> dict:
        owner = self.svc.credential_owner(ref)
        return self.api.run(ctx, "credential:delete", {"user_id": owner},
                            f"credential {ref}",
                            lambda: self.svc.delete_credential(ref, owner))


class CatalogAPI(_Family):
    def list(self, ctx) -> list[dict]:
        """The services and their endpoints: identity is the state database, compute
        endpoints are the configured hosts."""
        from sqlalchemy.engine import make_url
        self.api.authorize(ctx, "catalog:list")
        rows = [{"service": "identity", "type": "identity", "name": "state-db",
                 "endpoint": make_url(self.api.db.url).render_as_string(hide_password=True),
                 "region": None}]
        for h in self.api._hosts():
            rows.append({"service": "compute", "type": "compute", "name": h.name,
                         "endpoint": h.uri, "region": h.availability_zone})
        return rows


class AuditAPI(_Family):
    def list(self, ctx, *, user: str | None = None, project: str | None = None,
             action: str | None = None, outcome: str | None = None,
             since: str | datetime | None = None, limit: int = 100) -> list[dict]:
        self.api.authorize(ctx, "audit:list")
        return self.api.audit_log.list(user=user, project=project, action=action,
                                       outcome=outcome, since=_parse_time(since, "time"),
                                       limit=limit)
