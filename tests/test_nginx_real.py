"""nginx discovery on the shapes real configs take that the corpus (test_corpus.py) does not spell out
one by one: redirect-only servers as Certbot and hand-written configs make them, regex locations with
captures, variables, configs nginx would refuse, and nginx instances found from their running master."""

import textwrap
from pathlib import Path

import crossplane
import pytest
from servers import Nginx, free_port, http_get
from servers_apache import web_tmp

from ronda.agent.discovery import nginx
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.discovery.nginx_check import check
from ronda.agent.discovery.nginx_config import Statement
from ronda.agent.host import LocalHost

MAIN = "events {}\nhttp {\n    include /etc/nginx/sites-enabled/*;\n}\n"


def discover_site(tmp_path: Path, site: str):
    (tmp_path / "etc/nginx/sites-enabled").mkdir(parents=True)
    (tmp_path / "etc/nginx/nginx.conf").write_text(MAIN)
    (tmp_path / "etc/nginx/sites-enabled/site").write_text(textwrap.dedent(site))
    result = nginx.discover(LocalHost(str(tmp_path)), DiscoveryOptions())
    return result, {a.key: a for a in result.apps}


@pytest.mark.parametrize(
    "shape, server, target",
    [
        (
            "Certbot's port-80 server",
            """
            if ($host = sipd.kaltara.go.id) {
                return 301 https://$host$request_uri;
            } # managed by Certbot
            listen 80;
            server_name sipd.kaltara.go.id;
            return 404; # managed by Certbot
            """,
            "https://$host$request_uri",
        ),
        (
            "an old-style rewrite to https",
            "listen 80; server_name sipd.kaltara.go.id; rewrite ^(.*)$ https://$host$1 permanent;",
            "https://$host$1",
        ),
        (
            "`return URL` (a 302) with an ACME location that is never reached",
            """
            listen 80; server_name sipd.kaltara.go.id; root /var/www/html;
            location /.well-known/acme-challenge/ { root /var/www/certbot; }
            return https://portal.kaltara.go.id/sipd;
            """,
            "https://portal.kaltara.go.id/sipd",
        ),
    ],
)
def test_redirect_only_servers_are_redirect_records(tmp_path, shape, server, target):
    result, apps = discover_site(tmp_path, f"server {{ {server} }}")
    assert result.errors == []
    [app] = apps.values()
    assert (app.key, app.root, app.labels["redirect"]) == ("nginx:sipd.kaltara.go.id:80/", "", target)


def test_a_status_only_catch_all_is_no_redirect(tmp_path):
    """`return 444` on a default_server: hardened configs drop requests for unknown names."""
    _, apps = discover_site(tmp_path, "server { listen 80 default_server; server_name _; return 444; }")
    app = apps["nginx:_:80/"]
    assert (app.root, app.labels.get("return"), "redirect" in app.labels) == ("", "444", False)


def test_the_server_app_is_what_location_slash_serves(tmp_path):
    """An alias at / (apps installed outside any docroot), or / closed while an API prefix is served."""
    _, apps = discover_site(
        tmp_path,
        """
        server { listen 80; server_name arsip.kaltara.go.id; location / { alias /srv/arsip/public/; } }
        server {
            listen 80; server_name api.kaltara.go.id; root /var/www/html;
            location / { return 404; }
            location /v1/ { proxy_pass http://127.0.0.1:8000/; }
        }
        """,
    )
    assert apps["nginx:arsip.kaltara.go.id:80/"].root == "/srv/arsip/public"
    api = apps["nginx:api.kaltara.go.id:80/"]
    assert (api.root, api.labels["return"]) == ("", "404")
    assert apps["nginx:api.kaltara.go.id:80/v1"].upstream == "http://127.0.0.1:8000/"


def test_a_location_sending_users_to_another_site_is_a_redirect_record(tmp_path):
    """An old path kept after the app moved; a redirect inside the app (/remote -> /remote.php) is not one."""
    _, apps = discover_site(
        tmp_path,
        """
        server {
            listen 80; server_name portal.kaltara.go.id; root /var/www/portal;
            location /webmail { return 301 https://mail.kaltara.go.id/; }
            location /remote { return 301 /remote.php$request_uri; }
        }
        """,
    )
    assert set(apps) == {"nginx:portal.kaltara.go.id:80/", "nginx:portal.kaltara.go.id:80/webmail"}
    webmail = apps["nginx:portal.kaltara.go.id:80/webmail"]
    assert (webmail.root, webmail.labels["redirect"]) == ("", "https://mail.kaltara.go.id/")


