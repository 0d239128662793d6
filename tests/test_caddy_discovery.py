"""Caddy discovery: against a real Caddy (Debian's caddy) on loopback, asked through `caddy adapt`
and by parsing the Caddyfile; Caddyfile shapes and bad input from fixture roots (no binary)."""

import http.client
import json
import socket
import ssl
import textwrap
from pathlib import Path

import pytest
from servers import free_port, http_get
from servers_apache import web_tmp
from servers_caddy import Caddy
from test_nginx_depth import self_signed

from ronda.agent.discovery import caddy
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost


@pytest.fixture(scope="module")
def site():
    with web_tmp("ronda-caddy-") as tmp:
        yield from _site(tmp)


def _site(tmp: Path):
    web, secure, api, other = free_port(), free_port(), free_port(), free_port()
    for name in ("portal", "sipd", "docs", "api"):
        (tmp / "www" / name).mkdir(parents=True)
        (tmp / "www" / name / "index.html").write_text(name)
    cert, key = self_signed(tmp, "secure.test")
    (tmp / "snippets").mkdir()
    (tmp / "snippets" / "docs.caddy").write_text(
        f"handle_path /docs/* {{\n\troot * {tmp}/www/docs\n\tfile_server\n}}\n"
    )
    sites = f"""
(access_log) {{
\tlog {{
\t\toutput file {tmp}/logs/{{args.0}}.log
\t\tformat json
\t}}
}}

http://portal.test:{web}, http://www.portal.test:{web} {{
\troot * {tmp}/www/portal
\tfile_server
\timport access_log portal
\timport snippets/*.caddy
\thandle_path /sipd/* {{
\t\troot * {tmp}/www/sipd
\t\tfile_server
\t}}
\thandle /api/* {{
\t\treverse_proxy 127.0.0.1:{api}
\t}}
\tphp_fastcgi unix//run/php/php8.2-fpm.sock
}}

https://secure.test:{secure} {{
\ttls {cert} {key}
\trespond "secure"
}}

http://:{other} {{
\tredir https://secure.test:{secure}{{uri}} permanent
}}

http://:{api} {{
\troot * {tmp}/www
\tfile_server
}}
"""
    (tmp / "logs").mkdir()
    with Caddy.write(tmp, sites).start(web, secure, api, other) as server:
        yield {
            "tmp": tmp,
            "web": web,
            "secure": secure,
            "api": api,
            "other": other,
            "cert": cert,
            "config": server.config,
        }


