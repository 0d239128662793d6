"""A host, its agent, a collector between faults, and a reference, for the usage-delta tests.

The host is a directory laid out like a Debian nginx server (one site per file in sites-enabled, each
with its own access log, the way sysadmins give each app its log); traffic is combined-format lines
appended to those logs. The agent is ronda's own (runner.Agent: real spool, state and usage state)
reading that root, sending over real gRPC on loopback through a proxy that can lose, repeat or delay
calls, to a real collector on a real SQLite file. The reference is a full-window agent on the same
logs: every time the agent reports, it scans with every day and stores into its own SQLite file, as
ronda did before deltas. After a scenario, the two stores must hold the same daily usage.

The older peers are ronda as it was before usage deltas, on the wire kept in tests/wire_before_deltas
(a copy of the generated module of that release): the old collector reads snapshots with that wire,
never learns a usage base and never answers one; the old agent sends whole windows, reads acks with
that wire, writes its state file without usage marks and its usage state without day marks, and
stamps that state with schema 2, as its own code does.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool, timestamp_pb2
from usage_lines import BROWSER, GOOGLEBOT, UPTIME, Request

from ronda.agent.config import AgentConfig
from ronda.agent.host import LocalHost
from ronda.agent.runner import Agent
from ronda.agent.sender import SendError
from ronda.agent.snapshot import ScanOptions, scan
from ronda.collector.server import LAST_SEQUENCE_METADATA, SERVICE, ServerConfig, make_server
from ronda.collector.store import Store
from ronda.collector.store.apply import SequenceConflict
from ronda.collector.validate import InvalidSnapshot
from ronda.wire.v1 import ronda_pb2 as pb

REPORT = f"/{SERVICE}/Report"
MACHINE_ID = "3f1c2a9e7b4d4e6f8a0b1c2d3e4f5a61"
SITES = ("sipd", "simpeg", "eperda")
KINDS = {  # what a request is, as a (path, status, user agent) ronda classifies
    "human": ("/", 200, BROWSER),
    "bot": ("/", 200, GOOGLEBOT),
    "monitor": ("/", 200, UPTIME),
    "missing": ("/wp-login.php", 404, BROWSER),  # rejects: error, or scanner past the threshold
    "error": ("/laporan", 500, BROWSER),
}


def old_wire() -> dict:
    """The generated classes of ronda.v1 as released before usage deltas, in a pool of their own."""
    path = Path(__file__).parent / "wire_before_deltas" / "ronda_pb2.py"
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    namespace = {"_POOL": pool, "__name__": "wire_before_deltas"}
    source = path.read_text().replace("_descriptor_pool.Default()", "_POOL")
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 (a generated module, kept verbatim)
    return namespace


OLD = old_wire()


# -- the host ---------------------------------------------------------------------------------------------
def make_root(root: Path, sites: tuple[str, ...] = SITES) -> Path:
    (root / "etc/nginx/sites-enabled").mkdir(parents=True)
    (root / "var/log/nginx").mkdir(parents=True)
    (root / "etc/machine-id").write_text(MACHINE_ID + "\n")
    (root / "etc/hostname").write_text("web-bkd\n")
    (root / "etc/nginx/nginx.conf").write_text(
        "user www-data;\nevents { worker_connections 768; }\n"
        "http {\n    access_log /var/log/nginx/access.log;\n    include /etc/nginx/sites-enabled/*;\n}\n"
    )
    for site in sites:
        (root / "var/www" / site).mkdir(parents=True)
        (root / "var/log/nginx" / f"{site}.access.log").touch()
        (root / "etc/nginx/sites-enabled" / site).write_text(
            f"server {{\n    listen 80;\n    server_name {site}.bkd.provinsi.example;\n"
            f"    root /var/www/{site};\n    access_log /var/log/nginx/{site}.access.log;\n}}\n"
        )
    return root


def visit(root: Path, site: str, days_ago: int, kind: str, count: int, client: int = 1) -> None:
    """`count` requests of `kind` to `site`, `days_ago` days back, from clients numbered from `client`."""
    path, status, ua = KINDS[kind]
    when = int(time.time()) - days_ago * 86400 - 30
    lines = [
        Request(f"10.20.{client % 250}.{(client + i) % 250}", when, path, status, ua).line()
        for i in range(count)
    ]
    with open(root / "var/log/nginx" / f"{site}.access.log", "a") as log:
        log.write("\n".join(lines) + "\n")


# -- stores -------------------------------------------------------------------------------------------------
def daily_usage(store: Store) -> list[tuple]:
    return [
        tuple(r.values())
        for r in store.query(
            "SELECT app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_daily "
            "ORDER BY app_key, date"
        )
    ]


class Reference:
    """A full-window agent on the same host: every day in every snapshot, into its own store."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root, self.state = root, work / "reference-state"
        self.store = Store(work / "reference.db")
        self.sequence = 0

    def report(self) -> None:
        snapshot = scan(LocalHost(str(self.root)), ScanOptions(state_dir=self.state))
        self.sequence += 1
        snapshot.sequence = self.sequence
        self.store.ingest(snapshot)

    def close(self) -> None:
        self.store.close()


