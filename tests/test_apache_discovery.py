"""Apache discovery against a real Apache (Debian's apache2) serving several vhosts on loopback,
asked through its own binary (apache2ctl -S / DUMP_INCLUDES) and by parsing its files."""

import textwrap
from pathlib import Path

import pytest
from servers import Nginx, free_port, http_get
from servers_apache import Apache, web_tmp

from ronda.agent.discovery import apache, apache_binary, nginx
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.discovery.keys import assign_unique_keys
from ronda.agent.host import LocalHost

pytestmark = pytest.mark.servers  # a real Apache (and nginx in front of it)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def site(tmp: Path, name: str) -> Path:
    """A docroot whose index names it, so a request proves which vhost answered."""
    root = tmp / "www" / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(name)
    return root


@pytest.fixture(scope="module")
def fleet():
    """Apache with three vhosts on two ports, a conf-enabled Alias app, a proxied API
    and nginx in front of it; yields (tmp, ports) while both serve."""
    with web_tmp() as tmp:
        yield from _fleet(tmp)


def _fleet(tmp: Path):
    web, other, backend, front = free_port(), free_port(), free_port(), free_port()
    for name in ("portal", "sipd", "intranet", "static", "phpmyadmin", "api", "front-static"):
        site(tmp, name)
    write(
        tmp / "conf-enabled/phpmyadmin.conf",
        """
        # like Debian's /etc/apache2/conf-available/phpmyadmin.conf
        Alias /phpmyadmin ${WEB}/phpmyadmin
        <Directory ${WEB}/phpmyadmin>
            DirectoryIndex index.html
        </Directory>
    """,
    )
    write(
        tmp / "conf-enabled/ghost.conf",
        """
        <IfDefine NEVER_DEFINED>
            Alias /ghost ${WEB}/ghost
        </IfDefine>
        <IfModule mod_not_loaded.c>
            Alias /ghost2 ${WEB}/ghost
        </IfModule>
    """,
    )
    write(
        tmp / "conf-enabled/other-vhosts-access-log.conf",
        """
        <IfModule log_config_module>
            CustomLog ${LOGS}/other_vhosts_access.log vhost_combined
        </IfModule>
    """,
    )
    write(
        tmp / "sites-enabled/intranet.conf",
        f"""
        <VirtualHost 127.0.0.1:{web}>
            ServerName intranet.test
            DocumentRoot ${{WEB}}/intranet
            <IfModule mod_proxy.c>
                ProxyPass /api http://127.0.0.1:{backend}/
            </IfModule>
            CustomLog ${{LOGS}}/intranet.log "%h %t \\"%r\\" %>s %{{Host}}i"
        </VirtualHost>
    """,
    )
    write(
        tmp / "sites-enabled/portal.conf",
        f"""
        <VirtualHost 127.0.0.1:{web}>
            ServerName http://portal.test:{web}
            ServerAlias www.portal.test
            DocumentRoot ${{WEB}}/portal
            Alias /sipd ${{WEB}}/sipd/
            CustomLog logs/portal.log combined
        </VirtualHost>
    """,
    )
    write(
        tmp / "sites-enabled/static.conf",
        f"""
        <VirtualHost *:{other}>
            DocumentRoot ${{WEB}}/static
        </VirtualHost>
    """,
    )
    body = f"""
Define WEB {tmp}/www
Define LOGS {tmp}/logs
Listen 127.0.0.1:{web}
Listen 127.0.0.1:{other}
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
"""
    write(tmp / "backend/api/index.html", "api")  # python-free backend: nginx serves it
    proxy = tmp / "nginx"
    nginx_body = f"""
    server {{
        listen 127.0.0.1:{front};
        server_name portal.test;
        location / {{ proxy_pass http://127.0.0.1:{web}; proxy_set_header Host portal.test; }}
        location /static-files {{ alias {tmp}/www/front-static; }}
        location /intranet/ {{ proxy_pass http://127.0.0.1:{web}/; proxy_set_header Host intranet.test; }}
    }}
    server {{ listen 127.0.0.1:{backend}; root {tmp}/backend/api; }}
"""
    with (
        Apache.write(tmp, body).start(web, other) as server,
        Nginx.write(proxy, nginx_body).start(front, backend) as front_server,
    ):
        yield {
            "tmp": tmp,
            "web": web,
            "other": other,
            "backend": backend,
            "front": front,
            "apache": server,
            "nginx": front_server,
        }


def by_key(apps):
    return {a.key: a for a in apps}


def keyed(result):
    """A single source's apps by key (discover() assigns keys for all sources together)."""
    assign_unique_keys(result.apps)
    return by_key(result.apps)


def test_every_vhost_answers_as_configured(fleet):
    web, other, front = fleet["web"], fleet["other"], fleet["front"]
    assert http_get(web, "/", "portal.test") == (200, b"portal")
    assert http_get(web, "/sipd/", "www.portal.test") == (200, b"sipd")
    assert http_get(web, "/phpmyadmin/", "portal.test") == (200, b"phpmyadmin")
    assert http_get(web, "/", "intranet.test") == (200, b"intranet")
    assert http_get(web, "/api/", "intranet.test") == (200, b"api")
    assert http_get(other, "/phpmyadmin/") == (200, b"phpmyadmin")
    assert http_get(other, "/") == (200, b"static")
    assert http_get(web, "/ghost/", "portal.test")[0] == 404
    assert http_get(front, "/") == (200, b"portal")
    assert http_get(front, "/intranet/") == (200, b"intranet")
    assert http_get(front, "/static-files/") == (200, b"front-static")


