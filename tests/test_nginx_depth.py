"""nginx beyond server blocks, against a real nginx on loopback: upstream blocks, FastCGI and
unix-socket passes, snippet includes, TLS certificates, default servers and regex server names."""

import ssl
import subprocess
import textwrap
import urllib.request
from pathlib import Path

import pytest
from servers import Nginx, free_port, http_get
from servers_apache import Apache, web_tmp

from ronda.agent.discovery import nginx
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost

pytestmark = pytest.mark.servers  # a real nginx and Apache stack


def self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def https_get(port: int, host: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{port}/", headers={"Host": host})
    with urllib.request.urlopen(request, timeout=5, context=context) as response:
        return response.status


@pytest.fixture(scope="module")
def stack():
    with web_tmp() as tmp:
        yield from _stack(tmp)


def _stack(tmp: Path):
    a1, a2, web, other, secure = (free_port() for _ in range(5))
    for name in ("one", "two"):
        (tmp / "apache" / name).mkdir(parents=True)
        (tmp / "apache" / name / "index.html").write_text(f"apache-{name}")
    for name in ("dinkes", "portal", "docs"):
        (tmp / "www" / name).mkdir(parents=True)
        (tmp / "www" / name / "index.html").write_text(name)
    cert, key = self_signed(tmp, "secure.test")
    snippets = tmp / "nginx" / "snippets"
    snippets.mkdir(parents=True)
    (snippets / "php.conf").write_text(
        textwrap.dedent("""
        location ~ \\.php$ {
            fastcgi_pass unix:/run/php/php8.2-fpm.sock;
        }
    """)
    )
    (snippets / "docs.conf").write_text(f"location /docs {{ alias {tmp}/www/docs; }}\n")
    body = f"""
    ssl_certificate {cert};
    ssl_certificate_key {key};
    upstream apache_pool {{
        server 127.0.0.1:{a1};
        server 127.0.0.1:{a2} backup;
    }}
    upstream php_pool {{ server unix:/run/php/pool-a.sock; }}
    server {{
        listen 127.0.0.1:{web};
        server_name portal.test;
        root {tmp}/www/portal;
        include snippets/php.conf;
        include snippets/docs.conf;
        location /legacy/ {{ proxy_pass http://apache_pool/; }}
        location /socket/ {{ proxy_pass http://unix:{tmp}/app.sock:/; }}
        location /fpm/ {{ fastcgi_pass php_pool; }}
        location ~ ^/api/v[0-9]+/ {{ proxy_pass http://127.0.0.1:{a2}; }}
    }}
    server {{
        listen 127.0.0.1:{web};
        server_name ~^(www\\.)?dinkes\\.test$;
        root {tmp}/www/dinkes;
    }}
    server {{
        listen 127.0.0.1:{other};
        server_name first.test;
        return 404;
    }}
    server {{
        listen 127.0.0.1:{other} default_server;
        server_name chosen.test;
        location / {{ proxy_pass http://apache_pool; }}
    }}
    server {{
        listen 127.0.0.1:{secure} ssl;
        server_name secure.test;
        root {tmp}/www/portal;
    }}
"""
    apache_body = "\n".join(
        f"Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\nServerName {n}.test\n"
        f"DocumentRoot {tmp}/apache/{n}\n</VirtualHost>"
        for p, n in ((a1, "one"), (a2, "two"))
    )
    with (
        Apache.write(tmp / "apache-conf", apache_body).start(a1, a2),
        Nginx.write(tmp / "nginx", body).start(web, other, secure) as server,
    ):
        yield {
            "tmp": tmp,
            "web": web,
            "other": other,
            "secure": secure,
            "a1": a1,
            "a2": a2,
            "cert": cert,
            "conf": server.conf,
        }


def test_the_stack_serves_what_is_configured(stack):
    web, other = stack["web"], stack["other"]
    assert http_get(web, "/", "portal.test") == (200, b"portal")
    assert http_get(web, "/legacy/", "portal.test") == (200, b"apache-one")
    assert http_get(web, "/docs/", "portal.test") == (200, b"docs")
    assert http_get(web, "/", "www.dinkes.test") == (200, b"dinkes")
    assert http_get(web, "/", "dinkes.test") == (200, b"dinkes")
    assert http_get(other, "/", "unknown.test") == (200, b"apache-one")  # default_server, not the first
    assert https_get(stack["secure"], "secure.test") == 200


@pytest.mark.parametrize("use_binaries", [True, False], ids=["nginx-T", "parsed"])
def test_nginx_depth(stack, use_binaries):
    tmp, web, other, a1, a2 = stack["tmp"], stack["web"], stack["other"], stack["a1"], stack["a2"]
    result = nginx.discover(
        LocalHost(), DiscoveryOptions(nginx_conf=str(stack["conf"]), use_binaries=use_binaries)
    )
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    portal, dinkes = f"nginx:portal.test:{web}", f"nginx:dinkes.test:{web}"
    assert set(apps) == {
        f"{portal}/",
        f"{portal}/docs",
        f"{portal}/legacy",
        f"{portal}/socket",
        f"{portal}/fpm",
        f"{portal}/api",
        f"{dinkes}/",
        f"nginx:first.test:{other}/",
        f"nginx:chosen.test:{other}/",
        f"nginx:secure.test:{stack['secure']}/",
    }
    vhost = apps[f"{portal}/"]
    assert vhost.labels["handler"] == "unix:/run/php/php8.2-fpm.sock"  # from the included snippet
    docs = apps[f"{portal}/docs"]  # a location from another file still belongs to its server
    assert docs.config.file == str(tmp / "nginx/snippets/docs.conf") and docs.parent_key == f"{portal}/"
    assert docs.root == f"{tmp}/www/docs" and docs.labels["handler"] == "unix:/run/php/php8.2-fpm.sock"
    legacy = apps[f"{portal}/legacy"]
    assert legacy.upstream == "http://apache_pool/"
    assert legacy.labels["upstream_servers"] == f"127.0.0.1:{a1},127.0.0.1:{a2}"
    assert apps[f"{portal}/socket"].upstream == f"http://unix:{tmp}/app.sock:/"
    assert apps[f"{portal}/fpm"].labels["upstream_servers"] == "unix:/run/php/pool-a.sock"
    api = apps[f"{portal}/api"]
    assert api.upstream == f"http://127.0.0.1:{a2}" and api.labels["pattern"] == "^/api/v[0-9]+/"

    regex = apps[f"{dinkes}/"]
    assert regex.server_names == ["dinkes.test"]
    assert regex.labels["server_name_regex"] == "~^(www\\.)?dinkes\\.test$"
    # first server on a socket is its default unless another one says default_server
    assert vhost.listen[0].default_server and not regex.listen[0].default_server
    assert not apps[f"nginx:first.test:{other}/"].listen[0].default_server
    chosen = apps[f"nginx:chosen.test:{other}/"]
    assert chosen.listen[0].default_server and chosen.labels["upstream_servers"].startswith(f"127.0.0.1:{a1}")

    secure = apps[f"nginx:secure.test:{stack['secure']}/"]
    assert secure.listen[0].tls and secure.tls.file == str(stack["cert"])  # from the http block
    assert vhost.tls is None  # no TLS listener: the http-level certificate is not its own
