"""Logging in and tokens.

A token is 256 random bits (``secrets.token_urlsafe(32)``) handed to the client once; the
database keeps only its SHA-256. Tokens are scoped to one project, expire after
``settings.token_lifetime_hours`` and can be revoked. Roles are read afresh at every
validation, so removing a role or disabling a user takes effect at once.

Failed password logins count per user; after ``lockout_failures`` (5) in a row the account
is locked for ``lockout_minutes`` (15). Both are ``Settings`` attributes when present.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.api.context import RequestContext
from backend.errors import AuthenticationFailed
from backend.identity.models import (ApplicationCredential, Project, RoleAssignment, Token,
                                     User, expand_roles)
from backend.identity.passwords import new_secret, token_hash
from backend.identity.service import IdentityService

DEFAULT_LOCKOUT_FAILURES = 5
DEFAULT_LOCKOUT_MINUTES = 15.0
MAX_TOKEN_LEN = 512


class LoginFailed(AuthenticationFailed):
    """What the caller sees (``message``) and what the audit log records (``reason``)."""

    def __init__(self, message: str, reason: str, user_name: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.user_name = user_name


class Authenticator:
    def __init__(self, service: IdentityService):
        self.svc = service

    @property
    def clock(self):
        return self.svc.clock

    @property
    def lockout_failures(self) -> int:
        return int(getattr(self.svc.settings, "lockout_failures", DEFAULT_LOCKOUT_FAILURES))

    @property
    def lockout_duration(self) -> timedelta:
        return timedelta(minutes=float(getattr(self.svc.settings, "lockout_minutes",
                                               DEFAULT_LOCKOUT_MINUTES)))

    # -- password login --------------------------------------------------------------------
    def authenticate(self, username: str, password: str,
                     project: str | None = None) -> tuple[str, RequestContext]:
        """Check the password and issue a token for ``project`` (default: the user's default
        project, or the only project where the user has a role). Raises LoginFailed."""
        if not isinstance(username, str) or not username or len(username) > 255:
            raise LoginFailed("user name must not be empty", "empty or oversized user name")
        if not isinstance(password, str) or len(password) > 4096:
            raise LoginFailed("invalid user name or password", "oversized password", username)
        generic = "invalid user name or password"
        error: LoginFailed | None = None
        with self.svc.db.transaction() as s:
            user = s.scalars(select(User).where(User.name == username)).first()
            now = self.clock()
            if user is None:
                self.svc.hasher.verify(None, password)  # same cost as a real check
                raise LoginFailed(generic, "unknown user", username)
            if user.locked_until and user.locked_until > now:
                raise LoginFailed(
                    f"account {username!r} is locked after {self.lockout_failures} failed "
                    f"logins until {user.locked_until.isoformat(timespec='seconds')}",
                    "account locked", username)
            if not self.svc.hasher.verify(user.password_hash, password):
                user.failed_logins += 1
                reason = f"wrong password ({user.failed_logins} in a row)"
                if user.failed_logins >= self.lockout_failures:
                    user.locked_until = now + self.lockout_duration
                    user.failed_logins = 0
                    reason += f"; locked until {user.locked_until.isoformat(timespec='seconds')}"
                error = LoginFailed(generic, reason, username)
            else:
                user.failed_logins = 0
                user.locked_until = None
        if error is not None:  # the failure count above is committed first
            raise error
        with self.svc.db.transaction() as s:
            user = s.scalars(select(User).where(User.name == username)).one()
            if not user.enabled:
                raise LoginFailed(f"user {username!r} is disabled", "user disabled", username)
            proj = self._choose_project(s, user, project)
            return self._issue(s, user, proj, None)

    def _choose_project(self, s: Session, user: User, ref: str | None) -> Project:
        if ref:
            proj = s.scalars(select(Project).where(
                (Project.name == ref) | (Project.id == ref))).first()
            if proj is None:
                raise LoginFailed(f"project {ref!r} not found", "unknown project", user.name)
            return proj
        if user.default_project_id:
            return s.get(Project, user.default_project_id)
        ids = sorted(set(s.scalars(select(RoleAssignment.project_id)
                                   .where(RoleAssignment.user_id == user.id))))
        if len(ids) == 1:
            return s.get(Project, ids[0])
        if not ids:
            raise LoginFailed(f"user {user.name!r} has no role on any project",
                              "no role assignment", user.name)
        names = sorted(s.get(Project, i).name for i in ids)
        raise LoginFailed(f"user {user.name!r} has roles in several projects "
                          f"({', '.join(names)}): choose one with --project",
                          "no project chosen", user.name)

    def _issue(self, s: Session, user: User, proj: Project,
               cred: ApplicationCredential | None) -> tuple[str, RequestContext]:
        if not proj.enabled:
            raise LoginFailed(f"project {proj.name!r} is disabled", "project disabled", user.name)
        roles = self._roles(s, user, proj, cred)
        if not roles:
            raise LoginFailed(f"user {user.name!r} has no role on project {proj.name!r}",
                              "no role on project", user.name)
        now = self.clock()
        expires = now + self.svc.token_lifetime()
        if cred is not None and cred.expires_at is not None:
            expires = min(expires, cred.expires_at)
        secret = new_secret()
        tok = Token(id=token_hash(secret), user_id=user.id, project_id=proj.id,
                    credential_id=cred.id if cred else None, issued_at=now, expires_at=expires)
        s.add(tok)
        s.flush()
        return secret, self._context(user, proj, roles, tok.id)

    def _roles(self, s: Session, user: User, proj: Project,
               cred: ApplicationCredential | None) -> tuple[str, ...]:
        held = expand_roles(self.svc.roles_on(s, user.id, proj.id))
        if cred is not None:
            granted = set(expand_roles(role.name for role in cred.roles))
            held = tuple(name for name in held if name in granted)
        return held

    @staticmethod
    def _context(user: User, proj: Project, roles, token_id: str | None) -> RequestContext:
        return RequestContext(user_id=user.id, user_name=user.name, project_id=proj.id,
                              project_name=proj.name, roles=tuple(roles), token_id=token_id)

    # -- application credentials -----------------------------------------------------------
    def authenticate_credential(self, cred_id: str, secret: str) -> tuple[str, RequestContext]:
        if not isinstance(cred_id, str) or not cred_id or len(cred_id) > 255 \
                or not isinstance(secret, str) or len(secret) > 1024:
            raise LoginFailed("invalid application credential", "malformed credential")
        with self.svc.db.transaction() as s:
            cred = s.get(ApplicationCredential, cred_id)
            if cred is None or not self.svc.hasher.verify(cred.secret_hash if cred else None,
                                                          secret):
                raise LoginFailed("invalid application credential",
                                  "unknown credential or wrong secret")
            user = cred.user
            if cred.expires_at is not None and cred.expires_at <= self.clock():
                raise LoginFailed(f"application credential {cred.name!r} has expired",
                                  "credential expired", user.name)
            if not user.enabled:
                raise LoginFailed(f"user {user.name!r} is disabled", "user disabled", user.name)
            return self._issue(s, user, cred.project, cred)

    # -- tokens ----------------------------------------------------------------------------
    def context_from_token(self, token: str) -> RequestContext:
        """Validate a token (known, not revoked, not expired, user and project enabled,
        still holding a role) and return who it speaks for."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LEN:
            raise AuthenticationFailed("invalid token")
        with self.svc.db.transaction() as s:
            tok = s.get(Token, token_hash(token))
            if tok is None:
                raise AuthenticationFailed("invalid token: not issued by this cloud, or "
                                           "its user or project was deleted")
            user, proj = s.get(User, tok.user_id), s.get(Project, tok.project_id)
            if not user.enabled:
                raise AuthenticationFailed(f"user {user.name!r} is disabled")
            if tok.revoked:
                raise AuthenticationFailed("token has been revoked: log in again")
            if tok.expires_at <= self.clock():
                raise AuthenticationFailed(
                    f"token expired at {tok.expires_at.isoformat(timespec='seconds')}: "
                    "log in again")
            if not proj.enabled:
                raise AuthenticationFailed(f"project {proj.name!r} is disabled")
            cred = s.get(ApplicationCredential, tok.credential_id) if tok.credential_id else None
            if cred is not None and cred.expires_at is not None \
                    and cred.expires_at <= self.clock():
                raise AuthenticationFailed(f"application credential {cred.name!r} has expired")
            roles = self._roles(s, user, proj, cred)
            if not roles:
                raise AuthenticationFailed(f"user {user.name!r} no longer has a role on "
                                           f"project {proj.name!r}")
            return self._context(user, proj, roles, tok.id)

    def find_token(self, token_or_id: str) -> Token | None:
        """A token by its secret or by its id (the SHA-256 the context carries)."""
        if not isinstance(token_or_id, str) or not token_or_id or len(token_or_id) > 512:
            return None
        with self.svc.db.transaction() as s:
            return (s.get(Token, token_or_id) if len(token_or_id) == 64 else None) \
                or s.get(Token, token_hash(token_or_id))

    def revoke(self, token_id: str) -> None:
        with self.svc.db.transaction() as s:
            s.execute(update(Token).where(Token.id == token_id).values(revoked=True))

    def reissue(self, ctx: RequestContext) -> tuple[str, RequestContext]:
        """A fresh token for the caller's own user and project (``token issue``)."""
        with self.svc.db.transaction() as s:
            user, proj = s.get(User, ctx.user_id), s.get(Project, ctx.project_id)
            if user is None or proj is None:
                raise AuthenticationFailed("your user or project no longer exists")
            tok = s.get(Token, ctx.token_id) if ctx.token_id else None
            cred = s.get(ApplicationCredential, tok.credential_id) \
                if tok is not None and tok.credential_id else None
            return self._issue(s, user, proj, cred)

    def expiry(self, token_id: str):
        with self.svc.db.transaction() as s:
            tok = s.get(Token, token_id)
            return tok.expires_at if tok else None