@pytest.mark.parametrize("use_binaries", [True, False], ids=["apache2ctl", "parsed"])
def test_apps_of_a_real_apache(fleet, use_binaries):
    tmp, web, other, backend = fleet["tmp"], fleet["web"], fleet["other"], fleet["backend"]
    conf = str(fleet["apache"].conf)
    result = apache.discover(LocalHost(), DiscoveryOptions(apache_conf=conf, use_binaries=use_binaries))
    assert result.errors == []
    apps = by_key(result.apps)
    portal, intranet, static = (
        f"apache:portal.test:{web}",
        f"apache:intranet.test:{web}",
        f"apache:localhost:{other}",
    )
    assert set(apps) == {
        f"{intranet}/",
        f"{intranet}/api",
        f"{intranet}/phpmyadmin",
        f"{portal}/",
        f"{portal}/sipd",
        f"{portal}/phpmyadmin",
        f"{static}/",
        f"{static}/phpmyadmin",
    }
    www = f"{tmp}/www"
    sites = f"{tmp}/sites-enabled"

    vhost = apps[f"{portal}/"]
    assert vhost.server_names == ["portal.test", "www.portal.test"]
    assert [(a.address, a.port, a.default_server) for a in vhost.listen] == [("127.0.0.1", web, False)]
    assert (vhost.root, vhost.config.file, vhost.config.line) == (f"{www}/portal", f"{sites}/portal.conf", 1)
    assert [(lr.path, lr.format) for lr in vhost.access_logs] == [(f"{tmp}/logs/portal.log", "combined")]

    sipd = apps[f"{portal}/sipd"]
    assert (sipd.root, sipd.config.line, sipd.parent_key) == (f"{www}/sipd", 5, f"{portal}/")
    assert sipd.access_logs == vhost.access_logs

    # A conf-enabled Alias is an app under every vhost, located at the Alias line.
    for server in (portal, intranet, static):
        pma = apps[f"{server}/phpmyadmin"]
        assert (pma.root, pma.config.file, pma.config.line) == (
            f"{www}/phpmyadmin",
            f"{tmp}/conf-enabled/phpmyadmin.conf",
            2,
        )
        assert pma.parent_key == f"{server}/"

    first = apps[f"{intranet}/"]
    assert first.listen[0].default_server  # intranet.conf sorts first: the default for its address
    assert apps[f"{intranet}/api"].upstream == f"http://127.0.0.1:{backend}/"
    [log] = first.access_logs
    assert log.path == f"{tmp}/logs/intranet.log" and log.format.startswith("inline-")
    assert result.log_formats[f"apache:{log.format}"] == '%h %t "%r" %>s %{Host}i'

    # No ServerName: the main server's name; no CustomLog: the main server's log.
    lone = apps[f"{static}/"]
    assert lone.server_names == ["localhost"] and lone.root == f"{www}/static"
    assert [(lr.path, lr.format) for lr in lone.access_logs] == [
        (f"{tmp}/logs/other_vhosts_access.log", "vhost_combined")
    ]
    assert result.log_formats["apache:vhost_combined"].startswith("%v:%p %h")
    assert result.log_formats["apache:combined"] == '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'


def test_the_binary_reports_the_same_vhosts_as_the_parse(fleet):
    facts, why = apache_binary.ask(LocalHost(), str(fleet["apache"].conf))
    assert why == "" and facts is not None
    tmp = fleet["tmp"]
    assert facts.main_file == str(fleet["apache"].conf) and facts.server_root == str(tmp)
    assert set(facts.files) >= {f"{tmp}/conf-enabled/phpmyadmin.conf", f"{tmp}/sites-enabled/portal.conf"}
    assert facts.defines["WEB"] == f"{tmp}/www" and "proxy" in facts.modules
    served = {(v.name, v.port, v.file.rsplit("/", 1)[1], v.line) for v in facts.vhosts}
    assert served == {
        ("intranet.test", fleet["web"], "intranet.conf", 1),
        ("portal.test", fleet["web"], "portal.conf", 1),
        ("localhost", fleet["other"], "static.conf", 1),
    }


def test_apache_behind_nginx(fleet):
    """nginx's apps proxy to the port an Apache vhost listens on; its own location prefixes are apps too."""
    front, web, tmp = fleet["front"], fleet["web"], fleet["tmp"]
    options = DiscoveryOptions(nginx_conf=str(fleet["nginx"].conf), apache_conf=str(fleet["apache"].conf))
    nginx_apps = keyed(nginx.discover(LocalHost(), options))
    apache_apps = keyed(apache.discover(LocalHost(), options))
    front_app = nginx_apps[f"nginx:portal.test:{front}/"]
    assert front_app.upstream == f"http://127.0.0.1:{web}"
    assert nginx_apps[f"nginx:portal.test:{front}/intranet"].upstream == f"http://127.0.0.1:{web}/"
    static = nginx_apps[f"nginx:portal.test:{front}/static-files"]
    assert static.root == f"{tmp}/www/front-static" and static.config.file == str(fleet["nginx"].conf)
    behind = [
        a
        for a in apache_apps.values()
        if a.path_prefix == "/" and any(listen.port == web for listen in a.listen)
    ]
    assert {a.primary_name for a in behind} == {"portal.test", "intranet.test"}
