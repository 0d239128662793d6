"""The collector's side of usage deltas: which snapshot it holds an agent's usage through, what its ack says,
what it refuses, what older peers read of it, and gzip on the channel (bytes counted on a real link)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import grpc
import pytest
from usage_world import OLD

from bench.fleet import make_snapshot
from bench.relay import CountingRelay
from ronda import model
from ronda.agent.sender import COMPRESS_ABOVE, Sender
from ronda.collector.server import SERVICE, ServerConfig, make_server
from ronda.collector.store import Store
from ronda.collector.validate import InvalidSnapshot
from ronda.convert import snapshot_to_wire
from ronda.wire.v1 import ronda_pb2 as pb

TODAY = "2026-11-20"


def days(store: Store) -> list[tuple]:
    return [
        (r["date"], r["human"])
        for r in store.query(
            "SELECT date, human FROM app_usage_daily WHERE app_key LIKE '%app1.%' ORDER BY date"
        )
    ]


def steady(sequence: int, base: int) -> model.Snapshot:
    snapshot = make_snapshot("web01", sequence, apps=3, days=5, changed_only=True)
    snapshot.usage_base = base
    return snapshot


def test_whole_windows_then_changed_days_over_the_base_held(store):
    first = store.ingest(make_snapshot("web01", 1, apps=3, days=5))
    assert first.usage_through == 1
    snapshot = steady(2, base=1)
    second = store.ingest(snapshot)
    assert second.usage_through == 2 and not second.notes
    whole = make_snapshot("web01", 2, apps=3, days=5).apps[1].usage.daily
    assert days(store) == [(d.date, d.human) for d in whole]
    again = store.ingest(snapshot)  # its ack was lost: sent again
    assert again.duplicate and again.usage_through == 2


@pytest.mark.parametrize("held", [0, 1])
def test_changed_days_over_a_base_not_held_are_stored_and_the_ack_says_what_is_held(store, held):
    """The store was restored from a backup holding snapshot `held` (0: it never heard of the agent)."""
    if held:
        store.ingest(make_snapshot("web01", 1, apps=3, days=5))
    result = store.ingest(steady(7, base=5))
    assert result.usage_through == held and not result.duplicate
    assert "since snapshot 5" in result.notes[-1] and "does not hold" in result.notes[-1]
    assert (TODAY, make_snapshot("web01", 7, apps=3, days=5).apps[1].usage.daily[-1].human) in days(store)
    assert store.ingest(make_snapshot("web01", 8, apps=3, days=5)).usage_through == 8  # whole windows: held


def test_a_late_snapshot_leaves_the_usage_held_as_it_was(store):
    store.ingest(make_snapshot("web01", 1, apps=3, days=5))
    store.ingest(steady(3, base=1))
    late = store.ingest(steady(2, base=1))
    assert late.stale and late.usage_through == 3
    assert (TODAY, make_snapshot("web01", 3, apps=3, days=5).apps[1].usage.daily[-1].human) in days(store)


@pytest.mark.parametrize("base", [5, 6])
def test_a_base_not_before_the_snapshot_is_refused(store, base):
    with pytest.raises(
        InvalidSnapshot, match=f"usage_base {base} must be an earlier snapshot than sequence 5"
    ):
        store.ingest(steady(5, base=base))


def test_an_app_whose_days_are_gone_keeps_the_days_stored(store):
    """Whole windows whose app lost every day (its state pruned, or a log no longer read): nothing written."""
    store.ingest(make_snapshot("web01", 1, apps=3, days=5))
    before = days(store)
    empty = make_snapshot("web01", 2, apps=3, days=5)
    empty.apps[1].usage.daily = []
    store.ingest(empty)
    assert days(store) == before


# -- over gRPC, with older peers ---------------------------------------------------------------------------
@pytest.fixture
def collector(tmp_path):
    store = Store(tmp_path / "ronda.db")
    server, port = make_server(store, ServerConfig(listen="127.0.0.1:0", insecure=True))
    yield store, f"127.0.0.1:{port}"
    server.stop(grace=1).wait()
    store.close()


def test_the_ack_says_through_which_snapshot_usage_is_held(collector):
    _, address = collector
    with Sender(address, insecure=True) as sender:
        assert sender.send(make_snapshot("web01", 1, apps=3, days=5)).usage_through == 1
        assert sender.send(steady(2, base=1)).usage_through == 2
        lacking = sender.send(steady(4, base=3))
    assert lacking.usage_through == 2 and "does not hold" in lacking.message


def test_an_old_agent_reads_the_new_ack_and_the_new_collector_reads_its_snapshot(collector):
    """ronda.v1 before deltas on one side: its snapshot has no base (whole windows), and the new ack parses
    for it, the new field unseen."""
    store, address = collector
    old = OLD["Snapshot"].FromString(
        snapshot_to_wire(make_snapshot("web01", 1, apps=3, days=5)).SerializeToString()
    )
    with grpc.insecure_channel(address) as channel:
        answer = channel.unary_unary(f"/{SERVICE}/Report")(old.SerializeToString(), timeout=10)
    ack = OLD["ReportAck"].FromString(answer)
    assert (
        ack.accepted
        and ack.sequence == 1
        and "usage_through" not in OLD["ReportAck"].DESCRIPTOR.fields_by_name
    )
    assert store.query("SELECT usage_through FROM agents") == [{"usage_through": 1}]


def test_a_new_agent_reads_an_old_ack_as_holding_nothing():
    ack = pb.ReportAck.FromString(OLD["ReportAck"](accepted=True, sequence=4).SerializeToString())
    assert ack.usage_through == 0 and ack.accepted


@pytest.mark.parametrize(
    "snapshot,saving",
    [
        (make_snapshot("web01", 5, changed_only=True), 8),  # 100 apps, the days changed since snapshot 4
        (make_snapshot("web01", 5, apps=20), 3),  # first contact of 20 apps, 90 days each
    ],
    ids=["steady 100 apps", "first contact 20 apps"],
)
def test_snapshots_above_a_small_size_go_gzip_compressed(collector, snapshot, saving):
    """Bytes a real link carries (plain text on loopback, headers and ack included), compressed and not."""
    _, address = collector
    message = snapshot_to_wire(snapshot)
    assert message.ByteSize() > COMPRESS_ABOVE
    sizes = {}
    for compress in (False, True):
        message.report_id = f"r-{compress}"
        message.sequence += 1
        with (
            CountingRelay(address) as relay,
            Sender(relay.address, insecure=True, compress=compress) as sender,
        ):
            assert sender.send_message(message).accepted
            sizes[compress] = relay.up
    assert sizes[False] > message.ByteSize() > sizes[True] * saving


def test_a_collector_that_refuses_gzip_gets_snapshots_uncompressed(tmp_path):
    """A collector (or a proxy in front of it) with gzip disabled answers UNIMPLEMENTED: sent again plain."""
    seen = []

    def report(request: bytes, context) -> bytes:
        seen.append(pb.Snapshot.FromString(request).sequence)
        return pb.ReportAck(accepted=True, sequence=seen[-1]).SerializeToString()

    server = grpc.server(ThreadPoolExecutor(2), options=[("grpc.compression_enabled_algorithms_bitset", 1)])
    handler = grpc.unary_unary_rpc_method_handler(report)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {"Report": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Sender(f"127.0.0.1:{port}", insecure=True) as sender:
            assert sender.send(make_snapshot("web01", 1, apps=3, days=5)).accepted
            assert not sender.compress
            assert sender.send(make_snapshot("web01", 2, apps=3, days=5)).accepted
        assert seen == [1, 2]
    finally:
        server.stop(0)


def test_an_unchanged_app_is_marked_seen_at_most_hourly_and_at_once_when_it_comes_back(store):
    """A steady snapshot rewrites no row of an app it leaves as it was, but once an hour; the host's
    snapshot time says when it was seen to the second."""
    at = [datetime(2026, 11, 20, 8, m, tzinfo=UTC) for m in (0, 15, 30)] + [
        datetime(2026, 11, 20, 9, 35, tzinfo=UTC)
    ]

    def seen(key: str = "nginx:site1.test:80/") -> tuple:
        row = store.query("SELECT last_seen, present FROM apps WHERE app_key = ?", (key,))[0]
        return row["last_seen"], row["present"]

    def snapshot(sequence: int, apps: int = 2) -> model.Snapshot:
        return model.Snapshot(
            agent_id="web01",
            sequence=sequence,
            report_id=f"r{sequence}",
            collected_at=at[0],
            apps=[model.App(key=f"nginx:site{i}.test:80/", kind="nginx") for i in range(apps)],
        )

    store.ingest(snapshot(1), received_at=at[0])
    store.ingest(snapshot(2, apps=1), received_at=at[1])  # site1 gone
    assert seen() == ("2026-11-20T08:00:00Z", 0)
    store.ingest(snapshot(3), received_at=at[2])  # back, as it was
    assert seen() == ("2026-11-20T08:30:00Z", 1)
    store.ingest(snapshot(4), received_at=at[2].replace(minute=45))
    assert seen() == ("2026-11-20T08:30:00Z", 1)
    store.ingest(snapshot(5), received_at=at[3])
    assert seen() == ("2026-11-20T09:35:00Z", 1)
    assert store.query("SELECT last_seen FROM agents") == [{"last_seen": "2026-11-20T09:35:00Z"}]
