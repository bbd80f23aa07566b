"""Alembic environment: runs on the connection ``Database.upgrade`` hands over.

Autogenerate (developers only): ``alembic -c backend/db/migrations/alembic.ini revision
--autogenerate -m "..."`` with ``VIRTSTACK_DB_URL`` pointing at a scratch database.
"""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from backend.db.base import Base
import backend.identity.models  # noqa: F401  (register the identity tables on Base)

config = context.config
target_metadata = Base.metadata
# One migrator at a time when several virtstack processes share a PostgreSQL database.
PG_LOCK_KEY = 0x76697274  # "virt"


def _run(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line
    from backend.db.engine import make_engine
    url = os.environ.get("VIRTSTACK_DB_URL") or config.get_main_option("sqlalchemy.url")
    with make_engine(url).begin() as conn:
        _run(conn)
