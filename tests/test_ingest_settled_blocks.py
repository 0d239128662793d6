"""Whole windows against the stored daily blocks: the settled days in the block, the newest day written.

Stands for the snapshots that carry every day: an agent's first contact, an agent whose state directory
was wiped, one talking to a collector restored from a backup, and agents of releases before usage deltas,
which send their whole 90-day window every 15 minutes with only today's counts moving. Also for a store
upgraded from a release whose blocks held the newest day too.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from test_ingest_changed_days import DAYS, _days, snapshot

from ronda import model
from ronda.collector.store import Store
from ronda.collector.store.wirebytes import daily_block, split_apps
from ronda.convert import snapshot_to_wire
from ronda.wire.v1 import ronda_pb2 as pb

TOMORROW = (date.fromisoformat(DAYS[-1]) + timedelta(days=1)).isoformat()


WAYS = {
    # ronda serve: the bytes as received, parsed without the settled days the store holds
    "received": lambda store, raw: store.ingest_bytes(raw),
    # an SSH scan, or a caller that parsed the message itself
    "parsed": lambda store, raw: store.ingest_message(pb.Snapshot.FromString(raw), raw=raw),
}
_store_bytes = WAYS["received"]


@pytest.fixture(autouse=True, params=sorted(WAYS))
def way(request, monkeypatch):
    """Every test runs both ways a snapshot reaches the store."""
    monkeypatch.setattr(sys.modules[__name__], "_store_bytes", WAYS[request.param])
    return request.param


def ingest(store: Store, snap: model.Snapshot) -> None:
    _store_bytes(store, snapshot_to_wire(snap).SerializeToString())


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


def _raw_with(snap: model.Snapshot, app: int, after_usage: bytes) -> bytes:
    """`snap` as bytes, with `after_usage` written at the end of app `app`'s usage message (as an agent of
    another protobuf, or of a newer release, may write it)."""
    from ronda.collector.store.wirelayout import varint

    message = snapshot_to_wire(snap)
    apps = []
    for i, wire_app in enumerate(message.apps):
        if i == app:
            usage = wire_app.usage.SerializeToString(deterministic=True) + after_usage
            wire_app.ClearField("usage")
            usage_key = varint(pb_number("App", "usage") << 3 | 2)
            apps.append(
                wire_app.SerializeToString(deterministic=True) + usage_key + varint(len(usage)) + usage
            )
        else:
            apps.append(wire_app.SerializeToString(deterministic=True))
    message.ClearField("apps")
    apps_key = varint(pb_number("Snapshot", "apps") << 3 | 2)
    return message.SerializeToString(deterministic=True) + b"".join(
        apps_key + varint(len(a)) + a for a in apps
    )


def pb_number(message: str, field: str) -> int:
    from ronda.wire.v1 import ronda_pb2 as pb

    return pb.DESCRIPTOR.message_types_by_name[message].fields_by_name[field].number


def _entry(date_text: str, human: int) -> bytes:
    from ronda.collector.store.wirelayout import varint
    from ronda.wire.v1 import ronda_pb2 as pb

    entry = pb.DailyUsage(date=date_text, human=human).SerializeToString()
    return varint(pb_number("Usage", "daily") << 3 | 2) + varint(len(entry)) + entry


@pytest.mark.parametrize(
    "after_usage",
    [
        # a newer agent's field, unknown to this collector, after the daily entries and logs
        pytest.param(bytes([0xF8, 0x07, 0x2A]), id="unknown-varint-field-127"),
        pytest.param(b"\xa2\x06\x03abc", id="unknown-string-field-100"),
        # another day after the logs (protobuf appends it to the daily entries wherever it comes)
        pytest.param(_entry(TOMORROW, 77), id="a-new-day-after-the-logs"),
        # a settled day again after the logs, with other counts: named twice, refused
        pytest.param(_entry(DAYS[3], 77), id="a-settled-day-again-after-the-logs"),
        # the daily field with another wire type: not an entry, kept as unknown
        pytest.param(bytes([pb_number("Usage", "daily") << 3 | 0, 1]), id="daily-number-as-a-varint"),
    ],
)
def test_bytes_after_the_newest_entry_store_what_protobuf_parses(tmp_path, after_usage):
    """Agents written with other protobuf libraries, or newer releases, may put fields after the usage's
    daily entries and logs. What is stored is what protobuf parses from the bytes, as a store that never
    saw the app stores the same message."""
    from ronda.collector.validate import InvalidSnapshot
    from ronda.wire.v1 import ronda_pb2 as pb

    store = Store(tmp_path / "a.db")
    ingest(store, snapshot(1, today_human=5))
    raw = _raw_with(snapshot(2, today_human=9), 1, after_usage)
    message = pb.Snapshot.FromString(raw)
    whole = Store(tmp_path / "b.db")
    try:
        whole.ingest_message(message, raw=message.SerializeToString(deterministic=True))
    except InvalidSnapshot as refused:
        with pytest.raises(InvalidSnapshot, match="appears twice"):
            _store_bytes(store, raw)
        assert "appears twice" in str(refused)
        return
    _store_bytes(store, raw)
    assert _days(store) == _days(whole)


def _shifted(sequence: int, drop_first: int, new_days: int, change: dict | None = None) -> model.Snapshot:
    """snapshot(sequence) whose window lost its first `drop_first` days and gained `new_days` after the
    last; `change` maps a day's index to a new human count (None: the day is left out)."""
    snap = snapshot(sequence, today_human=9)
    for app in snap.apps:
        assert app.usage is not None
        daily = app.usage.daily[drop_first:]
        newest = date.fromisoformat(daily[-1].date)
        daily += [
            model.DailyUsage((newest + timedelta(days=n)).isoformat(), human=n)
            for n in range(1, new_days + 1)
        ]
        for index, human in (change or {}).items():
            daily[index] = None if human is None else model.DailyUsage(daily[index].date, human=human)
        app.usage.daily = [d for d in daily if d is not None]
    return snap


