"""Secrets and stores are the owner's alone: keys other users can read are refused (or, when the
operator insists, warned about), and the store, its write-ahead log and the agent's state files are
created 0600 whatever the umask. The keys are the PEM files `ronda ca` issues, left with the modes a
hurried `cp` or a tar extracted with a loose umask gives them (0644, 0666).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from servers import free_port, stop_process, wait_for_port
from trust_fixtures import Collector, make_pki

from ronda.collector.server import ServerConfig

pytestmark = pytest.mark.servers  # starts ronda's own commands as processes

BIN = Path(sys.executable).parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


def serve(tmp_path: Path, pki, *extra: str) -> subprocess.Popen:
    port = free_port()
    return subprocess.Popen(
        [str(BIN / "ronda"), "serve", "--db", str(tmp_path / "ronda.db"), "--listen", f"127.0.0.1:{port}"]
        + ["--cert", pki.collector.cert, "--key", pki.collector.key, "--ca", pki.ca, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ), port


def test_the_collector_refuses_a_key_every_user_can_read(tmp_path, pki):
    os.chmod(pki.collector.key, 0o644)
    process, _ = serve(tmp_path, pki)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert f"private key {pki.collector.key} is readable by every user" in err and "chmod 600" in err


def test_the_collector_uses_it_with_a_warning_when_told_to(tmp_path, pki):
    os.chmod(pki.collector.key, 0o644)
    process, port = serve(tmp_path, pki, "--allow-readable-key")
    try:
        wait_for_port(port, timeout=20)
    finally:
        stop_process(process)
    assert "readable by every user" in process.stderr.read()


def test_a_key_for_the_services_group_is_fine(tmp_path, pki):
    os.chmod(pki.collector.key, 0o640)  # what the Ansible roles install: root:ronda 0640
    process, port = serve(tmp_path, pki)
    try:
        wait_for_port(port, timeout=20)
    finally:
        stop_process(process)


def test_the_agent_refuses_a_world_writable_key(tmp_path, pki):
    tls = pki.agent("web01")
    os.chmod(tls.key, 0o666)
    root = tmp_path / "root"
    root.mkdir()
    done = subprocess.run(
        [str(BIN / "ronda-agent"), "run", "--once", "--collector", "127.0.0.1:9", "--root", str(root)]
        + ["--ca", tls.ca, "--cert", tls.cert, "--key", tls.key, "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "readable by every user" in done.stderr and "(mode 0666)" in done.stderr


def test_store_wal_and_agent_state_are_created_owner_only(tmp_path, pki):
    old = os.umask(0o022)  # the usual umask: files 0644 unless ronda says otherwise
    try:
        collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", tls=pki.collector))
        tls = pki.agent("web01")
        root = tmp_path / "root"
        (root / "var/log/nginx").mkdir(parents=True)
        (root / "etc/nginx").mkdir(parents=True)
        (root / "etc/nginx/nginx.conf").write_text(
            "events {}\nhttp { server { listen 80; root /var/www; access_log /var/log/nginx/a.log; } }\n"
        )
        (root / "var/log/nginx/a.log").write_text(
            '10.0.0.1 - - [01/Nov/2026:10:00:00 +0700] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n'
        )
        state = tmp_path / "state"
        done = subprocess.run(
            [str(BIN / "ronda-agent"), "run", "--once", "--collector", collector.address, "--root", str(root)]
            + ["--ca", tls.ca, "--cert", tls.cert, "--key", tls.key, "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        store_files = [tmp_path / "ronda.db", tmp_path / "ronda.db-wal", tmp_path / "ronda.db-shm"]
        assert {p.name: mode(p) for p in store_files} == {p.name: 0o600 for p in store_files}
        collector.stop()
    finally:
        os.umask(old)
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "agent.json" for p in files) and any(p.name == "usage.sqlite" for p in files)
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    assert all(mode(p) == 0o700 for p in [state, *[p for p in state.rglob("*") if p.is_dir()]])
