"""Faults with real processes: `ronda serve` stopped, killed with SIGKILL mid-ingest, restarted under load.

Agents run in threads of the test with their real spool, sender and state; each records every ack it
gets, and sends, as agents do, only the usage days changed since the snapshot the collector last said
it holds. Afterwards every agent's newest snapshot is the state in the store, its usage is whole, the
store is consistent, and no snapshot was applied twice (at most one non-duplicate ack per agent and
sequence).
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from servers import free_port, wait_for_port

from bench.fleet import make_snapshot
from ronda.agent.config import AgentConfig
from ronda.agent.runner import Agent
from ronda.agent.sender import SendError
from ronda.agent.usage.delta import UsageMark
from ronda.convert import snapshot_to_wire

pytestmark = pytest.mark.servers  # collector processes killed and restarted under load

BIN = Path(sys.executable).parent


class Serve:
    """`ronda serve` as a child process on a fixed loopback port and database."""

    def __init__(self, db: Path, port: int, processes: int = 1, options: tuple[str, ...] = ()) -> None:
        self.db, self.port, self.proc, self.processes, self.options = db, port, None, processes, options

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                BIN / "ronda",
                "serve",
                "--db",
                self.db,
                "--listen",
                f"127.0.0.1:{self.port}",
                "--insecure",
                "--processes",
                str(self.processes),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=20)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


class LoadAgent(Agent):
    """A real Agent whose scans are large synthetic snapshots (100 apps, 90 days); its acks are recorded."""

    def __init__(self, config: AgentConfig, apps: int) -> None:
        super().__init__(config)
        self.apps = apps
        self.acks: list[tuple[int, bool]] = []
        self.bases: list[int] = []  # the usage base of each snapshot acknowledged
        self.errors = 0
        send = self.sender.send_message

        def recording(message):
            ack = send(message)
            self.acks.append((message.sequence, ack.duplicate))
            self.bases.append(message.usage_base)
            return ack

        self.sender.send_message = recording  # type: ignore[method-assign]

    def scan_into_spool(self, interval: int = 0) -> int:
        """A snapshot relative to the collector's usage base, if any: in these snapshots only today's counts
        change from one to the next, so today's are the days changed since any earlier one."""
        base = self.state.usage_base
        sequence = self.state.next_sequence(UsageMark("synthetic", self.state.sequence + 1))
        snap = make_snapshot(self.config.agent_id, sequence, apps=self.apps, days=90, changed_only=bool(base))
        snap.usage_base = base
        self.spool.put(sequence, snapshot_to_wire(snap).SerializeToString())
        return sequence

    def work(self, stop: threading.Event, pause: float) -> None:
        while not stop.is_set():
            self.scan_into_spool()
            try:
                self.flush()
            except SendError as e:
                assert e.retryable, e
                self.errors += 1
                stop.wait(self.backoff.next(e.retry_after) / 20)  # the real delays, scaled down for the test
                continue
            self.backoff.reset()
            stop.wait(pause)

    def last_round(self) -> None:
        """Send what is spooled, then once more with the collector up: relative to the snapshot it holds."""
        self.drain()
        self.scan_into_spool()
        self.drain()
        self.close()

    def drain(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.spool):
            try:
                self.flush()
            except SendError:
                assert time.monotonic() < deadline, "spool did not drain"
                time.sleep(0.2)


def _agents(tmp_path: Path, port: int, count: int, apps: int) -> list[LoadAgent]:
    return [
        LoadAgent(
            AgentConfig(
                collector=f"127.0.0.1:{port}",
                insecure=True,
                agent_id=f"agent{i}",
                state_dir=str(tmp_path / f"state{i}"),
                spool_max_entries=64,
            ),
            apps,
        )
        for i in range(count)
    ]


def _run(agents: list[LoadAgent], pause: float = 0.0):
    stop = threading.Event()
    threads = [threading.Thread(target=a.work, args=(stop, pause)) for a in agents]
    for t in threads:
        t.start()
    return stop, threads


def _finish(stop, threads, agents) -> None:
    stop.set()
    for t in threads:
        t.join(60)
    for a in agents:
        a.last_round()


def _check(db: Path, agents: list[LoadAgent]) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for a in agents:
        agent_id = a.config.agent_id
        newest = a.state.sequence
        # The agent's newest snapshot is the state the store holds.
        assert conn.execute("SELECT last_sequence FROM agents WHERE agent_id=?", (agent_id,)).fetchone() == (
            newest,
        )
        assert conn.execute("SELECT sequence FROM hosts WHERE agent_id=?", (agent_id,)).fetchone() == (
            newest,
        )
        assert conn.execute(
            "SELECT count(*) FROM apps WHERE agent_id=? AND present", (agent_id,)
        ).fetchone() == (a.apps,)
        # It sent whole windows first, and last the days changed since the snapshot before, which the
        # collector held; its usage is whole: every day as the newest snapshot's whole windows hold it.
        assert a.bases[0] == 0 and a.bases[-1] == newest - 1
        assert conn.execute("SELECT usage_through FROM agents WHERE agent_id=?", (agent_id,)).fetchone() == (
            newest,
        )
        stored_days = conn.execute(
            "SELECT app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_daily "
            "WHERE agent_id=? ORDER BY app_key, date",
            (agent_id,),
        ).fetchall()
        whole = sorted(
            (app.key, d.date, d.human, d.bot, d.monitor, d.error, d.scanner, d.human_clients)
            for app in make_snapshot(agent_id, newest, apps=a.apps).apps
            for d in app.usage.daily
        )
        assert stored_days == whole
        # Every acknowledged snapshot is stored, and none was applied twice.
        stored = {s for (s,) in conn.execute("SELECT sequence FROM snapshots WHERE agent_id=?", (agent_id,))}
        assert {s for s, _ in a.acks} <= stored
        applied = Counter(s for s, duplicate in a.acks if not duplicate)
        assert all(n == 1 for n in applied.values()), applied
    conn.close()


