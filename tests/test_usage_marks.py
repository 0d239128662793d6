"""The usage state marks the days each write changes, so a snapshot can carry only those changed since one
the collector holds; the agent's state remembers which snapshot that is, and its spool joins days."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing

import pytest
from test_usage_state import batch
from usage_lines import BROWSER, GOOGLEBOT, Request, log_app
from usage_lines import scan as scan_logs

from ronda.agent.host import LocalHost
from ronda.agent.spool import Spool
from ronda.agent.state import MARKS_KEPT, AgentState
from ronda.agent.usage import UsageCollector, UsageOptions
from ronda.agent.usage.delta import UsageMark, applies, join_spooled
from ronda.agent.usage.state import UsageState
from ronda.wire.v1 import ronda_pb2 as pb


def days(state: UsageState, app: str = "app", since: int | None = None) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in state.daily(app, scanner_threshold=20, since=since)}


def count(app: str, day: str, human: int = 1):
    return (app, day, human, 0, 0, 0)


def test_only_the_days_written_after_a_seal_are_read_since_it(tmp_path):
    state = UsageState(tmp_path / "usage.sqlite")
    state.write(
        batch({}, [count("app", "2026-11-01"), count("app", "2026-11-02"), count("other", "2026-11-02")])
    )
    first = state.seal()
    assert days(state, since=first) == {}
    state.write(batch({("app", "2026-11-02"): {7}}, [count("app", "2026-11-02", 4)]))
    second = state.seal()
    assert second == first + 1
    assert days(state, since=first) == {"2026-11-02": (5, 0, 0, 0, 0, 1)}
    assert days(state, since=second) == {}
    assert days(state, "other", since=first) == {}
    assert days(state) == {"2026-11-01": (1, 0, 0, 0, 0, 0), "2026-11-02": (5, 0, 0, 0, 0, 1)}


def test_a_day_changed_only_by_rejected_requests_or_new_clients_is_marked(tmp_path):
    """403/404 answers are kept apart (they become scanner or error counts when read), and so are clients."""
    state = UsageState(tmp_path / "usage.sqlite")
    mark = state.seal()
    rejects = batch({})
    rejects.rejects = [("app", "2026-11-03", 42, 25)]
    state.write(rejects)
    state.write(batch({("app", "2026-11-04"): {9}}))
    assert set(days(state, since=mark)) == {"2026-11-03", "2026-11-04"}


def test_a_write_by_another_process_after_a_seal_is_read_with_the_next_snapshot(tmp_path):
    """`ronda-agent scan --state-dir` beside the daemon: its counts are marked after the daemon's seal."""
    daemon = UsageState(tmp_path / "usage.sqlite")
    mark = daemon.seal()
    other = UsageState(tmp_path / "usage.sqlite")
    other.write(batch({}, [count("app", "2026-11-05", 3)]))
    other.close()
    assert days(daemon, since=mark) == {"2026-11-05": (3, 0, 0, 0, 0, 0)}


def test_pruned_days_lose_their_marks(tmp_path):
    state = UsageState(tmp_path / "usage.sqlite")
    state.write(batch({}, [count("app", "2025-01-01"), count("app", "2026-01-01")]))
    state.prune("2025-06-01")
    assert state.db.execute("SELECT day FROM day_changes").fetchall() == [("2026-01-01",)]


def test_a_state_an_older_agent_wrote_gets_a_new_id(tmp_path):
    """An agent rolled back to a release without marks counts without marking; its days since are unknown."""
    path = tmp_path / "usage.sqlite"
    state = UsageState(path)
    first = state.id
    state.close()
    assert UsageState(path).id == first
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")  # what the older agent writes on open
    assert UsageState(path).id != first


def test_a_scan_reads_every_day_or_those_changed_since_a_mark_of_the_same_state_and_threshold(tmp_path):
    """Real combined-format lines read by the usage collector, as the agent reads them."""
    log = tmp_path / "access.log"
    now = int(time.time()) - 60
    lines = [Request(f"10.0.0.{i}", now - 2 * 86400, "/", 200, BROWSER) for i in range(3)]
    log.write_text("".join(r.line() + "\n" for r in lines))
    first = scan_logs([log_app(log)], tmp_path / "state")
    assert first.mark is not None and not first.changed_only
    assert len(first.apps[0].usage.daily) == 1
    later = Request("10.0.0.9", now, "/", 200, GOOGLEBOT)
    with open(log, "a") as f:
        f.write(later.line() + "\n")
    second = UsageCollector(LocalHost(), [log_app(log)], {}, tmp_path / "state", since=first.mark)
    second.run()
    assert second.changed_only
    assert [(d.date, d.bot) for d in second.apps[0].usage.daily] == [(later.day, 1)]
    other = UsageCollector(
        LocalHost(),
        [log_app(log)],
        {},
        tmp_path / "state",
        UsageOptions(scanner_threshold=5),
        since=first.mark,
    )
    other.run()  # another threshold splits rejected requests otherwise: every day again
    assert not other.changed_only and len(other.apps[0].usage.daily) == 2


