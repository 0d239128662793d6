import pytest

from ronda.collector.store import Store, StoreError
from ronda.collector.store.migrations import MIGRATIONS


def test_new_database_is_wal_and_fully_migrated(tmp_path):
    store = Store(tmp_path / "sub" / "ronda.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(m.version for m in MIGRATIONS)
    assert {
        "agents",
        "snapshots",
        "hosts",
        "apps",
        "listeners",
        "source_errors",
        "app_usage_days",
        "app_usage_latest",
    } <= {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert store.query("SELECT type FROM sqlite_master WHERE name = 'app_usage_daily'") == [{"type": "view"}]


def test_unopenable_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot"):
        Store(tmp_path / "file" / "ronda.db")
