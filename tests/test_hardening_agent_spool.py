"""The agent keeps reporting whatever its spool and state disk hold: snapshots refused for good are set
aside instead of blocking the newer ones, a full state disk still lets spooled snapshots go out, and
`--root` never touches the state of the machine's own agent.

The agent runs as the real `ronda-agent run --once` process against a real collector on loopback; the
full disk is a real tmpfs filled to the last byte, mounted in a mount namespace of the test's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from trust_fixtures import Collector, make_pki, snapshot

from ronda.agent.spool import Spool
from ronda.collector.server import ServerConfig
from ronda.convert import snapshot_to_wire

pytestmark = pytest.mark.servers  # starts ronda's own commands as processes

BIN = Path(sys.executable).parent


def agent_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ronda-agent"), "run", "--once", "--sources", "nginx", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def spool_snapshots(state: Path, agent_id: str, sequences: list[int], last: int | None = None) -> None:
    spool = Spool(state / "spool")
    for sequence in sequences:
        spool.put(sequence, snapshot_to_wire(snapshot(agent_id, sequence)).SerializeToString())
    (state / "agent.json").write_text(json.dumps({"agent_id": agent_id, "sequence": last or max(sequences)}))


def stored(collector: Collector) -> list[tuple[str, int]]:
    rows = collector.store.query("SELECT agent_id, sequence FROM snapshots ORDER BY agent_id, sequence")
    return [(r["agent_id"], r["sequence"]) for r in rows]


@pytest.fixture
def empty_root(tmp_path) -> Path:
    root = tmp_path / "empty-root"
    root.mkdir(exist_ok=True)
    return root


def test_snapshots_refused_for_good_are_set_aside_and_the_newer_ones_go_out(tmp_path, empty_root):
    # The server was first enrolled under its old host name; its certificate now names it web01.
    pki = make_pki(tmp_path / "pki")
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", tls=pki.collector))
    state = tmp_path / "state"
    spool_snapshots(state, "web01-lama", [1, 2, 3], last=4)
    invalid = snapshot("web01", 4)
    invalid.apps[0].kind = ""
    Spool(state / "spool").put(4, snapshot_to_wire(invalid).SerializeToString())
    tls = pki.agent("web01")
    try:
        done = agent_run(
            *("--collector", collector.address, "--ca", tls.ca, "--cert", tls.cert, "--key", tls.key),
            *("--state-dir", str(state), "--root", str(empty_root)),
        )
        assert done.returncode == 0, done.stderr
        assert stored(collector) == [("web01", 5)]
    finally:
        collector.stop()
    aside = sorted(p.name for p in (state / "spool/refused").iterdir())
    assert [n for n in aside if n.endswith(".snapshot")] == [f"{s:020d}.snapshot" for s in (1, 2, 3, 4)]
    reasons = [(state / "spool/refused" / f"{s:020d}.reason").read_text() for s in (1, 2, 3, 4)]
    assert all("written as agent 'web01-lama', and this agent is now 'web01'" in r for r in reasons[:3])
    assert "refused it as invalid" in reasons[3]
    assert Spool(state / "spool").sequences() == []
    assert done.stderr.count("set aside") == 4  # logged once each


def test_a_full_state_disk_still_lets_spooled_snapshots_go_out(tmp_path, empty_root):
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare (util-linux) is needed: .ci/run installs it")
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", insecure=True))
    prepared, state = tmp_path / "prepared", tmp_path / "state"
    state.mkdir()
    spool_snapshots(prepared, "web01", [1, 2])
    agent = [
        str(BIN / "ronda-agent"),
        *("run", "--once", "--insecure", "--collector", collector.address, "--agent-id", "web01"),
        *("--state-dir", str(state), "--root", str(empty_root), "--sources", "nginx"),
    ]
    script = (
        f"mount -t tmpfs -o size=256k tmpfs {state} && cp -a {prepared}/. {state}/ && "
        f"(dd if=/dev/zero of={state}/filler bs=4k 2>/dev/null; true) && "
        f"! echo probe > {state}/probe && {' '.join(agent)}"
    )
    try:
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
        )
        assert stored(collector)[:2] == [("web01", 1), ("web01", 2)], done.stderr
    finally:
        collector.stop()


def test_root_runs_never_touch_the_state_of_this_machines_agent(tmp_path, empty_root):
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", insecure=True))
    machine_state = tmp_path / "var-lib-ronda-agent"
    spool_snapshots(machine_state, "this-machine", [7], last=41)
    before = {p: p.read_bytes() for p in machine_state.rglob("*") if p.is_file()}
    try:
        done = agent_run(
            *("--insecure", "--collector", collector.address, "--agent-id", "copy-of-web01"),
            *("--root", str(empty_root)),
            env={"RONDA_STATE_DIR": str(machine_state)},
        )
        assert done.returncode == 0, done.stderr
        assert stored(collector) == [("copy-of-web01", 1)]
    finally:
        collector.stop()
    after = {p: p.read_bytes() for p in machine_state.rglob("*") if p.is_file() and "roots" not in p.parts}
    assert after == before  # offsets, sequence and spool of the machine's agent as they were
    (own,) = (machine_state / "roots").iterdir()
    assert (
        own.name.startswith("empty-root-") and json.loads((own / "agent.json").read_text())["sequence"] == 1
    )
