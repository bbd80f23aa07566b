"""Open the state database: engine, sessions, and migrations to ``head`` on open.

SQLite (the default, a file under the data dir) gets foreign keys, WAL and a busy
timeout; ``postgresql+psycopg://`` URLs give shared state for several virtstack users.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from backend.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin, so BEGIN is explicit
    # and pragmas are not wrapped in an implicit transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # IMMEDIATE: a writer takes the lock at BEGIN, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it upgrades a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None


_REV_RE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?([^'\"\n]*)['\"]?\s*$",
                     re.M)


def script_heads() -> list[str]:
    """The head revision(s) of the migration scripts, read from their files (the revision
    graph: a revision nobody names as its down_revision is a head)."""
    revs, downs = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(m.groups() for m in _REV_RE.finditer(path.read_text()))
        if "revision" in found:
            revs.add(found["revision"])
            if found.get("down_revision") not in (None, "None", ""):
                downs.add(found["down_revision"])
    return sorted(revs - downs)


class Database:
    """One engine and its session factory. ``with db.transaction() as s:`` is one
    transaction: committed when the block ends, rolled back if it raises."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (idempotent). A database already at
        head is recognised without loading Alembic (a quicker, smaller start for every
        command and the TUI)."""
        if revision == "head" and self._at_head():
            return
        self._migrate("upgrade", revision)

    def _at_head(self) -> bool:
        heads = script_heads()
        if len(heads) != 1:
            return False
        try:
            with self.engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except SQLAlchemyError:
            return False
        return [r[0] for r in rows] == heads

    def downgrade(self, revision: str) -> None:
        """Undo migrations down to ``revision`` ("base": an empty database)."""
        self._migrate("downgrade", revision)

    def _migrate(self, direction: str, revision: str) -> None:
        from alembic import command
        try:
            with self.engine.begin() as conn:
                getattr(command, direction)(self.alembic_config(conn), revision)
        except OperationalError as exc:
            raise ConfigError(f"cannot open the state database "
                              f"{make_url(self.url).render_as_string()}: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise ConfigError(f"migrating the state database failed: {exc}") from None

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def alembic_config(connection=None):
        from alembic.config import Config
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        return cfg

    def close(self) -> None:
        self.engine.dispose()
