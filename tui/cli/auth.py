"""How the CLI finds out who is calling, like the openstack CLI.

In order: ``VIRTSTACK_TOKEN``; ``VIRTSTACK_APPLICATION_CREDENTIAL_ID`` +
``VIRTSTACK_APPLICATION_CREDENTIAL_SECRET``; ``VIRTSTACK_USERNAME`` + ``VIRTSTACK_PASSWORD``
(+ ``VIRTSTACK_PROJECT``); the token ``virtstack login`` cached in a 0600 file under the
state dir. The demo cloud needs none of these: on first use it bootstraps itself with a
random admin password kept in a 0600 file under its data dir and logs in as that admin,
caching the token in ``state_dir/demo-token`` (apart from the real ``state_dir/token``).
"""
from __future__ import annotations

import getpass
import json
import os
import secrets
import sys
from pathlib import Path

from backend.api.context import RequestContext
from backend.errors import AuthenticationFailed, InvalidInput

TOKEN_FILE = "token"
DEMO_TOKEN_FILE = "demo-token"
DEMO_PASSWORD_FILE = "demo-admin-password"
NO_CREDENTIALS = ("no credentials: run `virtstack login` or set "
                  "VIRTSTACK_USERNAME/VIRTSTACK_PASSWORD")


# -- private files ---------------------------------------------------------------------------
def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write a file only its owner can read (0600), atomically unless ``exclusive``
    (then FileExistsError if it is already there)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_secret_file(path: str | os.PathLike, what: str = "password") -> str:
    """The first line of a file, without its line end."""
    try:
        text = Path(path).expanduser().read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} file {path}: {exc.strerror}") from None
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise InvalidInput(f"the {what} file {path} is empty")
    return secret


# -- the token cache ---------------------------------------------------------------------------
def token_cache_path(settings) -> Path:
    return Path(settings.state_dir) / (DEMO_TOKEN_FILE if settings.demo else TOKEN_FILE)


def save_token(settings, token: str, info: dict) -> Path:
    path = token_cache_path(settings)
    write_private(path, json.dumps({"token": token, "db_url": settings.resolved_db_url(),
                                    **info}, indent=2))
    return path


def load_token(settings) -> dict | None:
    """The cached login for this cloud (same state database), or None."""
    try:
        data = json.loads(token_cache_path(settings).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return None
    if data.get("db_url") != settings.resolved_db_url():
        return None
    return data


def clear_token(settings) -> bool:
    try:
        token_cache_path(settings).unlink()
        return True
    except FileNotFoundError:
        return False


# -- passwords -----------------------------------------------------------------------------
def caller_password(password_file: str | None = None, prompt: str = "Password: ") -> str:
    """The caller's password: --password-file, VIRTSTACK_PASSWORD, or a prompt."""
    if password_file:
        return read_secret_file(password_file)
    if os.environ.get("VIRTSTACK_PASSWORD"):
        return os.environ["VIRTSTACK_PASSWORD"]
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt)
    raise AuthenticationFailed("no password: use --password-file, set VIRTSTACK_PASSWORD "
                               "or run in a terminal to be prompted")


def new_password(password_file: str | None, what: str = "new password") -> str:
    """A password being set: from --password-file, or typed twice at a prompt."""
    if password_file:
        return read_secret_file(password_file)
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"{what.capitalize()}: ")
        if getpass.getpass(f"Repeat the {what}: ") != first:
            raise InvalidInput("the passwords typed do not match")
        return first
    raise InvalidInput(f"no {what}: use --password-file FILE (or run in a terminal)")


# -- the demo cloud --------------------------------------------------------------------------
def demo_password_path(settings) -> Path:
    return Path(settings.data_dir) / DEMO_PASSWORD_FILE


def demo_login(identity, settings, *, quiet: bool = False) -> tuple[str, dict]:
    """Bootstrap the demo cloud if needed (random admin password in a 0600 file) and log in
    as its admin; the token is cached in the demo token file. The first time, say on stderr
    where the password is (unless ``quiet``: JSON output keeps stderr machine-readable)."""
    path = demo_password_path(settings)
    if not path.exists():
        password = secrets.token_urlsafe(18) + "-Vs1"  # always passes the strength rule
        try:
            write_private(path, password + "\n", exclusive=True)
        except FileExistsError:  # another process got there first
            pass
    password = read_secret_file(path, "demo admin password")
    result = identity.bootstrap(password)
    if result["created"] and not quiet:
        print(f"virtstack: demo cloud ready; its admin (user admin, project admin) password "
              f"is in {path}", file=sys.stderr)
    token, info = identity.authenticate("admin", password, "admin")
    save_token(settings, token, info)
    return token, info


# -- resolve the caller ---------------------------------------------------------------------
def resolve_context(env) -> RequestContext:
    settings = env.settings
    identity = env.cloud.identity
    environ = os.environ
    if environ.get("VIRTSTACK_TOKEN"):
        return identity.context_from_token(environ["VIRTSTACK_TOKEN"])
    if environ.get("VIRTSTACK_APPLICATION_CREDENTIAL_ID"):
        secret = environ.get("VIRTSTACK_APPLICATION_CREDENTIAL_SECRET")
        if not secret:
            raise AuthenticationFailed("VIRTSTACK_APPLICATION_CREDENTIAL_ID is set but "
                                       "VIRTSTACK_APPLICATION_CREDENTIAL_SECRET is not")
        token, _ = identity.authenticate_credential(
            environ["VIRTSTACK_APPLICATION_CREDENTIAL_ID"], secret)
        return identity.context_from_token(token)
    if environ.get("VIRTSTACK_USERNAME"):
        if not environ.get("VIRTSTACK_PASSWORD"):
            raise AuthenticationFailed("VIRTSTACK_USERNAME is set but VIRTSTACK_PASSWORD is not")
        token, _ = identity.authenticate(environ["VIRTSTACK_USERNAME"],
                                         environ["VIRTSTACK_PASSWORD"],
                                         environ.get("VIRTSTACK_PROJECT") or None)
        return identity.context_from_token(token)
    cached = load_token(settings)
    if cached:
        try:
            return identity.context_from_token(cached["token"])
        except AuthenticationFailed as exc:
            if not settings.demo:
                raise AuthenticationFailed(
                    f"the cached login in {token_cache_path(settings)} is no longer valid "
                    f"({exc.message}): run `virtstack login`") from None
    if settings.demo:
        quiet = getattr(env.args, "format", None) == "json"
        token, _ = demo_login(identity, settings, quiet=quiet)
        ctx = identity.context_from_token(token)
        from backend.virt.demo import seed_demo_images
        seed_demo_images(env.cloud, ctx)
        return ctx
    raise AuthenticationFailed(NO_CREDENTIALS)
