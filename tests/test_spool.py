"""The agent's spool and backoff, and the collector's answers under overload, on real gRPC over loopback."""

import os
import random
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from servers import free_port
from trust_fixtures import Collector, snapshot

from ronda.agent.backoff import Backoff
from ronda.agent.config import AgentConfig
from ronda.agent.runner import Agent
from ronda.agent.sender import Sender, SendError
from ronda.agent.spool import Spool
from ronda.collector.demo import fleet_dir
from ronda.collector.server import ServerConfig


def test_spool_is_bounded_keeps_the_newest_and_counts_what_it_dropped(tmp_path):
    spool = Spool(tmp_path / "spool", max_entries=4)
    for sequence in range(1, 11):
        spool.put(sequence, f"snapshot {sequence}".encode())
    assert spool.sequences() == [7, 8, 9, 10]
    assert spool.coalesced == 6
    again = Spool(tmp_path / "spool", max_entries=4)  # a restarted agent finds it as it was
    assert again.sequences() == [7, 8, 9, 10] and again.coalesced == 6
    assert again.read(7) == b"snapshot 7"
    assert stat.S_IMODE(os.stat(tmp_path / "spool" / f"{7:020d}.snapshot").st_mode) == 0o600


def test_spool_is_bounded_by_bytes_too(tmp_path):
    spool = Spool(tmp_path / "spool", max_entries=100, max_bytes=2500)
    for sequence in range(1, 6):
        spool.put(sequence, b"x" * 1000)
    assert spool.sequences() == [4, 5] and spool.coalesced == 3


def test_a_write_cut_short_leaves_no_entry(tmp_path):
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / f".{1:020d}.snapshot.tmp").write_bytes(b"half a snapsh")
    assert Spool(tmp_path / "spool").sequences() == []
    assert not list((tmp_path / "spool").glob(".*"))


@pytest.mark.parametrize("hint", [None, 0.5, 7.0])
def test_backoff_is_jittered_exponential_and_honours_hints(hint):
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(7))
    delays = [backoff.next(hint) for _ in range(12)]
    if hint is None:
        for attempt, delay in enumerate(delays):
            ceiling = min(60.0, 2.0**attempt)
            assert ceiling / 2 <= delay <= ceiling
        assert len(set(delays)) == len(delays)  # jittered
    else:
        assert all(hint <= d <= hint * 1.25 for d in delays)
    backoff.reset()
    assert backoff.next() <= 1.0


def _agent(address: str, state: str, host: str = "web-dinkes") -> Agent:
    return Agent(AgentConfig(collector=address, insecure=True, root=str(fleet_dir() / host), state_dir=state))


def test_snapshots_wait_in_the_spool_while_the_collector_is_down_and_go_in_order(tmp_path):
    port = free_port()
    address = f"127.0.0.1:{port}"
    state = str(tmp_path / "state")
    for _ in range(3):  # three runs (e.g. from a timer) while nothing listens
        agent = _agent(address, state)
        with pytest.raises(SendError) as down:
            agent.report_once()
        agent.close()
        assert down.value.code == grpc.StatusCode.UNAVAILABLE and "kept in the spool" in down.value.details
    assert Spool(tmp_path / "state" / "spool").sequences() == [1, 2, 3]
    collector = Collector(tmp_path / "r.db", ServerConfig(listen=address, insecure=True))
    try:
        agent = _agent(address, state)  # a restarted agent: the spool survived
        try:
            ack = agent.report_once()
        finally:
            agent.close()
        assert ack.sequence == 4 and not ack.duplicate
        rows = collector.store.query("SELECT sequence, applied FROM snapshots ORDER BY received_at, sequence")
        assert [r["sequence"] for r in rows] == [1, 2, 3, 4] and all(r["applied"] for r in rows)
        assert Spool(tmp_path / "state" / "spool").sequences() == []
    finally:
        collector.stop()


