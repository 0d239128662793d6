"""Scans that cannot be done say why, exit with a code a scheduler can act on, and keep earlier data."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from scan_fleet import random_block, ronda, web_host
from servers import free_port
from servers_ssh import Sshd, keygen, known_hosts_line

from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # real sshd and nmap

DATA_TABLES = (
    "network_ports",
    "network_observations",
    "agents",
    "snapshots",
    "hosts",
    "apps",
    "app_usage_daily",
    "listeners",
    "source_errors",
)


class Hang:
    """A TCP listener that accepts connections and never says a word."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


class Site:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.block = random_block()
        a, b, c, d = self.block.split(".")
        self.web, self.ssh_address, self.hang_address = (f"{a}.{b}.{c}.{int(d) + i}" for i in (2, 3, 5))
        self.port = free_port()
        self.db = tmp / "ronda.db"
        self.config = tmp / "collector.toml"
        self.servers: list = []
        self.sshd: Sshd | None = None
        self.hang: Hang | None = None

    def start(self) -> Site:
        Store(self.db).close()  # the collector's store, as `ronda serve` or an inventory import leaves it
        self.servers.append(web_host(self.tmp, "app-w", self.web, self.port, "Web"))
        self.servers.append(web_host(self.tmp, "app-s", self.ssh_address, self.port, "Behind SSH"))
        self.sshd = Sshd.write(self.tmp / "sshd", self.ssh_address, free_port()).start()
        self.hang = Hang(self.hang_address)
        self.config.write_text(f"""
[network]
scopes = ["{self.block}/29"]
ports = "{self.port}"
version_detection = false
host_timeout_seconds = 30

[ssh]
user = "root"
key = "{self.sshd.client_key}"
known_hosts = "{self.sshd.known_hosts}"
connect_timeout_seconds = 2
command_timeout_seconds = 20

[[ssh.hosts]]
name = "host-s"
address = "{self.ssh_address}"
port = {self.sshd.port}
nginx_conf = "{self.tmp / "app-s" / "nginx" / "nginx.conf"}"

[[ssh.hosts]]
name = "hang"
address = "{self.hang_address}"
port = {self.hang.port}
""")
        return self

    def stop(self) -> None:
        if self.hang:
            self.hang.close()
        if self.sshd:
            self.sshd.stop()
        for s in self.servers:
            s.stop()

    def scan(self, *args: str, env: dict | None = None):
        return ronda("scan", *args, "--config", str(self.config), "--db", str(self.db), env=env)

    def data(self) -> dict[str, list]:
        store = Store(self.db)
        try:
            state = {
                t: sorted(map(repr, store.conn.execute(f"SELECT * FROM {t}").fetchall())) for t in DATA_TABLES
            }
            state["ssh_success"] = store.conn.execute(
                "SELECT name, last_success FROM ssh_targets WHERE last_success IS NOT NULL"
            ).fetchall()
            return state
        finally:
            store.close()

    def last_run(self) -> tuple[str, str, str]:
        store = Store(self.db)
        try:
            return store.conn.execute(
                "SELECT kind, status, summary FROM scan_runs ORDER BY scan_id DESC"
            ).fetchone()
        finally:
            store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("failures"))
    try:
        s.start()
        network = s.scan("network")
        assert network.returncode == 0, network.stderr
        assert "1 new" in network.stdout or "2 new" in network.stdout
        ssh = s.scan("ssh", "--host", "host-s")
        assert ssh.returncode == 0, ssh.stderr
        yield s
    finally:
        s.stop()


def _refused_safely(site: Site, before: dict, result, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert site.data() == before


def test_unknown_host_key_is_refused_and_never_added(site, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("127.0.0.9", 22, Path(f"{other}.pub")))  # another server's key only
    before = site.data()
    result = site.scan("ssh", "--host", "host-s", "--known-hosts", str(known))
    _refused_safely(site, before, result, 1, "host key unknown", "refusing to connect")
    assert known.read_text() == known_hosts_line("127.0.0.9", 22, Path(f"{other}.pub"))
    assert site.last_run()[:2] == ("ssh", "failed")


def test_changed_host_key_is_refused(site, tmp_path):
    other = keygen(tmp_path / "impostor_key")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line(site.ssh_address, site.sshd.port, Path(f"{other}.pub")))
    before = site.data()
    result = site.scan("ssh", "--host", "host-s", "--known-hosts", str(known))
    _refused_safely(site, before, result, 1, "differs from the one in", "refusing to connect")


