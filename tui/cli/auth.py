"""How the CLI finds out who is calling. (Identity work replaces this with real tokens.)"""
from __future__ import annotations

from backend.api.context import RequestContext


def resolve_context(env) -> RequestContext:
    return RequestContext.system()
