"""Every app on a live server, with what it is, the processes that serve it and its listeners.

Real nginx (several vhosts, a location-prefix PHP app on a real PHP-FPM pool, an
Alias-style app, a TLS vhost, proxies to a real Node app and to a real Apache
behind nginx) serving Debian's packaged web apps and app trees on disk.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from certs import self_signed
from servers import Nginx, free_port, http_get
from servers_apache import Apache
from servers_apps import NodeApp, PhpFpm

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.host import LocalHost
from ronda.agent.inspect import inspect_apps
from ronda.agent.listeners import map_listeners

pytestmark = pytest.mark.servers  # real nginx, Apache, PHP-FPM and Node processes


def upstream_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
    ).stdout
    return re.split(r"[+~]", re.sub(r"^\d+:", "", out).rsplit("-", 1)[0])[0]


CI3_DATABASE = """<?php
defined('BASEPATH') OR exit('No direct script access allowed');
$active_group = 'default';
$query_builder = TRUE;
$db['default'] = array(
	'dsn'	=> '',
	'hostname' => 'db.internal',
	'username' => 'layanan',
	'password' => 'Rahasia-Layanan-99',
	'database' => 'layanan_publik',
	'dbdriver' => 'mysqli',
);
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    # Docroots outside pytest's temp dir: a pytest run starting meanwhile makes that 0700,
    # and Apache's workers (www-data) could no longer read them.
    www = Path(tempfile.mkdtemp(prefix="ronda-live-www-"))
    www.chmod(0o755)
    (www / "portal").mkdir(parents=True)
    (www / "portal/index.html").write_text("<h1>Portal</h1>\n")
    (www / "portal/wiki").symlink_to("/usr/share/dokuwiki")  # an app of its own in a docroot subdirectory
    layanan = www / "layanan"
    (layanan / "system/core").mkdir(parents=True)
    (layanan / "system/core/CodeIgniter.php").write_text("<?php\nconst CI_VERSION = '3.1.13';\n")
    (layanan / "application/config").mkdir(parents=True)
    (layanan / "application/config/database.php").write_text(CI3_DATABASE)
    (layanan / "index.php").write_text("<?php echo 'layanan ok';\n")
    (www / "arsip").mkdir()
    (www / "arsip/index.html").write_text("<h1>Arsip</h1>\n")
    api = tmp / "api"
    (api / "node_modules/express").mkdir(parents=True)
    (api / "package.json").write_text(
        '{"name": "layanan-api", "version": "1.2.0", "dependencies": {"express": "^4.18.2"}}'
    )
    (api / "node_modules/express/package.json").write_text('{"name": "express", "version": "4.18.2"}')
    cert, key, not_after = self_signed(tmp / "tls", "portal.test", ["portal.test", "www.portal.test"])

    ports = {name: free_port() for name in ("web", "tls", "node", "apache")}
    started: list = []
    fpm = PhpFpm.write(tmp / "fpm", ["layanan", "blog"])
    node = NodeApp(api, ports["node"])
    apache = Apache.write(
        tmp / "apache",
        f"""
Listen 127.0.0.1:{ports["apache"]}
<VirtualHost 127.0.0.1:{ports["apache"]}>
    ServerName arsip.test
    DocumentRoot {www}/arsip
</VirtualHost>
""",
    )
    nginx = Nginx.write(
        tmp / "nginx",
        f"""
    server {{
        listen 127.0.0.1:{ports["web"]};
        server_name portal.test;
        root {www}/portal;
        location /phpmyadmin {{ alias /usr/share/phpmyadmin; }}
        location /layanan/ {{
            root {www};
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {layanan}/index.php;
            fastcgi_pass unix:{fpm.sockets["layanan"]};
        }}
    }}
    server {{
        listen 127.0.0.1:{ports["web"]};
        server_name api.test;
        location / {{ proxy_pass http://127.0.0.1:{ports["node"]}; }}
    }}
    upstream arsip_backend {{ server 127.0.0.1:{ports["apache"]}; }}
    server {{
        listen 127.0.0.1:{ports["web"]};
        server_name arsip.test;
        location / {{ proxy_pass http://arsip_backend; proxy_set_header Host arsip.test; }}
    }}
    server {{
        listen 127.0.0.1:{ports["web"]};
        server_name blog.test;
        root /usr/share/wordpress;
        index index.php;
        location ~ \\.php$ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass unix:{fpm.sockets["blog"]};
        }}
    }}
    server {{
        listen 127.0.0.1:{ports["tls"]} ssl;
        server_name portal.test;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {www}/portal;
    }}
""",
    )
    try:
        for server, start in (
            (fpm, fpm.start),
            (node, node.start),
            (apache, lambda: apache.start(ports["apache"])),
            (nginx, lambda: nginx.start(ports["web"], ports["tls"])),
        ):
            started.append(server)
            start()
        # every app really serves before it is inspected
        assert http_get(ports["web"], "/layanan/", host_header="portal.test") == (200, b"layanan ok")
        assert http_get(ports["web"], "/", host_header="api.test") == (200, b"layanan /")
        assert http_get(ports["web"], "/", host_header="arsip.test") == (200, b"<h1>Arsip</h1>\n")
        assert http_get(ports["web"], "/wp-includes/version.php", host_header="blog.test") == (200, b"")
        host = LocalHost()
        result = discover(host, DiscoveryOptions(nginx_conf=str(nginx.conf), apache_conf=str(apache.conf)))
        inspect_apps(host, result)
        listeners, errors = map_listeners(host, result.apps)
        yield {
            "result": result,
            "listeners": listeners,
            "listener_errors": errors,
            "ports": ports,
            "nginx": nginx,
            "apache": apache,
            "fpm": fpm,
            "node": node,
            "not_after": not_after,
            "www": www,
        }
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(www)


