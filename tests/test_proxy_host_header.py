"""The Host a front proxy asks its backend for, as each web server decides it: the `host_header` label
that reconciliation follows to the backend's virtual host.

Configs are read from files under a root (no binary), in the shapes sysadmins write them: nginx
in front of Apache with `proxy_set_header Host $host` in a shared snippet at http level, a location
overriding its headers (nginx then inherits none), a fixed intranet name; Debian's Apache with
`ProxyPreserveHost On` in one vhost and not another; a Caddyfile with and without `header_up Host`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ronda.agent.discovery import DiscoveryOptions, apache, caddy, nginx
from ronda.agent.host import LocalHost

OPTIONS = DiscoveryOptions(use_binaries=False)


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text))


def labels(apps) -> dict[str, str]:
    return {a.key: a.labels.get("host_header", "-") for a in apps}


def test_nginx_follows_proxy_set_header_down_the_levels_as_nginx_does(tmp_path):
    # An http-level `include proxy_params` (Debian ships one with `proxy_set_header Host $http_host`),
    # a location that sets headers of its own without Host (so it inherits none and sends $proxy_host),
    # a fixed name for an intranet backend, and a named location the root falls through to.
    write(
        tmp_path,
        "/etc/nginx/nginx.conf",
        """
        events {}
        http {
            include /etc/nginx/proxy_params;
            server {
                listen 80;
                server_name mail.prov.example;
                location / { proxy_pass http://127.0.0.32:80; }
                location /stats { proxy_pass http://127.0.0.33; proxy_set_header X-Real-IP $remote_addr; }
                location /intranet { proxy_pass http://10.1.2.3; proxy_set_header Host intranet.local; }
                location /arsip { alias /srv/arsip/; }
            }
            server {
                listen 80;
                server_name app.prov.example;
                set $backend_name api.internal;
                location / { try_files $uri @app; }
                location @app { proxy_pass http://127.0.0.1:3000; proxy_set_header Host $backend_name; }
            }
        }
        """,
    )
    write(tmp_path, "/etc/nginx/proxy_params", "proxy_set_header Host $http_host;\n")
    found = nginx.discover(LocalHost(str(tmp_path)), OPTIONS)
    assert labels(found.apps) == {
        "nginx:mail.prov.example:80/": "$http_host",
        "nginx:mail.prov.example:80/stats": "$proxy_host",
        "nginx:mail.prov.example:80/intranet": "intranet.local",
        "nginx:mail.prov.example:80/arsip": "-",
        "nginx:app.prov.example:80/": "api.internal",
    }


def test_nginx_without_proxy_set_header_asks_for_the_upstream(tmp_path):
    write(
        tmp_path,
        "/etc/nginx/nginx.conf",
        """
        events {}
        http {
            upstream lapor_backend { server 127.0.0.1:3001; }
            server {
                listen 443 ssl;
                server_name lapor.example;
                location / { proxy_pass http://lapor_backend; }
            }
            server {
                listen 80;
                server_name php.example;
                root /var/www;
                location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; }
            }
        }
        """,
    )
    found = nginx.discover(LocalHost(str(tmp_path)), OPTIONS)
    assert labels(found.apps) == {"nginx:lapor.example:443/": "$proxy_host", "nginx:php.example:80/": "-"}


def test_apache_proxy_preserve_host_per_vhost_and_from_the_server_config(tmp_path):
    # Debian's layout: ProxyPreserveHost On in one site, Off by default in another, and AJP to Tomcat
    # (which always passes the client's Host on).
    write(tmp_path, "/etc/apache2/apache2.conf", "Listen 80\nIncludeOptional sites-enabled/*.conf\n")
    write(
        tmp_path,
        "/etc/apache2/sites-enabled/front.conf",
        """
        <VirtualHost *:80>
            ServerName portal.prov.example
            ProxyPreserveHost On
            ProxyPass / http://127.0.0.32:8080/
        </VirtualHost>
        <VirtualHost *:80>
            ServerName old.prov.example
            ProxyPass / http://10.1.2.4/
        </VirtualHost>
        <VirtualHost *:80>
            ServerName jira.prov.example
            ProxyPass / ajp://127.0.0.1:8009/
        </VirtualHost>
        """,
    )
    found = apache.discover(LocalHost(str(tmp_path)), OPTIONS)
    assert labels(found.apps) == {
        "apache:portal.prov.example:80/": "$host",
        "apache:old.prov.example:80/": "$proxy_host",
        "apache:jira.prov.example:80/": "$host",
    }


@pytest.mark.parametrize(
    "directive, expected",
    [
        ("", "$host"),  # Caddy passes the client's Host on by default
        ("header_up Host {upstream_hostport}", "$proxy_host"),
        ("header_up Host intranet.local", "intranet.local"),
    ],
)
def test_caddy_passes_the_host_on_unless_header_up_says_otherwise(tmp_path, directive, expected):
    write(
        tmp_path,
        "/etc/caddy/Caddyfile",
        f"""
        portal.prov.example {{
            reverse_proxy 127.0.0.1:8080 {{
                {directive}
            }}
        }}
        """,
    )
    found = caddy.discover(LocalHost(str(tmp_path)), OPTIONS)
    assert labels(found.apps) == {"caddy:portal.prov.example:443/": expected}
