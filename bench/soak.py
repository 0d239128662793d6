"""Soak: `ronda serve` as deployed, under a fleet and the callers that tried to silence it.

    .venv/bin/python -m bench.soak                  # 30 minutes, 200 agents
    .venv/bin/python -m bench.soak --minutes 3      # a short try

Starts `ronda serve --processes 2` over mutual TLS (as the Ansible unit runs it) on a loopback port
and a fresh SQLite file, then runs, all on loopback:

- 200 honest agents, each the real `Agent` (spool, sender, backoff) with its own certificate,
  reporting a 30-app snapshot every `--interval` seconds (jittered);
- from a fifth of the run on (the first fifth is the baseline): a slow-loris client with a valid
  certificate that keeps four Report calls open without ever sending a body; a revoked agent that
  keeps sending; and an honest agent whose snapshots are 15 MiB, every three minutes;
- a health check every second (gRPC health, 5 s timeout), and the RSS of the server's processes
  sampled every second.

At the end the agents drain their spools and the store is checked: every snapshot an honest agent
made is stored, exactly once. Prints the figures, the baseline and the targets: health p99 under 1 s,
peak RSS under the unit's MemoryMax (1 GiB), nothing lost or applied twice.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.fleet import large_snapshot, make_snapshot
from bench.ingest import _free_port, personalise, wait_ready
from ronda.agent.config import AgentConfig
from ronda.agent.runner import Agent
from ronda.agent.sender import SendError
from ronda.collector.store import Store
from ronda.collector.trust.ca import init_ca, issue_agent, issue_collector
from ronda.collector.trust.registry import Registry
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles, channel

MEMORY_MAX = 1024**3  # deploy/systemd/ronda-collector.service and the Ansible role's default
REPORT = "/ronda.v1.Collector/Report"
BIN = Path(sys.executable).parent


class SoakAgent(Agent):
    """A real agent whose scans are a fleet-like template, numbered and named as this agent's."""

    def __init__(self, config: AgentConfig, template: bytes) -> None:
        super().__init__(config)
        self.template = template
        self.made: list[int] = []
        self.acks: list[tuple[int, bool]] = []
        send = self.sender.send_message

        def recording(message):
            ack = send(message)
            self.acks.append((message.sequence, ack.duplicate))
            return ack

        self.sender.send_message = recording  # type: ignore[method-assign]

    def scan_into_spool(self, interval: int = 0) -> int:
        sequence = self.state.next_sequence()
        self.spool.put(sequence, personalise(self.template, self.config.agent_id, sequence))
        self.made.append(sequence)
        return sequence

    def report_until(self, stop: threading.Event, interval: float) -> None:
        stop.wait(random.uniform(0, interval))
        while not stop.is_set():
            self.scan_into_spool()
            self.send_all(stop)
            stop.wait(interval * random.uniform(0.8, 1.2))

    def send_all(self, stop: threading.Event | None = None) -> None:
        while len(self.spool):
            try:
                self.flush()
                self.backoff.reset()
            except SendError as e:
                if not e.retryable:
                    raise
                time.sleep(self.backoff.next(e.retry_after))
                if stop is not None and stop.is_set():
                    return


def slow_loris(address: str, tls: TlsFiles, stop: threading.Event, calls: int, out: Counter) -> None:
    """Keep `calls` Report calls open that send headers and never a body."""

    def never():
        stop.wait()
        yield from ()

    def one():
        with channel(address, False, tls) as ch:
            while not stop.is_set():
                try:
                    ch.stream_unary(REPORT)(never(), timeout=600)
                except grpc.RpcError as e:
                    out[e.code().name] += 1
                    if e.code() == grpc.StatusCode.UNAVAILABLE:
                        stop.wait(0.5)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(calls)]
    for t in threads:
        t.start()
    stop.wait()


