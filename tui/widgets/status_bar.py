"""The identity status bar: who is logged in, the project, the roles and how long the
token has left.

The token's expiry is asked once (a thread worker: it is a DB read); the remaining time is
then counted down locally, repainted every ``REFRESH_S`` seconds. No polling of the backend.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from textual import work
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

REFRESH_S = 30.0


def remaining_text(expires_at: datetime | None, now: datetime) -> str:
    """``23h 59m left``, ``4m left``, ``expired``; ``no expiry`` when there is none."""
    if expires_at is None:
        return "no expiry"
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"{hours // 24}d {hours % 24}h left"
    if hours:
        return f"{hours}h {minutes:02d}m left"
    return f"{max(minutes, 1)}m left" if seconds >= 60 else "<1m left"


def parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class StatusBar(Static):
    """``user @ project · roles · token 23h 59m left``; the token part turns to the warning
    colour in its last hour and the error colour once expired."""

    DEFAULT_CSS = """
    StatusBar { height: 1; width: 100%; padding: 0 1; background: $panel; }
    """

    expires_at: reactive[datetime | None] = reactive(None)

    class ExpiryLoaded(Message):
        def __init__(self, expires_at: datetime | None, error: str | None = None) -> None:
            super().__init__()
            self.expires_at = expires_at
            self.error = error

    def __init__(self, identity, ctx, *, clock: Callable[[], datetime] | None = None,
                 **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.identity = identity
        self.ctx = ctx
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._error: str | None = None

    def on_mount(self) -> None:
        self._paint()
        if self.ctx is not None and self.ctx.token_id:
            self._load_expiry()
        self.set_interval(REFRESH_S, self._paint)

    @work(thread=True, exclusive=True, group="token-expiry", exit_on_error=False)
    def _load_expiry(self) -> None:
        try:
            info = self.identity.token_info(self.ctx)
            self.post_message(self.ExpiryLoaded(parse_expiry(info.get("expires_at"))))
        except Exception as exc:  # noqa: BLE001 - shown in the bar, never fatal
            self.post_message(self.ExpiryLoaded(None, str(exc) or type(exc).__name__))

    def on_status_bar_expiry_loaded(self, message: ExpiryLoaded) -> None:
        message.stop()
        self._error = message.error
        self.expires_at = message.expires_at

    def watch_expires_at(self) -> None:
        self._paint()

    @property
    def token_text(self) -> str:
        if self.ctx is None or not self.ctx.token_id:
            return "no token"
        if self._error:
            return "token: unknown expiry"
        return "token " + remaining_text(self.expires_at, self.clock()) \
            if self.expires_at is not None else "token …"

    def _paint(self) -> None:
        ctx = self.ctx
        if ctx is None:
            self.update("not logged in")
            return
        token = self.token_text
        style = ""
        if self.expires_at is not None:
            left = (self.expires_at - self.clock()).total_seconds()
            style = "$error" if left <= 0 else "$warning" if left < 3600 else "$text-muted"
        roles = ", ".join(ctx.roles) or "no roles"
        self.update(Content.assemble(
            ("● ", "$success"), (ctx.user_name or "?", "bold"), " @ ",
            (ctx.project_name or "-", "bold $accent"), (f" · {roles} · ", "$text-muted"),
            (token, style)))
