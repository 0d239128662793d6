"""Two web servers and an inventory, stored and reconciled in process, for the tests of naming apps and
of decisions: a name shared by two hosts (each server's default vhost), nginx in front of Apache's
name-based vhosts, an app used every week, idle ones, and a declared app that runs nowhere.

A pytest plugin (tests/conftest.py loads it): tests take the `fleet` fixture and import `invoke`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from reconcile_fleet import NOW, web_app

from ronda.collector.cli import cli
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import run_reconcile
from ronda.collector.store import Store
from ronda.model import App, HostFacts, ListenAddress, Snapshot

INVENTORY = (
    "id_aplikasi;nama_aplikasi;opd_pemilik;kontak;alamat_domain;status_aplikasi\n"
    "APP-1;Portal Pemprov;Diskominfo;humas@prov.example;https://portal.prov.example;aktif\n"
    "APP-2;LAPOR Pengaduan;Diskominfo;lapor@prov.example;https://lapor.prov.example;aktif\n"
    "APP-3;SIMPUS Puskesmas;Dinas Kesehatan;yankes@prov.example;simpus.prov.example;aktif\n"
    "APP-4;Arsip SIMPUS;Dinas Kesehatan;yankes@prov.example;arsip-simpus.prov.example;aktif\n"
)


def _on(app: App, address: str, port: int, tls: bool = False, default: bool = False, **changes) -> App:
    app.listen = [ListenAddress(address, port, tls, default)]
    for name, value in changes.items():
        setattr(app, name, value)
    return app


def _snapshot(agent: str, hostname: str, address: str, apps: list[App]) -> Snapshot:
    return Snapshot(
        agent_id=agent,
        sequence=1,
        report_id=f"{agent}-1",
        collected_at=NOW - timedelta(minutes=5),
        host=HostFacts(hostname=hostname, addresses=[address]),
        apps=apps,
    )


def web1() -> list[App]:
    front = _on(web_app("portal.prov.example", 1), "*", 443, tls=True, key="nginx:portal.prov.example:443/")
    front.server_names = ["portal.prov.example", "adminer.prov.example"]
    front.root, front.upstream = "", "http://127.0.0.1:8080"
    front.labels = {"host_header": "$host"}
    portal = _on(web_app("portal.prov.example", 1), "127.0.0.1", 8080, default=True)
    portal.kind, portal.key = "apache", "apache:portal.prov.example:8080/"
    adminer = _on(web_app("adminer.prov.example", 120), "127.0.0.1", 8080)
    adminer.kind, adminer.key = "apache", "apache:adminer.prov.example:8080/"
    default = _on(web_app("_", None), "*", 80, default=True, key="nginx:_:80/")
    return [
        front,
        portal,
        adminer,
        default,
        web_app("lapor.prov.example", 0),
        web_app("simpus.prov.example", 150),
    ]


def web2() -> list[App]:
    default = _on(web_app("_", None), "*", 80, default=True, key="nginx:_:80/")
    return [default, web_app("simpeg.prov.example", 200, coverage_days=300)]


def column(table: str, header: str) -> list[str]:
    """The cells of one column of a table ronda prints, found by the rule of dashes under its headers."""
    lines = table.splitlines()
    spans, at = [], 0
    for dashes in lines[1].split("  "):
        spans.append((at, at + len(dashes)))
        at += len(dashes) + 2
    start, end = spans[[h.strip() for h in _cut(lines[0], spans)].index(header)]
    return [line[start:end].strip() for line in lines[2:] if line.strip()]


def _cut(line: str, spans: list[tuple[int, int]]) -> list[str]:
    return [line[a:b] for a, b in spans]


def invoke(db: Path, *args: str) -> Result:
    """A `ronda` command in process, on `db`."""
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    db = tmp_path / "ronda.db"
    store = Store(db)
    store.ingest(_snapshot("agent-web1", "web1", "10.0.0.5", web1()))
    store.ingest(_snapshot("agent-web2", "web2", "10.0.0.6", web2()))
    (tmp_path / "aplikasi.csv").write_text(INVENTORY, encoding="utf-8")
    assert invoke(db, "inventory", "import", str(tmp_path / "aplikasi.csv")).exit_code == 0
    run_reconcile(store, ReconcileConfig(), NOW)
    store.close()
    return db
