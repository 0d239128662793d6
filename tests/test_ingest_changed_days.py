"""Ingest of a snapshot whose apps changed since the last one: only changed days are checked and written,
yet the store ends as if the snapshot had been stored whole, and a bad changed day still refuses it."""
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from agent import model
from collector.store import Store
from collector.validate import InvalidSnapshot

DAYS = [(date(2026, 8, 1) + timedelta(days=d)).isoformat() for d in range(40)]


def snapshot(sequence: int, today: str = DAYS[-1], today_human: int = 5, apps: int = 3) -> model.Snapshot:
    def daily(i):
        return [model.DailyUsage(d, human=i + n, bot=n % 7) for n, d in enumerate(DAYS[:-1])] + \
            [model.DailyUsage(today, human=today_human + i)]
    return model.Snapshot(
        agent_id="web01", sequence=sequence, report_id=f"r-{sequence}",
        collected_at=datetime.now(timezone.utc), host=model.HostFacts(hostname="web01", machine_id="m-web01"),
        apps=[model.App(key=f"nginx:site{i}.test:80/", kind="nginx", server_names=[f"site{i}.test"],
                        usage=model.Usage("full", daily=daily(i),
                                          logs=[model.LogSource("/var/log/a.log", "combined", "ok",
                                                                lines=100 + sequence)]))
              for i in range(apps)])


def _days(store: Store) -> list[dict]:
    return store.query("SELECT app_key, date, human, bot FROM app_usage_daily ORDER BY app_key, date")


def _details(store: Store) -> list[dict]:
    rows = store.query("SELECT app_key, detail, coverage, present FROM apps ORDER BY app_key")
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]  # a patched detail is compact JSON


@pytest.mark.parametrize("today_human", [5, 6, 900])
def test_changed_days_end_as_a_whole_ingest(tmp_path, today_human):
    store = Store(tmp_path / "a.db")
    store.ingest(snapshot(1))
    store.ingest(snapshot(2, today_human=today_human))
    whole = Store(tmp_path / "b.db")
    whole.ingest(snapshot(2, today_human=today_human))
    assert _days(store) == _days(whole)
    assert _details(store) == _details(whole)
    assert {r["human"] for r in _days(store) if r["date"] == DAYS[-1]} == {today_human, today_human + 1,
                                                                           today_human + 2}


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
