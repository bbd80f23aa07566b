"""Policy: which roles may do which action, in oslo.policy's rule language.

Rules::

    @                       always            !   never ("" is also always)
    role:admin              the caller holds the role (roles imply: admin > member > reader)
    rule:admin_or_member    another named rule
    project_id:%(project_id)s   a caller attribute equals a target attribute
    is_admin:True           a caller attribute equals a literal ('text', True, False)
    not A, A and B, A or B, ( ... )    precedence: not, and, or

Built-in defaults below; an operator file (YAML or JSON: ``{action: rule}``) overrides
them. Every action in the file must be one virtstack knows, every rule must parse and
every ``rule:`` reference must exist, or loading fails with ConfigError -- a typo never
becomes an open door. Names without a colon define reusable rules (aliases).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from backend.api.context import RequestContext
from backend.errors import ConfigError, PolicyDenied
from backend.identity.models import expand_roles

log = logging.getLogger(__name__)

# --- built-in defaults -------------------------------------------------------------------
ALIASES = {
    "admin_required": "role:admin",
    "authenticated": "role:reader",
    "project_reader": "role:reader and project_id:%(project_id)s",
    "project_member": "role:member and project_id:%(project_id)s",
    "admin_or_reader": "rule:admin_required or rule:project_reader",
    "admin_or_member": "rule:admin_required or rule:project_member",
    "admin_or_owner": "rule:admin_required or project_id:%(project_id)s",
    "admin_or_self": "rule:admin_required or user_id:%(user_id)s",
    # What an action the code asks about but this table does not know falls back to.
    "default": "rule:admin_required",
}

_READ, _MEMBER, _ADMIN, _ANY = ("rule:admin_or_reader", "rule:admin_or_member",
                                "rule:admin_required", "rule:authenticated")
_SELF = "rule:admin_or_self"


def _family(name: str, rules: Mapping[str, str]) -> dict[str, str]:
    return {f"{name}:{verb}": rule for verb, rule in rules.items()}


ACTIONS: dict[str, str] = {
    **_family("server", {
        "list": _READ, "show": _READ, "list:all_projects": _ADMIN, "console": _MEMBER,
        "create": _MEMBER, "start": _MEMBER, "stop": _MEMBER, "reboot": _MEMBER,
        "suspend": _MEMBER, "resume": _MEMBER, "pause": _MEMBER, "unpause": _MEMBER,
        "destroy": _MEMBER, "delete": _MEMBER, "rename": _MEMBER, "resize": _MEMBER,
        "rebuild": _MEMBER, "snapshot": _MEMBER, "attach": _MEMBER, "detach": _MEMBER,
        "adopt": _ADMIN, "migrate": _ADMIN, "live_migrate": _ADMIN, "evacuate": _ADMIN}),
    **_family("host", {
        "list": _ANY, "show": _ANY, "probe": _ADMIN, "enable": _ADMIN, "disable": _ADMIN,
        "add": _ADMIN, "remove": _ADMIN, "connect": _ADMIN, "disconnect": _ADMIN,
        "evacuate": _ADMIN}),
    **_family("flavor", {"list": _ANY, "show": _ANY, "create": _ADMIN, "delete": _ADMIN,
                         "set": _ADMIN, "access": _ADMIN}),
    **_family("image", {"list": _ANY, "show": _ANY, "create": _MEMBER, "upload": _MEMBER,
                        "download": _READ, "set": _MEMBER, "delete": _MEMBER}),
    **_family("quota", {"show": _READ, "list": _ADMIN, "set": _ADMIN, "delete": _ADMIN}),
    **_family("volume", {"list": _READ, "show": _READ, "create": _MEMBER, "delete": _MEMBER,
                         "attach": _MEMBER, "detach": _MEMBER, "resize": _MEMBER,
                         "clone": _MEMBER, "upload": _MEMBER, "download": _READ,
                         "snapshot": _MEMBER, "wipe": _MEMBER, "adopt": _ADMIN}),
    **_family("pool", {"list": _ANY, "show": _ANY, "create": _ADMIN, "delete": _ADMIN,
                       "start": _ADMIN, "stop": _ADMIN, "refresh": _ADMIN,
                       "autostart": _ADMIN}),
    **_family("network", {"list": _ANY, "show": _ANY, "create": _ADMIN, "delete": _ADMIN,
                          "start": _ADMIN, "stop": _ADMIN, "update": _ADMIN,
                          "bridge": _ADMIN, "vlan": _ADMIN, "autostart": _ADMIN}),
    **_family("user", {"list": _ADMIN, "show": _SELF, "create": _ADMIN, "set": _ADMIN,
                       "password": _SELF, "delete": _ADMIN}),
    **_family("project", {"list": _ANY, "show": _READ, "create": _ADMIN, "set": _ADMIN,
                          "delete": _ADMIN}),
    **_family("role", {"list": _ANY, "create": _ADMIN, "delete": _ADMIN}),
    **_family("assignment", {"list": _SELF, "create": _ADMIN, "delete": _ADMIN}),
    **_family("token", {"issue": _ANY, "revoke": _SELF}),
    **_family("credential", {"list": _SELF, "show": _SELF, "create": _SELF,
                             "delete": _SELF}),
    "catalog:list": _ANY,
    "audit:list": _ADMIN,
    "scheduler:simulate": _ADMIN,
}
# Actions that change nothing (the audit log records every other one).
READ_ONLY_VERBS = {"list", "show", "console", "download", "simulate", "list:all_projects"}


def is_mutating(action: str) -> bool:
    return action.split(":", 1)[1] not in READ_ONLY_VERBS if ":" in action else True


# --- the rule language -------------------------------------------------------------------
class Check:
    def __call__(self, creds: Mapping[str, Any], target: Mapping[str, Any],
                 rules: Mapping[str, "Check"]) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Const(Check):
    value: bool

    def __call__(self, creds, target, rules):
        return self.value

    def __str__(self):
        return "@" if self.value else "!"


@dataclass(frozen=True)
class Not(Check):
    inner: Check

    def __call__(self, creds, target, rules):
        return not self.inner(creds, target, rules)

    def __str__(self):
        return f"not {self.inner}"


@dataclass(frozen=True)
class And(Check):
    parts: tuple[Check, ...]

    def __call__(self, creds, target, rules):
        return all(p(creds, target, rules) for p in self.parts)

    def __str__(self):
        return "(" + " and ".join(map(str, self.parts)) + ")"


@dataclass(frozen=True)
class Or(Check):
    parts: tuple[Check, ...]

    def __call__(self, creds, target, rules):
        return any(p(creds, target, rules) for p in self.parts)

    def __str__(self):
        return "(" + " or ".join(map(str, self.parts)) + ")"


@dataclass(frozen=True)
class RuleRef(Check):
    name: str

    def __call__(self, creds, target, rules):
        return rules[self.name](creds, target, rules)

    def __str__(self):
        return f"rule:{self.name}"


@dataclass(frozen=True)
class RoleCheck(Check):
    role: str

    def __call__(self, creds, target, rules):
        return self.role.lower() in (r.lower() for r in creds.get("roles", ()))

    def __str__(self):
        return f"role:{self.role}"


_SUBST = re.compile(r"^%\((\w+)\)s$")


@dataclass(frozen=True)
class GenericCheck(Check):
    """``KEY:VALUE``: creds[KEY] equals VALUE, where VALUE is ``%(attr)s`` (from the
    target), a quoted string, True, False or a bare word."""

    key: str
    value: str

    def __call__(self, creds, target, rules):
        if self.key not in creds or creds[self.key] is None:
            return False
        have = creds[self.key]
        m = _SUBST.match(self.value)
        if m:
            want = target.get(m.group(1))
            return want is not None and str(have) == str(want)
        if self.value in ("True", "False"):
            return bool(have) is (self.value == "True")
        want = self.value[1:-1] if self.value[:1] in "'\"" else self.value
        return str(have) == want

    def __str__(self):
        return f"{self.key}:{self.value}"


def _tokens(text: str) -> list[str]:
    """Split on white space, then peel parentheses off the ends of each word (as oslo.policy
    does), so ``(role:a`` is two tokens but ``%(project_id)s`` stays whole."""
    out: list[str] = []
    for word in text.split():
        lead = len(word) - len(word.lstrip("("))
        out.extend("(" * lead)
        word = word[lead:]
        trail = len(word) - len(word.rstrip(")"))
        if word[:trail and -trail or None]:
            out.append(word[:-trail] if trail else word)
        out.extend(")" * trail)
    return out


def parse_rule(text: str) -> Check:
    """Parse one rule; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a rule must be a string, not {type(text).__name__}")
    toks = _tokens(text)
    if not toks:
        return Const(True)  # oslo: the empty rule always passes
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise ValueError("rule ends too early")
        pos += 1
        return tok

    def parse_or() -> Check:
        parts = [parse_and()]
        while peek() == "or":
            take()
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and() -> Check:
        parts = [parse_not()]
        while peek() == "and":
            take()
            parts.append(parse_not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not() -> Check:
        if peek() == "not":
            take()
            return Not(parse_not())
        return parse_atom()

    def parse_atom() -> Check:
        tok = take()
        if tok == "(":
            inner = parse_or()
            if peek() != ")":
                raise ValueError("missing ')'")
            take()
            return inner
        if tok in ("@", "!"):
            return Const(tok == "@")
        if tok in (")", "and", "or", "not"):
            raise ValueError(f"unexpected {tok!r}")
        key, sep, value = tok.partition(":")
        if not sep or not key or not value:
            raise ValueError(f"{tok!r} is not a check (expected KIND:VALUE, '@' or '!')")
        if key == "role":
            return RoleCheck(value)
        if key == "rule":
            return RuleRef(value)
        if "%(" in value and not _SUBST.match(value):
            raise ValueError(f"{tok!r}: a target reference is written %(name)s")
        return GenericCheck(key, value)

    check = parse_or()
    if pos != len(toks):
        raise ValueError(f"unexpected {toks[pos]!r}")
    return check


def _refs(check: Check) -> list[str]:
    if isinstance(check, RuleRef):
        return [check.name]
    if isinstance(check, Not):
        return _refs(check.inner)
    if isinstance(check, (And, Or)):
        return [r for p in check.parts for r in _refs(p)]
    return []


def load_policy_file(path: str | Path) -> dict[str, str]:
    path = Path(path).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"policy file {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:  # yaml.YAMLError, json.JSONDecodeError
        raise ConfigError(f"policy file {path}: cannot parse: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path}: expected a mapping of action: rule")
    return data


class Policy:
    """The rules in force. ``enforce(ctx, action, target)`` raises PolicyDenied."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, source: str = "policy"):
        texts: dict[str, str] = {**ALIASES, **ACTIONS}
        for name, rule in (overrides or {}).items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{source}: invalid rule name {name!r}")
            if ":" in name and name not in ACTIONS:
                raise ConfigError(f"{source}: unknown action {name!r} (known actions are "
                                  "listed in backend/identity/policy.py ACTIONS)")
            if not isinstance(rule, str):
                raise ConfigError(f"{source}: {name}: the rule must be a string")
            texts[name] = rule
        self.texts = texts
        self.rules: dict[str, Check] = {}
        for name, text in texts.items():
            try:
                self.rules[name] = parse_rule(text)
            except ValueError as exc:
                raise ConfigError(f"{source}: {name}: malformed rule {text!r}: {exc}") from None
        for name, check in self.rules.items():
            for ref in _refs(check):
                if ref not in self.rules:
                    raise ConfigError(f"{source}: {name}: rule:{ref} is not defined")
        self._check_cycles(source)

    @classmethod
    def from_file(cls, path: str | Path | None) -> "Policy":
        if not path:
            return cls()
        return cls(load_policy_file(path), source=f"policy file {path}")

    def _check_cycles(self, source: str) -> None:
        state: dict[str, int] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ConfigError(f"{source}: rules refer to each other in a loop: "
                                  + " -> ".join([*trail, name]))
            state[name] = 1
            for ref in _refs(self.rules[name]):
                visit(ref, [*trail, name])
            state[name] = 2

        for name in self.rules:
            visit(name, [])

    @staticmethod
    def credentials(ctx: RequestContext) -> dict[str, Any]:
        return {"user_id": ctx.user_id, "user_name": ctx.user_name,
                "project_id": ctx.project_id, "project_name": ctx.project_name,
                "roles": list(expand_roles(ctx.roles)), "is_admin": ctx.is_admin}

    def rule_for(self, action: str) -> str:
        return self.texts.get(action, self.texts["default"])

    def allowed(self, ctx: RequestContext | None, action: str,
                target: Mapping[str, Any] | None = None) -> bool:
        if ctx is None:
            return False
        name = action if action in self.rules else "default"
        if name == "default":
            log.warning("policy: no rule for action %r, using the default rule", action)
        target = dict(target or {})
        target.setdefault("project_id", ctx.project_id)
        return self.rules[name](self.credentials(ctx), target, self.rules)

    def enforce(self, ctx: RequestContext | None, action: str,
                target: Mapping[str, Any] | None = None) -> None:
        if ctx is None:
            raise PolicyDenied(f"{action} denied: no credentials")
        if not self.allowed(ctx, action, target):
            who = ctx.user_name or ctx.user_id or "anonymous"
            raise PolicyDenied(f"{action} denied for {who} (roles: "
                               f"{', '.join(ctx.roles) or 'none'} in project "
                               f"{ctx.project_name or ctx.project_id or '-'}): "
                               f"requires {self.explain(action)}")

    def explain(self, action: str) -> str:
        """The action's rule, with a lone ``rule:X`` spelled out: 'rule:admin_required
        (role:admin)'."""
        text = self.rule_for(action)
        check = self.rules.get(action, self.rules["default"])
        if isinstance(check, RuleRef):
            text += f" ({self.texts[check.name]})"
        return text

    def defaults(self) -> list[dict[str, str]]:
        return [{"action": name, "rule": text} for name, text in self.texts.items()]
