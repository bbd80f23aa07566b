"""The rule language, operator overrides, and start-up failures on bad policy."""
import json

import pytest

from backend.api.context import RequestContext
from backend.api.identity import IdentityAPI
from backend.errors import ConfigError, PolicyDenied
from backend.identity.policy import Policy, parse_rule

CTX = RequestContext("u1", "bob", "p1", "proj", ("member",))


@pytest.mark.parametrize("rule, target, expected", [
    ("@", {}, True), ("!", {}, False), ("", {}, True),
    ("role:member", {}, True), ("role:MEMBER", {}, True), ("role:admin", {}, False),
    ("role:reader", {}, True),  # implied by member
    ("project_id:%(project_id)s", {"project_id": "p1"}, True),
    ("project_id:%(project_id)s", {"project_id": "p2"}, False),
    ("project_id:%(owner)s", {}, False),
    ("user_name:'bob'", {}, True), ("user_name:bob", {}, True), ("is_admin:False", {}, True),
    ("not role:admin", {}, True), ("role:admin or role:member", {}, True),
    ("role:admin and role:member", {}, False),
    ("not (role:admin or role:member)", {}, False),
    ("role:admin or role:member and project_id:%(project_id)s", {"project_id": "p2"}, False),
    ("(role:admin or role:member) and not !", {}, True),
    ("rule:admin_or_member", {"project_id": "p1"}, True),
])
def test_rule_language(rule, target, expected):
    policy = Policy({"server:list": rule})
    assert policy.allowed(CTX, "server:list", target) is expected


@pytest.mark.parametrize("rule, words", [
    ("role:", "not a check"), ("role:a and", "ends too early"), ("(role:a", "missing"),
    ("role:a)", "unexpected"), ("foo", "not a check"), ("rule:nope", "not defined"),
    ("x:%(y", "reference is written"), ("and role:a", "unexpected"),
])
def test_malformed_rules_fail_at_load(rule, words):
    with pytest.raises(ConfigError, match=words):
        Policy({"server:list": rule})


def test_rule_loops_are_refused():
    with pytest.raises(ConfigError, match="loop"):
        Policy({"a": "rule:b", "b": "rule:a"})


def test_unknown_action_is_refused():
    with pytest.raises(ConfigError, match="unknown action 'server:lsit'"):
        Policy({"server:lsit": "@"})


def test_operator_yaml_file_overrides(tmp_path, settings, clock):
    f = tmp_path / "policy.yaml"
    f.write_text("# readers may not list servers here\n"
                 "server:list: rule:admin_or_member\n"
                 "ops: role:ops\n"
                 "host:probe: rule:ops or rule:admin_required\n")
    settings.policy_file = str(f)
    api = IdentityAPI(settings, clock=clock)
    try:
        reader = RequestContext("u", "r", "p1", "p", ("reader",))
        ops = RequestContext("u", "o", "p1", "p", ("ops",))
        with pytest.raises(PolicyDenied, match="server:list.*admin_or_member"):
            api.authorize(reader, "server:list", {"project_id": "p1"})
        api.authorize(ops, "host:probe")
        assert not api.policy.allowed(ops, "host:enable")  # defaults still apply
    finally:
        api.close()


@pytest.mark.parametrize("name, text, words", [
    ("p.yaml", "server:list: role:admin and\n", "malformed"),
    ("p.yaml", "server:lsit: '@'\n", "unknown action"),
    ("p.yaml", "- a list\n", "mapping"),
    ("p.yaml", "a: [1\n", "cannot parse"),
    ("p.json", json.dumps({"server:list": 3}), "must be a string"),
    ("missing.yaml", None, "No such file"),
])
def test_bad_policy_file_stops_start_up(tmp_path, settings, clock, name, text, words):
    f = tmp_path / name
    if text is not None:
        f.write_text(text)
    settings.policy_file = str(f)
    with pytest.raises(ConfigError, match=words):
        IdentityAPI(settings, clock=clock)


def test_parse_keeps_target_references_whole():
    assert str(parse_rule("(role:a or project_id:%(project_id)s)")) == \
        "(role:a or project_id:%(project_id)s)"