def tls_get(port: int, server_name: str) -> tuple[bytes, bytes]:
    """(response head and body, the certificate the server chose for that SNI name, DER)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks), tls.getpeercert(binary_form=True)


@pytest.mark.servers
def test_caddy_serves_what_is_configured(site):
    web = site["web"]
    host = f"portal.test:{web}"  # Caddy names its access loggers by host:port
    assert http_get(web, "/", host) == (200, b"portal")
    assert http_get(web, "/sipd/", host) == (200, b"sipd")
    assert http_get(web, "/docs/", host) == (200, b"docs")
    assert http_get(web, "/api/", host) == (200, b"api")
    connection = http.client.HTTPConnection("127.0.0.1", site["other"], timeout=5)
    connection.request("GET", "/x")
    response = connection.getresponse()
    assert (response.status, response.getheader("Location")) == (
        301,
        f"https://secure.test:{site['secure']}/x",
    )
    connection.close()
    answer, der = tls_get(site["secure"], "secure.test")
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"secure")
    assert der == ssl.PEM_cert_to_DER_cert(site["cert"].read_text())
    lines = (site["tmp"] / "logs/portal.log").read_text().splitlines()
    assert {json.loads(line)["request"]["uri"] for line in lines} >= {"/", "/sipd/", "/docs/", "/api/"}


def line_of(path: str, text: str) -> int:
    return next(i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("use_binaries", [True, False], ids=["caddy-adapt", "parsed"])
@pytest.mark.servers
def test_apps_of_a_real_caddy(site, use_binaries):
    tmp, web, secure, api, other = site["tmp"], site["web"], site["secure"], site["api"], site["other"]
    config = str(site["config"])
    result = caddy.discover(LocalHost(), DiscoveryOptions(caddyfile=config, use_binaries=use_binaries))
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    portal = f"caddy:portal.test:{web}"
    assert set(apps) == {
        f"{portal}/",
        f"{portal}/sipd",
        f"{portal}/docs",
        f"{portal}/api",
        f"caddy:secure.test:{secure}/",
        f"caddy:_:{other}/",
        f"caddy:_:{api}/",
    }
    vhost = apps[f"{portal}/"]
    assert vhost.server_names == ["portal.test", "www.portal.test"]
    assert [(a.address, a.port, a.tls) for a in vhost.listen] == [("127.0.0.1", web, False)]
    assert (vhost.root, vhost.config.file, vhost.config.line) == (
        f"{tmp}/www/portal",
        config,
        line_of(config, "http://portal.test"),
    )
    assert vhost.labels["handler"] == "unix:/run/php/php8.2-fpm.sock"
    assert [(lr.path, lr.format) for lr in vhost.access_logs] == [(f"{tmp}/logs/portal.log", "json")]
    assert result.log_formats["caddy:json"] == "json"
    sipd = apps[f"{portal}/sipd"]
    assert (sipd.root, sipd.config.line, sipd.parent_key) == (
        f"{tmp}/www/sipd",
        line_of(config, "handle_path /sipd"),
        f"{portal}/",
    )
    docs = apps[f"{portal}/docs"]
    assert docs.root == f"{tmp}/www/docs"
    assert (docs.config.file, docs.config.line) == (f"{tmp}/snippets/docs.caddy", 1)  # imported, still placed
    assert apps[f"{portal}/api"].upstream == f"http://127.0.0.1:{api}"
    tls = apps[f"caddy:secure.test:{secure}/"]
    assert tls.listen[0].tls and tls.tls.file == str(site["cert"])
    assert apps[f"caddy:_:{other}/"].labels["redirect"].startswith(f"https://secure.test:{secure}")
    assert apps[f"caddy:_:{api}/"].root == f"{tmp}/www"


@pytest.mark.servers
def test_the_running_caddy_names_its_config(site):
    """Without options, a `caddy run --config FILE` process says where its Caddyfile is."""
    assert str(site["config"]) in caddy.config_files(LocalHost())


def plant(root: Path, files: dict[str, str]) -> LocalHost:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return LocalHost(str(root))


def test_caddyfile_from_a_root(tmp_path):
    host = plant(
        tmp_path,
        {
            "/etc/caddy/Caddyfile": """
            {
                email admin@kaltara.go.id
            }
            import /etc/caddy/sites/*.caddy

            ppid.kaltara.go.id {
                root * /var/www/ppid
                @api path /api/* /v2/*
                reverse_proxy @api {
                    to 10.0.0.7:8080 10.0.0.8:8080
                }
                handle /arsip* {
                    root * /srv/arsip
                    file_server browse
                }
                file_server
                log {
                    output file /var/log/caddy/ppid.log
                }
            }
        """,
            "/etc/caddy/sites/jdih.caddy": """
            jdih.kaltara.go.id, www.jdih.kaltara.go.id {
                root * {$JDIH_ROOT:/srv/jdih/public}
                php_fastcgi 127.0.0.1:9000
                file_server
            }
        """,
        },
    )
    result = caddy.discover(host, DiscoveryOptions())
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    assert set(apps) == {
        "caddy:ppid.kaltara.go.id:443/",
        "caddy:ppid.kaltara.go.id:443/api",
        "caddy:ppid.kaltara.go.id:443/v2",  # every path of the named matcher
        "caddy:ppid.kaltara.go.id:443/arsip",
        "caddy:jdih.kaltara.go.id:443/",
    }
    ppid = apps["caddy:ppid.kaltara.go.id:443/"]
    assert ppid.listen[0].tls and ppid.root == "/var/www/ppid"
    assert (ppid.config.file, ppid.config.line) == ("/etc/caddy/Caddyfile", 6)
    assert ppid.access_logs[0].path == "/var/log/caddy/ppid.log"
    api = apps["caddy:ppid.kaltara.go.id:443/api"]
    assert api.upstream == "http://10.0.0.7:8080"
    assert api.labels["upstream_servers"] == "http://10.0.0.7:8080,http://10.0.0.8:8080"
    assert apps["caddy:ppid.kaltara.go.id:443/v2"].upstream == api.upstream
    assert apps["caddy:ppid.kaltara.go.id:443/arsip"].root == "/srv/arsip/arsip"  # handle keeps the path
    jdih = apps["caddy:jdih.kaltara.go.id:443/"]
    assert jdih.server_names == ["jdih.kaltara.go.id", "www.jdih.kaltara.go.id"]
    assert jdih.root == "/srv/jdih/public" and jdih.labels["handler"] == "127.0.0.1:9000"
    assert jdih.config.file == "/etc/caddy/sites/jdih.caddy"


def test_single_site_without_braces_and_managed_certificate(tmp_path):
    host = plant(
        tmp_path,
        {
            "/etc/caddy/Caddyfile": """
            sipd.kaltara.go.id
            reverse_proxy localhost:3000
        """,
            "/var/lib/caddy/.local/share/caddy/certificates/acme-v02.api.letsencrypt.org-directory/"
            "sipd.kaltara.go.id/sipd.kaltara.go.id.crt": "-----BEGIN CERTIFICATE-----\n",
        },
    )
    result = caddy.discover(host, DiscoveryOptions())
    [app] = result.apps
    assert (app.key, app.upstream) == ("caddy:sipd.kaltara.go.id:443/", "http://localhost:3000")
    assert app.tls.file.endswith("/sipd.kaltara.go.id/sipd.kaltara.go.id.crt")


def test_json_config_is_read_as_is(tmp_path):
    config = {
        "apps": {
            "http": {
                "servers": {
                    "main": {
                        "listen": [":8080"],
                        "routes": [
                            {
                                "match": [{"host": ["simpeg.kaltara.go.id"]}],
                                "handle": [
                                    {"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:8081"}]}
                                ],
                            }
                        ],
                    }
                }
            }
        }
    }
    host = plant(tmp_path, {"/etc/caddy/caddy.json": json.dumps(config)})
    result = caddy.discover(host, DiscoveryOptions())
    [app] = result.apps
    assert (app.key, app.upstream, app.config.file) == (
        "caddy:simpeg.kaltara.go.id:8080/",
        "http://127.0.0.1:8081",
        "/etc/caddy/caddy.json",
    )


def test_broken_caddyfiles_give_errors_and_the_rest(tmp_path):
    host = plant(
        tmp_path,
        {
            "/etc/caddy/Caddyfile": """
            import /etc/caddy/missing.caddy
            import /etc/caddy/loop.caddy
            good.kaltara.go.id {
                root * /srv/good
            }
            }
            broken.kaltara.go.id {
                handle /x/* {
                    root * /srv/x
        """,
            "/etc/caddy/loop.caddy": "import /etc/caddy/loop.caddy\n",
        },
    )
    result = caddy.discover(host, DiscoveryOptions())
    keys = {a.key for a in result.apps}
    assert "caddy:good.kaltara.go.id:443/" in keys
    messages = [(e.path, e.line, e.message) for e in result.errors]
    assert ("/etc/caddy/Caddyfile", 1, "import /etc/caddy/missing.caddy: no such snippet or file") in messages
    assert any("import loop" in m for _, _, m in messages)
    assert ("/etc/caddy/Caddyfile", 6, "unexpected '}'") in messages
    assert any(p == "/etc/caddy/Caddyfile" and "never closed" in m for p, _, m in messages)
    assert len(messages) == 5  # the two unclosed blocks each say so


def test_unreadable_json_config(tmp_path):
    host = plant(tmp_path, {"/etc/caddy/caddy.json": "{not json"})
    result = caddy.discover(host, DiscoveryOptions())
    assert result.apps == []
    [error] = result.errors
    assert error.path == "/etc/caddy/caddy.json" and "cannot read Caddy JSON config" in error.message


SPA_AND_STATIC = """
sikd.kaltara.go.id {
\t@static path /css/* /js/* /img/*
\thandle @static {
\t\troot * /srv/sikd/static
\t\tfile_server
\t}
\thandle /api/* {
\t\treverse_proxy 127.0.0.1:8000
\t}
\thandle {
\t\troot * /srv/sikd/dist
\t\ttry_files {path} /index.html
\t\tfile_server
\t}
}
"""


@pytest.mark.parametrize("use_binaries", [True, False], ids=["caddy-adapt", "parsed"])
@pytest.mark.servers
def test_a_named_matcher_keeps_every_path(tmp_path, use_binaries):
    """A single-page app with its static directories in one `@static path ...` matcher, the common shape."""
    (tmp_path / "Caddyfile").write_text(SPA_AND_STATIC)
    result = caddy.discover(
        LocalHost(), DiscoveryOptions(caddyfile=str(tmp_path / "Caddyfile"), use_binaries=use_binaries)
    )
    assert result.errors == []
    apps = {a.path_prefix: a for a in result.apps}
    assert {p: (a.root, a.upstream) for p, a in apps.items()} == {
        "/": ("/srv/sikd/dist", ""),
        "/css": ("/srv/sikd/static/css", ""),  # handle keeps the path: /css/a.css is static/css/a.css
        "/js": ("/srv/sikd/static/js", ""),
        "/img": ("/srv/sikd/static/img", ""),
        "/api": ("", "http://127.0.0.1:8000"),
    }


@pytest.mark.parametrize(
    "upstream",
    ["localhost:80a", "127.0.0.1:99999", "http://127.0.0.1:3000/app", "http://user:rahasia@[::1:3000"],
)
@pytest.mark.servers
def test_a_malformed_upstream_is_an_error_not_an_address(tmp_path, upstream):
    """caddy adapt refuses these; read without the binary, they are reported and never taken as backends."""
    (tmp_path / "Caddyfile").write_text(f"simpeg.kaltara.go.id {{\n\treverse_proxy {upstream}\n}}\n")
    conf = str(tmp_path / "Caddyfile")
    result = caddy.discover(LocalHost(), DiscoveryOptions(caddyfile=conf, use_binaries=False))
    [app] = result.apps
    assert app.upstream == ""
    [error] = result.errors
    assert error.path == conf and "is not a host:port address" in error.message
    assert "rahasia" not in repr(result)
    adapted = caddy.discover(LocalHost(), DiscoveryOptions(caddyfile=conf))  # with the real caddy adapt
    assert [a.upstream for a in adapted.apps] == [""] and adapted.errors
    assert all("not a host:port address" in e.message or "adapt failed" in e.message for e in adapted.errors)