def revoked_sender(address: str, tls: TlsFiles, stop: threading.Event, template: bytes, out: Counter) -> None:
    with channel(address, False, tls) as ch:
        sequence = 0
        while not stop.wait(1.0):
            sequence += 1
            try:
                ch.unary_unary(REPORT)(personalise(template, "revoked-01", sequence), timeout=30)
                out["ACCEPTED"] += 1
            except grpc.RpcError as e:
                out[e.code().name] += 1


def health_checker(address: str, tls: TlsFiles, stop: threading.Event, out: list) -> None:
    with channel(address, False, tls) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while not stop.wait(1.0):
            started = time.monotonic()
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
                out.append((started, time.monotonic() - started))
            except grpc.RpcError:
                out.append((started, 5.0))


def rss_sampler(pid: int, stop: threading.Event, out: list) -> None:
    parent = psutil.Process(pid)
    while not stop.wait(1.0):
        try:
            family = [parent, *parent.children(recursive=True)]
            out.append(sum(p.memory_info().rss for p in family))
        except psutil.Error:
            pass


def pki(directory: Path, names: list[str]) -> dict[str, TlsFiles]:
    init_ca(directory / "ca")
    issue_collector(directory / "ca", "localhost", ["127.0.0.1"], directory)
    ca = str(directory / "ca/ca.pem")
    files = {
        "collector": TlsFiles(ca, str(directory / "localhost.pem"), str(directory / "localhost-key.pem"))
    }
    for name in names:
        issued = issue_agent(directory / "ca", name, directory / "agents")
        files[name] = TlsFiles(ca, str(issued.cert), str(issued.key))
    return files


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between an agent's reports")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="ronda-soak-"))
    honest = [f"web{i:03d}" for i in range(args.agents)]
    print(f"soak: {args.agents} agents, {args.minutes:g} min, every {args.interval:g} s; files in {work}")
    tls = pki(work / "pki", [*honest, "bulk-01", "loris-01", "revoked-01", "monitor"])
    db = work / "ronda.db"
    Registry(Store(db)).revoke("revoked-01", "decommissioned")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    collector = tls["collector"]
    server = subprocess.Popen(
        [
            str(BIN / "ronda"),
            "serve",
            "--db",
            str(db),
            "--listen",
            address,
            "--processes",
            str(args.processes),
        ]
        + ["--cert", collector.cert, "--key", collector.key, "--ca", collector.ca],
        stderr=subprocess.DEVNULL,
    )
    wait_ready(address, tls["monitor"])
    template = snapshot_to_wire(make_snapshot("template", 1, apps=30, days=30)).SerializeToString()
    bulk_template = large_snapshot("template", 15 * 1024 * 1024).SerializeToString()
    print(f"snapshots: {len(template) // 1024} KiB; the large sender's {len(bulk_template) / 2**20:.1f} MiB")

    def agent(name: str, payload: bytes) -> SoakAgent:
        t = tls[name]
        config = AgentConfig(collector=address, ca=t.ca, cert=t.cert, key=t.key, agent_id=name)
        config.state_dir, config.spool_max_entries = str(work / "state" / name), 10_000
        return SoakAgent(config, payload)

    agents = [agent(name, template) for name in honest]
    bulk = agent("bulk-01", bulk_template)
    stop, hostile_stop = threading.Event(), threading.Event()
    health: list[tuple[float, float]] = []
    rss: list[int] = []
    loris, revoked = Counter(), Counter()
    started = time.monotonic()
    threads = [threading.Thread(target=a.report_until, args=(stop, args.interval)) for a in agents]
    threads += [
        threading.Thread(target=health_checker, args=(address, tls["monitor"], stop, health)),
        threading.Thread(target=rss_sampler, args=(server.pid, stop, rss)),
    ]
    for t in threads:
        t.start()
    baseline_end = started + seconds / 5
    time.sleep(seconds / 5)
    baseline_rss = max(rss) if rss else 0
    print("baseline done; the slow-loris, the revoked agent and the 15 MiB sender join")
    hostile = [
        threading.Thread(target=slow_loris, args=(address, tls["loris-01"], hostile_stop, 4, loris)),
        threading.Thread(
            target=revoked_sender, args=(address, tls["revoked-01"], hostile_stop, template, revoked)
        ),
        threading.Thread(target=bulk.report_until, args=(hostile_stop, 180.0)),
    ]
    for t in hostile:
        t.daemon = True
        t.start()
    while time.monotonic() - started < seconds:
        time.sleep(min(60.0, seconds - (time.monotonic() - started)))
        recent = [s for t, s in health if t > time.monotonic() - 60]
        elapsed = (time.monotonic() - started) / 60
        print(
            f"  {elapsed:5.1f} min: health p99 {percentile(recent, 0.99) * 1000:.0f} ms, "
            f"RSS {rss[-1] / 2**20 if rss else 0:.0f} MiB, snapshots made {sum(len(a.made) for a in agents)}",
            flush=True,
        )
    hostile_stop.set()
    stop.set()
    for t in threads:
        t.join(120)
    for a in [*agents, bulk]:
        a.send_all()
        a.close()
    server.terminate()
    server.wait(60)
    report(db, agents + [bulk], health, baseline_end, rss, baseline_rss, loris, revoked)


