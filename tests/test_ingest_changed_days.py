"""Ingest of a snapshot whose apps changed since the last one: only changed days are checked and written,
yet the store ends as if the snapshot had been stored whole, and a bad changed day still refuses it."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from ronda import model
from ronda.collector.store import Store
from ronda.collector.validate import InvalidSnapshot
from ronda.collector.wirejson import app_state_json

DAYS = [(date(2026, 8, 1) + timedelta(days=d)).isoformat() for d in range(40)]


def snapshot(sequence: int, today: str = DAYS[-1], today_human: int = 5, apps: int = 3) -> model.Snapshot:
    def daily(i):
        return [model.DailyUsage(d, human=i + n, bot=n % 7) for n, d in enumerate(DAYS[:-1])] + [
            model.DailyUsage(today, human=today_human + i)
        ]

    return model.Snapshot(
        agent_id="web01",
        sequence=sequence,
        report_id=f"r-{sequence}",
        collected_at=datetime.now(UTC),
        host=model.HostFacts(hostname="web01", machine_id="m-web01"),
        apps=[
            model.App(
                key=f"nginx:site{i}.test:80/",
                kind="nginx",
                server_names=[f"site{i}.test"],
                usage=model.Usage(
                    "full",
                    daily=daily(i),
                    logs=[model.LogSource("/var/log/a.log", "combined", "ok", lines=100 + sequence)],
                ),
            )
            for i in range(apps)
        ],
    )


def _days(store: Store) -> list[dict]:
    return store.query("SELECT app_key, date, human, bot FROM app_usage_daily ORDER BY app_key, date")


def _details(store: Store) -> list[dict]:
    rows = store.query("SELECT app_key, detail, state, coverage, present FROM apps ORDER BY app_key")
    return [{**r, "detail": json.loads(r["detail"]), "state": app_state_json(r["state"])} for r in rows]


@pytest.mark.parametrize("today_human", [5, 6, 900])
def test_changed_days_end_as_a_whole_ingest(tmp_path, today_human):
    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1))
    store.ingest(snapshot(2, today_human=today_human))
    whole = Store(tmp_path / "b.db")
    whole.ingest(snapshot(2, today_human=today_human))
    assert _days(store) == _days(whole)
    assert _details(store) == _details(whole)
    assert {r["human"] for r in _days(store) if r["date"] == DAYS[-1]} == {
        today_human,
        today_human + 1,
        today_human + 2,
    }


@pytest.mark.parametrize("twice", [DAYS[0], DAYS[20], DAYS[-2]])
def test_a_changed_day_naming_an_earlier_date_is_refused(tmp_path, twice):
    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1))
    before = _days(store)
    with pytest.raises(InvalidSnapshot, match="appears twice"):
        store.ingest(snapshot(2, today=twice))
    assert _days(store) == before


def test_a_changed_day_with_a_bad_date_is_refused(tmp_path):
    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1))
    with pytest.raises(InvalidSnapshot, match="YYYY-MM-DD"):
        store.ingest(snapshot(2, today="2026-13-01"))


def _usage(days: int = 5, logs: int = 1, unparsed: int = 0):
    from ronda.convert import snapshot_to_wire

    snap = snapshot(1)
    snap.apps[0].usage.daily = snap.apps[0].usage.daily[:days]
    snap.apps[0].usage.logs = snap.apps[0].usage.logs * logs
    snap.apps[0].usage.unparsed_lines = unparsed
    snap.apps[0].usage.last_request = datetime(2026, 9, 1, tzinfo=UTC)
    return snapshot_to_wire(snap).apps[0].usage


def _settled(usage) -> bytes:
    """The block the store keeps of `usage`: its daily entries but the newest, in canonical wire form."""
    from ronda.collector.store.wirebytes import daily_record

    return b"".join(daily_record(d) for d in list(usage.daily)[:-1])


def _received_daily_block(wire: bytes, start: int, end: int, settled: bytes) -> bytes | None:
    """The daily entries of the usage `wire[start:end]`, where they are the block `settled` then one more."""
    from ronda.collector.store.wirebytes import digest, settled_then_newest

    span = settled_then_newest(wire, start, end, len(settled), digest(settled))
    return None if span is None else wire[span[0] : span[1]]


def _record(number: int, data: bytes) -> bytes:
    from ronda.collector.store.wirelayout import varint

    return varint(number << 3 | 2) + varint(len(data)) + data


@pytest.mark.parametrize("days,logs,unparsed", [(5, 1, 0), (0, 1, 0), (5, 0, 0), (5, 2, 7), (40, 1, 300)])
def test_the_received_daily_block_of_a_canonical_usage_is_its_serialized_one(days, logs, unparsed):
    from ronda.collector.store.wirebytes import daily_block

    usage = _usage(days, logs, unparsed)
    wire = b"prefix" + usage.SerializeToString(deterministic=True)
    found = _received_daily_block(wire, 6, len(wire), _settled(usage))
    assert found == (daily_block(usage, wire[6:]) if days else None)


def _reordered(usage) -> dict[str, bytes]:
    """Wire forms of `usage` with its fields out of the usual order (each parses, most to other days)."""
    from ronda.wire.v1 import ronda_pb2 as pb

    head = pb.Usage(coverage=usage.coverage, last_request=usage.last_request).SerializeToString()
    days = [_record(7, d.SerializeToString()) for d in usage.daily]
    logs = b"".join(_record(8, log.SerializeToString()) for log in usage.logs)
    extra = _record(7, pb.DailyUsage(date="2026-12-01", human=3).SerializeToString())
    stamp = _record(4, usage.last_request.SerializeToString())
    return {
        "day after the logs": head + b"".join(days) + logs + extra,
        "log before the days": head + logs + b"".join(days),
        "stamp among the days": head[:2] + b"".join(days[:2]) + stamp + b"".join(days[2:]) + logs,
        "stamp after the days": head[:2] + b"".join(days) + stamp + logs,
        "day twice": head + b"".join(days) + days[-1] + logs,
    }


@pytest.mark.parametrize(
    "case,days_differ",
    [
        ("day after the logs", True),
        ("log before the days", False),
        ("stamp among the days", False),
        ("stamp after the days", False),
        ("day twice", True),
    ],
)
def test_a_reordered_usage_is_never_taken_for_the_stored_days(case, days_differ):
    from ronda.wire.v1 import ronda_pb2 as pb

    stored = _usage()
    wire = _reordered(stored)[case]
    received = pb.Usage.FromString(wire)
    assert (list(received.daily) != list(stored.daily)) == days_differ
    found = _received_daily_block(wire, 0, len(wire), _settled(stored))
    # Found means "the stored settled days, then the newest": only ever where it is true.
    if found is not None:
        assert list(pb.Usage.FromString(found).daily) == list(received.daily)
        assert list(received.daily)[:-1] == list(stored.daily)[:-1]
    if days_differ:
        assert found is None


def test_a_day_received_out_of_order_is_stored(tmp_path):
    from ronda.convert import snapshot_to_wire
    from ronda.wire.v1 import ronda_pb2 as pb

    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1))
    message = snapshot_to_wire(snapshot(2))
    usage = message.apps[0].usage
    wire = _reordered(usage)["day after the logs"]
    first = message.apps[0]
    first.ClearField("usage")
    apps = [_record(8, first.SerializeToString() + _record(12, wire))] + [
        _record(8, app.SerializeToString()) for app in message.apps[1:]
    ]
    message.ClearField("apps")
    raw = message.SerializeToString() + b"".join(apps)
    store.ingest_message(pb.Snapshot.FromString(raw), raw=raw)
    stored = store.query(
        "SELECT date, human FROM app_usage_daily WHERE app_key='nginx:site0.test:80/' AND date='2026-12-01'"
    )
    assert stored == [{"date": "2026-12-01", "human": 3}]


@pytest.mark.parametrize("first", [True, False])
def test_a_changed_app_with_a_timestamp_out_of_range_is_refused_with_its_place(tmp_path, first):
    from ronda.convert import snapshot_to_wire

    store = Store(tmp_path / "a.db")
    if not first:
        store.ingest(snapshot(1))
    message = snapshot_to_wire(snapshot(2))
    message.apps[1].usage.last_request.seconds = 10**13
    with pytest.raises(InvalidSnapshot, match=r"apps\[1\]\.usage\.last_request: timestamp out of range"):
        store.ingest_message(message, raw=message.SerializeToString())


def _blocks(store: Store) -> dict[str, bytes]:
    return {r["app_key"]: r["block"] for r in store.query("SELECT app_key, block FROM app_daily_wire")}


@pytest.mark.parametrize(
    "todays",
    [
        [5, 9, 5],  # today's count goes back to a value the stored block still holds
        [5, 9, 9, 12],
        [5, 5, 9],
    ],
)
def test_a_block_kept_behind_in_its_last_entry_still_gives_a_whole_ingest(tmp_path, todays):
    store = Store(tmp_path / "a.db")
    for sequence, today_human in enumerate(todays, 1):
        store.ingest(snapshot(sequence, today_human=today_human))
        if sequence == 1:
            first_blocks = _blocks(store)
    assert _blocks(store) == first_blocks  # only today's entry moved: the blocks were never rewritten
    whole = Store(tmp_path / "b.db")
    whole.ingest(snapshot(len(todays), today_human=todays[-1]))
    assert _days(store) == _days(whole)


def test_a_new_day_after_a_kept_block_is_stored_and_the_block_catches_up(tmp_path):
    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1, today=DAYS[-1], today_human=5))
    store.ingest(snapshot(2, today=DAYS[-1], today_human=8))
    tomorrow = (date.fromisoformat(DAYS[-1]) + timedelta(days=1)).isoformat()

    def two_days(sequence: int, yesterday: int, today: int) -> model.Snapshot:
        snap = snapshot(sequence, today=DAYS[-1], today_human=yesterday)
        for i, app in enumerate(snap.apps):
            app.usage.daily.append(model.DailyUsage(tomorrow, human=today + i))
        return snap

    store.ingest(two_days(3, yesterday=10, today=1))
    store.ingest(two_days(4, yesterday=10, today=2))
    whole = Store(tmp_path / "b.db")
    whole.ingest(two_days(4, yesterday=10, today=2))
    assert _days(store) == _days(whole)
    assert {r["human"] for r in _days(store) if r["date"] == DAYS[-1]} == {10, 11, 12}


def _shortened(sequence: int, last: int, today_human: int) -> model.Snapshot:
    """snapshot(sequence) whose days end at DAYS[last] (a window cut back, as after a clock set back)."""
    snap = snapshot(sequence, today_human=today_human)
    for app in snap.apps:
        app.usage.daily = app.usage.daily[:last] + [model.DailyUsage(DAYS[last], human=today_human)]
    return snap


@pytest.mark.parametrize(
    "lasts",
    [
        [39, 39, 39],  # the same newest day, counts moving
        [38, 39, 39],  # a new day: the finished one moves to the earlier days
        [39, 37, 39],  # the newest day goes back, then forward again
        [20, 39, 30, 39],
    ],
)
def test_each_day_is_stored_once_whichever_day_is_newest(tmp_path, lasts):
    store = Store(tmp_path / "a.db")
    for sequence, last in enumerate(lasts, 1):
        store.ingest(_shortened(sequence, last, today_human=100 + sequence))
    days = _days(store)
    assert len({(r["app_key"], r["date"]) for r in days}) == len(days)
    newest = store.query("SELECT app_key, date, human FROM app_usage_latest ORDER BY app_key")
    assert [(r["date"], r["human"]) for r in newest] == [(DAYS[lasts[-1]], 100 + len(lasts))] * 3
    assert store.query("SELECT * FROM app_usage_days WHERE date = ?", (DAYS[lasts[-1]],)) == []
    whole = Store(tmp_path / "b.db")
    whole.ingest(_shortened(len(lasts), lasts[-1], today_human=100 + len(lasts)))
    assert [r for r in days if r["date"] <= DAYS[lasts[-1]]] == _days(whole)


def test_a_finished_day_keeps_its_last_counts(tmp_path):
    store = Store(tmp_path / "a.db")
    store.ingest(_shortened(1, 38, today_human=7))
    store.ingest(_shortened(2, 38, today_human=9))  # the day's counts grow
    next_day = _shortened(3, 38, today_human=9)  # the next day begins
    for app in next_day.apps:
        app.usage.daily.append(model.DailyUsage(DAYS[39], human=1))
    store.ingest(next_day)
    finished = store.query("SELECT human FROM app_usage_days WHERE date = ?", (DAYS[38],))
    assert [r["human"] for r in finished] == [9, 9, 9]
    newest = store.query("SELECT date, human FROM app_usage_latest")
    assert [(r["date"], r["human"]) for r in newest] == [(DAYS[39], 1)] * 3


@pytest.mark.parametrize("newest_human", [0, 7])
def test_usage_windows_count_the_newest_day_and_the_earlier_ones(tmp_path, newest_human):
    from ronda.collector.reconcile.config import ReconcileConfig
    from ronda.collector.reconcile.db import usage_windows

    store = Store(tmp_path / "a.db")
    now = datetime.fromisoformat(DAYS[-1]).replace(tzinfo=UTC)
    snap = _shortened(1, 39, today_human=newest_human)
    for app in snap.apps:
        app.usage.last_human_request = now  # only apps used in the window are summed
    store.ingest(snap)
    assert store.query("SELECT count(*) AS n FROM app_usage_latest") == [{"n": 3}]
    config = ReconcileConfig()
    found = usage_windows(store.conn, config, now)

    def window(days: dict[str, int], first_day: int, last_day: int) -> int:
        return sum(
            h
            for d, h in days.items()
            if (now - timedelta(days=first_day)).date().isoformat()
            <= d
            <= (now - timedelta(days=last_day)).date().isoformat()
        )

    for i in range(3):
        days = {r["date"]: r["human"] for r in _days(store) if r["app_key"] == f"nginx:site{i}.test:80/"}
        idle = window(days, config.idle_days - 1, 0)
        recent = window(days, config.trend_days - 1, 0)
        before = window(days, 2 * config.trend_days - 1, config.trend_days)
        assert found[("web01", f"nginx:site{i}.test:80/")] == (idle, recent, before)
        assert days[DAYS[-1]] == newest_human


@pytest.mark.parametrize(
    ("today", "today_human", "problem"),
    [("2026-13-01", 5, "YYYY-MM-DD"), (DAYS[-1], 2**63, "above")],
    ids=["bad-date", "count-above-sqlite"],
)
def test_a_whole_window_whose_newest_day_is_bad_is_refused_from_the_bytes(
    tmp_path, today, today_human, problem
):
    # as an agent resends its whole window (after its state was lost): every settled day is the stored
    # block's, so only the newest day is checked, and a bad one still refuses the snapshot
    from ronda.convert import snapshot_to_wire

    store = Store(tmp_path / "a.db")
    store.ingest_bytes(snapshot_to_wire(snapshot(1)).SerializeToString())
    before = _days(store)
    raw = snapshot_to_wire(snapshot(2, today=today, today_human=today_human)).SerializeToString()
    with pytest.raises(InvalidSnapshot, match=problem):
        store.ingest_bytes(raw)
    assert _days(store) == before
