"""Settings from a TOML file and the environment.

Example ``config.toml``::

    [state]
    db_url = "sqlite:////var/lib/virtstack/state.db"   # default: SQLite under $XDG_DATA_HOME

    [identity]
    token_lifetime_hours = 24
    policy_file = "/etc/virtstack/policy.yaml"

    [scheduler]
    enabled_filters = ["RetryFilter", "RamFilter"]
    weighers = { RAMWeigher = 1.0 }

    [[hosts]]
    name = "kvm1"
    uri = "qemu+ssh://root@kvm1.example.org/system"
    keyfile = "~/.ssh/id_ed25519"
    known_hosts = "~/.ssh/known_hosts"
    availability_zone = "az1"
    cpu_allocation_ratio = 16.0
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.errors import ConfigError

URI_RE = re.compile(r"^(qemu|test|lxc|xen)(\+(ssh|tcp|tls|libssh|libssh2|unix))?://[^\s]*$")


def xdg_dir(var: str, default: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / default) / "virtstack"


def data_dir() -> Path:
    return xdg_dir("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    return xdg_dir("XDG_STATE_HOME", ".local/state")


def config_dir() -> Path:
    return xdg_dir("XDG_CONFIG_HOME", ".config")


def default_config_path() -> Path:
    env = os.environ.get("VIRTSTACK_CONFIG")
    return Path(env) if env else config_dir() / "config.toml"


@dataclass
class HostConfig:
    name: str
    uri: str
    keyfile: str | None = None
    known_hosts: str | None = None
    availability_zone: str = "nova"
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    reserved_host_disk_gb: int = 0
    aggregates: list[dict] = field(default_factory=list)
    ssh_connect_timeout: float = 10.0
    # how other hosts' libvirtd reach this one for a migration (peer to peer); default: uri
    migration_uri: str | None = None


@dataclass
class Settings:
    hosts: list[HostConfig] = field(default_factory=list)
    db_url: str | None = None
    data_dir: Path = field(default_factory=data_dir)
    state_dir: Path = field(default_factory=state_dir)
    config_path: Path | None = None
    token_lifetime_hours: float = 24.0
    policy_file: str | None = None
    password_hash_profile: str = "default"   # "fast" only for tests
    lockout_failures: int = 5
    lockout_minutes: float = 15.0
    scheduler: dict[str, Any] = field(default_factory=dict)
    theme: str | None = None
    demo: bool = False
    keepalive_interval: int = 5
    keepalive_count: int = 3
    stats_interval: float = 2.0

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        name = "demo.db" if self.demo else "state.db"
        return f"sqlite:///{self.data_dir / name}"


_HOST_KEYS = {f for f in HostConfig.__dataclass_fields__}
_TOP_KEYS = {"hosts", "state", "identity", "scheduler", "ui", "connection"}


def _line_of(text: str, key: str, start_line: int = 1) -> int:
    pat = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=|^\s*\[+\s*{re.escape(key)}\s*\]+")
    for no, line in enumerate(text.splitlines()[start_line - 1:], start=start_line):
        if pat.search(line):
            return no
    return start_line


def _host_table_lines(text: str) -> list[int]:
    return [no for no, line in enumerate(text.splitlines(), start=1)
            if re.match(r"^\s*\[\[\s*hosts\s*\]\]", line)]


def load_settings(path: str | os.PathLike | None = None, *, required: bool = False) -> Settings:
    """Read settings; a missing default file gives defaults, a broken one a ConfigError
    naming the file, the line and the key."""
    cfg_path = Path(path).expanduser() if path else default_config_path()
    settings = Settings(config_path=cfg_path)
    if not cfg_path.exists():
        if required or path:
            raise ConfigError(f"{cfg_path}: config file not found")
        _apply_env(settings)
        return settings
    text = cfg_path.read_text()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_path}: {exc}") from None

    def fail(key: str, msg: str, start: int = 1) -> ConfigError:
        return ConfigError(f"{cfg_path}:{_line_of(text, key, start)}: {key}: {msg}")

    for key in doc:
        if key not in _TOP_KEYS:
            raise fail(key, f"unknown section (expected one of {', '.join(sorted(_TOP_KEYS))})")
    state = doc.get("state", {})
    if "db_url" in state:
        if not isinstance(state["db_url"], str) or "://" not in state["db_url"]:
            raise fail("db_url", "must be an SQLAlchemy URL such as sqlite:////path/state.db")
        settings.db_url = state["db_url"]
    ident = doc.get("identity", {})
    if "token_lifetime_hours" in ident:
        v = ident["token_lifetime_hours"]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 24 * 365:
            raise fail("token_lifetime_hours", "must be a number of hours between 0 and 8760")
        settings.token_lifetime_hours = float(v)
    if "lockout_failures" in ident:
        v = ident["lockout_failures"]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1000:
            raise fail("lockout_failures", "must be an integer between 1 and 1000")
        settings.lockout_failures = v
    if "lockout_minutes" in ident:
        v = ident["lockout_minutes"]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 10080:
            raise fail("lockout_minutes", "must be a number of minutes between 0 and 10080")
        settings.lockout_minutes = float(v)
    if "password_hash_profile" in ident:
        if ident["password_hash_profile"] not in ("default", "fast"):
            raise fail("password_hash_profile", "must be \"default\" or \"fast\"")
        settings.password_hash_profile = ident["password_hash_profile"]
    if "policy_file" in ident:
        settings.policy_file = str(ident["policy_file"])
    settings.scheduler = dict(doc.get("scheduler", {}))
    settings.theme = doc.get("ui", {}).get("theme")
    conn = doc.get("connection", {})
    for k in ("keepalive_interval", "keepalive_count"):
        if k in conn:
            if not isinstance(conn[k], int) or conn[k] < 0:
                raise fail(k, "must be a non-negative integer")
            setattr(settings, k, conn[k])

    hosts = doc.get("hosts", [])
    if not isinstance(hosts, list):
        raise fail("hosts", "must be an array of tables: [[hosts]]")
    starts = _host_table_lines(text)
    seen: set[str] = set()
    for i, h in enumerate(hosts):
        start = starts[i] if i < len(starts) else 1
        for k in h:
            if k not in _HOST_KEYS:
                raise fail(k, f"unknown host key (expected one of {', '.join(sorted(_HOST_KEYS))})",
                           start)
        for k in ("name", "uri"):
            if k not in h:
                raise ConfigError(f"{cfg_path}:{start}: hosts[{i}]: missing required key {k!r}")
        from backend.validation import validate_name
        from backend.errors import InvalidInput
        try:
            validate_name(h["name"], "host name")
        except InvalidInput as exc:
            raise fail("name", exc.message, start) from None
        if h["name"] in seen:
            raise fail("name", f"duplicate host name {h['name']!r}", start)
        seen.add(h["name"])
        if not isinstance(h["uri"], str) or not URI_RE.match(h["uri"]):
            raise fail("uri", f"{h['uri']!r} is not a libvirt URI such as "
                       "qemu+ssh://root@host/system", start)
        if "migration_uri" in h and (not isinstance(h["migration_uri"], str)
                                     or not URI_RE.match(h["migration_uri"])):
            raise fail("migration_uri", f"{h['migration_uri']!r} is not a libvirt URI", start)
        for k in ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio"):
            if k in h and (not isinstance(h[k], (int, float)) or isinstance(h[k], bool)
                           or not 0 < h[k] <= 1000):
                raise fail(k, "must be a number greater than 0 (and at most 1000)", start)
        for k in ("reserved_host_memory_mb", "reserved_host_disk_gb"):
            if k in h and (not isinstance(h[k], int) or h[k] < 0):
                raise fail(k, "must be a non-negative integer", start)
        if "aggregates" in h:
            try:
                h["aggregates"] = check_aggregates(h["aggregates"])
            except ValueError as exc:
                raise fail("aggregates", str(exc), start) from None
        settings.hosts.append(HostConfig(**h))
    _apply_env(settings)
    return settings


def check_aggregates(value: Any) -> list[dict]:
    """A host's aggregates as the scheduler reads them: ``[{name, metadata}]`` with string
    metadata values, as nova keeps them (TOML's ``ssd = true`` becomes ``"true"``, which
    is what a flavor's ``aggregate_instance_extra_specs:ssd=true`` compares with)."""
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise ValueError("must be an array of tables: [{name = \"fast\", metadata = "
                         "{ssd = \"true\"}}]")
    out = []
    for a in value:
        extra = sorted(set(a) - {"name", "metadata"})
        if extra:
            raise ValueError(f"unknown aggregate key(s) {', '.join(extra)} (expected name, "
                             "metadata)")
        if not isinstance(a.get("name"), str) or not a["name"].strip():
            raise ValueError("every aggregate needs a name (a string)")
        meta = a.get("metadata", {})
        if not isinstance(meta, dict):
            raise ValueError(f"aggregate {a['name']}: metadata must be a table of key = value")
        clean = {}
        for k, v in meta.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, (int, float, str)):
                v = str(v)
            else:
                raise ValueError(f"aggregate {a['name']}: metadata {k} must be a string, "
                                 f"number or boolean, got {v!r}")
            clean[str(k)] = v
        out.append({"name": a["name"], "metadata": clean})
    return out


def _apply_env(settings: Settings) -> None:
    if os.environ.get("VIRTSTACK_DB_URL"):
        settings.db_url = os.environ["VIRTSTACK_DB_URL"]
