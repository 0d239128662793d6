"""Store migrations: one sequence, and the same schema whichever release created the store.

The real-world shape: a province installed the collector at some release and upgrades it in place,
perhaps much later; its SQLite file must end exactly where a new installation's does, with its data.

"Every earlier released schema", concretely: every commit on main that changed a migration is a release
a collector may run (`git log -- collector/store/migrations.py collector/*/schema.py`). A store that
release created holds that release's migrations, applied in number order as ronda then did. RELEASES
lists one commit per distinct schema: commits that added no migration and changed no migration's text
share the schema of the one before (492efd0 with 6e7e882, 5bc5256 with d1b8ef7, 466bff9 with 73cdfc0).
Every released text is today's except migration 41 of dbfd8ca (FIRST_FORM_41, copied from that commit).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from ronda.collector.store import Store, StoreError
from ronda.collector.store.migrations import MIGRATIONS, NEXT_VERSION, statements

BY_VERSION = {m.version: m for m in MIGRATIONS}

RELEASES: dict[str, tuple[int, ...]] = {
    "6e7e882": (1,),  # the first store: agents, snapshots, hosts, apps, usage
    "9db6e07": (1, 10, 11),  # declared inventory, reconciliation
    "d1b8ef7": (1, 10, 11, 20, 21),  # agent identity; app digests as columns
    "0f5028a": (1, 10, 11, 20, 21, 30),  # network and SSH scans
    "da6c152": (1, 10, 11, 20, 21, 22, 30),  # digests in tables of their own
    "a82abc5": (1, 10, 11, 12, 20, 21, 22, 30),  # findings and verdicts for large fleets
    "b13757d": (1, 10, 11, 12, 20, 21, 22, 23, 30),  # the digest of an app's stable part
    "27b3e95": (1, 10, 11, 12, 13, 20, 21, 22, 23, 30),  # verdict input checksums
    "bea6f04": (1, 10, 11, 12, 13, 14, 20, 21, 22, 23, 30),  # one findings index
    "1852d7e": (1, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 30),  # daily usage keyed
    "dbfd8ca": (1, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 30, 40, 41),  # 41 in its first form
    "73cdfc0": (1, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 30, 40, 41),  # 41 as today
}

FIRST_FORM_41 = (
    "an app's resources and usage (its state) in a column apart from the rest of its JSON detail",
    """
ALTER TABLE apps ADD COLUMN state TEXT NOT NULL DEFAULT '{}';  -- JSON: the app's resources and usage
UPDATE apps SET state = (SELECT json_group_object(key, json(value)) FROM json_each(apps.detail)
                         WHERE key IN ('resources', 'usage')),
                detail = json_remove(detail, '$.resources', '$.usage');
""",
)

# The text of every migration in MIGRATIONS, by checksum: a migration that has shipped is never edited.
# Adding one? Append its checksum here.
CHECKSUMS = {
    1: "62ec8740abcacf0b",
    10: "1e604a8b5a3e64f0",
    11: "cc4b696a85eaf813",
    20: "47cc7fb95289490e",
    21: "4e9bacb81d4f5d18",
    30: "151427f27fbf7169",
    22: "176039a7137a1b53",
    12: "760cc12144aaed7b",
    23: "2bb29d9a532e7625",
    13: "f4ed9df71f67d2a1",
    14: "daf3db8d14681534",
    15: "79fdcbf68fa9b8ae",
    40: "8e4ba734228a41eb",
    41: "d4d377db2e8f6fa2",
    42: "1fc0a693a4080e8d",
    43: "e879382ec793e2c8",
    44: "eef17b4f799b47a3",
    45: "1627e6d92b7c060a",
    46: "5226782688b6f473",
    47: "cdd172dab4f59f60",
}


def apply_as_released(conn: sqlite3.Connection, release: str, versions) -> None:
    """Apply those of `versions` the store lacks as ronda did at `release`: in number order, each recorded."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, description TEXT, applied_at TEXT)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for version in sorted(set(versions) - applied):
        today = BY_VERSION[version]
        description, sql = (
            FIRST_FORM_41 if (release, version) == ("dbfd8ca", 41) else (today.description, today.sql)
        )
        for statement in statements(sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2026-11-28T00:00:00Z')", (version, description)
        )


