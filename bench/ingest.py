"""Ingest benchmark: many agents on loopback sending realistic snapshots over mutual TLS.

    .venv/bin/python -m bench.ingest                    # defaults: 32 agents, 20 s per server
    .venv/bin/python -m bench.ingest --agents 64 --seconds 30 --apps 100 --days 90

Each agent has its own certificate from `ronda ca` and sends snapshots of 100 apps with 90 days of
daily usage, one after the other, as fast as it is answered; consecutive snapshots differ as in the
field (today's counts, process figures, log sizes). The same clients and payloads go first to a bare
grpcio server over the same mutual TLS that only answers a fixed small ack (the ceiling gRPC itself
sets on this machine), then to `ronda serve` with a fresh SQLite database. Both servers run as
separate processes; their peak RSS is read from /proc (VmHWM). Prints snapshots/s, p50/p99 latency.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
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
from ronda.collector.server import ServerConfig
from ronda.collector.trust.ca import init_ca, issue_agent, issue_collector
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles, channel
from ronda.wire.v1 import ronda_pb2 as pb

METHOD = "/ronda.v1.Collector/Report"
ACK = pb.ReportAck(accepted=True, sequence=1, message="stored 100 apps").SerializeToString()


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


def personalise(base: bytes, agent_id: str, sequence: int) -> bytes:
    """`base` as agent `agent_id`'s snapshot `sequence`: later fields win in protobuf, messages merge."""
    host = _field(1, agent_id.encode()) + _field(2, agent_id.encode())  # machine_id, hostname
    return (
        base
        + _field(1, agent_id.encode())
        + _varint(2 << 3)
        + _varint(sequence)
        + _field(3, f"{agent_id}-{sequence}".encode())
        + _field(7, host)
    )


def variants(apps: int, days: int, count: int = 3, busy: float = 1.0) -> list[bytes]:
    return [
        snapshot_to_wire(make_snapshot("template", s, apps=apps, days=days, busy=busy)).SerializeToString()
        for s in range(1, count + 1)
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


def wait_ready(address: str, tls: TlsFiles, timeout: float = 30) -> None:
    with channel(address, False, tls) as ch:
        grpc.channel_ready_future(ch).result(timeout=timeout)


# -- clients ---------------------------------------------------------------------------------------------
def _agent_loop(
    address: str,
    tls: TlsFiles,
    agent_id: str,
    payloads: list[bytes],
    start_at: float,
    stop_at: float,
    out: list,
    first_sequence: int,
) -> None:
    with channel(address, False, tls) as ch:
        call = ch.unary_unary(METHOD)
        sequence = first_sequence
        call(personalise(payloads[0], agent_id, sequence), timeout=120)  # warm-up: the agent's first report
        while time.time() < start_at:
            time.sleep(0.01)
        while time.time() < stop_at:
            sequence += 1
            payload = personalise(payloads[sequence % len(payloads)], agent_id, sequence)
            began = time.perf_counter()
            try:
                call(payload, timeout=120)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                out.append(("busy", time.perf_counter() - began))
                hint = dict(e.trailing_metadata() or ()).get("ronda-retry-after-ms")
                time.sleep(int(hint) / 1000 if hint else 0.2)
                continue
            out.append(("ok", time.perf_counter() - began))


def client_process(
    address: str,
    agents: list[tuple[str, TlsFiles]],
    payloads: list[bytes],
    start_at: float,
    stop_at: float,
    first_sequence: int,
    queue,
) -> None:
    results: list = []
    threads = [
        threading.Thread(
            target=_agent_loop,
            args=(address, tls, agent_id, payloads, start_at, stop_at, results, first_sequence),
        )
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
    payloads: list[bytes],
    seconds: float,
    processes: int,
    first_sequence: int,
    server_pid: int,
) -> dict:
    start_at = time.time() + 3 + len(agents) * 0.05
    stop_at = start_at + seconds
    queue = mp.get_context("fork").Queue()
    groups = [agents[i::processes] for i in range(processes)]
    procs = [
        mp.get_context("fork").Process(
            target=client_process, args=(address, g, payloads, start_at, stop_at, first_sequence, queue)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--busy",
        type=float,
        default=1.0,
        help="share of apps that change between snapshots (1.0: every app's logs grow)",
    )
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
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ronda-bench-"))
    init_ca(work / "ca")
    issue_collector(work / "ca", "localhost", ["127.0.0.1"], work)
    ca, cert, key = str(work / "ca" / "ca.pem"), str(work / "localhost.pem"), str(work / "localhost-key.pem")
    agents = []
    for i in range(args.agents):
        issued = issue_agent(work / "ca", f"bench-{i:04d}", work / "agents")
        agents.append((f"bench-{i:04d}", TlsFiles(ca, str(issued.cert), str(issued.key))))
    payloads = variants(args.apps, args.days, busy=args.busy)
    size = len(personalise(payloads[0], agents[0][0], 1))
    print(
        f"{args.agents} agents, snapshots of {args.apps} apps x {args.days} days = {size / 1024:.0f} KiB, "
        f"{args.busy:.0%} of apps changing between snapshots, "
        f"mutual TLS on loopback, {os.cpu_count()} CPUs, {args.seconds:.0f} s per server",
        flush=True,
    )

    rows = []
    if not args.skip_bare:
        port = _free_port()
        bare = mp.get_context("spawn").Process(
            target=bare_server, args=(port, cert, key, ca, args.bare_workers)
        )
        bare.start()
        wait_ready(f"127.0.0.1:{port}", agents[0][1])
        result = run_load(
            f"127.0.0.1:{port}", agents, payloads, args.seconds, args.client_processes, 1, bare.pid
        )
        result["rss"] = peak_rss_mb(bare.pid)
        bare.terminate()
        bare.join()
        rows.append(("bare grpcio (ack only)", result))

    port = _free_port()
    db = work / "ronda.db"
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
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"127.0.0.1:{port}", agents[0][1])
        result = run_load(
            f"127.0.0.1:{port}", agents, payloads, args.seconds, args.client_processes, 1, serve.pid
        )
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
