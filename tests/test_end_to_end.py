"""The foundation's whole path with real processes: nginx serving vhosts, a
`ronda serve` collector, `ronda-agent run --once`, and `ronda apps`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from servers import Nginx, free_port, http_get, wait_for_port

pytestmark = pytest.mark.servers  # real nginx, ronda serve and ronda-agent processes

BIN = Path(sys.executable).parent


def test_agent_reports_real_nginx_sites_to_a_real_collector(tmp_path):
    web, api = free_port(), free_port()
    www = tmp_path / "www"
    for site, body in [("portal", "portal"), ("sipd", "sipd app"), ("intranet", "intranet")]:
        (www / site).mkdir(parents=True)
        (www / site / "index.html").write_text(body)
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "portal.conf").write_text(f"""
server {{
    listen 127.0.0.1:{web};
    server_name portal.test www.portal.test;
    root {www}/portal;
    access_log {tmp_path}/logs/portal.log combined;
    location /sipd/ {{
        alias {www}/sipd/;
    }}
}}
""")
    (sites / "intranet.conf").write_text(f"""
server {{
    listen 127.0.0.1:{web};
    server_name intranet.test;
    root {www}/intranet;
}}
server {{
    listen 127.0.0.1:{api};
    server_name api.test;
    location / {{
        proxy_pass http://127.0.0.1:{web};
    }}
}}
""")
    collector_port = free_port()
    db = tmp_path / "ronda.db"
    serve = subprocess.Popen(
        [BIN / "ronda", "serve", "--db", db, "--listen", f"127.0.0.1:{collector_port}", "--insecure"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with Nginx.write(tmp_path, f"include {sites}/*.conf;").start(web, api) as nginx:
            wait_for_port(collector_port)
            assert http_get(web, "/", "portal.test") == (200, b"portal")
            assert http_get(web, "/sipd/", "portal.test") == (200, b"sipd app")
            assert http_get(web, "/", "intranet.test") == (200, b"intranet")
            assert http_get(api, "/", "intranet.test") == (200, b"intranet")

            sent = subprocess.run(
                [
                    BIN / "ronda-agent",
                    "run",
                    "--once",
                    "--collector",
                    f"127.0.0.1:{collector_port}",
                    "--insecure",
                    "--nginx-conf",
                    nginx.conf,
                    "--state-dir",
                    tmp_path / "state",
                    "--agent-id",
                    "web-test",
                    "--sources",
                    "nginx",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr
            assert f"sent snapshot 1 to 127.0.0.1:{collector_port}" in sent.stdout

        listed = subprocess.run(
            [BIN / "ronda", "apps", "--db", db, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
    finally:
        serve.terminate()
        serve.wait(timeout=15)
    apps = {a["app_key"]: a for a in json.loads(listed.stdout)}
    assert set(apps) == {
        f"nginx:portal.test:{web}/",
        f"nginx:portal.test:{web}/sipd",
        f"nginx:intranet.test:{web}/",
        f"nginx:api.test:{api}/",
    }
    portal = apps[f"nginx:portal.test:{web}/"]
    assert portal["server_names"] == ["portal.test", "www.portal.test"]
    assert portal["listen"] == [f"127.0.0.1:{web}"]
    assert portal["root"] == f"{www}/portal"
    assert (portal["config_file"], portal["config_line"]) == (f"{sites}/portal.conf", 2)
    sipd = apps[f"nginx:portal.test:{web}/sipd"]
    assert (sipd["root"], sipd["path_prefix"], sipd["config_line"]) == (f"{www}/sipd", "/sipd", 7)
    assert sipd["parent_key"] == portal["app_key"]
    intranet = apps[f"nginx:intranet.test:{web}/"]
    assert (intranet["root"], intranet["config_file"], intranet["config_line"]) == (
        f"{www}/intranet",
        f"{sites}/intranet.conf",
        2,
    )
    proxy = apps[f"nginx:api.test:{api}/"]
    assert (proxy["upstream"], proxy["listen"], proxy["config_line"]) == (
        f"http://127.0.0.1:{web}",
        [f"127.0.0.1:{api}"],
        7,
    )
    assert {a["hostname"] for a in apps.values()} == {Path("/etc/hostname").read_text().strip()}
