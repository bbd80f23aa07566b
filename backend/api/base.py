"""What every front-door family shares: policy check -> work -> audit record."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from backend.errors import VirtstackError

if TYPE_CHECKING:
    from backend.api.cloud import Cloud
    from backend.api.context import RequestContext


class APIFamily:
    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud

    @contextlib.contextmanager
    def mutation(self, ctx: "RequestContext", action: str, target: str,
                 policy_target: dict[str, Any] | None = None):
        """Authorise, run the block, and audit its outcome (failure reasons included)."""
        try:
            self.cloud.authorize(ctx, action, policy_target or {})
        except VirtstackError as exc:
            self.cloud.audit(ctx, action, target, "denied", exc.message)
            raise
        try:
            yield
        except VirtstackError as exc:
            self.cloud.audit(ctx, action, target, "failure", exc.message)
            raise
        except Exception as exc:
            self.cloud.audit(ctx, action, target, "failure", f"{type(exc).__name__}: {exc}")
            raise
        self.cloud.audit(ctx, action, target, "success")