@pytest.mark.parametrize(
    "since,mark,expected",
    [
        (None, UsageMark("s/20", 3), False),
        (UsageMark("s/20", 3), None, False),
        (UsageMark("s/20", 3), UsageMark("s/20", 3), True),
        (UsageMark("s/20", 3), UsageMark("s/20", 9), True),
        (UsageMark("s/20", 9), UsageMark("s/20", 3), False),  # a mark from the future: a state restored
        (UsageMark("s/20", 3), UsageMark("t/20", 9), False),  # another state
        (UsageMark("s/20", 3), UsageMark("s/5", 9), False),  # another scanner threshold
    ],
)
def test_which_marks_a_snapshot_may_be_sent_relative_to(since, mark, expected):
    assert applies(since, mark) is expected


# -- the agent's state: which snapshot the collector holds ------------------------------------------------
def test_marks_and_the_base_survive_a_restart_and_are_bounded(tmp_path):
    state = AgentState.load(tmp_path)
    for n in range(MARKS_KEPT + 10):
        state.next_sequence(UsageMark("s/20", n))
    assert not state.acknowledged(state.sequence, 0, state.sequence)
    again = AgentState.load(tmp_path)
    assert again.sequence == MARKS_KEPT + 10 and again.usage_base == again.sequence
    assert again.usage_since() == UsageMark("s/20", MARKS_KEPT + 9)
    assert sorted(again.marks) == list(range(11, MARKS_KEPT + 11))


@pytest.mark.parametrize(
    "text",
    [
        '{"agent_id": "web01", "sequence": 7}',  # written by an agent before usage marks
        '{"agent_id": "web01", "sequence": 7, "usage_base": 7, "usage_marks": {"7": "broken"}}',
        '{"agent_id": "web01", "sequence": 7, "usage_base": 6, "usage_marks": {"7": ["s/20", 3]}}',
    ],
)
def test_a_state_without_a_usable_base_sends_whole_windows_and_keeps_its_sequence(tmp_path, text):
    (tmp_path / "agent.json").write_text(text)
    state = AgentState.load(tmp_path)
    assert state.sequence == 7 and state.usage_base == 0 and state.usage_since() is None


@pytest.mark.parametrize(
    "sent_base,through,base,lags",
    [
        (0, 5, 5, False),  # whole windows, stored
        (4, 5, 5, False),  # changed days, stored over the base it holds
        (4, 3, 3, True),  # it lacked base 4 (a backup of snapshot 3): the days since 3, at once
        (4, 2, 0, True),  # a backup older than any mark kept: whole windows, at once
        (4, 0, 0, True),  # an old collector, or one that lost this agent: whole windows, at once
        (0, 0, 0, False),  # an old collector answering whole windows: nothing lags
    ],
)
def test_an_ack_sets_the_base_and_says_when_the_collector_lags(tmp_path, sent_base, through, base, lags):
    state = AgentState.load(tmp_path)
    for n in range(1, 6):
        state.next_sequence(UsageMark("s/20", n * 10))
    del state.marks[2]
    assert state.acknowledged(5, sent_base, through) is lags
    assert state.usage_base == base
    assert json.loads((tmp_path / "agent.json").read_text())["usage_base"] == base


# -- the spool joins the days of a snapshot it drops into the next ----------------------------------------
def snapshot(sequence: int, base: int, days: dict[str, dict[str, int]]) -> bytes:
    return pb.Snapshot(
        agent_id="web01",
        sequence=sequence,
        usage_base=base,
        apps=[
            pb.App(
                key=key,
                kind="nginx",
                usage=pb.Usage(daily=[pb.DailyUsage(date=d, human=n) for d, n in sorted(counts.items())]),
            )
            for key, counts in days.items()
        ],
    ).SerializeToString()


def daily(data: bytes) -> tuple[int, dict]:
    message = pb.Snapshot.FromString(data)
    return message.usage_base, {a.key: {d.date: d.human for d in a.usage.daily} for a in message.apps}


def test_joining_keeps_the_union_of_days_the_newer_count_and_the_older_base():
    older = snapshot(3, 1, {"a": {"2026-11-01": 5, "2026-11-02": 1}, "gone": {"2026-11-02": 4}})
    newer = snapshot(4, 2, {"a": {"2026-11-02": 3, "2026-11-03": 1}, "b": {}})
    assert daily(join_spooled(older, newer)) == (
        1,
        {"a": {"2026-11-01": 5, "2026-11-02": 3, "2026-11-03": 1}, "b": {}},
    )


def test_whole_windows_need_no_join():
    newer = snapshot(4, 0, {"a": {"2026-11-02": 3}})
    assert join_spooled(snapshot(3, 0, {"a": {"2026-11-01": 1}}), newer) is newer


def test_the_spool_joins_what_it_drops_into_the_next(tmp_path):
    spool = Spool(tmp_path / "spool", max_entries=2, join=join_spooled)
    spool.put(1, snapshot(1, 0, {"a": {"2026-11-01": 1}}))
    spool.put(2, snapshot(2, 1, {"a": {"2026-11-02": 2}}))
    spool.put(3, snapshot(3, 2, {"a": {"2026-11-03": 3}}))
    assert spool.sequences() == [2, 3] and spool.coalesced == 1
    assert daily(spool.read(2)) == (0, {"a": {"2026-11-01": 1, "2026-11-02": 2}})
