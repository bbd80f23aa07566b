"""The state database: engine, sessions, the declarative Base and Alembic migrations."""
from backend.db.base import Base, UTCDateTime, new_id, utcnow
from backend.db.engine import Database, make_engine

__all__ = ["Base", "Database", "UTCDateTime", "make_engine", "new_id", "utcnow"]
