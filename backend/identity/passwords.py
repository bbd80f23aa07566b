"""Password and secret hashing (argon2id) and the password strength rule.

Passwords are never logged and never stored: only argon2id hashes. The production
parameters are argon2-cffi's defaults (RFC 9106 "low memory": 64 MiB, 3 passes); tests
may choose the ``fast`` profile through ``settings.password_hash_profile``.
"""
from __future__ import annotations

import hashlib
import secrets

from backend.errors import ConfigError, InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing a megabyte-long "password" is a denial of service, not security

PROFILES = {
    "default": dict(),  # argon2-cffi defaults: argon2id, t=3, m=64 MiB, p=4
    "fast": dict(time_cost=1, memory_cost=8, parallelism=1),  # tests only
}


def make_hasher(profile: str = "default") -> "Hasher":
    if profile not in PROFILES:
        raise ConfigError(f"unknown password hash profile {profile!r} "
                          f"(expected one of {', '.join(PROFILES)})")
    return Hasher(profile)


class Hasher:
    """argon2 is imported when a password is first hashed or checked: a face started from
    a cached token never loads it."""

    def __init__(self, profile: str):
        self._profile = profile
        self._ph_obj = None
        self._dummy_hash: str | None = None

    @property
    def _ph(self):
        if self._ph_obj is None:
            from argon2 import PasswordHasher, Type
            self._ph_obj = PasswordHasher(type=Type.ID, **PROFILES[self._profile])
        return self._ph_obj

    @property
    def _dummy(self) -> str:
        """Verified against when the user does not exist, so both paths cost the same."""
        if self._dummy_hash is None:
            self._dummy_hash = self._ph.hash("not a real password")
        return self._dummy_hash

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
        try:
            return self._ph.verify(stored or self._dummy, secret) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_strength(password: object, username: str | None = None) -> str:
    """Return the password if it passes the rule, else InvalidInput naming the rule failed.

    Rule: 8 to 1024 characters, at least two kinds of character among lower case, upper
    case, digits and others, and not the user name."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("password must not be empty")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password too short: {len(password)} characters, "
                           f"at least {MIN_LENGTH} needed")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password too long: at most {MAX_LENGTH} characters")
    kinds = {("lower" if c.islower() else "upper" if c.isupper() else
              "digit" if c.isdigit() else "other") for c in password}
    if len(kinds) < 2:
        raise InvalidInput(f"password too weak: only {next(iter(kinds))} characters; mix at "
                           "least two of lower case, upper case, digits and symbols")
    if username and password.lower() == username.lower():
        raise InvalidInput("password too weak: it is the user name")
    return password


def new_secret() -> str:
    """256 random bits, URL-safe; never starting with '-', so that a token or secret given
    on a command line is not mistaken for an option."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def token_hash(token: str) -> str:
    """The stored form of a bearer token: SHA-256 hex (tokens are 256 random bits, so a
    fast hash is enough; passwords get argon2id)."""
    return hashlib.sha256(token.encode()).hexdigest()

