"""The agent cannot be wedged by what it reads: a FIFO or a device where a config is read, a scan that
cannot finish, and `--root` trees whose links and `..` point outside the root.

Each case runs the real `ronda-agent scan` as a process, as an operator would, on a tree laid out like
a Debian server (nginx, Apache, Caddy, Tomcat from its tarball, PM2), with the hostile file where a
real config or identity file lives. Before, each of these blocked forever or read until MemoryError.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import Nginx

pytestmark = pytest.mark.servers  # starts ronda's own commands as processes

BIN = Path(sys.executable).parent

# Enough of each server's layout that its source reads the hostile file.
LAYOUTS = {
    "nginx include": (
        "/etc/nginx/conf.d/site.conf",
        {"/etc/nginx/nginx.conf": "events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n"},
    ),
    "nginx main config": ("/etc/nginx/nginx.conf", {}),
    "Apache Include": (  # Debian's apache2.conf: ports.conf by name, then the enabled sites
        "/etc/apache2/ports.conf",
        {"/etc/apache2/apache2.conf": "Include ports.conf\nIncludeOptional sites-enabled/*.conf\n"},
    ),
    "Apache IncludeOptional site": (
        "/etc/apache2/sites-enabled/000-default.conf",
        {"/etc/apache2/apache2.conf": "Listen 80\nIncludeOptional sites-enabled/*.conf\n"},
    ),
    "Apache envvars": (
        "/etc/apache2/envvars",
        {"/etc/apache2/apache2.conf": "Listen 80\n<VirtualHost *:80>\nServerName a.test\n</VirtualHost>\n"},
    ),
    "Caddyfile": ("/etc/caddy/Caddyfile", {}),
    "Tomcat catalina.properties": (
        "/opt/tomcat/conf/catalina.properties",
        {"/opt/tomcat/conf/server.xml": '<Server><Service name="Catalina"></Service></Server>\n'},
    ),
    "PM2 dump": ("/root/.pm2/dump.pm2", {}),
    "hostname": ("/etc/hostname", {}),
    "os-release": ("/etc/os-release", {}),
}
KINDS = {
    "fifo": (lambda p: os.mkfifo(p), "named pipe (FIFO)"),
    "char-device": (lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 5)), "character device"),
}


def agent_scan(*args: str, timeout: float = 60) -> tuple[dict, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ronda-agent"), "scan", "--json", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), time.monotonic() - started


def lay_out(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("place", LAYOUTS)
def test_a_fifo_or_device_where_a_file_is_read_is_an_error_naming_it(tmp_path, place, kind):
    hostile, files = LAYOUTS[place]
    make, words = KINDS[kind]
    root = tmp_path / "server"
    lay_out(root, files)
    (root / hostile.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    make(root / hostile.lstrip("/"))
    snapshot, took = agent_scan("--root", str(root), timeout=60)
    assert took < 30
    messages = [f"{e.get('path', '')} {e['message']}" for e in snapshot.get("errors", [])]
    assert any(hostile in m and words in m for m in messages), messages


def test_a_scan_that_cannot_finish_ends_at_its_deadline_and_still_reports(tmp_path):
    # Live: nginx itself blocks reading a FIFO its config includes (nginx -T never returns)
    fifo = tmp_path / "blocked.conf"
    os.mkfifo(fifo)
    server = Nginx.write(tmp_path / "nginx", f"include {fifo};\nserver {{ listen 127.0.0.1:1; }}\n")
    snapshot, took = agent_scan(
        "--nginx-conf", str(server.conf), "--sources", "nginx", "--scan-timeout", "5", timeout=60
    )
    assert took < 20
    nginx_errors = [e["message"] for e in snapshot["errors"] if e["source"] == "nginx"]
    assert any("did not finish within" in m for m in nginx_errors), nginx_errors
    assert any(m.startswith("unfinished: the scan's deadline (5 s) passed") for m in nginx_errors)
    assert snapshot["host"]["hostname"]  # the rest of the snapshot is there


def test_root_never_reads_lists_or_names_a_file_outside_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret-outside-name.conf").write_text("server { listen 81; server_name outside.test; }\n")
    root = tmp_path / "server"
    lay_out(
        root,
        {
            "/etc/nginx/nginx.conf": "events {}\nhttp {\n"
            "  include /etc/nginx/linked/*.conf;\n"  # a link whose absolute target is the real machine's
            "  include /etc/nginx/../../../../../../../outside/*.conf;\n"  # `..` past the root
            f"  include {outside}/*.conf;\n"  # an absolute path that only exists outside
            "  include /etc/nginx/sites-enabled/*;\n"
            "}\n",
            "/etc/nginx/sites-available/portal": "server { listen 80; server_name portal.test; }\n",
        },
    )
    (root / "etc/nginx/linked").symlink_to(outside)
    (root / "etc/nginx/sites-enabled").mkdir()
    (root / "etc/nginx/sites-enabled/portal").symlink_to("/etc/nginx/sites-available/portal")
    (root / "etc/nginx/sites-enabled/up").symlink_to("../../../../outside/secret-outside-name.conf")
    snapshot, _ = agent_scan("--root", str(root), "--sources", "nginx")
    text = json.dumps(snapshot)
    assert "secret-outside-name" not in text and "outside.test" not in text
    assert [a["server_names"] for a in snapshot["apps"]] == [["portal.test"]]  # the link inside resolves