class Collector:
    """ronda serve's handlers over a SQLite file on a loopback port; `old`: as ronda was before deltas."""

    def __init__(self, db: Path, old: bool = False) -> None:
        self.db, self.old = db, old
        self.start()

    def start(self) -> None:
        self.store = Store(self.db)
        if self.old:
            self.server = grpc.server(ThreadPoolExecutor(2))
            handler = grpc.unary_unary_rpc_method_handler(self._old_report)
            self.server.add_generic_rpc_handlers(
                [grpc.method_handlers_generic_handler(SERVICE, {"Report": handler})]
            )
            self.port = self.server.add_insecure_port("127.0.0.1:0")
            self.server.start()
        else:
            self.server, self.port = make_server(
                self.store, ServerConfig(listen="127.0.0.1:0", insecure=True)
            )

    def _old_report(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """What a collector before deltas does: it knows no usage base, so every day sent is a day stored."""
        message = OLD["Snapshot"].FromString(request)
        message.DiscardUnknownFields()
        raw = message.SerializeToString()
        try:
            result = self.store.ingest_message(pb.Snapshot.FromString(raw), raw=raw)
        except InvalidSnapshot as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except SequenceConflict as e:
            context.set_trailing_metadata(((LAST_SEQUENCE_METADATA, str(e.last_sequence)),))
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(e))
        context.set_trailing_metadata(((LAST_SEQUENCE_METADATA, str(result.last_sequence)),))
        return OLD["ReportAck"](
            accepted=True, duplicate=result.duplicate, stale=result.stale, sequence=message.sequence
        ).SerializeToString()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=1).wait()
        self.store.close()

    def backup(self, to: Path) -> None:
        with closing(sqlite3.connect(to)) as copy, self.store.reading() as conn:
            conn.backup(copy)

    def restore(self, backup: Path, old: bool | None = None) -> None:
        """Stop, put the backup in place of the database, start again (as an operator restores one)."""
        self.stop()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, self.db)
        self.old = self.old if old is None else old
        self.start()

    def swap(self, old: bool) -> None:
        """The same database under the other collector (an upgrade, or a downgrade)."""
        self.stop()
        self.old = old
        self.start()


