"""A private, throw-away PostgreSQL server for tests (see FACTS.md).

``PostgresServer().start()`` runs initdb + pg_ctl as the ``postgres`` user (PostgreSQL
refuses root) in a temporary directory it owns, on a free port on 127.0.0.1, and
``stop()`` stops exactly that server with ``pg_ctl stop`` and removes the directory.
``missing()`` says why no server can be started here (then tests skip with that reason).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def _bin_dir() -> Path | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """None if a server can be started, else the reason it cannot."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed"
    if _bin_dir() is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no `postgres` user to run PostgreSQL as"
    return None


class PostgresServer:
    def __init__(self):
        self.bin = _bin_dir()
        self.dir: Path | None = None
        self.port: int | None = None
        self.started = False

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): "
                               f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> "PostgresServer":
        self.dir = Path(tempfile.mkdtemp(prefix="vs-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        for _ in range(3):  # the port may be taken between choosing and binding
            self.port = _free_port()
            try:
                self._run("pg_ctl", "-D", str(data), "-w", "-t", "30", "-l",
                          str(self.dir / "log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                          "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                          "start")
                self.started = True
                return self
            except RuntimeError:
                continue
        raise RuntimeError(f"PostgreSQL did not start: {self.log()}")

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text()[-2000:]
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        import psycopg
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w",
                          "stop")
            finally:
                self.started = False
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
