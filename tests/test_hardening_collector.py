"""A hostile or unlucky caller cannot silence `ronda serve`: calls that never send their body, revoked
agents, and many large bodies at once, against the real server process over real TLS.

The shapes stand for what a collector on a provincial network meets: a compromised (or simply
broken) agent that opens Report and stalls, a decommissioned server whose certificate was revoked
but whose agent keeps calling, a client that floods the port with 16 MiB messages without
credentials, and honest agents whose snapshots are large.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from serve_child import REPORT, ServeChild, Stalled
from trust_fixtures import Collector, make_pki, snapshot

from bench.fleet import large_snapshot
from ronda.agent.sender import SIZE_METADATA, Sender, SendError
from ronda.collector.server import ServerConfig
from ronda.collector.store import Store
from ronda.collector.trust.registry import Registry
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles, channel

MiB = 1024 * 1024


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


@pytest.mark.servers
def test_calls_that_never_send_a_body_leave_health_checks_and_honest_agents_served(tmp_path, pki):
    db = tmp_path / "ronda.db"
    registry = Registry(Store(db))
    registry.revoke("gone", "server decommissioned")
    serve = ServeChild(db, pki.collector, "--receive-timeout", "3")
    mole, gone, web01 = pki.agent("mole"), pki.agent("gone"), pki.agent("web01")
    stalled = [Stalled(serve.address, mole) for _ in range(6)] + [
        Stalled(serve.address, gone) for _ in range(6)
    ]
    try:
        time.sleep(0.5)
        checks = [serve.health_seconds(web01) for _ in range(10)]
        assert max(checks) < 1.0, checks
        started = time.monotonic()
        with Sender(serve.address, tls=web01) as sender:
            assert sender.send(snapshot("web01")).accepted
        assert time.monotonic() - started < 2.0
        for call in stalled:
            call.join(10)
        revoked = [c for c in stalled if c.code == grpc.StatusCode.PERMISSION_DENIED]
        assert len(revoked) == 6 and all("revoked" in c.details for c in revoked)
        assert all(c.ended_after < 2.0 for c in revoked)  # refused before any body was awaited
        moles = [c for c in stalled[:6]]
        # one call per agent is admitted and cancelled at its receive deadline; the others wait their turn
        assert [c.code for c in moles].count(grpc.StatusCode.CANCELLED) == 1
        assert [c.code for c in moles].count(grpc.StatusCode.UNAVAILABLE) == 5
        assert all("report in progress" in c.details for c in moles if c.code == grpc.StatusCode.UNAVAILABLE)
        assert 2.5 < max(c.ended_after for c in moles) < 8
    finally:
        for call in stalled:
            call.close()
        log = serve.stop()
    assert "within 3 s; the call was cancelled" in log


@pytest.mark.servers
def test_stalled_calls_leave_health_answered_by_every_process_of_a_multiprocess_collector(tmp_path, pki):
    """`ronda serve --processes 2`, as the Ansible unit runs a busy collector: eight agents (each its
    own certificate, so no per-agent limit bounds them) open Report and never send; health checks,
    on new connections that the kernel spreads over both processes, are answered at once; an honest
    agent, told to retry while the stalled calls fill the byte budget, is stored once they are cut."""
    serve = ServeChild(tmp_path / "ronda.db", pki.collector, "--processes", "2", "--receive-timeout", "3")
    stalled = [Stalled(serve.address, pki.agent(f"mole{i}")) for i in range(8)]
    try:
        time.sleep(0.5)
        checks = [serve.health_seconds(pki.agent("web01")) for _ in range(16)]
        assert max(checks) < 1.0, checks
        started = time.monotonic()
        with Sender(serve.address, tls=pki.agent("web01")) as sender:
            while True:  # as the agent does: UNAVAILABLE carries the delay to retry after
                try:
                    assert sender.send(snapshot("web01")).accepted
                    break
                except SendError as e:
                    assert e.code == grpc.StatusCode.UNAVAILABLE and time.monotonic() - started < 8, e
                    time.sleep(e.retry_after or 0.5)
        for call in stalled:
            call.join(10)
        codes = [c.code for c in stalled]
        assert set(codes) <= {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE}, codes
        assert grpc.StatusCode.CANCELLED in codes  # admitted, held, cut at the receive deadline
        assert max(c.ended_after for c in stalled) < 8  # none held past it
    finally:
        for call in stalled:
            call.close()
        serve.stop()


@pytest.mark.servers
def test_stalled_calls_on_a_plain_loopback_collector_still_leave_health_answered(tmp_path):
    # --insecure has no identity to tell callers apart: the receiving slots bound them instead
    serve = ServeChild(tmp_path / "ronda.db", None, "--receive-timeout", "2")
    stalled = [Stalled(serve.address, None) for _ in range(12)]
    try:
        time.sleep(0.5)
        assert max(serve.health_seconds() for _ in range(10)) < 1.0
        for call in stalled:
            call.join(10)
        codes = [c.code for c in stalled]
        # a call that declares no size is charged the largest message (16 MiB): two fill the budget
        assert codes.count(grpc.StatusCode.CANCELLED) == 2
        assert codes.count(grpc.StatusCode.UNAVAILABLE) == 10
        with Sender(serve.address, insecure=True) as sender:  # the slots are free again
            assert sender.send(snapshot("web01")).accepted
    finally:
        for call in stalled:
            call.close()
        serve.stop()


_FLOOD = """
import sys, threading, grpc
address, ca, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = b"\\x0a" + b"x" * (int(15.9 * 1024 * 1024))
creds = grpc.ssl_channel_credentials(open(ca, "rb").read())
codes = []
def call():
    with grpc.secure_channel(address, creds, options=[("grpc.max_send_message_length", 17 << 20)]) as ch:
        try:
            ch.unary_unary("/ronda.v1.Collector/Report")(body, timeout=60)
        except grpc.RpcError as e:
            codes.append(e.code().name)