class Proxy:
    """Between agent and collector: forwards Report calls, or fails them as a network or a crash would.

    Faults, for the next calls in order: "lose" (the call never arrives: UNAVAILABLE), "lose-ack" (it is
    stored, the answer is lost: UNAVAILABLE), "repeat" (delivered twice), "late" (held back and delivered
    by `deliver_late`, the agent told UNAVAILABLE), anything else forwards it. `down` loses every call.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.faults: list[str] = []
        self.down = False
        self.held: list[bytes] = []
        self.delivered: list[pb.Snapshot] = []  # what reached the collector
        self.server = grpc.server(ThreadPoolExecutor(2))
        handler = grpc.unary_unary_rpc_method_handler(self._report)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(SERVICE, {"Report": handler})]
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _forward(self, request: bytes, context: grpc.ServicerContext | None = None) -> bytes:
        self.delivered.append(pb.Snapshot.FromString(request))
        with grpc.insecure_channel(self.target) as channel:
            try:
                return channel.unary_unary(REPORT)(request, timeout=30)
            except grpc.RpcError as e:
                if context is None:
                    return b""
                context.set_trailing_metadata(tuple(e.trailing_metadata() or ()))
                context.abort(e.code(), e.details() or "")

    def _report(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        fault = "lose" if self.down else (self.faults.pop(0) if self.faults else "")
        if fault == "lose":
            context.abort(grpc.StatusCode.UNAVAILABLE, "lost on the way")
        if fault == "late":
            self.held.append(request)
            context.abort(grpc.StatusCode.UNAVAILABLE, "delayed on the way")
        ack = self._forward(request, context)
        if fault == "repeat":
            ack = self._forward(request, context)
        if fault == "lose-ack":
            context.abort(grpc.StatusCode.UNAVAILABLE, "the answer was lost on the way")
        return ack

    def deliver_late(self) -> None:
        held, self.held = self.held, []
        for request in held:
            self._forward(request)

    def stop(self) -> None:
        self.server.stop(grace=1).wait()


# -- the agents -------------------------------------------------------------------------------------------
def new_agent(root: Path, state: Path, collector: str, old: bool = False, spool: int = 16) -> Agent:
    config = AgentConfig(
        collector=collector, insecure=True, root=str(root), state_dir=str(state), spool_max_entries=spool
    )
    return OldAgent(config) if old else Agent(config)


class OldAgent(Agent):
    """The agent before usage deltas, on the same state directory (see the module's docstring)."""

    def __init__(self, config: AgentConfig) -> None:
        super().__init__(config)
        self.state.usage_base = 0
        self.state.save = self._save_as_before  # type: ignore[method-assign]
        send = self.sender.send_message

        def send_and_read_as_before(message):
            ack = send(OLD["Snapshot"].FromString(message.SerializeToString()))
            return replace(ack, usage_through=0)  # a field its wire does not have

        self.sender.send_message = send_and_read_as_before  # type: ignore[method-assign]

    def _save_as_before(self) -> None:
        self.state.path.write_text(
            json.dumps({"agent_id": self.state.agent_id, "sequence": self.state.sequence})
        )

    def scan_into_spool(self, interval: int = 0) -> int:
        with unmarked(Path(self.state_dir) / "usage.sqlite"):
            self.state.usage_base = 0
            return super().scan_into_spool(interval)


@contextmanager
def unmarked(usage_state: Path) -> Iterator[None]:
    """Counts written inside leave the day marks and the generation as they were, and the state says schema 2:
    what an agent older than the marks leaves in a state it shares with a newer one."""
    kept_marks, kept_meta = [], []
    if usage_state.exists():
        with closing(sqlite3.connect(usage_state)) as db:
            kept_marks = db.execute("SELECT * FROM day_changes").fetchall()
            kept_meta = db.execute("SELECT * FROM meta WHERE key = 'generation'").fetchall()
    yield
    with closing(sqlite3.connect(usage_state)) as db, db:
        db.execute("DELETE FROM day_changes")
        db.executemany("INSERT INTO day_changes VALUES (?, ?, ?)", kept_marks)
        db.execute("DELETE FROM meta WHERE key = 'generation'")
        db.executemany("INSERT INTO meta VALUES (?, ?)", kept_meta)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', '2')")


def report(agent: Agent) -> None:
    """What the daemon does each interval: scan into the spool, then send what it can."""
    agent.scan_into_spool()
    try:
        agent.flush()
    except SendError as e:
        assert e.retryable, e


class World:
    """One host's agent reporting through a Proxy to a Collector, beside a Reference on the same logs."""

    def __init__(
        self, work: Path, old_agent: bool = False, old_collector: bool = False, spool: int = 16
    ) -> None:
        self.work = work
        self.root = make_root(work / "host")
        self.collector = Collector(work / "ronda.db", old=old_collector)
        self.proxy = Proxy(self.collector.address)
        self.reference = Reference(self.root, work)
        self.state = work / "agent-state"
        self.spool = spool
        self.agent = new_agent(self.root, self.state, self.proxy.address, old_agent, spool)

    def report(self) -> None:
        """One interval: the agent reports (`ronda-agent run --once`: again at once if the collector lacked
        its usage base), and so does the reference."""
        self.reference.report()
        try:
            self.agent.report_once()
        except SendError as e:
            assert e.retryable, e

    def restart_agent(self, old: bool | None = None, wipe: bool = False) -> None:
        self.agent.close()
        if wipe:
            shutil.rmtree(self.state)
        old = isinstance(self.agent, OldAgent) if old is None else old
        self.agent = new_agent(self.root, self.state, self.proxy.address, old, self.spool)

    def move_collector(self, change) -> None:
        """`change(collector)` (a restore, an upgrade...) gives it a new port: the proxy follows."""
        change(self.collector)
        self.proxy.target = self.collector.address

    def settle(self) -> None:
        """Faults over, the agent reports until its spool is empty and the collector holds its usage."""
        self.proxy.faults, self.proxy.down = [], False
        for _ in range(3):
            self.report()
            if not len(self.agent.spool):
                return
        raise AssertionError(f"the spool kept {self.agent.spool.sequences()}")

    def assert_usage_matches(self) -> None:
        got, want = daily_usage(self.collector.store), daily_usage(self.reference.store)
        assert want, "the reference stored no usage: the scenario tested nothing"
        assert got == want

    def close(self) -> None:
        self.agent.close()
        self.proxy.stop()
        self.collector.stop()
        self.reference.close()
