"""Usage days sent as what changed since the snapshot the collector holds, under the faults of the field.

Each scenario runs ronda's agent on a host laid out like a Debian nginx server (tests/usage_world.py),
reporting over real gRPC on loopback through a proxy that loses, repeats or delays calls, to a real
collector on a real SQLite file. After it, the collector's daily usage must equal that of a
reference agent that sent every day in every snapshot, as ronda did before deltas.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from usage_world import SITES, World, visit

from ronda.agent.sender import SendError
from ronda.wire.v1 import ronda_pb2 as pb


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def traffic(world: World, round_: int) -> None:
    """A day in a province: people on two apps, crawlers and monitors on all, a scanner on one."""
    visit(world.root, "sipd", 0, "human", 3 + round_, client=round_)
    visit(world.root, "simpeg", 0, "human", 1, client=40 + round_)
    for site in SITES:
        visit(world.root, site, 0, "monitor", 2)
    visit(world.root, "eperda", 0, "bot", round_ % 3)
    visit(world.root, "eperda", 0, "missing", 7, client=200)  # passes the scanner threshold on the third


def test_after_the_first_report_only_changed_days_are_sent(world):
    """Thirty days of history read on first contact; then each report carries today's counts alone."""
    for days_ago in range(30, 0, -1):
        visit(world.root, "sipd", days_ago, "human", 2, client=days_ago)
        visit(world.root, "simpeg", days_ago, "bot", 1)
    for round_ in range(4):
        traffic(world, round_)
        world.report()
    first, *later = world.proxy.delivered
    assert first.usage_base == 0 and sum(len(a.usage.daily) for a in first.apps) == 30 + 30 + 3
    for previous, snapshot in zip([first, *later], later, strict=False):
        assert snapshot.usage_base == previous.sequence
        assert {d.date for a in snapshot.apps for d in a.usage.daily} == {first.apps[0].usage.daily[-1].date}
    world.assert_usage_matches()


def test_an_app_with_no_new_request_sends_no_day(world):
    visit(world.root, "sipd", 1, "human", 4)
    world.report()
    visit(world.root, "simpeg", 0, "human", 1)
    world.report()
    last = world.proxy.delivered[-1]
    assert {a.key.split(":")[1].split(".")[0]: len(a.usage.daily) for a in last.apps} == {
        "sipd": 0,
        "simpeg": 1,
        "eperda": 0,
    }
    world.assert_usage_matches()


@pytest.mark.parametrize("fault", ["lose", "lose-ack", "repeat"])
def test_a_lost_or_repeated_snapshot_or_ack_loses_nothing(world, fault):
    for round_ in range(5):
        traffic(world, round_)
        if round_ in (1, 3):
            world.proxy.faults = [fault]
        world.report()
    world.settle()
    world.assert_usage_matches()


def test_snapshots_spooled_while_the_collector_is_down_go_later_and_the_dropped_ones_are_joined(tmp_path):
    """The collector is down for longer than the spool holds: the oldest spooled snapshots are dropped, their
    days joined into the next; when it comes back, what it gets is whole."""
    world = World(tmp_path, spool=2)
    try:
        traffic(world, 0)
        world.report()
        world.proxy.down = True
        for round_ in range(1, 6):
            traffic(world, round_)
            visit(
                world.root, "simpeg", round_, "human", 1, client=90 + round_
            )  # days back, each time another
            world.report()
        assert len(world.agent.spool) == 2
        world.settle()
        world.assert_usage_matches()
    finally:
        world.close()


