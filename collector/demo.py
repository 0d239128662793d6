"""`ronda demo`: the whole path on this machine, with the sample fleet.

A collector on a loopback port and a temporary SQLite file; one agent per
sample server (a directory laid out like `/`), reporting over real gRPC. Each
agent is the program a server runs, `ronda-agent run --once`, started as a
process of its own: the collector imports nothing of the agent to show it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from subprocess import PIPE

from ronda.collector.demo_reconcile import reconcile_demo
from ronda.collector.demo_traffic import LogSpec, write_log
from ronda.collector.output import render
from ronda.collector.present import app_rows
from ronda.collector.server import ServerConfig, make_server
from ronda.collector.store import Store
from ronda.errors import RondaError

AGENT_SECONDS = 120  # one scan of a sample server takes a second or two; this only ends a hung agent

FLEET = "sample_fleet"


def fleet_dir() -> Path:
    return Path(str(resources.files("ronda.collector") / FLEET))


def prepare_fleet(target: Path, today: datetime | None = None) -> list[Path]:
    """Copy the sample servers into `target` and write their access logs; returns the host roots."""
    source = fleet_dir()
    today = today or datetime.now(UTC)
    roots = []
    for host in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(host, target / host.name, symlinks=True)
        roots.append(target / host.name)
    spec = tomllib.loads((source / "traffic.toml").read_text())
    for entry in spec["log"]:
        write_log(target / entry["host"], LogSpec(**entry), today)
    shutil.copy(source / "inventory.csv", target / "inventory.csv")
    return roots


def run_demo(keep: str | None = None, echo: Callable[[str], None] = print) -> Path:
    """Run the demo; returns the database path (inside `keep`, or a deleted temp dir)."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="ronda-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    fleet = work / "fleet"
    shutil.rmtree(fleet, ignore_errors=True)
    db = work / "ronda.db"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    try:
        roots = prepare_fleet(fleet)
        store = Store(db)
        server, port = make_server(store, ServerConfig(listen="127.0.0.1:0", insecure=True))
        echo(f"collector listening on 127.0.0.1:{port} (plain text, loopback only), database {db}")
        try:
            for root, sent in zip(roots, run_agents(roots, f"127.0.0.1:{port}", work / "state"), strict=True):
                echo(f"agent on {root.name}: {sent} over gRPC")
        finally:
            server.stop(grace=2).wait()
        show(store, echo)
        reconcile_demo(store, fleet / "inventory.csv", echo, work / "report.html" if keep else None)
        store.close()
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if keep:
        echo(f"\nkept in {work}: try `ronda candidates --db {db}`, `ronda explain APP-003 --db {db}`")
    return db


def run_agents(roots: list[Path], collector: str, state: Path) -> list[str]:
    """`ronda-agent run --once` over each sample server, all at once, each a process of its own;
    returns what each printed."""
    started = []
    try:
        for root in roots:
            # an empty --config: nothing of this machine's /etc/ronda/agent.toml applies
            argv = [sys.executable, "-m", "ronda.agent", "run", "--once", "--config", os.devnull]
            argv += ["--root", str(root), "--collector", collector, "--insecure"]
            argv += ["--state-dir", str(state / root.name)]
            started.append((root, subprocess.Popen(argv, stdout=PIPE, stderr=PIPE, text=True)))
        return [_finished(root, process) for root, process in started]
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait()


def _finished(root: Path, process: subprocess.Popen) -> str:
    try:
        out, err = process.communicate(timeout=AGENT_SECONDS)
    except subprocess.TimeoutExpired:
        raise RondaError(f"the agent on {root.name} did not finish within {AGENT_SECONDS} s") from None
    if process.returncode != 0:
        last = err.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        raise RondaError(f"the agent on {root.name} failed: {last[0]}")
    return out.strip()


def show(store: Store, echo: Callable[[str], None]) -> None:
    hosts = store.hosts()
    echo("\nHosts")
    echo(render(hosts, "table", ["hostname", "os_name", "os_version", "apps", "errors", "last_seen"]))
    rows = app_rows(store)
    for row in rows:
        row["names"] = row["server_names"][0] if row["server_names"] else "_"
        row["root/upstream"] = row["root"] or row["upstream"] or ""
        fw = " ".join(x for x in (row["framework"], row["framework_version"]) if x)
        row["framework"] = fw
    echo(f"\nApps ({len(rows)})")
    echo(
        render(
            rows,
            "table",
            [
                "hostname",
                "kind",
                "names",
                "listen",
                "path_prefix",
                "root/upstream",
                "framework",
                "last_human_request",
            ],
        )
    )
