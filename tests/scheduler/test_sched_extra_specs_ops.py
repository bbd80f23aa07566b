import pytest

from backend.scheduler.extra_specs_ops import match


@pytest.mark.parametrize("value,req,expected", [
    ("Intel", "Intel", True), ("Intel", "AMD", False),           # bare value: string equality
    ("123", "= 123", True), ("124", "= 123", True), ("122", "= 123", False),  # = means >=
    ("12", "== 12.0", True), ("12", "== 13", False),
    ("12", "!= 13", True), ("12", "!= 12", False),
    ("12", ">= 12", True), ("11", ">= 12", False),
    ("12", "<= 12", True), ("13", "<= 12", False),
    ("abc", "s== abc", True), ("abc", "s== abd", False),
    ("abc", "s!= abd", True), ("abc", "s!= abc", False),
    ("abc", "s< abd", True), ("abd", "s< abc", False),
    ("abc", "s<= abc", True), ("abd", "s<= abc", False),
    ("abd", "s> abc", True), ("abc", "s> abc", False),
    ("abc", "s>= abc", True), ("abb", "s>= abc", False),
    ("aes vmx sse", "<in> vmx", True), ("aes sse", "<in> vmx", False),
    ("aes vmx sse", "<all-in> vmx aes", True), ("aes sse", "<all-in> vmx aes", False),
    (["vmx", "aes"], "<in> vmx", True), (["vmxx"], "<in> vmx", False),
    ("b", "<or> a <or> b <or> c", True), ("d", "<or> a <or> b <or> c", False),
    ("x", "= not-a-number", False), ("12", ">=", False),        # malformed never matches
])
def test_operators(value, req, expected):
    assert match(value, req) is expected


def test_missing_value_never_matches():
    assert not match(None, "s== a")
    assert not match(None, "<or> a <or> b")
    assert not match(None, "a")
