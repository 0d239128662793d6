"""The usage state file: client ids per day, and the upgrade of a state written by an older agent."""

from __future__ import annotations

import sqlite3

import pytest

from ronda.agent.usage.state import SCHEMA_VERSION, Batch, UsageState

SCHEMA_1_CLIENTS = """CREATE TABLE clients(app TEXT NOT NULL, day TEXT NOT NULL, client INTEGER NOT NULL,
    PRIMARY KEY(app, day, client)) WITHOUT ROWID"""


def batch(clients: dict[tuple[str, str], set[int]], daily: list | None = None) -> Batch:
    return Batch(
        log="/var/log/nginx/access.log",
        daily=daily or [],
        clients=clients,
        rejects=[],
        last=[],
        app_logs=[],
        oldest=None,
        newest=None,
        lines=0,
        unparsed=0,
        file=None,
    )


def clients_per_day(state: UsageState, app: str) -> dict[str, int]:
    return {row[0]: row[6] for row in state.daily(app, scanner_threshold=20)}


@pytest.mark.parametrize("ids", [{1, 2, 3}, {-(2**63), 2**63 - 1, 0}, {7}])
def test_client_ids_round_trip_whatever_their_sign(tmp_path, ids):
    state = UsageState(tmp_path / "usage.db")
    state.write(batch({("app", "2026-01-01"): ids}))
    assert clients_per_day(state, "app") == {"2026-01-01": len(ids)}


def test_a_client_seen_again_in_a_later_batch_is_counted_once(tmp_path):
    state = UsageState(tmp_path / "usage.db")
    state.write(
        batch({("app", "2026-01-01"): {1, 2}, ("app", "2026-01-02"): {1}, ("other", "2026-01-01"): {9}})
    )
    state.write(batch({("app", "2026-01-01"): {2, 3}, ("app", "2026-01-03"): {4, 5}}))
    assert clients_per_day(state, "app") == {"2026-01-01": 3, "2026-01-02": 1, "2026-01-03": 2}
    assert clients_per_day(state, "other") == {"2026-01-01": 1}


def test_a_day_written_in_parts_is_merged_once_read(tmp_path):
    state = UsageState(tmp_path / "usage.db")
    for ids in ({1, 2}, {2, 3}, {3, 4, 5}):
        state.write(batch({("app", "2026-01-01"): ids}))
    parts = "SELECT count(*) FROM client_days WHERE app = 'app'"
    assert state.db.execute(parts).fetchone() == (3,)
    assert clients_per_day(state, "app") == {"2026-01-01": 5}
    assert state.db.execute(parts).fetchone() == (1,)
    state.write(batch({("app", "2026-01-01"): {5, 6}}))
    assert clients_per_day(state, "app") == {"2026-01-01": 6}


def test_pruned_days_lose_their_clients(tmp_path):
    state = UsageState(tmp_path / "usage.db")
    state.write(batch({("app", "2025-01-01"): {1}, ("app", "2026-01-01"): {2}}))
    state.prune("2025-06-01")
    assert clients_per_day(state, "app") == {"2026-01-01": 1}


def test_a_schema_1_state_is_upgraded_without_losing_a_client(tmp_path):
    path = tmp_path / "usage.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES('schema', '1')")
    db.execute(SCHEMA_1_CLIENTS)
    db.executemany(
        "INSERT INTO clients VALUES (?, ?, ?)",
        [
            ("app", "2026-01-01", 1),
            ("app", "2026-01-01", -5),
            ("app", "2026-01-02", 1),
            ("b", "2026-01-01", 3),
        ],
    )
    db.commit()
    db.close()

    state = UsageState(path)
    assert clients_per_day(state, "app") == {"2026-01-01": 2, "2026-01-02": 1}
    assert clients_per_day(state, "b") == {"2026-01-01": 1}
    state.write(batch({("app", "2026-01-01"): {-5, 8}}))  # merges with the upgraded ids
    assert clients_per_day(state, "app")["2026-01-01"] == 3
    tables = {r[0] for r in state.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "clients" not in tables
    assert state.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    state.close()
    assert clients_per_day(UsageState(path), "app")["2026-01-01"] == 3  # opening again changes nothing