def test_wrong_client_key_is_refused(site, tmp_path):
    wrong = keygen(tmp_path / "wrong_key")
    before = site.data()
    result = site.scan("ssh", "--host", "host-s", "--key", str(wrong))
    _refused_safely(site, before, result, 1, "refused key authentication", "user 'root'")
    assert "PRIVATE KEY" not in result.stderr and "PRIVATE KEY" not in result.stdout


def test_a_host_that_hangs_times_out(site):
    before = site.data()
    started = time.monotonic()
    result = site.scan("ssh", "--host", "hang")
    _refused_safely(site, before, result, 1, "no SSH greeting within 2s")
    assert time.monotonic() - started < 15


def test_one_failed_host_of_two_is_a_partial_run(site):
    result = site.scan("ssh")
    assert result.returncode == 3, result.stderr
    assert re.fullmatch(
        r"ssh scan: 1 of 2 hosts scanned, \d+ apps stored; failed: hang", result.stdout.strip()
    )
    assert "no SSH greeting" in result.stderr


def test_nmap_missing_is_a_clear_refusal(site, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    before = site.data()
    result = site.scan("network", env=env)
    _refused_safely(site, before, result, 2, "nmap is not installed or not on PATH", "apt-get install nmap")
    assert site.last_run()[:2] == ("network", "failed")


@pytest.mark.parametrize("targets", ["outside", "partly-outside", "not-an-address"])
def test_targets_outside_the_scopes_are_refused(site, targets):
    a, b, c, d = site.block.split(".")
    given = {
        "outside": f"{a}.{b}.{c}.{int(d) + 8}/29",  # the next block: loopback too, yet not declared
        "partly-outside": f"{a}.{b}.{c}.{d}/28",
        "not-an-address": "web01.example",
    }[targets]
    before = site.data()
    result = site.scan("network", "--targets", given)
    message = "is not an IP address" if targets == "not-an-address" else "outside the configured scopes"
    _refused_safely(site, before, result, 2, message)
    assert site.last_run()[:2] == ("network", "refused")


def test_no_scopes_configured_refuses_every_sweep(site, tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text("[ssh]\nuser = 'root'\n")
    before = site.data()
    result = ronda("scan", "network", "--targets", site.web, "--config", str(config), "--db", str(site.db))
    _refused_safely(site, before, result, 2, "no network scopes are configured")


def test_bad_config_is_refused(site, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[network]\nscopes = ['127.0.0.0/8']\nportz = '80'\n")
    result = ronda("scan", "network", "--config", str(config), "--db", str(site.db))
    assert result.returncode == 2
    assert "unknown setting(s) portz" in result.stderr


def test_excluded_addresses_are_not_swept(site, tmp_path):
    """A block listed under exclude is left out of the sweep, and what was known there stays as it was."""
    config = tmp_path / "exclude.toml"
    config.write_text(
        site.config.read_text().replace(
            f'scopes = ["{site.block}/29"]', f'scopes = ["{site.block}/29"]\nexclude = ["{site.web}/32"]'
        )
    )

    def web_rows():
        return [r for r in site.data()["network_ports"] if f"'{site.web}'" in r]

    before = web_rows()
    assert before
    site.servers[0].stop()  # were it swept, its port would now be found closed
    try:
        result = ronda("scan", "network", "--config", str(config), "--db", str(site.db))
        assert result.returncode == 0, result.stderr
        assert "0 closed" in result.stdout
        assert web_rows() == before
        refused = ronda(
            "scan", "network", "--targets", site.web, "--config", str(config), "--db", str(site.db)
        )
        assert refused.returncode == 2 and "lies in the excluded network" in refused.stderr
    finally:
        site.servers[0] = web_host(site.tmp, "app-w", site.web, site.port, "Web")


def test_a_port_that_closed_is_marked_closed_not_forgotten(site):
    """The sweep covers the web hosts; a stopped server's port is closed, with its history kept."""
    site.servers[0].stop()
    try:
        result = site.scan("network")
        assert result.returncode == 0, result.stderr
        assert "1 closed" in result.stdout
        store = Store(site.db)
        row = store.conn.execute(
            "SELECT open, closed_at FROM network_ports WHERE address=?", (site.web,)
        ).fetchone()
        seen = store.conn.execute(
            "SELECT count(*) FROM network_observations WHERE address=?", (site.web,)
        ).fetchone()
        store.close()
        assert row[0] == 0 and row[1]
        assert seen[0] >= 1
    finally:
        site.servers[0] = web_host(site.tmp, "app-w", site.web, site.port, "Web")