threads = [threading.Thread(target=call) for _ in range(count)]
[t.start() for t in threads]
[t.join() for t in threads]
print(",".join(sorted(set(codes))), len(codes))
"""


@pytest.mark.servers
def test_many_large_bodies_without_credentials_cost_the_collector_no_memory(tmp_path, pki):
    tls = TlsFiles("", pki.collector.cert, pki.collector.key)  # token mode: anyone may reach Report
    serve = ServeChild(tmp_path / "ronda.db", tls)
    try:
        time.sleep(0.5)
        baseline = serve.peak_rss
        flood = subprocess.run(
            [sys.executable, "-c", _FLOOD, serve.address, pki.ca, "60"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert flood.stdout.split() == ["UNAUTHENTICATED", "60"], flood.stderr[-2000:]
        assert max(serve.health_seconds(TlsFiles(pki.ca)) for _ in range(5)) < 1.0
    finally:
        serve.stop()
    # 60 x 15.9 MiB were sent; the collector refused each from its headers and read none of it
    assert serve.peak_rss - baseline < 100 * MiB, (baseline, serve.peak_rss)


def test_honest_large_snapshots_at_once_are_held_to_the_byte_budget_and_all_stored(tmp_path, pki):
    # the budget scaled down with the snapshots, so that the test stores megabytes rather than hundreds
    config = ServerConfig(listen="127.0.0.1:0", tls=pki.collector, budget_bytes=5 * MiB, receivers=8)
    collector = Collector(tmp_path / "ronda.db", config)
    agents = [f"big{i}" for i in range(4)]
    messages = {a: large_snapshot(a, 2 * MiB) for a in agents}  # 8 MiB at once, over the 5 MiB budget
    refusals: list[str] = []

    def send(agent_id: str) -> None:
        with Sender(collector.address, tls=pki.agent(agent_id), timeout=120) as sender:
            while True:
                try:
                    sender.send_message(messages[agent_id])
                    return
                except SendError as e:
                    assert e.code == grpc.StatusCode.UNAVAILABLE and e.retry_after, e
                    refusals.append(e.details)
                    time.sleep(min(e.retry_after, 0.5))

    try:
        with ThreadPoolExecutor(len(agents)) as pool:
            list(pool.map(send, agents))
        stored = collector.store.query("SELECT agent_id FROM snapshots")
    finally:
        collector.stop()
    assert refusals and all("memory budget for reports" in r for r in refusals)
    assert sorted(r["agent_id"] for r in stored) == agents  # each once


@pytest.mark.parametrize(
    ("declared", "code", "words"),
    [
        ("10", grpc.StatusCode.INVALID_ARGUMENT, "but declared 10"),
        (str(64 * MiB), grpc.StatusCode.RESOURCE_EXHAUSTED, "declares 67108864 bytes"),
        ("lots", grpc.StatusCode.INVALID_ARGUMENT, "must be a byte count"),
    ],
)
def test_a_body_must_keep_to_the_size_it_declared(tmp_path, declared, code, words):
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", insecure=True))
    try:
        body = snapshot_to_wire(snapshot("web01")).SerializeToString()
        with channel(collector.address, True, TlsFiles()) as ch, pytest.raises(grpc.RpcError) as refused:
            ch.unary_unary(REPORT)(body, timeout=10, metadata=((SIZE_METADATA, declared),))
        assert refused.value.code() == code and words in refused.value.details()
        assert collector.count("snapshots") == 0
    finally:
        collector.stop()
