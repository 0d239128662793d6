"""`ronda-agent run` as a daemon: reports from its TOML config until stopped."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ronda.collector.server import ServerConfig, make_server
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # ronda-agent runs as a daemon process

BIN = Path(sys.executable).parent


@pytest.fixture
def collector(tmp_path):
    store = Store(tmp_path / "ronda.db")
    server, port = make_server(store, ServerConfig(listen="127.0.0.1:0", insecure=True))
    yield store, port
    server.stop(grace=1).wait()
    store.close()


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_daemon_reports_on_its_interval_and_stops_cleanly(tmp_path, collector):
    from ronda.collector.demo import fleet_dir

    store, port = collector
    config = tmp_path / "agent.toml"
    config.write_text(f"""
collector = "127.0.0.1:{port}"
insecure = true
interval_seconds = 10
jitter_seconds = 0
state_dir = "{tmp_path / "state"}"
root = "{fleet_dir() / "web-dinkes"}"
""")
    agent = subprocess.Popen(
        [BIN / "ronda-agent", "run", "--config", config], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: store.query("SELECT count(*) AS n FROM snapshots")[0]["n"] >= 1)
        wait_until(lambda: store.query("SELECT count(*) AS n FROM snapshots")[0]["n"] >= 2, timeout=20)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=20)
    assert agent.returncode == 0, err
    rows = store.query("SELECT agent_id, sequence FROM snapshots ORDER BY sequence")
    assert [r["sequence"] for r in rows][:2] == [1, 2]
    assert rows[0]["agent_id"] == "5f1c7a9e2b3d4e6f8a0b1c2d3e4f5a6b"  # the root's machine id
    assert "sent snapshot" in err
    assert store.query("SELECT interval_seconds FROM hosts") == [{"interval_seconds": 10}]
