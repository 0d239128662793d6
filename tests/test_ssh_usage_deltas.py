"""SSH scans store usage as agents send it: the days changed since the snapshot the store holds the host's
usage through, which the scan reads from the store itself before it starts.

Real nginx serving a vhost on a loopback address, its access log written by real requests, a real sshd
on that address; the reference is the host's own scan of every day, into a store of its own.
"""

from __future__ import annotations

import shutil
import sqlite3
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from scan_fleet import web_host
from servers import free_port
from servers_ssh import Sshd

from ronda.agent.discovery import DiscoveryOptions
from ronda.agent.host import LocalHost
from ronda.agent.snapshot import ScanOptions, scan
from ronda.collector.scan_config import SshConfig, SshTarget
from ronda.collector.scans.ssh_scan import scan_host
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # nginx and sshd


class RecordingStore(Store):
    """The store, noting the usage base of each snapshot it is given."""

    bases: list[int]

    def ingest(self, snap, received_at=None, admit=None):
        self.bases = [*getattr(self, "bases", []), snap.usage_base]
        return super().ingest(snap, received_at, admit)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssh-deltas")
    address, port = "127.0.0.9", free_port()
    nginx = web_host(tmp, "simpeg", address, port, "SIMPEG")
    sshd = Sshd.write(tmp / "sshd", address, free_port()).start()
    yield tmp, address, port, sshd
    sshd.stop()
    nginx.stop()


def visit(address: str, port: int, times: int) -> None:
    for _ in range(times):
        request = urllib.request.Request(
            f"http://{address}:{port}/",
            headers={"Host": "simpeg.test", "User-Agent": "Mozilla/5.0 Firefox/126.0"},
        )
        with urllib.request.urlopen(request, timeout=5):
            pass


def usage(store: Store) -> list[tuple]:
    return [
        tuple(r.values())
        for r in store.query(
            "SELECT app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_daily "
            "WHERE agent_id = 'ssh:web-simpeg' ORDER BY app_key, date"
        )
    ]


def test_ssh_scans_send_what_changed_and_what_a_restored_store_lacks(host, tmp_path):
    tmp, address, web_port, sshd = host
    config = SshConfig(user="root", key=str(sshd.client_key), known_hosts=str(sshd.known_hosts))
    target = config.complete(
        SshTarget("web-simpeg", address, port=sshd.port, nginx_conf=str(tmp / "simpeg/nginx/nginx.conf"))
    )
    store = RecordingStore(tmp_path / "ronda.db")
    reference = Store(tmp_path / "reference.db")

    def both(sequence: int) -> None:
        assert scan_host(store, target, config, str(tmp_path / "ssh-state")).ok
        options = ScanOptions(
            discovery=DiscoveryOptions(nginx_conf=target.nginx_conf),
            agent_id=target.agent_id,
            source="ssh",
            state_dir=tmp_path / "reference-state",
        )
        whole = scan(LocalHost(), options)  # what the host's own agent sees (the SSH scan sees the same)
        whole.sequence = sequence
        reference.ingest(whole)
        assert usage(store) == usage(reference)

    visit(address, web_port, 3)
    both(1)
    with closing(sqlite3.connect(tmp_path / "backup.db")) as backup, store.reading() as conn:
        conn.backup(backup)  # the store, holding the host's usage through scan 1
    visit(address, web_port, 2)
    both(2)
    assert store.bases == [0, 1]  # every day, then what changed since scan 1
    visit(address, web_port, 4)
    store.close()
    Path(f"{tmp_path / 'ronda.db'}-wal").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "backup.db", tmp_path / "ronda.db")  # restored from the backup
    store = RecordingStore(tmp_path / "ronda.db")
    both(3)
    assert store.bases == [1]  # what changed since scan 1, which the restored store holds
    assert usage(store)[0][2] >= 9
    store.close()
    reference.close()