@contextmanager
def store_file(path: Path) -> Iterator[sqlite3.Connection]:
    """The store's file opened as an older ronda, or an operator, would: committed and closed at the end."""
    with closing(sqlite3.connect(path)) as conn, conn:
        yield conn


def store_of(path: Path, release: str) -> Path:
    """A store as `release` created it (no data)."""
    with store_file(path) as conn:
        apply_as_released(conn, release, RELEASES[release])
    return path


def schema(path: Path) -> list[tuple]:
    """sqlite_master as (type, name, table, SQL with its whitespace collapsed), sorted."""
    with store_file(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted(
        (kind, name, table, " ".join(sql.split()) if sql else "") for kind, name, table, sql in rows
    )


def dump(path: Path) -> list[str]:
    with store_file(path) as conn:
        return list(conn.iterdump())


@pytest.fixture(scope="module")
def fresh_schema(tmp_path_factory) -> list[tuple]:
    path = tmp_path_factory.mktemp("fresh") / "ronda.db"
    Store(path).close()
    return schema(path)


@pytest.mark.parametrize("release", RELEASES)
def test_a_store_from_any_earlier_release_upgrades_to_the_schema_of_a_fresh_one(
    tmp_path, fresh_schema, release
):
    path = store_of(tmp_path / "ronda.db", release)
    store = Store(path)
    versions = [r["version"] for r in store.query("SELECT version FROM schema_migrations")]
    store.close()
    assert sorted(versions) == sorted(BY_VERSION)
    assert schema(path) == fresh_schema


def test_a_store_upgraded_through_every_release_in_turn_ends_as_a_fresh_one(tmp_path, fresh_schema):
    """A collector kept up to date: each release applied what the store lacked, in number order."""
    path = tmp_path / "ronda.db"
    with store_file(path) as conn:
        for release, versions in RELEASES.items():
            apply_as_released(conn, release, versions)
    Store(path).close()
    assert schema(path) == fresh_schema


def test_every_release_applied_a_prefix_of_the_sequence():
    """So a fresh store applies each migration at the place an upgraded one did."""
    order = [m.version for m in MIGRATIONS]
    for release, versions in RELEASES.items():
        assert set(order[: len(versions)]) == set(versions), release


def test_the_sequence_is_append_only():
    order = [m.version for m in MIGRATIONS]
    assert len(set(order)) == len(order)
    released = set(RELEASES["73cdfc0"])
    assert order[: len(released)] == sorted(released, key=order.index)
    later = order[len(released) :]
    assert later == list(range(max(released) + 1, max(released) + 1 + len(later)))  # each the next number
    assert order[-1] + 1 == NEXT_VERSION


def test_no_migration_text_changes_once_written():
    assert {m.version: hashlib.sha256(m.sql.encode()).hexdigest()[:16] for m in MIGRATIONS} == CHECKSUMS


def test_a_store_of_a_newer_ronda_is_refused_and_left_as_it_was(tmp_path):
    """An operator downgrades ronda (a package pinned back) over a store a newer one upgraded."""
    path = tmp_path / "ronda.db"
    Store(path).close()
    with store_file(path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', '2030-01-01T00:00:00Z')",
            (NEXT_VERSION,),
        )
    before = dump(path)
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert str(path) in message and f"[{NEXT_VERSION}]" in message
    assert "newer ronda" in message and "upgrade ronda" in message
    assert dump(path) == before


def test_a_migration_that_fails_leaves_the_store_as_it_was(tmp_path):
    """An operator added their own view to the store for a dashboard, under a name a later migration
    takes: the upgrade stops with the migration and the reason named, nothing of it applied (not even
    the migrations before it in the same upgrade), and it goes through once the name is free."""
    path = store_of(tmp_path / "ronda.db", "bea6f04")  # before 15 and 40
    with store_file(path) as conn:
        conn.execute(
            "INSERT INTO app_usage_daily VALUES ('w1', 'nginx:a.test:80/', '2026-11-01', 5, 1, 0, 0, 0, 2)"
        )
        conn.execute(
            "CREATE VIEW app_usage_latest AS "
            "SELECT agent_id, max(last_seen) AS seen FROM apps GROUP BY agent_id"
        )
    before = dump(path)
    with pytest.raises(StoreError) as failed:
        Store(path)
    message = str(failed.value)
    assert "migration 40" in message and "app_usage_latest already exists" in message
    assert "left as it was" in message
    assert dump(path) == before
    with store_file(path) as conn:
        conn.execute("DROP VIEW app_usage_latest")
    store = Store(path)
    assert store.query("SELECT app_key, date, human FROM app_usage_daily") == [
        {"app_key": "nginx:a.test:80/", "date": "2026-11-01", "human": 5}
    ]
    store.close()


def test_reopening_applies_nothing_twice(tmp_path):
    Store(tmp_path / "r.db").close()
    store = Store(tmp_path / "r.db")
    assert store.query("SELECT count(*) AS n FROM schema_migrations") == [{"n": len(MIGRATIONS)}]
    store.close()


def test_daily_usage_of_a_store_before_15_is_kept_through_15_and_40(tmp_path):
    """Daily usage stored by a release before 15 (a rowid table and a covering index) is all there, keyed,
    after the upgrade."""
    path = store_of(tmp_path / "ronda.db", "bea6f04")
    rows = [
        ("a1", f"nginx:site{i}:80/", f"2026-11-{d:02d}", i, d, 1, 2, 3, 4) for i in range(3) for d in (1, 2)
    ]
    with store_file(path) as conn:
        conn.executemany("INSERT INTO app_usage_daily VALUES (?,?,?,?,?,?,?,?,?)", rows)
    store = Store(path)
    assert [
        tuple(r.values()) for r in store.query("SELECT * FROM app_usage_daily ORDER BY app_key, date")
    ] == rows
    assert store.conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'app_usage_days' "
        "AND type = 'index' AND sql IS NOT NULL"
    ).fetchone() == (0,)  # 12's covering index went with the rowid table
    assert (
        "WITHOUT ROWID"
        in store.query("SELECT sql FROM sqlite_master WHERE name = 'app_usage_days'")[0]["sql"]
    )
    store.close()