def test_a_spooled_snapshot_dropped_for_room_leaves_its_days_to_the_next(tmp_path):
    """Snapshot 3 (relative to 1) is lost; 4 and 5 are made relative to 2, which the collector acknowledged
    meanwhile; the full spool drops 3 for 4, which takes 3's days and its base. The collector is then
    restored to a backup holding 1: 4 and 5 are whole relative to it, with no snapshot more."""
    world = World(tmp_path, spool=2)
    try:
        traffic(world, 0)
        world.report()
        world.collector.backup(world.work / "backup.db")
        world.proxy.down = True
        for days_ago in (3, 2):
            visit(world.root, "simpeg", days_ago, "human", 2, client=days_ago)
            world.report()
        world.proxy.down, world.proxy.faults = False, ["pass", "lose"]
        with pytest.raises(SendError):
            world.agent.flush()  # 2 is acknowledged, 3 is lost on the way
        world.proxy.down = True
        for days_ago in (1, 0):
            visit(world.root, "eperda", days_ago, "human", 2, client=days_ago)
            world.report()
        spooled = [pb.Snapshot.FromString(world.agent.spool.read(s)) for s in world.agent.spool.sequences()]
        assert [(m.sequence, m.usage_base) for m in spooled] == [(4, 1), (5, 2)]
        world.move_collector(lambda c: c.restore(world.work / "backup.db"))
        world.proxy.down = False
        world.agent.flush()
        assert not world.agent.usage_lags
        world.assert_usage_matches()
    finally:
        world.close()


def test_a_snapshot_arriving_late_changes_nothing(tmp_path):
    """One snapshot is held in the network while the agent, its spool full, drops it for the next; the held
    copy arrives after newer ones, as history only. The agent's retry of it before its next scan is lost
    too, so the next scan's snapshot replaces it in the spool."""
    world = World(tmp_path, spool=1)
    try:
        traffic(world, 0)
        world.report()
        world.proxy.faults = ["late", "lose"]
        traffic(world, 1)
        world.report()
        traffic(world, 2)
        world.report()
        world.proxy.deliver_late()
        late = world.collector.store.query("SELECT sequence, applied FROM snapshots WHERE sequence = 2")
        assert late == [{"sequence": 2, "applied": 0}]
        world.settle()
        world.assert_usage_matches()
    finally:
        world.close()


@pytest.mark.parametrize("since_backup", [1, 3])
def test_a_collector_restored_from_an_older_backup_gets_what_it_lacks(world, since_backup):
    for round_ in range(3):
        traffic(world, round_)
        world.report()
    backup = world.work / "backup.db"
    world.collector.backup(backup)
    for round_ in range(3, 3 + since_backup):
        traffic(world, round_)
        visit(world.root, "eperda", round_, "human", 1, client=round_)
        world.report()
    world.move_collector(lambda c: c.restore(backup))
    traffic(world, 9)
    world.report()  # relative to a snapshot the restored store lacks: it says so, and gets what it lacks
    assert world.proxy.delivered[-2].usage_base > world.proxy.delivered[-1].usage_base
    world.assert_usage_matches()


def test_an_agent_whose_state_was_wiped_sends_whole_windows_again(world):
    for round_ in range(3):
        traffic(world, round_)
        world.report()
    world.restart_agent(wipe=True)
    traffic(world, 3)
    world.report()
    assert world.proxy.delivered[-1].usage_base == 0
    world.settle()
    world.assert_usage_matches()


def test_an_agent_upgraded_mid_stream_then_downgraded_and_upgraded_again(tmp_path):
    world = World(tmp_path, old_agent=True)
    try:
        for round_ in range(2):
            traffic(world, round_)
            world.report()
        world.restart_agent(old=False)
        for round_ in range(2, 4):
            traffic(world, round_)
            world.report()
        assert [m.usage_base for m in world.proxy.delivered] == [0, 0, 0, 3]
        world.restart_agent(old=True)  # rolled back: the old agent counts without marking days
        traffic(world, 4)
        world.report()
        traffic(world, 5)
        world.restart_agent(old=False)
        world.report()
        assert world.proxy.delivered[-1].usage_base == 0  # its marks no longer tell what changed
        world.settle()
        world.assert_usage_matches()
    finally:
        world.close()


