"""virtstack login|logout|bootstrap and the identity families, shaped like the openstack CLI:
project, user, role (+ add/remove/assignment list), token, credential, catalog, audit."""
from __future__ import annotations

import os
import sys

from backend.errors import InvalidInput
from tui.cli import auth


def _id(env):
    return env.cloud.identity


# -- login / logout / bootstrap -------------------------------------------------------------
def login(env):
    a, settings = env.args, env.settings
    identity = _id(env)
    username = a.username or os.environ.get("VIRTSTACK_USERNAME")
    if not username and settings.demo and not a.password_file:
        _, info = auth.demo_login(identity, settings)
    else:
        if not username:
            if sys.stdin is None or not sys.stdin.isatty():
                raise InvalidInput("no user name: use --username or set VIRTSTACK_USERNAME")
            username = input("Username: ").strip()
        password = auth.caller_password(a.password_file)
        token, info = identity.authenticate(username, password,
                                            a.project or os.environ.get("VIRTSTACK_PROJECT"))
        auth.save_token(settings, token, info)
    return {**{k: info[k] for k in ("user", "project", "roles", "expires_at")},
            "token_cache": str(auth.token_cache_path(settings))}


def logout(env):
    settings = env.settings
    cached = auth.load_token(settings)
    revoked = False
    if cached:
        identity = _id(env)
        try:
            ctx = identity.context_from_token(cached["token"])
            identity.tokens.revoke(ctx, cached["token"])
            revoked = True
        except Exception:  # noqa: BLE001 - an expired token needs no revoking
            pass
    removed = auth.clear_token(settings)
    return {"logged_out": removed, "token_revoked": revoked,
            "token_cache": str(auth.token_cache_path(settings))}


def bootstrap(env):
    a = env.args
    password = auth.new_password(a.admin_password_file, "admin password")
    return _id(env).bootstrap(password, a.admin_user)


# -- helpers ------------------------------------------------------------------------------------
def _enabled(args) -> bool | None:
    return True if args.enable else False if args.disable else None


def _add_enable(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--enable", action="store_true", help="enable")
    g.add_argument("--disable", action="store_true", help="disable")


def _family(sub, name: str, help_: str):
    p = sub.add_parser(name, help=help_)
    return p.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)