def _whole_apps(store: Store) -> dict[str, dict]:
    from ronda.collector.wirejson import app_json

    return {r["app_key"]: app_json(r["detail"], r["state"]) for r in store.query("SELECT * FROM apps")}


# The apps' digests where releases before 47 kept them.
BEFORE_47 = """
ALTER TABLE apps DROP COLUMN digest;
ALTER TABLE apps DROP COLUMN stable;
CREATE TABLE app_digests (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL, digest BLOB NOT NULL, stable BLOB,
    PRIMARY KEY (agent_id, app_key)
) WITHOUT ROWID;
"""


def _as_before_41(path: Path) -> None:
    """Turn a store with apps into what releases before 41 kept: each app's state inside its detail."""
    from ronda.collector.wirejson import app_json

    with store_file(path) as conn:
        conn.create_function("whole", 2, lambda detail, state: json.dumps(app_json(detail, state)))
        conn.executescript("""
            UPDATE apps SET detail = whole(detail, state);
            ALTER TABLE apps DROP COLUMN state;
            ALTER TABLE agents DROP COLUMN usage_through;
            ALTER TABLE inventory_imports DROP COLUMN columns;
            DROP INDEX apps_default_servers;
            DROP INDEX apps_end_of_support;
            DROP INDEX apps_by_key;""")
        conn.executescript(BEFORE_47)
        conn.execute("DELETE FROM schema_migrations WHERE version >= 41")


