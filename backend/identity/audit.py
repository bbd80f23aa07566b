"""The audit log: an append-only record of every mutating action and every login.

Each record is written in its own transaction, so a failed (rolled back) operation still
leaves its "failure" record behind. The database refuses UPDATE and DELETE on the table.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from backend.api.context import RequestContext
from backend.db import Database
from backend.errors import InvalidInput
from backend.identity.models import AuditRecord

log = logging.getLogger(__name__)

OUTCOMES = ("success", "failure", "denied")
MAX_LIMIT = 10_000


def _clip(text: str | None, n: int) -> str | None:
    return None if text is None else str(text)[:n]


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    def record(self, ctx: RequestContext | None, action: str, target: Any, outcome: str,
               reason: str | None = None, *, user_name: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome must be one of {OUTCOMES}, not {outcome!r}")
        rec = AuditRecord(
            time=self.clock(), action=_clip(action, 64), target=_clip(target, 255),
            outcome=outcome, reason=_clip(reason, 2000),
            user_id=ctx.user_id if ctx else None,
            user_name=_clip(ctx.user_name if ctx else user_name, 255),
            project_id=ctx.project_id if ctx else None,
            project_name=_clip(ctx.project_name if ctx else None, 255))
        with self.db.transaction() as s:
            s.add(rec)
        log.info("audit: %s %s %s %s%s", rec.user_name, action, target, outcome,
                 f" ({reason})" if reason else "")

    def list(self, *, user: str | None = None, project: str | None = None,
             action: str | None = None, outcome: str | None = None,
             since: datetime | None = None, limit: int = 100) -> list[dict]:
        """Newest first. ``user``/``project`` match a name or an id; ``action`` ending in
        ``*`` is a prefix (``server:*``)."""
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidInput(f"unknown outcome {outcome!r} (expected one of "
                               f"{', '.join(OUTCOMES)})")
        if not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        q = select(AuditRecord)
        if user:
            q = q.where((AuditRecord.user_name == user) | (AuditRecord.user_id == user))
        if project:
            q = q.where((AuditRecord.project_name == project)
                        | (AuditRecord.project_id == project))
        if action:
            q = (q.where(AuditRecord.action.startswith(action[:-1], autoescape=True))
                 if action.endswith("*") else q.where(AuditRecord.action == action))
        if outcome:
            q = q.where(AuditRecord.outcome == outcome)
        if since is not None:
            if since.tzinfo is None:
                raise InvalidInput("since must include a time zone (e.g. 2026-01-01T00:00Z)")
            q = q.where(AuditRecord.time >= since)
        q = q.order_by(AuditRecord.id.desc()).limit(limit)
        with self.db.transaction() as s:
            return [self.as_dict(r) for r in s.scalars(q)]

    @staticmethod
    def as_dict(r: AuditRecord) -> dict:
        return {"id": r.id, "time": r.time.isoformat(timespec="seconds"), "user": r.user_name,
                "project": r.project_name, "action": r.action, "target": r.target,
                "outcome": r.outcome, "reason": r.reason}