def register(sub) -> None:
    p = sub.add_parser("login", help="log in and cache a token (0600 file in the state dir)")
    p.add_argument("--username", "-u", help="user name (default $VIRTSTACK_USERNAME)")
    p.add_argument("--project", "-p", help="project to scope the token to")
    p.add_argument("--password-file", help="read the password from this file "
                   "(default $VIRTSTACK_PASSWORD, else a prompt)")
    p.set_defaults(func=login)

    p = sub.add_parser("logout", help="revoke and forget the cached token")
    p.set_defaults(func=logout)

    p = sub.add_parser("bootstrap", help="create the admin user, admin project and built-in "
                       "roles (idempotent)")
    p.add_argument("--admin-password-file", help="file holding the admin password "
                   "(default: prompt)")
    p.add_argument("--admin-user", default="admin", help="admin user name (default admin)")
    p.set_defaults(func=bootstrap, columns=["user", "project", "created"])

    # projects
    ps = _family(sub, "project", "projects (tenants)")
    p = ps.add_parser("create", help="create a project")
    p.add_argument("name")
    p.add_argument("--description")
    p.set_defaults(func=lambda env: _id(env).projects.create(env.ctx, env.args.name,
                                                             env.args.description))
    p = ps.add_parser("list", help="list projects (yours, or all for an admin)")
    p.set_defaults(func=lambda env: _id(env).projects.list(env.ctx))
    p = ps.add_parser("show", help="show a project")
    p.add_argument("project")
    p.set_defaults(func=lambda env: _id(env).projects.show(env.ctx, env.args.project))
    p = ps.add_parser("set", help="change a project")
    p.add_argument("project")
    p.add_argument("--description")
    _add_enable(p)
    p.set_defaults(func=lambda env: _id(env).projects.set(
        env.ctx, env.args.project, enabled=_enabled(env.args),
        description=env.args.description))
    p = ps.add_parser("delete", help="delete a project")
    p.add_argument("project")
    p.set_defaults(func=lambda env: _id(env).projects.delete(env.ctx, env.args.project))

    # users
    us = _family(sub, "user", "users (people and services)")
    p = us.add_parser("create", help="create a user")
    p.add_argument("name")
    p.add_argument("--password-file", help="file holding the password (default: prompt)")
    p.add_argument("--project", help="default project")
    p.add_argument("--disable", action="store_true", help="create disabled")
    p.set_defaults(func=lambda env: _id(env).users.create(
        env.ctx, env.args.name, auth.new_password(env.args.password_file, "password"),
        project=env.args.project, enabled=not env.args.disable))
    p = us.add_parser("list", help="list users")
    p.set_defaults(func=lambda env: _id(env).users.list(env.ctx))
    p = us.add_parser("show", help="show a user")
    p.add_argument("user")
    p.set_defaults(func=lambda env: _id(env).users.show(env.ctx, env.args.user))
    p = us.add_parser("set", help="enable/disable, new password, default project")
    p.add_argument("user")
    p.add_argument("--password-file", help="file holding the new password")
    p.add_argument("--original-password-file",
                   help="your current password (needed to change your own password)")
    p.add_argument("--project", help="new default project")
    _add_enable(p)
    p.set_defaults(func=_user_set)
    p = us.add_parser("delete", help="delete a user")
    p.add_argument("user")
    p.set_defaults(func=lambda env: _id(env).users.delete(env.ctx, env.args.user))

    # roles and assignments
    rs = _family(sub, "role", "roles and role assignments")
    p = rs.add_parser("create", help="create a role")
    p.add_argument("name")
    p.set_defaults(func=lambda env: _id(env).roles.create(env.ctx, env.args.name))
    p = rs.add_parser("list", help="list roles")
    p.set_defaults(func=lambda env: _id(env).roles.list(env.ctx))
    p = rs.add_parser("delete", help="delete a role")
    p.add_argument("role")
    p.set_defaults(func=lambda env: _id(env).roles.delete(env.ctx, env.args.role))
    for verb, help_ in (("add", "give a user a role on a project"),
                        ("remove", "take a role on a project from a user")):
        p = rs.add_parser(verb, help=help_)
        p.add_argument("--user", required=True)
        p.add_argument("--project", required=True)
        p.add_argument("role")
        p.set_defaults(func=_assignment_add if verb == "add" else _assignment_remove)
    ra = rs.add_parser("assignment", help="role assignments")
    ras = ra.add_subparsers(dest="assignment_command", metavar="ACTION", required=True)
    p = ras.add_parser("list", help="list role assignments")
    p.add_argument("--user")
    p.add_argument("--project")
    p.set_defaults(func=lambda env: _id(env).assignments.list(env.ctx, env.args.user,
                                                              env.args.project),
                   columns=["user", "project", "role"])

    # tokens
    ts = _family(sub, "token", "tokens")
    p = ts.add_parser("issue", help="issue a new token for your user and project "
                      "(--project: on another project where you have a role)")
    p.add_argument("--project", help="re-scope to this project (name or id)")
    p.set_defaults(func=lambda env: _id(env).tokens.rescope(env.ctx, env.args.project)
                   if env.args.project else _id(env).tokens.issue(env.ctx))
    p = ts.add_parser("revoke", help="revoke a token (the token or its id)")
    p.add_argument("token")
    p.set_defaults(func=lambda env: _id(env).tokens.revoke(env.ctx, env.args.token))

    # application credentials
    cs = _family(sub, "credential", "application credentials (for scripts and services)")
    p = cs.add_parser("create", help="create an application credential (secret shown once)")
    p.add_argument("name")
    p.add_argument("--role", action="append", dest="roles",
                   help="a role it carries (repeatable; default: all of yours)")
    p.add_argument("--expires-at", help="ISO 8601 time, e.g. 2027-01-31T12:00Z")
    p.add_argument("--description")
    p.set_defaults(func=lambda env: _id(env).credentials.create(
        env.ctx, env.args.name, roles=env.args.roles, expires_at=env.args.expires_at,
        description=env.args.description))
    p = cs.add_parser("list", help="list your application credentials")
    p.add_argument("--user", help="another user's (admin)")
    p.set_defaults(func=lambda env: _id(env).credentials.list(env.ctx, env.args.user))
    p = cs.add_parser("delete", help="delete an application credential")
    p.add_argument("credential")
    p.set_defaults(func=lambda env: _id(env).credentials.delete(env.ctx, env.args.credential))

    # catalog and audit
    cat = _family(sub, "catalog", "services and endpoints")
    p = cat.add_parser("list", help="list services and endpoints")
    p.set_defaults(func=lambda env: _id(env).catalog.list(env.ctx))
    aus = _family(sub, "audit", "the audit log")
    p = aus.add_parser("list", help="list audit records, newest first")
    p.add_argument("--user")
    p.add_argument("--project")
    p.add_argument("--action", help="an action, or a prefix ending in * (server:*)")
    p.add_argument("--outcome", choices=["success", "failure", "denied"])
    p.add_argument("--since", help="ISO 8601 time")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=lambda env: _id(env).audit.list(
        env.ctx, user=env.args.user, project=env.args.project, action=env.args.action,
        outcome=env.args.outcome, since=env.args.since, limit=env.args.limit),
        columns=["time", "user", "project", "action", "target", "outcome", "reason"])


def _user_set(env):
    a = env.args
    password = auth.read_secret_file(a.password_file) if a.password_file else None
    original = (auth.read_secret_file(a.original_password_file, "original password")
                if a.original_password_file else None)
    if password is None and _enabled(a) is None and a.project is None:
        raise InvalidInput("nothing to change: give --enable, --disable, --password-file "
                           "or --project")
    return _id(env).users.set(env.ctx, a.user, enabled=_enabled(a), password=password,
                              project=a.project, original_password=original)


def _assignment_add(env):
    a = env.args
    return _id(env).assignments.add(env.ctx, a.user, a.project, a.role)


def _assignment_remove(env):
    a = env.args
    return _id(env).assignments.remove(env.ctx, a.user, a.project, a.role)
