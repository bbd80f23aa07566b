"""Render plain backend data as a table or JSON."""
from __future__ import annotations

import json
import sys
from typing import Any, Iterable


def print_json(data: Any, stream=None) -> None:
    stream = stream or sys.stdout
    json.dump(data, stream, indent=2, sort_keys=False, default=str)
    stream.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def table(rows: list[dict], columns: Iterable[str] | None = None) -> str:
    if not rows:
        return "(none)"
    cols = list(columns) if columns else list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in cells]
    out.append(line)
    return "\n".join(out)


def render(data: Any, fmt: str, columns: Iterable[str] | None = None) -> None:
    if fmt == "json":
        print_json(data)
        return
    if isinstance(data, list):
        print(table([d if isinstance(d, dict) else {"value": d} for d in data], columns))
    elif isinstance(data, dict):
        rows = [{"Field": k, "Value": _cell(v)} for k, v in data.items()]
        print(table(rows, ["Field", "Value"]))
    else:
        print(data)