def app(fleet, key: str):
    apps = {a.key: a for a in fleet["result"].apps}
    assert key in apps, f"{key} not among {sorted(apps)}"
    return apps[key]


def pids_of(process) -> set[int]:
    import psutil

    root = psutil.Process(process.pid)
    return {root.pid} | {c.pid for c in root.children(recursive=True)}


def pool_workers(master, pool: str) -> set[int]:
    import psutil

    return {
        c.pid for c in psutil.Process(master.pid).children() if c.cmdline()[:1] == [f"php-fpm: pool {pool}"]
    }


def test_every_nginx_app_is_found_with_its_framework(fleet) -> None:
    web = fleet["ports"]["web"]
    expected = {
        f"nginx:portal.test:{web}/": ("static", ""),
        f"nginx:portal.test:{web}/phpmyadmin": ("phpmyadmin", upstream_version("phpmyadmin")),
        f"nginx:portal.test:{web}/layanan": ("codeigniter", "3.1.13"),
        f"nginx:api.test:{web}/": ("proxy", ""),
        f"nginx:arsip.test:{web}/": ("proxy", ""),
        f"nginx:blog.test:{web}/": ("wordpress", upstream_version("wordpress")),
        f"nginx:portal.test:{fleet['ports']['tls']}/": ("static", ""),
    }
    for key, (name, version) in expected.items():
        found = app(fleet, key)
        assert (found.framework.name, found.framework.version) == (name, version), key


def test_docroot_subdirectory_with_its_own_framework_is_an_app(fleet) -> None:
    web = fleet["ports"]["web"]
    wiki = app(fleet, f"nginx:portal.test:{web}/wiki")
    assert wiki.parent_key == f"nginx:portal.test:{web}/"
    assert wiki.framework.name == "dokuwiki"
    assert wiki.root == f"{fleet['www']}/portal/wiki"
    assert wiki.access_logs == app(fleet, f"nginx:portal.test:{web}/").access_logs


