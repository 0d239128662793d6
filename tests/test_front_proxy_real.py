"""Real nginx in front of real Apache, the most common topology on government servers, end to end:
`ronda-agent run --once` over both, a real collector over gRPC, an inventory declaring one of the
backend's sites, `ronda reconcile`, and what an operator reads.

The shape: a mail server's Apache with name-based vhosts on one backend address (127.0.0.32, as a
LAN address would be): Debian's default vhost first, Roundcube webmail, an Adminer database
console and PostfixAdmin; in front, nginx with one server block listing the mail server's public
names, `proxy_pass http://127.0.0.32:PORT` and `proxy_set_header Host $host` (Debian's
`proxy_params`). Only the webmail is declared.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from servers import Nginx, free_port, http_get, wait_for_port
from servers_apache import Apache, web_tmp

from ronda.collector.server import ServerConfig, make_server
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # real nginx and Apache, ronda serve and ronda-agent

BIN = Path(sys.executable).parent
BACKEND = "127.0.0.32"
SITES = ("webmail", "adminer", "pfa")


def ronda(db: Path, *args: str) -> str:
    done = subprocess.run([BIN / "ronda", *args, "--db", db], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def mail_fleet(tmp_path_factory):
    """The store after one agent reported the front and the backend, with the inventory imported."""
    tmp = tmp_path_factory.mktemp("front")
    web, back = free_port(), free_port()
    with web_tmp() as www:
        for name in ("default", *SITES):
            (www / name).mkdir()
            (www / name / "index.html").write_text(name)
        apache_sites = f"Listen {BACKEND}:{back}\n" + "".join(
            f"""
<VirtualHost {BACKEND}:{back}>
    {"" if name == "default" else f"ServerName {name}.prov.test"}
    DocumentRoot {www / name}
    CustomLog {tmp}/apache-{name}.log combined
</VirtualHost>"""
            for name in ("default", *SITES)
        )
        nginx_site = f"""
    server {{
        listen 127.0.0.1:{web};
        server_name {" ".join(f"{n}.prov.test" for n in SITES)};
        access_log {tmp}/front.log combined;
        location / {{
            proxy_pass http://{BACKEND}:{back};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}"""
        store = Store(tmp / "ronda.db")
        server, collector = make_server(store, ServerConfig(listen="127.0.0.1:0", insecure=True))
        try:
            with (
                Apache.write(tmp / "apache", apache_sites).start() as apache,
                Nginx.write(tmp / "nginx", nginx_site).start(web) as nginx,
            ):
                wait_for_port(back, BACKEND)
                for name in SITES:  # through the front, as users reach them
                    assert http_get(web, "/", f"{name}.prov.test") == (200, name.encode())
                wait_for_port(collector)
                sent = subprocess.run(
                    [
                        BIN / "ronda-agent",
                        *("run", "--once", "--insecure", "--agent-id", "mail-1"),
                        *("--collector", f"127.0.0.1:{collector}", "--state-dir", str(tmp / "state")),
                        *("--sources", "nginx,apache"),
                        *("--nginx-conf", str(nginx.conf), "--apache-conf", str(apache.conf)),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert sent.returncode == 0, sent.stderr
        finally:
            server.stop(grace=2).wait()
            store.close()
    (tmp / "aplikasi.csv").write_text(
        "id_aplikasi;nama_aplikasi;opd_pemilik;pic_kontak;alamat_domain;status_aplikasi\n"
        "APP-1;Webmail Pemprov;Diskominfo;Budi (0812-3456-7890);https://webmail.prov.test;aktif\n",
        encoding="utf-8",
    )
    db = tmp / "ronda.db"
    ronda(db, "inventory", "import", str(tmp / "aplikasi.csv"))
    ronda(db, "reconcile")
    return db, web, back


def test_the_declared_site_matches_and_the_undeclared_ones_are_hidden_behind_it(mail_fleet):
    db, web, back = mail_fleet
    matches = Store(db).query("SELECT app_key, rule FROM matches WHERE app_id = 'APP-1' ORDER BY app_key")
    assert matches == [
        {"app_key": f"apache:webmail.prov.test:{back}/", "rule": "url"},
        {"app_key": f"nginx:webmail.prov.test:{web}/", "rule": "url"},
    ]
    hidden = {
        f["app_key"]: f
        for f in json.loads(ronda(db, "findings", "--kind", "hidden", "--format", "json"))
        if f["agent_id"] == "mail-1"
    }
    for name in ("adminer", "pfa"):
        finding = hidden[f"apache:{name}.prov.test:{back}/"]
        assert finding["summary"].endswith("(served behind APP-1)") and finding["detail"]["behind"] == [
            "APP-1"
        ]
    assert (
        "served behind" not in hidden[f"apache:localhost:{back}/"]["summary"]
    )  # the front never asks for it
    assert f"apache:webmail.prov.test:{back}/" not in hidden


def test_unlink_removes_a_match_for_good(mail_fleet, tmp_path):
    db = tmp_path / "ronda.db"
    with closing(sqlite3.connect(mail_fleet[0])) as source, closing(sqlite3.connect(db)) as copy:
        source.backup(copy)  # the WAL too: the store's last writes may not be in the main file yet
    back = mail_fleet[2]
    key = f"apache:webmail.prov.test:{back}/"
    ronda(db, "inventory", "unlink", "APP-1", f"mail-1/{key}", "--by", "ops", "--reason", "a copy")
    for _ in range(2):
        ronda(db, "reconcile")
        assert not Store(db).query("SELECT 1 FROM matches WHERE app_key = ?", (key,))
    hidden = json.loads(ronda(db, "findings", "--kind", "hidden", "--format", "json"))
    assert any(f["app_key"] == key and f["summary"].endswith("(served behind APP-1)") for f in hidden)


def test_a_url_names_every_app_serving_it_front_and_back(mail_fleet):
    db, web, back = mail_fleet
    host = Store(db).query("SELECT hostname FROM hosts WHERE agent_id = 'mail-1'")[0][
        "hostname"
    ]  # this machine
    told = ronda(db, "explain", f"http://adminer.prov.test:{web}/")
    served = told.split("\n\n")[0].splitlines()
    assert served[0] == f"http://adminer.prov.test:{web}/ is served by:"
    assert served[3].split()[:5] == [
        "front,",
        "proxies",
        "to",
        f"http://{BACKEND}:{back}",
        f"{host}/nginx:webmail.prov.test:{web}/",
    ]
    assert served[4].split()[:5] == [
        "backend",
        "behind",
        "webmail.prov.test",
        f"{host}/apache:adminer.prov.test:{back}/",
        f"{host}/apache:adminer.prov.test:{back}/",
    ]
    assert (
        "APP-1  Webmail Pemprov" in told and f"{host}/apache:adminer.prov.test:{back}/  (undeclared)" in told
    )