@pytest.mark.parametrize(
    "drop_first,new_days,change",
    [
        pytest.param(0, 0, {3: 1234}, id="a-settled-day-changed"),
        pytest.param(0, 0, {-2: 0}, id="yesterday-changed"),
        pytest.param(0, 0, {3: None}, id="a-settled-day-missing"),
        pytest.param(0, 0, {-2: None}, id="yesterday-missing"),
        pytest.param(1, 1, None, id="the-window-slid-by-one-day"),
        pytest.param(3, 3, None, id="the-window-slid-by-three-days"),
        pytest.param(0, 2, None, id="two-new-days"),
        pytest.param(5, 0, None, id="the-oldest-days-dropped"),
        pytest.param(0, 0, None, id="only-the-newest-moved"),
    ],
)
@pytest.mark.parametrize("block_lost", [False, True])
def test_a_whole_window_against_the_stored_block_stores_what_a_fresh_store_stores(
    tmp_path, drop_first, new_days, change, block_lost
):
    """Whole windows as agents send them on first contact or after their state was lost, against what the
    store holds: each settled day that changed is written, and a store with nothing before ends alike (the
    days a window no longer holds stay stored in both, as history)."""
    store = Store(tmp_path / "a.db")
    ingest(store, snapshot(1, today_human=5))
    if block_lost:
        with store.writing() as c:
            c.execute("DELETE FROM app_daily_wire")
        store.known = type(store.known)()
    later = _shifted(2, drop_first, new_days, change)
    ingest(store, later)
    reference = Store(tmp_path / "b.db")
    ingest(reference, snapshot(1, today_human=5))
    with reference.writing() as c:  # the reference compares nothing: every day of the window is written
        c.execute("DELETE FROM app_daily_wire")
    reference.known = type(reference.known)()
    ingest(reference, later)
    assert _days(store) == _days(reference)
    assert blocks(store) == window_blocks(later, settled=True)
    ingest(store, _shifted(3, drop_first, new_days, change))
    ingest(reference, _shifted(3, drop_first, new_days, change))
    assert _days(store) == _days(reference)


def test_a_snapshot_received_is_parsed_without_the_settled_days_the_store_holds(tmp_path):
    store = Store(tmp_path / "a.db")
    first, message = store.ingest_bytes(snapshot_to_wire(snapshot(1, today_human=5)).SerializeToString())
    assert [len(app.usage.daily) for app in message.apps] == [len(DAYS)] * 3  # nothing held yet
    result, message = store.ingest_bytes(snapshot_to_wire(snapshot(2, today_human=9)).SerializeToString())
    assert result.applied and len(message.apps) == 3
    assert [[d.date for d in app.usage.daily] for app in message.apps] == [[DAYS[-1]]] * 3
    whole = Store(tmp_path / "b.db")
    ingest(whole, snapshot(2, today_human=9))
    assert _days(store) == _days(whole)


@pytest.mark.parametrize("meanwhile", ["a-new-day", "a-settled-day-changed"])
def test_a_snapshot_skimmed_against_a_base_another_process_moved_is_stored_whole(tmp_path, meanwhile):
    """`ronda serve --processes 2`: one process walks a snapshot against what the store held, and before it
    writes, the other stores the agent's previous snapshot (it reconnected), which changed the blocks."""
    path = tmp_path / "a.db"
    one, other = Store(path), Store(path)
    ingest(one, snapshot(1, today_human=5))
    between = (
        with_new_day(2, yesterday=8, today=1) if meanwhile == "a-new-day" else _shifted(2, 0, 0, {3: 99})
    )
    last = snapshot(3, today_human=9)
    raw = snapshot_to_wire(last).SerializeToString()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    split = split_apps(raw)
    assert split is not None
    skimmed = one._skim(pb.Snapshot.FromString(split[0]), *split, now, raw, None)
    assert skimmed is not None
    message, prepared = skimmed
    assert [len(app.usage.daily) for app in message.apps] == [1, 1, 1]
    ingest(other, between)
    one._ingest(message, now, None, None, raw, prepared, skimmed=True)
    reference = Store(tmp_path / "b.db")
    for snap in (snapshot(1, today_human=5), between, last):
        reference.ingest_message(snapshot_to_wire(snap), raw=None)
    assert _days(one) == _days(reference)


def test_a_snapshot_where_some_apps_begin_a_new_day_and_others_do_not(tmp_path):
    """Apps whose logs roll over at midnight at different times (one site's first request of the day comes
    later): the newest day of some apps is a new date, of others still the stored one."""
    first, later = snapshot(1, today_human=5), snapshot(2, today_human=9)
    assert later.apps[0].usage is not None
    later.apps[0].usage.daily.append(model.DailyUsage(TOMORROW, human=3))
    store = Store(tmp_path / "a.db")
    ingest(store, first)
    ingest(store, later)
    reference = Store(tmp_path / "b.db")
    for snap in (first, later):
        reference.ingest_message(snapshot_to_wire(snap), raw=None)
    assert _days(store) == _days(reference)
    newest = store.query("SELECT app_key, date, human FROM app_usage_latest ORDER BY app_key")
    assert [(r["date"], r["human"]) for r in newest] == [(TOMORROW, 3), (DAYS[-1], 10), (DAYS[-1], 11)]