def test_owner_processes(fleet) -> None:
    web = fleet["ports"]["web"]
    nginx_pids = pids_of(fleet["nginx"].process)
    portal = app(fleet, f"nginx:portal.test:{web}/")
    assert {p.pid for p in portal.resources.processes} == nginx_pids
    assert {p.role for p in portal.resources.processes} == {"nginx server"}
    assert portal.resources.rss_bytes == sum(p.rss_bytes for p in portal.resources.processes) > 0

    layanan = app(fleet, f"nginx:portal.test:{web}/layanan")
    workers = pool_workers(fleet["fpm"].process, "layanan")
    assert len(workers) == 2
    assert {p.pid for p in layanan.resources.processes if p.role == "php-fpm pool layanan"} == workers

    blog = app(fleet, f"nginx:blog.test:{web}/")  # PHP through a regex location's fastcgi_pass
    assert {p.role for p in blog.resources.processes} == {"nginx server", "php-fpm pool blog"}
    assert {p.pid for p in blog.resources.processes if p.role == "php-fpm pool blog"} == pool_workers(
        fleet["fpm"].process, "blog"
    )

    api = app(fleet, f"nginx:api.test:{web}/")
    assert [p.pid for p in api.resources.processes if p.role == "backend"] == [fleet["node"].process.pid]
    arsip = app(fleet, f"nginx:arsip.test:{web}/")
    assert {p.pid for p in arsip.resources.processes if p.role == "backend"} == pids_of(
        fleet["apache"].process
    )
    for found in fleet["result"].apps:
        for proc in found.resources.processes:
            assert proc.name and not hasattr(proc, "cmdline")


def test_node_app_from_its_process(fleet) -> None:
    node_port = fleet["ports"]["node"]
    found = app(fleet, f"node:layanan-api:{node_port}/")
    assert (found.framework.name, found.framework.version) == ("express", "4.18.2")
    assert [(a.address, a.port) for a in found.listen] == [("127.0.0.1", node_port)]
    assert [p.pid for p in found.resources.processes] == [fleet["node"].process.pid]
    assert found.labels["manager"] == "process"


def test_disk_deployment_database_and_certificate(fleet) -> None:
    web, tls = fleet["ports"]["web"], fleet["ports"]["tls"]
    layanan = app(fleet, f"nginx:portal.test:{web}/layanan")
    assert layanan.resources.file_count == 3 and layanan.resources.disk_bytes > 0
    assert layanan.resources.newest_file.startswith(f"{fleet['www']}/layanan/")
    assert layanan.database is not None
    assert (layanan.database.engine, layanan.database.name, layanan.database.host) == (
        "mysql",
        "layanan_publik",
        "db.internal",
    )
    secure = app(fleet, f"nginx:portal.test:{tls}/")
    assert secure.tls.not_after == fleet["not_after"]
    assert secure.tls.dns_names == ["portal.test", "www.portal.test"]
    assert "CN=portal.test" in secure.tls.subject


def test_listeners_map_to_processes_and_apps(fleet) -> None:
    ports = fleet["ports"]
    assert fleet["listener_errors"] == []
    by_port = {}
    for listener in fleet["listeners"]:
        by_port.setdefault(listener.port, []).append(listener)
    web = by_port[ports["web"]]
    assert {lst.pid for lst in web} <= pids_of(fleet["nginx"].process)
    assert all(lst.process == "nginx" and not lst.public and lst.address == "127.0.0.1" for lst in web)
    assert set(web[0].app_keys) >= {
        f"nginx:portal.test:{ports['web']}/",
        f"nginx:api.test:{ports['web']}/",
        f"nginx:portal.test:{ports['web']}/wiki",
    }
    node = by_port[ports["node"]]
    assert [lst.pid for lst in node] == [fleet["node"].process.pid]
    assert set(node[0].app_keys) == {f"node:layanan-api:{ports['node']}/", f"nginx:api.test:{ports['web']}/"}
    apache = by_port[ports["apache"]]
    assert all(lst.process == "apache2" for lst in apache)
    assert f"nginx:arsip.test:{ports['web']}/" in apache[0].app_keys  # Apache behind nginx
