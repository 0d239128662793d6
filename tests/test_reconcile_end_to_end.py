"""Reconciliation end to end: real nginx and Apache serving vhosts, real HTTP
requests writing their access logs, `ronda-agent run --once` on two agents, a
real collector over gRPC, an imported inventory with deliberate gaps, then
`ronda reconcile`, and the findings and verdicts exactly as expected; the
HTML report of the same database rendered in headless Chromium.

Requests sent by the test are timestamped now. To put an app's last human visit
outside the 90-day idle window (and its logs' start before it), lines dated
100-120 days ago are written into its access log before the server starts; the
server then appends the real requests after them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser import Browser
from servers import Nginx, free_port, http_get, wait_for_port
from servers_apache import Apache

from ronda.collector.server import ServerConfig, make_server
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # real nginx and Apache, ronda serve, ronda-agent and Chromium

BIN = Path(sys.executable).parent
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def old_lines(path: Path, *days_ago: int) -> None:
    """Human visits in the past, in the combined format both servers write."""
    now = datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for days in sorted(days_ago, reverse=True):
            stamp = (now - timedelta(days=days)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            f.write(f'10.20.30.40 - - [{stamp}] "GET / HTTP/1.1" 200 512 "-" "{BROWSER}"\n')


def site(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "index.html").write_text(name)
    return root / name


def agent(collector: int, agent_id: str, state: Path, **confs: str) -> None:
    args = [
        BIN / "ronda-agent",
        "run",
        "--once",
        "--collector",
        f"127.0.0.1:{collector}",
        "--insecure",
        "--agent-id",
        agent_id,
        "--state-dir",
        state / agent_id,
        "--sources",
        ",".join(k.split("_")[0] for k in confs),
    ]
    for key, value in confs.items():
        args += [f"--{key.replace('_', '-')}", value]
    sent = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr


def ronda(db: Path, *args: str) -> str:
    done = subprocess.run([BIN / "ronda", *args, "--db", db], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_findings_and_verdicts_from_real_servers_and_traffic(tmp_path):
    web, web2, back = free_port(), free_port(), free_port()
    www, logs = tmp_path / "www", tmp_path / "logs"
    old_lines(logs / "portal.log", 120)
    old_lines(logs / "old.log", 120, 100)
    old_lines(logs / "apache" / "backend.log", 120, 110)
    old_lines(logs / "apache" / "sso.log", 130, 95)
    nginx_sites = (
        "".join(
            f"""
    server {{
        listen 127.0.0.1:{web};
        server_name {name}.test;
        root {site(www, name)};
        access_log {logs}/{name}.log combined;
    }}"""
            for name in ("portal", "old", "new", "forgotten")
        )
        + f"""
    server {{
        listen 127.0.0.1:{web};
        server_name shop.test;
        access_log {logs}/shop.log combined;
        location / {{ proxy_pass http://127.0.0.1:{back}; }}
    }}"""
    )
    apache_sites = f"Listen 127.0.0.1:{back}\n" + "".join(
        f"""
    <VirtualHost 127.0.0.1:{back}>
        ServerName {name}.test
        DocumentRoot {site(www, name)}
        CustomLog {logs}/apache/{name}.log combined
    </VirtualHost>"""
        for name in ("backend", "sso")
    )
    second = f"""
    server {{
        listen 127.0.0.1:{web2};
        server_name moved.test;
        root {site(www, "moved")};
        access_log {logs}/moved.log combined;
    }}"""
    store = Store(tmp_path / "ronda.db")
    server, collector = make_server(store, ServerConfig(listen="127.0.0.1:0", insecure=True))
    try:
        with (
            Nginx.write(tmp_path / "nginx1", nginx_sites).start(web) as nginx1,
            Nginx.write(tmp_path / "nginx2", second).start(web2) as nginx2,
            Apache.write(tmp_path / "apache", apache_sites).start(back) as apache,
        ):
            for _ in range(12):  # more than the 10 human requests below which "used" becomes "review"
                assert http_get(web, "/", "portal.test", BROWSER) == (200, b"portal")
                assert http_get(web, "/", "forgotten.test", BROWSER)[0] == 200
                assert http_get(web2, "/", "moved.test", BROWSER)[0] == 200
            for host in ("old.test", "new.test"):
                assert http_get(web, "/", host, CRAWLER)[0] == 200
            for host in ("backend.test", "sso.test"):
                assert http_get(back, "/", host, CRAWLER)[0] == 200
            wait_for_port(collector)
            agent(
                collector,
                "web-1",
                tmp_path / "state",
                nginx_conf=str(nginx1.conf),
                apache_conf=str(apache.conf),
            )
            agent(collector, "web-2", tmp_path / "state", nginx_conf=str(nginx2.conf))
    finally:
        server.stop(grace=2).wait()
    db = tmp_path / "ronda.db"
    (tmp_path / "inventory.csv").write_text(
        "id_aplikasi;nama_aplikasi;opd_pemilik;kontak;alamat_domain;alamat_ip;status_aplikasi;jenis_aplikasi\n"
        "APP-1;Portal;Diskominfo;a@x;https://Portal.test/;;aktif;khusus\n"
        "APP-2;Old;Diskominfo;;http://www.old.test;;tidak aktif;khusus\n"
        "APP-3;New;Diskominfo;c@x;new.test;;aktif;khusus\n"
        f"APP-4;Backend;Diskominfo;d@x;http://backend.test:{back};;aktif;khusus\n"
        "APP-5;Gone;BKD;e@x;https://gone.test;;aktif;khusus\n"
        "APP-6;Moved;Bappeda;f@x;moved.test;web-1;aktif;khusus\n"
        f"APP-7;SSO;Diskominfo;g@x;sso.test:{back};;aktif;umum\n",
        encoding="utf-8-sig",
    )
    assert "imported 7 apps" in ronda(db, "inventory", "import", str(tmp_path / "inventory.csv"))
    ronda(db, "reconcile")

    found = json.loads(ronda(db, "findings", "--format", "json"))
    listeners = [f for f in found if f["kind"] == "exposed-listener"]  # whatever else listens on this machine
    assert not [f for f in listeners if f["detail"]["port"] in (web, web2, back)]
    kinds = sorted((f["kind"], f["app_id"] or f["app_key"]) for f in found if f["kind"] != "exposed-listener")
    assert kinds == [
        ("drift", "APP-6"),
        ("hidden", f"nginx:forgotten.test:{web}/"),
        ("hidden", f"nginx:shop.test:{web}/"),
        ("idle", "APP-2"),
        ("idle", "APP-4"),
        ("idle", "APP-7"),
        ("missing", "APP-5"),
        ("status-mismatch", "APP-2"),
        ("status-mismatch", "APP-4"),
        ("status-mismatch", "APP-7"),
        ("unowned", "APP-2"),
    ]
    verdicts = {
        r["app_id"] or r["app_key"]: r
        for r in json.loads(
            ronda(
                db,
                "candidates",
                "--format",
                "json",
                "--verdict",
                "safe-to-take-down",
                "--verdict",
                "review",
                "--verdict",
                "keep",
                "--verdict",
                "insufficient-evidence",
            )
        )
    }
    assert {k: v["verdict"] for k, v in verdicts.items()} == {
        "APP-1": "keep",
        "APP-2": "safe-to-take-down",
        "APP-3": "insufficient-evidence",
        "APP-4": "review",
        "APP-5": "review",
        "APP-6": "keep",
        "APP-7": "review",
        f"nginx:forgotten.test:{web}/": "keep",
        f"nginx:shop.test:{web}/": "insufficient-evidence",
    }
    why = {k: " | ".join(r["text"] for r in v["reasons"]) for k, v in verdicts.items()}
    assert "humans used it today" in why["APP-1"] and "12 human requests in 90 days" in why["APP-1"]
    assert (
        "no human use in the last 90 days (last: " in why["APP-2"] and "logs cover 120 days" in why["APP-2"]
    )
    assert "logs cover only 0 days" in why["APP-3"]
    assert f"shop.test proxies to it (http://127.0.0.1:{back})" in why["APP-4"]
    assert "a shared/common service still in use (declared active" in why["APP-7"]
    assert verdicts["APP-2"]["figures"]["last_human_request"][:10] == (
        datetime.now(UTC) - timedelta(days=100)
    ).strftime("%Y-%m-%d")

    story = ronda(db, "explain", "APP-2")
    assert (
        "SAFE-TO-TAKE-DOWN" in story
        and "matched by url: http://www.old.test -> server name old.test" in story
    )
    report = tmp_path / "report.html"
    ronda(db, "report", "--html", str(report))
    with Browser(tmp_path) as browser:
        page = browser.load(report.as_uri())
        assert page.errors == [] and page.requests == [report.as_uri()]
        assert browser.evaluate(
            page,
            "[...document.querySelectorAll('#candidates-table tbody tr[data-subject]')]"
            ".map(r => r.dataset.subject)",
        ) == ["APP-2"]