def report(db, agents, health, baseline_end, rss, baseline_rss, loris, revoked) -> None:
    conn = sqlite3.connect(db)
    stored: dict[str, set[int]] = {}
    for agent_id, sequence in conn.execute("SELECT agent_id, sequence FROM snapshots"):
        stored.setdefault(agent_id, set()).add(sequence)
    made = sum(len(a.made) for a in agents)
    lost = sum(len(set(a.made) - stored.get(a.config.agent_id, set())) for a in agents)
    twice = sum(sum(1 for n in Counter(s for s, dup in a.acks if not dup).values() if n > 1) for a in agents)
    revoked_stored = len(stored.get("revoked-01", set()))
    before = [s for t, s in health if t < baseline_end]
    during = [s for t, s in health if t >= baseline_end]
    p99_before, p99_during = percentile(before, 0.99), percentile(during, 0.99)
    peak = max(rss) if rss else 0
    print()
    print("| | baseline (honest agents only) | with the hostile callers |")
    print("|---|---|---|")
    print(f"| health checks | {len(before)} | {len(during)} |")
    print(
        f"| health p50 / p99 / max | {percentile(before, 0.5) * 1000:.0f} / {p99_before * 1000:.0f} / "
        f"{max(before, default=0) * 1000:.0f} ms | {percentile(during, 0.5) * 1000:.0f} / "
        f"{p99_during * 1000:.0f} / {max(during, default=0) * 1000:.0f} ms |"
    )
    print(f"| peak RSS of `ronda serve` | {baseline_rss / 2**20:.0f} MiB | {peak / 2**20:.0f} MiB |")
    print()
    print(f"honest snapshots made {made}, stored {made - lost}, lost {lost}, applied twice {twice}")
    print(f"slow-loris calls ended: {dict(loris)}")
    print(f"revoked agent's calls: {dict(revoked)}, stored {revoked_stored}")
    print(f"health p99 with the hostile callers / baseline: {p99_during / max(p99_before, 1e-6):.1f}x")
    targets = [
        ("health p99 under 1 s", p99_during < 1.0),
        (f"peak RSS under MemoryMax ({peak / MEMORY_MAX:.0%} of 1 GiB)", peak < MEMORY_MAX),
        ("every honest snapshot stored exactly once", lost == 0 and twice == 0),
        ("nothing of the revoked agent stored", revoked_stored == 0),
    ]
    for name, ok in targets:
        print(f"{'met' if ok else 'NOT MET'}: {name}")
    sys.exit(0 if all(ok for _, ok in targets) else 1)


if __name__ == "__main__":
    main()
