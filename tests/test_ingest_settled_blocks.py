"""Whole windows against the stored daily blocks: the settled days in the block, the newest day written.

Stands for the snapshots that carry every day: an agent's first contact, an agent whose state directory
was wiped, one talking to a collector restored from a backup, and agents of releases before usage deltas,
which send their whole 90-day window every 15 minutes with only today's counts moving. Also for a store
upgraded from a release whose blocks held the newest day too.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_ingest_changed_days import DAYS, _days, snapshot

from ronda import model
from ronda.collector.store import Store
from ronda.collector.store.wirebytes import daily_block
from ronda.convert import snapshot_to_wire

TOMORROW = (date.fromisoformat(DAYS[-1]) + timedelta(days=1)).isoformat()


def ingest(store: Store, snap: model.Snapshot) -> None:
    """As `ronda serve` stores it: the message with the bytes it was parsed from."""
    message = snapshot_to_wire(snap)
    store.ingest_message(message, raw=message.SerializeToString())


def blocks(store: Store) -> dict[str, bytes]:
    return {r["app_key"]: r["block"] for r in store.query("SELECT app_key, block FROM app_daily_wire")}


def window_blocks(snap: model.Snapshot, settled: bool) -> dict[str, bytes]:
    """Each app's daily entries in canonical wire form: all of them, or all but the newest."""
    found = {}
    for app in snapshot_to_wire(snap).apps:
        if settled:
            del app.usage.daily[-1]
        found[app.key] = daily_block(app.usage, app.usage.SerializeToString(deterministic=True))
    return found


def with_new_day(sequence: int, yesterday: int, today: int) -> model.Snapshot:
    snap = snapshot(sequence, today_human=yesterday)
    for i, app in enumerate(snap.apps):
        assert app.usage is not None
        app.usage.daily.append(model.DailyUsage(TOMORROW, human=today + i))
    return snap


def test_the_block_holds_the_settled_days_and_stays_while_only_the_newest_moves(tmp_path):
    store = Store(tmp_path / "a.db")
    ingest(store, snapshot(1, today_human=5))
    assert blocks(store) == window_blocks(snapshot(1), settled=True)
    for sequence, today_human in enumerate([9, 12, 5], start=2):
        ingest(store, snapshot(sequence, today_human=today_human))
        assert blocks(store) == window_blocks(snapshot(1), settled=True)
    whole = Store(tmp_path / "b.db")
    ingest(whole, snapshot(4, today_human=5))
    assert _days(store) == _days(whole)


def test_a_new_day_makes_the_finished_one_settled_and_the_block_follows(tmp_path):
    store = Store(tmp_path / "a.db")
    ingest(store, snapshot(1, today_human=5))
    ingest(store, with_new_day(2, yesterday=8, today=1))
    assert blocks(store) == window_blocks(with_new_day(2, yesterday=8, today=1), settled=True)
    ingest(store, with_new_day(3, yesterday=8, today=4))
    whole = Store(tmp_path / "b.db")
    ingest(whole, with_new_day(3, yesterday=8, today=4))
    assert _days(store) == _days(whole)


@pytest.mark.parametrize(
    "later",
    [
        [5],  # today's count back at the value the old block still holds, below what the store holds
        [9, 12],
        [(5, 1)],  # a new day: yesterday ends at the value the old block holds, not the store's
        [5, (9, 1), (9, 2)],
    ],
)
def test_blocks_stored_with_the_newest_day_are_forgotten_on_upgrade(tmp_path, later):
    """The release before held the newest entry in the block too, and kept it as first stored while only
    that entry moved: here 5, while the store holds 9. Opening the store with this release forgets those
    blocks (migration 45); what follows is stored as whole windows would be."""
    path = tmp_path / "a.db"
    store = Store(path)
    ingest(store, snapshot(1, today_human=5))
    ingest(store, snapshot(2, today_human=9))
    with store.writing() as c:  # the store as the release before left it
        for key, block in window_blocks(snapshot(1, today_human=5), settled=False).items():
            c.execute("UPDATE app_daily_wire SET block = ? WHERE app_key = ?", (block, key))
        c.execute("DELETE FROM schema_migrations WHERE version = 45")
    store.close()
    store = Store(path)
    assert blocks(store) == {}
    last = snapshot(2)
    for sequence, step in enumerate(later, start=3):
        last = (
            with_new_day(sequence, *step) if isinstance(step, tuple) else snapshot(sequence, today_human=step)
        )
        ingest(store, last)
    whole = Store(tmp_path / "b.db")
    ingest(whole, last)
    assert _days(store) == _days(whole)
    assert blocks(store) == window_blocks(last, settled=True)


@pytest.mark.parametrize("where", ["settled", "newest"])
def test_a_date_named_twice_is_refused_wherever_it_is(tmp_path, where):
    from ronda.collector.validate import InvalidSnapshot

    store = Store(tmp_path / "a.db")
    ingest(store, snapshot(1))
    twice = snapshot(2, today_human=7)
    usage = twice.apps[1].usage
    assert usage is not None
    if where == "newest":  # the newest entry names a settled day
        usage.daily[-1].date = DAYS[3]
    else:  # a settled day named twice, the newest moving as usual
        usage.daily[4].date = DAYS[3]
    with pytest.raises(InvalidSnapshot, match=r"apps\[1\]: usage date '2026-08-04' appears twice"):
        ingest(store, twice)
