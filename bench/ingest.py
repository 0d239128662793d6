"""Ingest benchmark: many agents on loopback sending realistic snapshots over mutual TLS.

    .venv/bin/python -m bench.ingest                         # both workloads, 32 agents, 20 s per server
    .venv/bin/python -m bench.ingest --workload steady --busy 1.0 --seconds 30
    .venv/bin/python -m bench.ingest --wire-only             # bytes on the wire alone
    .venv/bin/python -m bench.ingest --in-process            # the store's own CPU per snapshot, no gRPC

Each agent has its own certificate from `ronda ca` and sends snapshots of 100 apps, one after the other,
as fast as it is answered. Two workloads:

- steady: each agent's snapshots after its first. Every app's state is there; usage carries only the
  days changed since the snapshot the collector last acknowledged (today's counts, on the `--busy`
  share of apps whose logs grew; nothing for the others), relative to it.
- first contact: whole windows, 90 days of every app, as an agent's first snapshot (and every snapshot
  before usage deltas).

Snapshots above ronda-agent's threshold go gzip-compressed, as the agent sends them (`--no-gzip`: plain).
The same clients and payloads go first to a bare grpcio server over the same mutual TLS that only
answers a fixed small ack (the ceiling gRPC itself sets on this machine), then to `ronda serve` with a
fresh SQLite database. Both servers run as separate processes; their peak RSS is read from /proc
(VmHWM). Prints snapshots/s, p50/p99 latency and server CPU per snapshot, then the bytes one agent's
link carries (TLS, HTTP/2 and acks included, counted by a relay) for one snapshot and for a day of
snapshots every 15 minutes, for a 100-app and a 20-app host, with and without deltas and gzip.

`--in-process` times `Store.ingest_bytes` alone, as `ronda serve` calls it, on the same payloads (one
thread, CPU time, parsing included): steady
snapshots on one connection and on two writing in turns (as `--processes 2` does), whole windows, and
agents' very first snapshots, which write every day of every app.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

from bench.fleet import make_snapshot
from bench.relay import CountingRelay
from ronda.agent.sender import COMPRESS_ABOVE, RETRY_METADATA, SIZE_METADATA, Sender
from ronda.collector.server import CHECKPOINT_EVERY, ServerConfig, make_server
from ronda.collector.store import Store
from ronda.collector.trust.ca import init_ca, issue_agent, issue_collector
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles, channel
from ronda.wire.v1 import ronda_pb2 as pb

METHOD = "/ronda.v1.Collector/Report"
ACK = pb.ReportAck(accepted=True, sequence=1, message="stored 100 apps").SerializeToString()
WORKLOADS = ("steady", "first-contact")
REPORTS_PER_DAY = 96  # one every 15 minutes


# -- payloads --------------------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _number(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


_USAGE_BASE = pb.Snapshot.DESCRIPTOR.fields_by_name["usage_base"].number


def personalise(base: bytes, agent_id: str, sequence: int, usage_base: int = 0) -> bytes:
    """`base` as agent `agent_id`'s snapshot `sequence`, relative to `usage_base`: later fields win in
    protobuf, messages merge."""
    host = _field(1, agent_id.encode()) + _field(2, agent_id.encode())  # machine_id, hostname
    return (
        base
        + _field(1, agent_id.encode())
        + _number(2, sequence)
        + _field(3, f"{agent_id}-{sequence}".encode())
        + _field(7, host)
        + _number(_USAGE_BASE, usage_base)
    )


def variants(workload: str, apps: int, days: int, count: int = 3, busy: float = 1.0) -> list[bytes]:
    """Consecutive snapshots of one agent; usage_base is set per call (personalise)."""
    return [
        snapshot_to_wire(
            make_snapshot("template", s, apps=apps, days=days, busy=busy, changed_only=workload == "steady")
        ).SerializeToString()
        for s in range(2, count + 2)
    ]


# -- servers ---------------------------------------------------------------------------------------------
def bare_server(port: int, cert: str, key: str, ca: str, workers: int) -> None:
    """A grpcio server with the same TLS and message limits that only answers a fixed ack."""
    server = grpc.server(
        futures.ThreadPoolExecutor(workers),
        options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.so_reuseport", 0)],
    )
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: ACK)
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("ronda.v1.Collector", {"Report": handler})]
    )
    creds = grpc.ssl_server_credentials(
        [(Path(key).read_bytes(), Path(cert).read_bytes())],
        root_certificates=Path(ca).read_bytes(),
        require_client_auth=True,
    )
    server.add_secure_port(f"127.0.0.1:{port}", creds)
    server.start()
    server.wait_for_termination()


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a server, summed over its processes."""
    total = 0.0
    for proc in _family(pid):
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def wait_ready(port: int, timeout: float = 30) -> None:
    """Until the server accepts connections. A plain socket, not a gRPC channel: the client processes are
    forked from this one, and a process that forks after gRPC started its threads may hang its children."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_listening(log: Path, serve: subprocess.Popen, timeout: float = 60) -> None:
    """Until `ronda serve` says it listens, which `--processes N` says once all N do. A connection made
    when only the first process listens stays with it (the kernel spreads connections over the processes
    listening when each arrives), so the port answering is not enough: then one process served every
    agent while the other idled."""
    deadline = time.monotonic() + timeout
    while "listening on" not in log.read_text(errors="replace"):
        if serve.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ronda serve did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


# -- clients ---------------------------------------------------------------------------------------------
def _agent_loop(
    address: str,
    tls: TlsFiles,
    agent_id: str,
    workload: str,
    first: bytes,
    payloads: list[bytes],
    gzip: bool,
    start_at: float,
    stop_at: float,
    out: list,
) -> None:
    def send(payload: bytes) -> None:
        """As ronda-agent sends: gzip above its threshold, the size declared so the collector admits it."""
        compression = grpc.Compression.Gzip if gzip and len(payload) > COMPRESS_ABOVE else None
        call(payload, timeout=120, compression=compression, metadata=((SIZE_METADATA, str(len(payload))),))

    def retry_after(error: grpc.RpcError) -> float:
        hint = dict(error.trailing_metadata() or ()).get(RETRY_METADATA)
        return int(hint) / 1000 if hint else 0.2

    with channel(address, False, tls) as ch:
        call = ch.unary_unary(METHOD)
        sequence = 1
        opening = personalise(first, agent_id, sequence)
        while True:  # warm-up: the agent's first report, taken when the collector has room
            try:
                send(opening)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                time.sleep(retry_after(e))
        acknowledged = sequence
        while time.time() < start_at:
            time.sleep(0.01)
        while time.time() < stop_at:
            sequence += 1
            base = acknowledged if workload == "steady" else 0
            payload = personalise(payloads[sequence % len(payloads)], agent_id, sequence, base)
            began = time.perf_counter()
            try:
                send(payload)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                out.append(("busy", time.perf_counter() - began))
                time.sleep(retry_after(e))
                continue
            acknowledged = sequence
            out.append(("ok", time.perf_counter() - began))


def client_process(address: str, agents: list[tuple[str, TlsFiles]], load: tuple, queue) -> None:
    results: list = []
    threads = [
        threading.Thread(target=_agent_loop, args=(address, tls, agent_id, *load, results))
        for agent_id, tls in agents
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(results)


def _family(pid: int) -> list:
    import psutil

    me = psutil.Process(pid)
    return [me, *me.children(recursive=True)]


def _cpu(pid: int) -> float:
    """CPU seconds of a server and its worker processes."""
    return sum(p.cpu_times().user + p.cpu_times().system for p in _family(pid))


def run_load(
    address: str,
    agents: list[tuple[str, TlsFiles]],
    load: tuple,
    seconds: float,
    processes: int,
    server_pid: int,
) -> dict:
    start_at = time.time() + 3 + len(agents) * 0.1
    stop_at = start_at + seconds
    queue = mp.get_context("fork").Queue()
    groups = [agents[i::processes] for i in range(processes)]
    procs = [
        mp.get_context("fork").Process(
            target=client_process, args=(address, g, (*load, start_at, stop_at), queue)
        )
        for g in groups
    ]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = _cpu(server_pid)
    time.sleep(max(0.0, stop_at - time.time()))
    server_cpu = _cpu(server_pid) - cpu_before
    results = [r for _ in procs for r in queue.get()]
    for p in procs:
        p.join()
    latencies = sorted(t for kind, t in results if kind == "ok")
    busy = sum(1 for kind, _ in results if kind == "busy")
    return {
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
        "busy": busy,
        "count": len(latencies),
        "cpu_ms": server_cpu / max(len(latencies), 1) * 1000,  # server CPU per snapshot
    }


def measure_workload(args, work: Path, pki: tuple[str, str, str], agents, workload: str) -> list:
    ca, cert, key = pki
    busy = args.busy if workload == "steady" else 1.0
    first = snapshot_to_wire(make_snapshot("template", 1, apps=args.apps, days=args.days)).SerializeToString()
    payloads = variants(workload, args.apps, args.days, busy=busy)
    load = (workload, first, payloads, not args.no_gzip)
    size = len(personalise(payloads[0], agents[0][0], 2))
    print(
        f"\n{workload}: {args.agents} agents, snapshots of {args.apps} apps = {size / 1024:.0f} KiB"
        + (
            f" ({busy:.0%} of apps with today's counts moving)"
            if workload == "steady"
            else f" x {args.days} days"
        )
        + (", plain" if args.no_gzip else ", gzip above 1 KiB"),
        flush=True,
    )
    rows = []
    if not args.skip_bare:
        port = _free_port()
        bare = mp.get_context("spawn").Process(
            target=bare_server, args=(port, cert, key, ca, args.bare_workers)
        )
        bare.start()
        wait_ready(port)
        result = run_load(f"127.0.0.1:{port}", agents, load, args.seconds, args.client_processes, bare.pid)
        result["rss"] = peak_rss_mb(bare.pid)
        bare.terminate()
        bare.join()
        rows.append(("bare grpcio (ack only)", result))

    port = _free_port()
    db = work / f"ronda-{workload}.db"
    serve_log = work / f"ronda-{workload}.log"
    with serve_log.open("wb") as log_file:  # the child keeps its own copy
        serve = subprocess.Popen(
            [
                Path(sys.executable).parent / "ronda",
                "serve",
                "--db",
                db,
                "--listen",
                f"127.0.0.1:{port}",
                "--cert",
                cert,
                "--key",
                key,
                "--ca",
                ca,
                "--workers",
                str(args.workers),
                "--processes",
                str(args.server_processes),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        wait_listening(serve_log, serve)
        result = run_load(f"127.0.0.1:{port}", agents, load, args.seconds, args.client_processes, serve.pid)
        result["rss"] = peak_rss_mb(serve.pid)
    finally:
        serve.terminate()
        serve.wait(30)
    rows.append((f"ronda serve x{args.server_processes}", result))
    print(
        f"{'server':<24} {'snapshots/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'busy':>6} {'peak RSS MiB':>13} "
        f"{'server CPU ms/snapshot':>23}"
    )
    for name, r in rows:
        print(
            f"{name:<24} {r['rate']:>12.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['busy']:>6} "
            f"{r['rss']:>13.0f} {r['cpu_ms']:>23.1f}"
        )
    if len(rows) == 2:
        print(f"ronda / bare = {rows[1][1]['rate'] / rows[0][1]['rate']:.2f}")
    return rows


# -- the store alone ---------------------------------------------------------------------------------------
def _store_cpu(stores: list[Store], requests: list[bytes]) -> list[float]:
    """CPU seconds each request took to store, the stores taking turns."""
    took = []
    for n, raw in enumerate(requests):
        started = time.process_time()
        stores[n % len(stores)].ingest_bytes(raw)
        took.append(time.process_time() - started)
    return sorted(took)


def measure_in_process(args, work: Path) -> None:
    first = snapshot_to_wire(make_snapshot("template", 1, apps=args.apps, days=args.days)).SerializeToString()
    print(f"\nin process (Store.ingest_bytes, CPU time per snapshot of {args.apps} apps, {args.days} days):")
    print(f"{'snapshots':<58} {'p10 ms':>7} {'median ms':>10}")
    cases = [("steady", 1), ("steady", 2), ("first-contact", 1)]
    for n, (workload, connections) in enumerate(cases):
        stores = [Store(work / f"in-process-{n}.db", CHECKPOINT_EVERY) for _ in range(connections)]
        agents = [f"bench-{i:04d}" for i in range(args.agents)]
        for agent_id in agents:  # first contact, as the warm-up of the served bench
            stores[0].ingest_bytes(personalise(first, agent_id, 1))
        payloads = variants(workload, args.apps, args.days, busy=args.busy if workload == "steady" else 1.0)
        requests = []
        for sequence in range(2, 2 + args.in_process_rounds):
            for agent_id in agents:  # each agent on the connection of its own process, as with SO_REUSEPORT
                base = sequence - 1 if workload == "steady" else 0
                requests.append(personalise(payloads[sequence % len(payloads)], agent_id, sequence, base))
        took = _store_cpu(stores, requests)
        name = {
            ("steady", 1): "steady, one connection",
            ("steady", 2): "steady, two connections writing in turns (--processes 2)",
            ("first-contact", 1): "whole windows, all but each app's newest day stored",
        }[(workload, connections)]
        print(f"{name:<58} {took[len(took) // 10] * 1000:>7.2f} {took[len(took) // 2] * 1000:>10.2f}")
        for store in stores:
            store.close()
    store = Store(work / "in-process-first.db", CHECKPOINT_EVERY)
    fresh = [personalise(first, f"fresh-{i:05d}", 1) for i in range(args.agents)]
    took = _store_cpu([store], fresh)
    name = f"an agent's very first ({args.apps * args.days:,} days written)"
    print(f"{name:<58} {took[len(took) // 10] * 1000:>7.2f} {took[len(took) // 2] * 1000:>10.2f}")
    store.close()


# -- bytes on the wire -----------------------------------------------------------------------------------
def wire_day(address: str, work: Path, apps: int, deltas: bool, gzip: bool) -> tuple[int, int]:
    """Bytes one agent's link carries (both ways) for its first snapshot, and for a day of snapshots every
    15 minutes after it: ronda-agent's sender on a channel it keeps, through a counting relay."""
    agent_id = f"wire-{apps}-{int(deltas)}{int(gzip)}"
    issued = issue_agent(work / "ca", agent_id, work / "agents")
    tls = TlsFiles(str(work / "ca" / "ca.pem"), str(issued.cert), str(issued.key))
    with CountingRelay(address) as relay, Sender(relay.address, tls=tls, compress=gzip) as sender:
        assert sender.send(make_snapshot(agent_id, 1, apps=apps)).accepted
        first = relay.up + relay.down
        relay.reset()
        for sequence in range(2, REPORTS_PER_DAY + 2):
            snapshot = make_snapshot(agent_id, sequence, apps=apps, changed_only=deltas, busy=1.0)
            assert sender.send(snapshot).accepted
        return first, relay.up + relay.down


