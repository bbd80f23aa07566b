"""Nova's extra-spec operators: does a host's value satisfy a flavor's requirement string?

A requirement is ``"<op> operand..."``; if its first word is not an operator the whole string
must equal the value. Operators:

    =  (numeric >=)  ==  !=  >=  <=        numbers
    s==  s!=  s<  s<=  s>  s>=             strings
    <in> x            x is a substring of the value (or a member, for a list value)
    <all-in> x y ...  every word is in the value
    <or> a <or> b     the value equals one of the alternatives

A missing value never matches; neither does a numeric operator on a non-number.
"""
from __future__ import annotations

import operator
from functools import lru_cache
from typing import Any, Callable


def _num(cmp: Callable[[float, float], bool]) -> Callable[[Any, str], bool]:
    def check(value: Any, operand: str) -> bool:
        try:
            return cmp(float(value), float(operand))
        except (TypeError, ValueError):
            return False
    return check


def _text(cmp: Callable[[str, str], bool]) -> Callable[[Any, str], bool]:
    return lambda value, operand: cmp(str(value), operand)


def _contains(value: Any, operand: str) -> bool:
    if isinstance(value, (list, tuple, set, frozenset)):
        return operand in {str(v) for v in value}
    return operand in str(value)


_BINARY: dict[str, Callable[[Any, str], bool]] = {
    "=": _num(operator.ge),
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": _text(operator.eq),
    "s!=": _text(operator.ne),
    "s<": _text(operator.lt),
    "s<=": _text(operator.le),
    "s>": _text(operator.gt),
    "s>=": _text(operator.ge),
    "<in>": _contains,
}
OPERATORS = (*_BINARY, "<all-in>", "<or>")


@lru_cache(maxsize=1024)
def compile_requirement(req: str) -> Callable[[Any], bool]:
    """The requirement string as a predicate on a host value (parsed once, reused per host)."""
    words = str(req).split()
    op = words[0] if words else None
    operands = words[1:]
    if op == "<or>":
        alternatives = {w for i, w in enumerate(operands) if i % 2 == 0}
        return lambda value: value is not None and str(value) in alternatives
    if op == "<all-in>":
        if not operands:
            return lambda value: False
        return lambda value: value is not None and all(_contains(value, w) for w in operands)
    method = _BINARY.get(op)
    if method is None:
        text = str(req)
        return lambda value: value is not None and str(value) == text
    if not operands:
        return lambda value: False
    operand = operands[0]
    return lambda value: value is not None and method(value, operand)


def match(value: Any, req: object) -> bool:
    """Does ``value`` (a host capability or aggregate metadata value) satisfy ``req``?"""
    return compile_requirement(str(req))(value)