@pytest.mark.parametrize("first_form", [False, True], ids=["before 41", "41 in its first form"])
def test_apps_stored_before_41_or_by_its_first_form_are_whole_until_stored_again(tmp_path, first_form):
    """Apps a collector stored before migration 41, or with 41 in its first form (their state as JSON
    text), read back whole after the upgrade; their next snapshot stores each with its state apart."""
    from test_ingest_changed_days import snapshot

    path = tmp_path / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(1))
    expected = _whole_apps(store)
    store.close()
    _as_before_41(path)
    if first_form:
        with store_file(path) as conn:
            apply_as_released(conn, "dbfd8ca", [41])
            kept = conn.execute("SELECT typeof(state), count(*) FROM apps GROUP BY 1").fetchall()
        assert kept == [("text", 3)]
    store = Store(path)
    assert _whole_apps(store) == expected
    assert store.query("SELECT count(*) AS n FROM apps WHERE state IS NULL") == [{"n": 3}]
    assert store.query("SELECT count(*) AS n FROM apps WHERE digest IS NOT NULL") == [{"n": 0}]
    store.ingest(snapshot(2))  # the same apps (log lines aside): stored whole again, their state apart
    again = _whole_apps(store)

    def without_usage(apps):
        return {key: {k: v for k, v in app.items() if k != "usage"} for key, app in apps.items()}

    assert without_usage(again) == without_usage(expected)
    for r in store.query("SELECT detail, state FROM apps"):
        assert r["state"] and "usage" not in json.loads(r["detail"])
    store.close()


def test_migration_42_leaves_a_store_with_41_as_today_untouched(tmp_path):
    """The collectors upgraded from 73cdfc0 on (41 as today): 42 is recorded and changes nothing, so their
    apps are not stored whole again."""
    from test_ingest_changed_days import snapshot

    path = tmp_path / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(1))
    store.close()
    with store_file(path) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 42")
    before = [line for line in dump(path) if "schema_migrations" not in line]
    Store(path).close()
    assert [line for line in dump(path) if "schema_migrations" not in line] == before
    with store_file(path) as conn:
        assert conn.execute("SELECT count(*) FROM apps WHERE digest IS NOT NULL").fetchone() == (3,)


def test_apps_whose_digests_47_forgot_are_stored_whole_once_then_found_unchanged(tmp_path):
    """A collector upgraded over 47 (digests in app_digests before): its apps' digests are forgotten, the
    agent's next snapshot stores each app whole, and its digests then spare the snapshot after."""
    from test_ingest_changed_days import snapshot

    path = tmp_path / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(1))
    expected = _whole_apps(store)
    store.close()
    with store_file(path) as conn:
        conn.executescript(BEFORE_47)
        conn.executescript("""
            INSERT INTO app_digests SELECT agent_id, app_key, randomblob(16), randomblob(16) FROM apps;
            DELETE FROM schema_migrations WHERE version = 47;""")
    store = Store(path)
    assert store.query("SELECT name FROM sqlite_master WHERE name = 'app_digests'") == []
    assert _whole_apps(store) == expected
    assert store.query("SELECT count(*) AS n FROM apps WHERE digest IS NULL") == [{"n": 3}]
    store.ingest(snapshot(2))
    assert store.query("SELECT count(*) AS n FROM apps WHERE digest IS NULL OR stable IS NULL") == [{"n": 0}]
    store.close()
    store = Store(path)  # a process that reads the digests back from the apps' rows
    again = snapshot(2)  # the same apps in the agent's next snapshot
    again.sequence, again.report_id = 3, "r-3"
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    store.ingest(again)
    store.conn.set_trace_callback(None)
    assert statements and not [s for s in statements if "INTO apps " in s or "UPDATE apps " in s]
    store.close()
