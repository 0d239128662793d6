"""nginx discovery from files under a root, and from a real nginx's own `nginx -T`."""

import textwrap
from pathlib import Path

import pytest
from servers import Nginx, free_port, http_get

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.host import LocalHost


def write(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text))
    return target


MAIN = """
events {}
http {
    log_format main '$remote_addr [$time_local] "$request" $status "$http_user_agent" $host';
    access_log /var/log/nginx/access.log main;
    include /etc/nginx/sites-enabled/*;
}
"""


def by_key(result):
    return {a.key: a for a in result.apps}


def test_server_blocks_and_prefix_apps_from_a_root(tmp_path):
    write(tmp_path, "/etc/nginx/nginx.conf", MAIN)
    write(
        tmp_path,
        "/etc/nginx/sites-available/portal",
        """
        server {
            listen 80;
            listen [::]:443 ssl default_server;
            server_name portal.example www.portal.example;
            root /var/www/portal;
            ssl_certificate /etc/ssl/portal.pem;
            location /sipd { alias /var/www/sipd/; access_log /var/log/nginx/sipd.log; }
            location /api/ { proxy_pass http://127.0.0.1:9000; }
            location /lama { root /srv/old; }
            location ~ \\.php$ { fastcgi_pass unix:/run/php/fpm.sock; }
            location /static/ { expires 30d; }
        }
    """,
    )
    (tmp_path / "etc/nginx/sites-enabled").mkdir()
    (tmp_path / "etc/nginx/sites-enabled/portal").symlink_to("/etc/nginx/sites-available/portal")
    result = discover(LocalHost(str(tmp_path)))
    apps = by_key(result)
    assert set(apps) == {
        "nginx:portal.example:80/",
        "nginx:portal.example:80/sipd",
        "nginx:portal.example:80/api",
        "nginx:portal.example:80/lama",
    }
    vhost = apps["nginx:portal.example:80/"]
    assert vhost.server_names == ["portal.example", "www.portal.example"]
    assert [str(a) for a in vhost.listen] == ["*:80", "[::]:443 ssl"]
    assert vhost.listen[1].default_server and vhost.tls.file == "/etc/ssl/portal.pem"
    assert vhost.root == "/var/www/portal"
    assert (vhost.config.file, vhost.config.line) == ("/etc/nginx/sites-enabled/portal", 2)
    assert [(log.path, log.format) for log in vhost.access_logs] == [("/var/log/nginx/access.log", "main")]
    sipd = apps["nginx:portal.example:80/sipd"]
    assert sipd.root == "/var/www/sipd" and sipd.parent_key == vhost.key
    assert [log.path for log in sipd.access_logs] == ["/var/log/nginx/sipd.log"]
    assert apps["nginx:portal.example:80/api"].upstream == "http://127.0.0.1:9000"
    assert apps["nginx:portal.example:80/lama"].root == "/srv/old/lama"
    assert result.log_formats["nginx:main"].startswith("$remote_addr [$time_local]")
    assert result.errors == []


def test_keys_survive_reordering_and_moving_files(tmp_path):
    a = "server { listen 80; server_name a.example; root /a; }\n"
    b = "server { listen 8080; server_name b.example; root /b; location /x { alias /x; } }\n"
    first, second = tmp_path / "one", tmp_path / "two"
    write(first, "/etc/nginx/nginx.conf", MAIN)
    write(first, "/etc/nginx/sites-enabled/all.conf", a + b)
    write(second, "/etc/nginx/nginx.conf", MAIN)
    write(second, "/etc/nginx/sites-enabled/10-b.conf", "\n\n" + b)
    write(second, "/etc/nginx/sites-enabled/20-a.conf", a)
    keys_first = sorted(by_key(discover(LocalHost(str(first)))))
    keys_second = sorted(by_key(discover(LocalHost(str(second)))))
    assert (
        keys_first
        == keys_second
        == ["nginx:a.example:80/", "nginx:b.example:8080/", "nginx:b.example:8080/x"]
    )


@pytest.mark.parametrize(
    "listen,expected",
    [
        ("8080", "*:8080"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:81", "[::1]:81"),
        ("localhost", "localhost:80"),
        ("unix:/run/app.sock", "/run/app.sock"),
    ],
)
def test_listen_forms(tmp_path, listen, expected):
    write(tmp_path, "/etc/nginx/nginx.conf", MAIN)
    write(tmp_path, "/etc/nginx/sites-enabled/x", f"server {{ listen {listen}; server_name x; }}")
    [app] = discover(LocalHost(str(tmp_path))).apps
    assert str(app.listen[0]) == expected


def test_include_loop_and_broken_file_are_errors_not_crashes(tmp_path):
    write(
        tmp_path,
        "/etc/nginx/nginx.conf",
        """
        events {}
        http {
            include /etc/nginx/loop.conf;
            include /etc/nginx/sites-enabled/*;
            include /etc/nginx/missing.conf;
        }
    """,
    )
    write(tmp_path, "/etc/nginx/loop.conf", "include /etc/nginx/loop.conf;\n")
    write(
        tmp_path, "/etc/nginx/sites-enabled/good", "server { listen 80; server_name good.example; root /g; }"
    )
    write(tmp_path, "/etc/nginx/sites-enabled/broken", "server { listen 80; server_name broken.example; \n")
    result = discover(LocalHost(str(tmp_path)))
    assert "nginx:good.example:80/" in by_key(result)
    messages = " | ".join(f"{e.path}:{e.line} {e.message}" for e in result.errors)
    assert "include loop" in messages
    assert "/etc/nginx/missing.conf" in messages
    assert "/etc/nginx/sites-enabled/broken" in messages


def test_no_nginx_means_no_apps_and_no_errors(tmp_path):
    result = discover(LocalHost(str(tmp_path)))
    assert result.apps == [] and result.errors == []


@pytest.mark.servers
def test_real_nginx_is_asked_with_nginx_T(tmp_path):
    """With the binary present, the config nginx itself loads is read (includes included)."""
    port = free_port()
    sites = tmp_path / "sites"
    write(
        sites,
        "/one.conf",
        f"""
        server {{ listen 127.0.0.1:{port}; server_name one.test; root {tmp_path}/www;
                  location /app1 {{ alias {tmp_path}/app1; }} }}
    """,
    )
    (tmp_path / "www").mkdir()
    (tmp_path / "www/index.html").write_text("one")
    with Nginx.write(tmp_path, f"include {sites}/*.conf;").start(port) as nginx:
        assert http_get(port, "/", "one.test") == (200, b"one")
        result = discover(LocalHost(), DiscoveryOptions(nginx_conf=str(nginx.conf), sources=("nginx",)))
    apps = by_key(result)
    assert set(apps) == {f"nginx:one.test:{port}/", f"nginx:one.test:{port}/app1"}
    assert apps[f"nginx:one.test:{port}/"].config.file == f"{sites}/one.conf"
    assert result.errors == []
