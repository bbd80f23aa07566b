"""Input checks shared by every backend call. Bad input raises InvalidInput, changes nothing."""
from __future__ import annotations

import re

from backend.errors import InvalidInput

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5, "e": 1024**6}
MAX_SIZE_BYTES = 1024**5  # 1 PiB: anything bigger is absurd for a volume


def validate_name(name: object, what: str = "name") -> str:
    """A resource name: 1-63 chars of letters, digits, '.', '_' and '-', starting alphanumeric."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{what} must not be empty")
    if not NAME_RE.match(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        detail = f" (bad characters: {' '.join(repr(c) for c in bad)})" if bad else ""
        if len(name) > 63:
            detail = f" ({len(name)} characters, at most 63)"
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-63 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit{detail}")
    return name


def parse_size(text: object, what: str = "size", default_unit: str = "") -> int:
    """'10G', '512M', '1024' -> bytes. Negative, zero, malformed or > 1 PiB is InvalidInput."""
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = text, default_unit
    else:
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]?)(?:i?B)?\s*", str(text))
        if not m:
            raise InvalidInput(f"invalid {what} {text!r}: expected a number with an optional "
                               "unit K, M, G, T (e.g. 10G)")
        value = float(m.group(1))
        unit = m.group(2) or default_unit
    unit = unit.lower()
    if unit not in _UNITS:
        raise InvalidInput(f"invalid {what} {text!r}: unknown unit {unit!r}")
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise InvalidInput(f"invalid {what} {text!r}: must be greater than zero")
    if size > MAX_SIZE_BYTES:
        raise InvalidInput(f"invalid {what} {text!r}: larger than the 1 PiB limit")
    return size
