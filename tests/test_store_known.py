"""What a collector process remembers of an agent's apps between its snapshots (collector.store.known).

Stands for `ronda serve --processes 2` as the Ansible unit runs it: an agent's snapshots usually reach the
same process (it keeps its connection), but after a reconnect the other one, which stored nothing of it
meanwhile; and for the same agent's snapshot refused halfway (a bad date in one app). Whatever each
process remembers, the store must end as a collector that reads everything back for every snapshot
would leave it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.fleet import make_snapshot
from ronda import model
from ronda.collector.store import Store
from ronda.collector.validate import InvalidSnapshot
from ronda.convert import snapshot_to_wire

START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
TABLES = {
    "apps": "SELECT agent_id, app_key, present, first_seen, last_seen, coverage, state, detail FROM apps",
    "digests": "SELECT agent_id, app_key, digest, stable FROM apps",
    "blocks": "SELECT * FROM app_daily_wire",
    "days": "SELECT * FROM app_usage_daily",
    "usage_through": "SELECT agent_id, last_sequence, usage_through FROM agents",
}


def reports(agent_id: str = "web-bkd-01") -> list[tuple[model.Snapshot, datetime]]:
    """An agent's reports over a morning: first contact, steady ones, its state lost (whole windows
    again), a site disabled and enabled again, and a gap of more than an hour."""
    minutes, sent = 0, []

    def add(snapshot: model.Snapshot, after: int = 15) -> None:
        nonlocal minutes
        minutes += after
        sent.append((snapshot, START + timedelta(minutes=minutes)))

    add(make_snapshot(agent_id, 1, apps=6, days=10))
    add(make_snapshot(agent_id, 2, apps=6, days=10, busy=0.5, changed_only=True))
    add(make_snapshot(agent_id, 3, apps=6, days=10))  # the agent's state directory was wiped
    add(make_snapshot(agent_id, 4, apps=6, days=10))  # its ack lost: whole windows again
    for sequence in (5, 6):
        add(make_snapshot(agent_id, sequence, apps=6, days=10, busy=0.5, changed_only=True))
    # app5 (no traffic: its wire form stays the same) is disabled, enabled again, then left
    add(make_snapshot(agent_id, 7, apps=5, days=10, busy=0.5, changed_only=True))
    add(make_snapshot(agent_id, 8, apps=6, days=10, busy=0.5, changed_only=True))
    add(make_snapshot(agent_id, 9, apps=6, days=10, busy=0.5, changed_only=True), after=75)
    add(make_snapshot(agent_id, 10, apps=6, days=10, busy=0.5, changed_only=True))
    return sent


def state(store: Store) -> dict[str, list]:
    with store.reading() as conn:
        return {name: sorted(conn.execute(sql).fetchall()) for name, sql in TABLES.items()}


@pytest.fixture
def reference(tmp_path):
    """What a collector that remembers nothing (it reads what it needs back for every snapshot) holds
    after each report."""
    store = Store(tmp_path / "reference.db", remember_agents=0)
    after = []
    for snapshot, at in reports():
        store.ingest(snapshot, received_at=at)
        after.append(state(store))
    yield after
    store.close()


def received(store: Store, snapshot: model.Snapshot, at: datetime) -> None:
    """As `ronda serve` stores a snapshot: the bytes as received."""
    store.ingest_bytes(snapshot_to_wire(snapshot).SerializeToString(), received_at=at)


def parsed(store: Store, snapshot: model.Snapshot, at: datetime) -> None:
    """As an SSH scan stores one: built in the collector."""
    store.ingest(snapshot, received_at=at)


@pytest.mark.parametrize("way", [received, parsed])
@pytest.mark.parametrize(
    "turns",
    [
        "AAAAAAAAAA",  # one process all along
        "ABABABABAB",  # every snapshot on the other process
        "AAABBBAAAA",  # a reconnect, then back
        "AAABABBBBA",  # whole windows on the other process, then back to one that remembers them as before
        "ABBBBBBBBA",  # back to a process that remembers the agent as it was nine snapshots ago
    ],
)
def test_processes_taking_turns_store_what_one_reading_everything_would(tmp_path, reference, turns, way):
    path = tmp_path / "ronda.db"
    processes = {"A": Store(path), "B": Store(path)}
    try:
        for n, ((snapshot, at), turn) in enumerate(zip(reports(), turns, strict=True)):
            way(processes[turn], snapshot, at)
            assert state(processes["A"]) == reference[n], f"after report {n + 1}"
    finally:
        for store in processes.values():
            store.close()


def test_a_snapshot_refused_halfway_leaves_the_memory_as_the_store(tmp_path, reference):
    store = Store(tmp_path / "ronda.db")
    try:
        sent = reports()
        for snapshot, at in sent[:3]:
            store.ingest(snapshot, received_at=at)
        bad = make_snapshot("web-bkd-01", 4, apps=6, days=10, busy=0.5, changed_only=True)
        moved = next(app for app in bad.apps if app.usage and app.usage.daily)
        moved.usage.daily[-1].date = "2026-11-31"
        with pytest.raises(InvalidSnapshot):
            store.ingest(bad, received_at=sent[3][1])
        for n, (snapshot, at) in enumerate(sent[3:], start=3):
            store.ingest(snapshot, received_at=at)
            assert state(store) == reference[n], f"after report {n + 1}"
    finally:
        store.close()


def test_a_process_remembers_at_most_so_many_agents(tmp_path):
    store = Store(tmp_path / "ronda.db", remember_agents=2)
    try:
        for agent_id in ("web-01", "web-02", "web-03"):
            store.ingest(make_snapshot(agent_id, 1, apps=3, days=5), received_at=START)
        assert len(store.known) == 2
        assert store.known.get("web-01", (1, "", 1)) is None  # the least recently served went first
    finally:
        store.close()
