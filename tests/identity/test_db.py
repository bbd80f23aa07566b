"""The state database: migrations on open, SQLite pragmas, clear errors for bad URLs."""
import pytest
from sqlalchemy import inspect, text

from backend.db import Database
from backend.errors import ConfigError


def test_open_migrates_to_head_and_is_idempotent(db_url):
    db = Database(db_url)
    try:
        head = db.current_revision()
        assert head is not None
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "projects", "roles", "role_assignments", "application_credentials",
                "tokens", "audit_records"} <= tables
        Database(db_url).close()  # a second open finds nothing to do
        assert db.current_revision() == head
        db.downgrade("base")
        assert "users" not in inspect(db.engine).get_table_names()
        db.upgrade()
        assert db.current_revision() == head
    finally:
        db.close()


def test_sqlite_pragmas_and_parent_dir(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'deep' / 'er' / 'state.db'}")
    try:
        with db.transaction() as s:
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    finally:
        db.close()


@pytest.mark.parametrize("url, words", [
    ("not a url", "invalid database URL"),
    ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot open the state database"),
])
def test_bad_urls_are_config_errors(url, words):
    with pytest.raises(ConfigError, match=words):
        Database(url)
