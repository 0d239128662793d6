"""What a snapshot writes to the store, statement by statement: nothing for what did not change.

Stands for a fleet's steady reports: every 15 minutes a host sends the state of all its apps, of which
most are as they were, and now and then a site is disabled (`a2dissite`, a vhost file removed) or comes
back. The statements are seen through SQLite's own trace callback on the store's connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from ronda import model
from ronda.collector.store import Store

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def snapshot(sequence: int, sites: range) -> model.Snapshot:
    return model.Snapshot(
        agent_id="web01",
        sequence=sequence,
        report_id=f"r{sequence}",
        collected_at=AT,
        apps=[model.App(key=f"nginx:site{i}.go.id:443/", kind="nginx") for i in sites],
    )


@contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []
    with store.reading() as conn:
        conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        with store.reading() as conn:
            conn.set_trace_callback(None)


def app_writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().startswith("UPDATE apps")]


def present(store: Store) -> dict[str, int]:
    return {r["app_key"]: r["present"] for r in store.query("SELECT app_key, present FROM apps")}


def test_a_snapshot_of_unchanged_apps_seen_minutes_ago_writes_no_app_row(store):
    store.ingest(snapshot(1, range(5)), received_at=AT)
    with traced(store) as statements:
        store.ingest(snapshot(2, range(5)), received_at=AT + timedelta(minutes=15))
    assert app_writes(statements) == []
    assert set(present(store).values()) == {1}


def test_only_the_site_that_vanished_is_marked_absent_and_only_it_when_it_comes_back(store):
    store.ingest(snapshot(1, range(5)), received_at=AT)
    with traced(store) as statements:
        store.ingest(snapshot(2, range(4)), received_at=AT + timedelta(minutes=15))  # site4 disabled
    assert len(app_writes(statements)) == 1
    assert present(store)["nginx:site4.go.id:443/"] == 0
    assert sum(present(store).values()) == 4
    with traced(store) as statements:
        store.ingest(snapshot(3, range(5)), received_at=AT + timedelta(minutes=30))  # enabled again
    assert len(app_writes(statements)) == 1
    assert set(present(store).values()) == {1}
    seen = store.query("SELECT last_seen FROM apps WHERE app_key = 'nginx:site4.go.id:443/'")
    assert seen == [{"last_seen": "2026-11-20T08:30:00Z"}]


def test_unchanged_apps_are_marked_seen_once_the_hour_is_past(store):
    store.ingest(snapshot(1, range(3)), received_at=AT)
    store.ingest(snapshot(2, range(3)), received_at=AT + timedelta(minutes=45))
    with traced(store) as statements:
        store.ingest(snapshot(3, range(3)), received_at=AT + timedelta(minutes=61))
    assert len(app_writes(statements)) == 1
    assert {r["last_seen"] for r in store.query("SELECT last_seen FROM apps")} == {"2026-11-20T09:01:00Z"}
