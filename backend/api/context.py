"""Who is asking: the request context every front-door call takes first."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None
    user_name: str | None
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...] = field(default_factory=tuple)
    token_id: str | None = None
    all_projects: bool = False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @classmethod
    def system(cls) -> "RequestContext":
        """The backend's own context for internal work (reconcile, demo set-up)."""
        return cls(user_id="system", user_name="system", project_id=None, project_name="admin",
                   roles=("admin",), all_projects=True)