def measure_wire(work: Path, pki: tuple[str, str, str], hosts: list[int]) -> None:
    ca, cert, key = pki
    store = Store(work / "wire.db")
    server, port = make_server(store, ServerConfig(listen="127.0.0.1:0", tls=TlsFiles(ca, cert, key)))
    try:
        print(
            f"\nbytes on the wire per agent (mutual TLS, HTTP/2, acks; a day = {REPORTS_PER_DAY} snapshots, "
            "one every 15 minutes, today's counts moving on every app):"
        )
        print(f"{'host':<10} {'snapshots':<26} {'first contact':>14} {'steady snapshot':>16} {'per day':>10}")
        for apps in hosts:
            for deltas, gzip, name in (
                (False, False, "whole windows, plain"),
                (False, True, "whole windows, gzip"),
                (True, False, "changed days, plain"),
                (True, True, "changed days, gzip"),
            ):
                first, day = wire_day(f"127.0.0.1:{port}", work, apps, deltas, gzip)
                first_kib, steady_kib = first / 1024, day / REPORTS_PER_DAY / 1024
                print(
                    f"{apps:>3} apps   {name:<26} {first_kib:>10.1f} KiB {steady_kib:>12.1f} KiB "
                    f"{day / 1e6:>7.2f} MB",
                    flush=True,
                )
    finally:
        server.stop(grace=1).wait()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=[*WORKLOADS, "both"], default="both")
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--busy",
        type=float,
        default=0.3,
        help="steady: share of apps whose counts for today moved since the last snapshot",
    )
    parser.add_argument("--no-gzip", action="store_true", help="send snapshots uncompressed")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        default=ServerConfig().workers,
        help="ronda serve --workers: calls each process handles at once",
    )
    parser.add_argument("--bare-workers", type=int, default=8, help="worker threads of the bare server")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="ronda serve --processes (default: one per CPU)",
    )
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-wire", action="store_true", help="leave out the bytes on the wire")
    parser.add_argument("--wire-only", action="store_true", help="only the bytes on the wire")
    parser.add_argument(
        "--in-process", action="store_true", help="only the store's own CPU per snapshot, without gRPC"
    )
    parser.add_argument(
        "--in-process-rounds", type=int, default=20, help="--in-process: snapshots of each agent per case"
    )
    parser.add_argument(
        "--wire-apps", default="100,20", help="apps of the hosts whose bytes on the wire are counted"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ronda-bench-"))
    init_ca(work / "ca")
    issue_collector(work / "ca", "localhost", ["127.0.0.1"], work)
    pki = (str(work / "ca" / "ca.pem"), str(work / "localhost.pem"), str(work / "localhost-key.pem"))
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
        + ("" if args.in_process else f"; mutual TLS on loopback, {args.seconds:.0f} s per server"),
        flush=True,
    )
    if args.in_process:
        measure_in_process(args, work)
        return
    if not args.wire_only:
        agents = []
        for i in range(args.agents):
            issued = issue_agent(work / "ca", f"bench-{i:04d}", work / "agents")
            agents.append((f"bench-{i:04d}", TlsFiles(pki[0], str(issued.cert), str(issued.key))))
        for workload in WORKLOADS if args.workload == "both" else (args.workload,):
            measure_workload(args, work, pki, agents, workload)
    if not args.skip_wire:
        measure_wire(work, pki, [int(n) for n in args.wire_apps.split(",")])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