def test_an_old_agent_is_stored_as_before(tmp_path):
    world = World(tmp_path, old_agent=True)
    try:
        for round_ in range(3):
            traffic(world, round_)
            world.report()
        assert all(m.usage_base == 0 for m in world.proxy.delivered)
        world.assert_usage_matches()
    finally:
        world.close()


def test_a_new_agent_sends_an_old_collector_whole_windows(tmp_path):
    """An old collector never says it holds usage, so it gets every day every time: even restored from a
    backup, it is whole again with the next snapshot."""
    world = World(tmp_path, old_collector=True)
    try:
        for round_ in range(3):
            traffic(world, round_)
            visit(world.root, "simpeg", round_ + 1, "human", 1, client=round_)
            world.report()
        backup = world.work / "backup.db"
        world.collector.backup(backup)
        traffic(world, 3)
        world.report()
        world.move_collector(lambda c: c.restore(backup))
        world.report()
        assert all(m.usage_base == 0 for m in world.proxy.delivered)
        assert len(world.proxy.delivered) == 5  # and none sent twice
        world.assert_usage_matches()
    finally:
        world.close()


def test_a_collector_downgraded_mid_stream_gets_whole_windows_at_once(world):
    for round_ in range(3):
        traffic(world, round_)
        world.report()
    world.move_collector(lambda c: c.swap(old=True))
    traffic(world, 3)
    world.report()
    relative, whole = world.proxy.delivered[-2:]
    assert relative.usage_base > 0 and whole.usage_base == 0
    world.assert_usage_matches()
    world.move_collector(lambda c: c.swap(old=False))  # and upgraded again
    traffic(world, 4)
    world.report()
    world.report()
    assert world.proxy.delivered[-1].usage_base > 0
    world.assert_usage_matches()


# -- any sequence of these events -------------------------------------------------------------------
EVENTS = st.one_of(
    st.tuples(
        st.just("traffic"),
        st.sampled_from(SITES),
        st.integers(0, 3),
        st.sampled_from(["human", "bot", "monitor", "missing", "error"]),
        st.integers(1, 12),
    ),
    st.tuples(st.just("report")),
    st.tuples(st.just("fault"), st.sampled_from(["lose", "lose-ack", "repeat", "late"])),
    st.tuples(st.just("down"), st.booleans()),
    st.tuples(st.just("deliver late")),
    st.tuples(st.just("backup")),
    st.tuples(st.just("restore")),
    st.tuples(st.just("wipe agent")),
    st.tuples(st.just("agent"), st.sampled_from(["old", "new"])),
    st.tuples(st.just("collector"), st.sampled_from(["old", "new"])),
)


def play(world: World, event: tuple) -> None:
    kind, *args = event
    if kind == "traffic":
        site, days_ago, what, count = args
        visit(world.root, site, days_ago, what, count, client=count)
    elif kind == "report":
        world.report()
    elif kind == "fault":
        world.proxy.faults.append(args[0])
    elif kind == "down":
        world.proxy.down = args[0]
    elif kind == "deliver late":
        world.proxy.deliver_late()
    elif kind == "backup":
        world.collector.backup(world.work / "backup.db")
    elif kind == "restore" and (world.work / "backup.db").exists():
        world.move_collector(lambda c: c.restore(world.work / "backup.db"))
    elif kind == "wipe agent":
        world.restart_agent(wipe=True)
    elif kind == "agent":
        world.restart_agent(old=args[0] == "old")
    elif kind == "collector":
        world.move_collector(lambda c: c.swap(old=args[0] == "old"))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENTS, min_size=1, max_size=14))
def test_any_sequence_of_faults_ends_with_the_usage_of_whole_windows(tmp_path_factory, events):
    world = World(tmp_path_factory.mktemp("world"), spool=2)
    try:
        visit(world.root, "sipd", 2, "human", 2)
        for event in [("report",), *events]:
            play(world, event)
        world.proxy.deliver_late()
        world.settle()
        world.assert_usage_matches()
    finally:
        world.close()
