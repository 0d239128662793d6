import json
import sqlite3

import pytest

from ronda.collector.store import Store, StoreError
from ronda.collector.store.migrations import MIGRATIONS


def test_new_database_is_wal_and_fully_migrated(tmp_path):
    store = Store(tmp_path / "sub" / "ronda.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(v for v, _, _ in MIGRATIONS)
    assert {
        "agents",
        "snapshots",
        "hosts",
        "apps",
        "listeners",
        "source_errors",
        "app_usage_days",
        "app_usage_latest",
    } <= set(store.db.table_names())
    assert "app_usage_daily" in store.db.view_names()


def test_reopening_applies_nothing_twice(tmp_path):
    Store(tmp_path / "r.db").close()
    store = Store(tmp_path / "r.db")
    assert store.query("SELECT count(*) AS n FROM schema_migrations") == [{"n": len(MIGRATIONS)}]


def test_a_missing_lower_migration_is_still_applied(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE source_errors")
    conn.execute("DELETE FROM schema_migrations WHERE version = 1")
    conn.execute("DROP TABLE agents")  # make version 1 re-creatable from scratch
    conn.execute("DROP VIEW app_usage_daily")
    for table in ("snapshots", "hosts", "apps", "app_usage_days", "app_usage_latest", "listeners"):
        conn.execute(f"DROP TABLE {table}")
    conn.commit()
    conn.close()
    store = Store(path)
    assert "source_errors" in store.db.table_names()


def test_a_database_from_a_newer_ronda_is_refused(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer ronda"):
        Store(path)


def test_unopenable_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot"):
        Store(tmp_path / "file" / "ronda.db")


def test_daily_usage_of_an_older_store_moves_into_the_keyed_table(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    conn = sqlite3.connect(path)  # the daily usage as versions 1 and 12 made it
    conn.executescript("""
        DROP VIEW app_usage_daily;
        DROP TABLE app_usage_days;
        DROP TABLE app_usage_latest;
        CREATE TABLE app_usage_daily (
            agent_id TEXT NOT NULL, app_key TEXT NOT NULL, date TEXT NOT NULL,
            human INTEGER NOT NULL, bot INTEGER NOT NULL, monitor INTEGER NOT NULL,
            error INTEGER NOT NULL, scanner INTEGER NOT NULL, human_clients INTEGER NOT NULL,
            PRIMARY KEY (agent_id, app_key, date));
        CREATE INDEX app_usage_daily_counts ON app_usage_daily (agent_id, app_key, date, human, bot);
        DELETE FROM schema_migrations WHERE version IN (15, 40);""")
    rows = [
        ("a1", f"nginx:site{i}:80/", f"2026-11-{d:02d}", i, d, 1, 2, 3, 4) for i in range(3) for d in (1, 2)
    ]
    conn.executemany("INSERT INTO app_usage_daily VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    store = Store(path)
    assert [
        tuple(r.values()) for r in store.query("SELECT * FROM app_usage_daily ORDER BY app_key, date")
    ] == rows
    assert (
        "WITHOUT ROWID"
        in store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'app_usage_days'").fetchone()[0]
    )
    assert store.conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'app_usage_days' "
        "AND type = 'index' AND sql IS NOT NULL"
    ).fetchone() == (0,)


def test_apps_stored_before_their_state_had_a_column_are_whole_until_stored_again(tmp_path):
    from test_ingest_changed_days import snapshot

    from ronda.collector.wirejson import app_json

    path = tmp_path / "r.db"
    store = Store(path)
    store.ingest(snapshot(1))
    expected = {r["app_key"]: app_json(r["detail"], r["state"]) for r in store.query("SELECT * FROM apps")}
    store.close()
    conn = sqlite3.connect(path)  # the apps as versions before 41 kept them: the state inside the detail
    conn.create_function("whole", 2, lambda detail, state: json.dumps(app_json(detail, state)))
    conn.executescript("""
        UPDATE apps SET detail = whole(detail, state);
        ALTER TABLE apps DROP COLUMN state;
        DELETE FROM schema_migrations WHERE version = 41;""")
    conn.commit()
    conn.close()
    store = Store(path)

    def whole():
        return {r["app_key"]: app_json(r["detail"], r["state"]) for r in store.query("SELECT * FROM apps")}

    assert whole() == expected
    assert store.query("SELECT count(*) AS n FROM apps WHERE state IS NULL") == [{"n": 3}]
    store.ingest(snapshot(2))  # the same apps (log lines aside): stored whole again, their state apart
    again = whole()
    assert {key: {k: v for k, v in app.items() if k != "usage"} for key, app in again.items()} == {
        key: {k: v for k, v in app.items() if k != "usage"} for key, app in expected.items()
    }
    for r in store.query("SELECT detail, state FROM apps"):
        assert r["state"] and "usage" not in json.loads(r["detail"])
