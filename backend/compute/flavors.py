"""Flavors: the sizes a server comes in. Checked before anything is written: positive,
sane sizes, a valid unique name, extra_specs of text keys and scalar values."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.compute.models import Flavor, FlavorProject
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.validation import validate_name

# (field, smallest, largest, unit): a flavor bigger than this is a typo, not a machine.
LIMITS = {
    "vcpus": (1, 1024, "vCPUs"),
    "ram_mb": (64, 4 * 1024 * 1024, "MB"),
    "root_gb": (0, 100_000, "GB"),
    "ephemeral_gb": (0, 100_000, "GB"),
    "swap_mb": (0, 1024 * 1024, "MB"),
}
MAX_SPECS = 64


def check_size(field: str, value: Any) -> int:
    lo, hi, unit = LIMITS[field]
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise InvalidInput(f"{field} must be a whole number, got {value!r}") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{field} must be between {lo} and {hi} {unit}, got {value}")
    return value


def check_specs(specs: Any) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise InvalidInput("extra_specs must be a mapping of key: value")
    if len(specs) > MAX_SPECS:
        raise InvalidInput(f"at most {MAX_SPECS} extra_specs")
    out = {}
    for k, v in specs.items():
        if not isinstance(k, str) or not k or len(k) > 255 or any(c.isspace() for c in k):
            raise InvalidInput(f"invalid extra_spec key {k!r}")
        if isinstance(v, bool) or not isinstance(v, (str, int, float)) or len(str(v)) > 255:
            raise InvalidInput(f"extra_spec {k}: the value must be text (255 characters "
                               f"at most), got {v!r}")
        out[k] = str(v)
    return out


def flavor_dict(f: Flavor, projects: list[str] | None = None) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram_mb": f.ram_mb,
            "root_gb": f.root_gb, "ephemeral_gb": f.ephemeral_gb, "swap_mb": f.swap_mb,
            "disk_gb": f.root_gb + f.ephemeral_gb, "extra_specs": dict(f.extra_specs or {}),
            "public": f.public, "projects": projects if projects is not None else []}


class FlavorService:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def find(s: Session, ref: str) -> Flavor:
        if not isinstance(ref, str) or not ref:
            raise InvalidInput("flavor must not be empty")
        f = s.get(Flavor, ref) if len(ref) == 32 else None
        f = f or s.scalar(select(Flavor).where(Flavor.name == ref))
        if f is None:
            names = ", ".join(s.scalars(select(Flavor.name).order_by(Flavor.name)).all())
            raise NotFound(f"no flavor {ref!r} (flavors: {names or 'none'})")
        return f

    @staticmethod
    def projects_of(s: Session, flavor_id: str) -> list[str]:
        return sorted(s.scalars(select(FlavorProject.project_id)
                                .where(FlavorProject.flavor_id == flavor_id)))

    def usable_by(self, s: Session, f: Flavor, project_id: str | None, admin: bool) -> bool:
        return f.public or admin or project_id in self.projects_of(s, f.id)

    def create(self, name: str, *, vcpus: Any, ram_mb: Any, root_gb: Any = 0,
               ephemeral_gb: Any = 0, swap_mb: Any = 0, extra_specs: dict | None = None,
               public: bool = True, projects: list[str] | None = None) -> dict:
        validate_name(name, "flavor name")
        sizes = {k: check_size(k, v) for k, v in (
            ("vcpus", vcpus), ("ram_mb", ram_mb), ("root_gb", root_gb),
            ("ephemeral_gb", ephemeral_gb), ("swap_mb", swap_mb))}
        specs = check_specs(extra_specs or {})
        with self.db.transaction() as s:
            if s.scalar(select(Flavor.id).where(Flavor.name == name)):
                raise Conflict(f"flavor {name!r} already exists")
            f = Flavor(name=name, extra_specs=specs, public=bool(public), **sizes)
            s.add(f)
            s.flush()
            for p in projects or []:
                s.add(FlavorProject(flavor_id=f.id, project_id=p))
            return flavor_dict(f, sorted(projects or []))

    def list(self, project_id: str | None, admin: bool) -> list[dict]:
        with self.db.transaction() as s:
            out = []
            for f in s.scalars(select(Flavor).order_by(Flavor.ram_mb, Flavor.name)):
                projects = self.projects_of(s, f.id)
                if f.public or admin or project_id in projects:
                    out.append(flavor_dict(f, projects))
            return out

    def show(self, ref: str, project_id: str | None, admin: bool) -> dict:
        with self.db.transaction() as s:
            f = self.find(s, ref)
            projects = self.projects_of(s, f.id)
            if not (f.public or admin or project_id in projects):
                raise NotFound(f"no flavor {ref!r}")
            return flavor_dict(f, projects)

    def set(self, ref: str, *, properties: dict | None = None,
            unset: list[str] | None = None, public: bool | None = None,
            add_projects: list[str] | None = None,
            remove_projects: list[str] | None = None) -> dict:
        with self.db.transaction() as s:
            f = self.find(s, ref)
            specs = dict(f.extra_specs or {})
            specs.update(check_specs(properties or {}))
            for k in unset or []:
                if k not in specs:
                    raise NotFound(f"flavor {f.name} has no extra_spec {k!r}")
                specs.pop(k)
            f.extra_specs = check_specs(specs)
            if public is not None:
                f.public = bool(public)
            have = set(self.projects_of(s, f.id))
            for p in add_projects or []:
                if p not in have:
                    s.add(FlavorProject(flavor_id=f.id, project_id=p))
                    have.add(p)
            for p in remove_projects or []:
                s.execute(delete(FlavorProject).where(FlavorProject.flavor_id == f.id,
                                                      FlavorProject.project_id == p))
                have.discard(p)
            return flavor_dict(f, sorted(have))

    def delete(self, ref: str) -> dict:
        with self.db.transaction() as s:
            f = self.find(s, ref)
            out = {"id": f.id, "name": f.name, "deleted": True}
            s.delete(f)
            return out