@pytest.mark.parametrize(
    "location, expected",
    [
        # uploads moved to another disk: anchored on a literal prefix, serving a directory of its own
        (r"location ~ ^/wp-content/(.*)$ { alias /srv/nas/blog/$1; }", ("/wp-content", "/srv/nas/blog")),
        # a capture into the server's own tree is the server's own files
        (r"location ~ ^/wp-content/(.*)$ { alias /var/www/blog/wp-content/$1; }", None),
        # no literal prefix (Jitsi's asset directories): never an app
        (r"location ~ ^/(libs|css|static)/(.*)$ { alias /usr/share/jitsi-meet/$1/$2; }", None),
        # the literal prefix exactly, escaped slashes and all (Jitsi's Jicofo location)
        (
            r"location ~ ^/conference-request/v1(\/.*)?$ { proxy_pass http://127.0.0.1:8888/x$1; }",
            ("/conference-request/v1", ""),
        ),
    ],
)
def test_regex_locations(tmp_path, location, expected):
    result, apps = discover_site(
        tmp_path, f"server {{ listen 80; server_name blog.kaltara.go.id; root /var/www/blog; {location} }}"
    )
    assert result.errors == []
    subs = [(a.path_prefix, a.root) for a in apps.values() if a.path_prefix != "/"]
    assert subs == ([expected] if expected else [])
    assert all("$" not in a.root for a in apps.values())


def test_a_named_location_is_no_app_and_gives_its_backend_to_who_falls_through(tmp_path):
    """Rails/Unicorn recipes: `try_files` at server level straight to a named location."""
    result, apps = discover_site(
        tmp_path,
        """
        upstream unicorn { server unix:/srv/app/tmp/unicorn.sock fail_timeout=0; }
        server {
            listen 80; server_name app.kaltara.go.id; root /srv/app/public;
            try_files $uri/index.html $uri @app;
            location @app { proxy_pass http://unicorn; }
            location /legacy { try_files $uri @old; }
            location @old { proxy_pass http://127.0.0.1:8081; }
        }
        """,
    )
    assert set(apps) == {"nginx:app.kaltara.go.id:80/", "nginx:app.kaltara.go.id:80/legacy"}
    app = apps["nginx:app.kaltara.go.id:80/"]
    assert (app.upstream, app.labels["upstream_servers"]) == (
        "http://unicorn",
        "unix:/srv/app/tmp/unicorn.sock",
    )
    assert apps["nginx:app.kaltara.go.id:80/legacy"].upstream == "http://127.0.0.1:8081"


def test_set_and_map_values_are_expanded_and_request_values_are_not(tmp_path):
    result, apps = discover_site(
        tmp_path,
        """
        map $http_x_app $backend_port { default 9001; beta 9002; }
        server {
            listen 80; server_name opd.kaltara.go.id;
            set $base /srv/opd;
            root $base/$host/public;
            location /api/ { proxy_pass http://127.0.0.1:$backend_port/; }
            location /arsip { set $base /mnt/arsip; alias $base/files; }
        }
        """,
    )
    vhost, api, arsip = (apps[f"nginx:opd.kaltara.go.id:80{p}"] for p in ("/", "/api", "/arsip"))
    assert vhost.root == "/srv/opd"  # $host differs per request: the fixed part only
    assert api.upstream == "http://127.0.0.1:9001/"
    assert arsip.root == "/mnt/arsip/files"  # the location's own `set` wins over the server's


@pytest.mark.parametrize(
    "shape, config, problems",
    [
        ("a misspelt directive", "server { listen 80; servr_name a; }", ['unknown directive "servr_name"']),
        (
            "a missing ; before the next directive",
            "server { listen 80; root /srv/a\n index index.html; }",
            ['invalid number of arguments in "root" directive'],
        ),
        (
            "a missing ; before a block",
            "server { listen 80; root /srv/a\n location / { } }",
            ['directive "root" is not terminated by ";"'],
        ),
        (
            "a missing ; after listen",
            "server { listen 80\n server_name a; }",
            ['invalid parameter "server_name"'],  # nginx names the first one
        ),
        (
            "a directive where nginx refuses it",
            "server { listen 80; proxy_pass http://x; }",
            ['"proxy_pass" directive is not allowed here'],
        ),
        (
            "directives newer than crossplane and from common modules",
            """
            server {
                listen 443 ssl; listen 443 quic reuseport; http2 on; ssl_reject_handshake on;
                more_set_headers "Server: web"; vhost_traffic_status_filter_by_host on;
                location / { content_by_lua_block { ngx.say("ok") } js_content main.hello; }
            }
            """,
            [],
        ),
        ("map values are not directives", "map $uri $x { default 1; ~^/a 2; }", []),
    ],
)
def test_configs_nginx_would_refuse(shape, config, problems):
    payload = crossplane.parse_string(
        f"http {{ {config} }}", filename="site.conf", single=True, check_ctx=False, check_args=False
    )
    statements: list[Statement] = payload["config"][0]["parsed"]
    assert [message for _, _, message in check(statements)] == problems


@pytest.mark.servers
def test_a_running_nginx_started_with_its_own_config_is_found(tmp_path):
    """nginx started with -c (or -p, as GitLab's bundled nginx is) is read from its master's command line."""
    port = free_port()
    with web_tmp() as www:
        (www / "index.html").write_text("arsip")
        body = f"server {{ listen 127.0.0.1:{port}; server_name arsip.test; root {www}; }}"
        with Nginx.write(tmp_path / "nginx", body).start(port):
            assert http_get(port, "/", "arsip.test") == (200, b"arsip")
            result = nginx.discover(LocalHost(), DiscoveryOptions(use_binaries=False))
    app = next(a for a in result.apps if a.key == f"nginx:arsip.test:{port}/")
    assert app.root == str(www) and app.config.file == str(tmp_path / "nginx/nginx.conf")