def test_the_first_snapshot_after_an_outage_says_how_many_it_replaced(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    state = tmp_path / "state"
    for _ in range(5):
        agent = Agent(
            AgentConfig(
                collector=address,
                insecure=True,
                root=str(fleet_dir() / "web-dinkes"),
                state_dir=str(state),
                spool_max_entries=2,
            )
        )
        with pytest.raises(SendError):
            agent.report_once()
        agent.close()
    collector = Collector(tmp_path / "r.db", ServerConfig(listen=address, insecure=True))
    try:
        agent = _agent(address, str(state))
        agent.flush()
        agent.close()
        rows = collector.store.query("SELECT sequence, coalesced FROM snapshots ORDER BY sequence")
        assert rows == [{"sequence": 4, "coalesced": 3}, {"sequence": 5, "coalesced": 0}]
    finally:
        collector.stop()


def test_an_invalid_spooled_snapshot_is_dropped_not_retried_forever(tmp_path):
    collector = Collector(tmp_path / "r.db", ServerConfig(listen="127.0.0.1:0", insecure=True))
    try:
        agent = _agent(collector.address, str(tmp_path / "state"))
        bad = snapshot("5f1c7a9e2b3d4e6f8a0b1c2d3e4f5a6b", 1)
        bad.apps[0].kind = ""
        from ronda.convert import snapshot_to_wire

        agent.spool.put(1, snapshot_to_wire(bad).SerializeToString())
        agent.state.sequence = 1
        ack = agent.report_once()
        agent.close()
        assert ack.sequence == 2
        assert [r["sequence"] for r in collector.store.query("SELECT sequence FROM snapshots")] == [2]
    finally:
        collector.stop()


def test_overload_answers_unavailable_with_a_retry_delay_and_recovers(tmp_path):
    collector = Collector(
        tmp_path / "r.db",
        ServerConfig(listen="127.0.0.1:0", insecure=True, workers=2, backlog=1, store_wait=0.5),
    )
    try:
        results: list = []
        with collector.store.writing(), ThreadPoolExecutor(12) as pool:  # a long write holds the store

            def send(i):
                with Sender(collector.address, insecure=True, timeout=20) as sender:
                    try:
                        return sender.send(snapshot(f"agent{i}", 1))
                    except SendError as e:
                        return e

            results = list(pool.map(send, range(12)))
        refusals = [r for r in results if isinstance(r, SendError)]
        assert refusals and all(r.code == grpc.StatusCode.UNAVAILABLE for r in refusals)
        assert all(r.retryable and r.retry_after and 0.2 <= r.retry_after <= 120 for r in refusals)
        assert any("busy" in r.details for r in refusals)
        with Sender(collector.address, insecure=True) as sender:  # and it serves again
            assert sender.send(snapshot("after", 1)).accepted
    finally:
        collector.stop()


def test_graceful_shutdown_finishes_calls_in_flight(tmp_path):
    collector = Collector(tmp_path / "r.db", ServerConfig(listen="127.0.0.1:0", insecure=True))
    outcome: list = []
    hold = collector.store.writing()
    hold.__enter__()  # the call below waits for the store ...

    def send():
        with Sender(collector.address, insecure=True, timeout=20) as sender:
            outcome.append(sender.send(snapshot("web01", 1)))

    thread = threading.Thread(target=send)
    thread.start()
    while collector.server is not None and not _in_flight(collector):
        pass
    stopper = threading.Thread(target=collector.stop)  # ... while the server is asked to stop
    stopper.start()
    hold.__exit__(None, None, None)
    thread.join(20)
    stopper.join(20)
    assert outcome and outcome[0].accepted
    from ronda.collector.store import Store

    assert Store(tmp_path / "r.db").query("SELECT count(*) AS n FROM snapshots") == [{"n": 1}]


def _in_flight(collector) -> bool:
    import time

    time.sleep(0.05)
    pool = collector.server._state.thread_pool
    return pool.in_flight > 0