@pytest.fixture
def serve(tmp_path):
    s = Serve(tmp_path / "ronda.db", free_port())
    s.start()
    yield s
    s.stop(signal.SIGKILL)


def test_collector_stopped_for_a_while_then_restarted(tmp_path, serve):
    agents = _agents(tmp_path, serve.port, count=3, apps=20)
    stop, threads = _run(agents, pause=0.05)
    time.sleep(1.0)
    serve.stop()  # graceful
    time.sleep(2.0)  # agents keep scanning into their spools
    assert all(len(a.spool) for a in agents)
    serve.start()
    time.sleep(1.5)
    _finish(stop, threads, agents)
    assert all(a.errors for a in agents)
    _check(serve.db, agents)


def test_collector_killed_with_sigkill_mid_ingest(tmp_path, serve):
    agents = _agents(tmp_path, serve.port, count=4, apps=100)
    stop, threads = _run(agents)
    kills = 0
    for delay in (0.9, 0.6, 1.1):
        time.sleep(delay)
        serve.stop(signal.SIGKILL)
        kills += 1
        serve.start()
    time.sleep(1.0)
    _finish(stop, threads, agents)
    assert kills == 3 and sum(a.errors for a in agents) > 0
    _check(serve.db, agents)


def test_collector_restarted_gracefully_with_load_running(tmp_path, serve):
    agents = _agents(tmp_path, serve.port, count=4, apps=50)
    stop, threads = _run(agents)
    time.sleep(1.0)
    serve.stop(signal.SIGTERM)  # drains calls in flight
    assert serve.proc.returncode == 0
    serve.start()
    time.sleep(1.0)
    _finish(stop, threads, agents)
    _check(serve.db, agents)


def test_a_database_left_by_sigkill_opens_cleanly(tmp_path, serve):
    agents = _agents(tmp_path, serve.port, count=2, apps=100)
    stop, threads = _run(agents)
    time.sleep(1.0)
    serve.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(60)
    assert Path(f"{serve.db}-wal").exists()  # the kill left a write-ahead log behind
    from ronda.collector.store import Store

    store = Store(serve.db)
    assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.close()
    serve.start()
    for a in agents:
        a.last_round()
    _check(serve.db, agents)


def test_several_server_processes_share_the_load_and_stop_cleanly(tmp_path):
    import psutil

    serve = Serve(tmp_path / "ronda.db", free_port(), processes=2)
    serve.start()
    try:
        children = psutil.Process(serve.proc.pid).children(recursive=True)
        assert len([c for c in children if "python" in c.name()]) >= 2
        agents = _agents(tmp_path, serve.port, count=4, apps=50)
        stop, threads = _run(agents)
        time.sleep(1.5)
        _finish(stop, threads, agents)
        _check(serve.db, agents)
        serve.stop(signal.SIGTERM)
        assert serve.proc.returncode == 0
        # multiprocessing's resource tracker leaves when the parent's pipe closes, a moment later
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not [c for c in alive if c.status() != psutil.STATUS_ZOMBIE]
    finally:
        serve.stop(signal.SIGKILL)


@pytest.mark.parametrize(("age", "spread"), [("0.5", True), ("0", False)], ids=["aged", "kept"])
def test_connections_are_closed_with_age_so_agents_spread_over_the_processes(tmp_path, age, spread):
    # an agent that connected while one process listened (a collector restarted under its agents) keeps
    # its connection: with an age, gRPC closes it between calls and the agent lands where the kernel says
    import grpc
    import psutil
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    serve = Serve(tmp_path / "ronda.db", free_port(), processes=2, options=("--max-connection-age", age))
    serve.start()
    try:
        time.sleep(1)  # both processes listen
        children = [
            c for c in psutil.Process(serve.proc.pid).children(recursive=True) if "python" in c.name()
        ]
        holders = set()
        with grpc.insecure_channel(f"127.0.0.1:{serve.port}") as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and len(holders) < 2:
                check(health_pb2.HealthCheckRequest(), timeout=5)
                for child in children:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        if any(
                            c.laddr.port == serve.port and c.status == psutil.CONN_ESTABLISHED
                            for c in child.net_connections("tcp")
                        ):
                            holders.add(child.pid)
                time.sleep(0.05)
        # twelve connections or more, each to either process: all to one has odds of 1 in 2,000
        assert (len(holders) == 2) is spread, holders
    finally:
        serve.stop(signal.SIGKILL)
