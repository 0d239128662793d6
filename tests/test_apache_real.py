"""Apache discovery on the shapes real configs take beyond the corpus (test_corpus.py): mod_rewrite
proxies and redirects as hosting panels and hand-written configs use them, which vhosts shadow the main
server, and an AJP backend on a RHEL layout whose global DocumentRoot it inherits."""

import textwrap
from pathlib import Path

import pytest

from ronda.agent.discovery import apache
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.host import LocalHost
from ronda.agent.inspect import inspect_apps

RHEL_MAIN = """
    ServerRoot "/etc/httpd"
    Listen 80
    DocumentRoot "/var/www/html"
    IncludeOptional conf.d/*.conf
"""
DEBIAN_MAIN = """
    Listen 80
    IncludeOptional sites-enabled/*.conf
"""


def discover(tmp_path: Path, main: str, site: str, main_path: str = "/etc/httpd/conf/httpd.conf"):
    site_path = (
        "/etc/httpd/conf.d/site.conf" if "httpd" in main_path else "/etc/apache2/sites-enabled/site.conf"
    )
    for path, text in ((main_path, main), (site_path, site)):
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    host = LocalHost(str(tmp_path))
    result = apache.discover(host, DiscoveryOptions())
    return host, result, {a.key: a for a in result.apps}


def test_rewrite_rules_that_proxy_are_backends(tmp_path):
    """Hosting panels (Plesk, CyberPanel, cPanel) put a Node or Java app behind Apache with [P] rules."""
    _, result, apps = discover(
        tmp_path,
        RHEL_MAIN,
        """
        <VirtualHost *:80>
            ServerName layanan.kaltara.go.id
            DocumentRoot /home/layanan/public_html
            RewriteEngine On
            RewriteCond %{REQUEST_URI} ^/api/
            RewriteRule ^/api/(.*)$ http://127.0.0.1:3000/api/$1 [P,L]
            RewriteRule ^/(.*)$ http://127.0.0.1:8080/$1 [P,L]
        </VirtualHost>
        """,
    )
    assert result.errors == []
    assert apps["apache:layanan.kaltara.go.id:80/"].upstream == "http://127.0.0.1:8080/"
    assert apps["apache:layanan.kaltara.go.id:80/api"].upstream == "http://127.0.0.1:3000/api/"


@pytest.mark.parametrize(
    "directive, target",
    [
        ("Redirect permanent / https://new.kaltara.go.id/", "https://new.kaltara.go.id/"),
        ("Redirect 301 / https://new.kaltara.go.id/", "https://new.kaltara.go.id/"),
        ("RedirectPermanent / https://new.kaltara.go.id/", "https://new.kaltara.go.id/"),
        ("RedirectMatch 301 ^/(.*)$ https://new.kaltara.go.id/$1", "https://new.kaltara.go.id/$1"),
        (
            "RewriteEngine On\nRewriteCond %{HTTPS} off\nRewriteRule ^(.*)$ https://%{HTTP_HOST}$1 [R=301,L]",
            "https://%{HTTP_HOST}$1",
        ),
    ],
)
def test_redirect_only_vhosts_are_redirect_records(tmp_path, directive, target):
    host, _, apps = discover(
        tmp_path,
        RHEL_MAIN,
        f"""
        <VirtualHost *:80>
            ServerName lama.kaltara.go.id
            DocumentRoot /var/www/lama
            {directive}
        </VirtualHost>
        """,
    )
    app = apps["apache:lama.kaltara.go.id:80/"]
    assert (app.root, app.labels["redirect"]) == ("", target)
    result = SourceResult(apps=[app])
    inspect_apps(host, result)
    assert app.framework.name == "redirect"


def test_a_partial_redirect_leaves_the_vhost_an_app(tmp_path):
    _, _, apps = discover(
        tmp_path,
        RHEL_MAIN,
        """
        <VirtualHost *:80>
            ServerName portal.kaltara.go.id
            DocumentRoot /var/www/portal
            Redirect /lama https://arsip.kaltara.go.id/
            RewriteEngine On
            RewriteCond %{REQUEST_URI} !^/api
            RewriteRule ^(.*)$ https://portal.kaltara.go.id$1 [R=301,L]
        </VirtualHost>
        """,
    )
    app = apps["apache:portal.kaltara.go.id:80/"]
    assert (app.root, "redirect" in app.labels) == ("/var/www/portal", False)


def test_an_ajp_backend_is_java_not_php(tmp_path):
    """On RHEL every vhost inherits DocumentRoot /var/www/html: proxying / to AJP must not make it PHP."""
    (tmp_path / "var/www/html").mkdir(parents=True)
    (tmp_path / "var/www/html/index.php").write_text("<?php phpinfo();")
    host, _, apps = discover(
        tmp_path,
        RHEL_MAIN,
        """
        <VirtualHost *:80>
            ServerName jira.kaltara.go.id
            ProxyPass / ajp://127.0.0.1:8009/
            ProxyPassReverse / ajp://127.0.0.1:8009/
        </VirtualHost>
        """,
    )
    app = apps["apache:jira.kaltara.go.id:80/"]
    assert (app.root, app.upstream, app.labels["backend"]) == ("", "ajp://127.0.0.1:8009/", "ajp")
    inspect_apps(host, SourceResult(apps=[app]))
    assert app.framework.name == "proxy"


@pytest.mark.parametrize(
    "vhost",
    [
        "<VirtualHost *:80>",
        "<VirtualHost 0.0.0.0:80>",
        "<VirtualHost [::]:80>",
        "<VirtualHost sipd.kaltara.go.id:80>",  # old configs name the host; httpd resolves it to this host
        "<VirtualHost _default_:*>",
    ],
)
def test_vhosts_on_every_address_shadow_the_main_server(tmp_path, vhost):
    _, _, apps = discover(
        tmp_path,
        DEBIAN_MAIN,
        f"{vhost}\n ServerName sipd.kaltara.go.id\n DocumentRoot /var/www/sipd\n</VirtualHost>\n",
        "/etc/apache2/apache2.conf",
    )
    assert set(apps) == {"apache:sipd.kaltara.go.id:80/"}


def test_a_main_server_answering_a_port_serves_the_compiled_in_document_root(tmp_path):
    """Debian sets no DocumentRoot in apache2.conf: a port no vhost takes serves /var/www/html."""
    _, _, apps = discover(
        tmp_path,
        DEBIAN_MAIN + "Listen 8080\n",
        "<VirtualHost *:80>\n ServerName sipd.kaltara.go.id\n DocumentRoot /var/www/sipd\n</VirtualHost>\n",
        "/etc/apache2/apache2.conf",
    )
    assert apps["apache:_:8080/"].root == "/var/www/html"


def test_a_directory_handler_serves_only_its_directories(tmp_path):
    """A PHP-FPM pool for every Laravel app under /var/www/*/public, the distribution's pool for the rest."""
    _, _, apps = discover(
        tmp_path,
        RHEL_MAIN
        + """
        <FilesMatch \\.(php|phar)$>
            SetHandler "proxy:unix:/run/php-fpm/www.sock|fcgi://localhost"
        </FilesMatch>
        <Directory /var/www/*/public>
            <FilesMatch \\.php$>
                SetHandler "proxy:unix:/run/php-fpm/laravel.sock|fcgi://localhost"
            </FilesMatch>
        </Directory>
        """,
        """
        <VirtualHost *:80>
            ServerName simpeg.kaltara.go.id
            DocumentRoot /var/www/simpeg/public
        </VirtualHost>
        <VirtualHost *:80>
            ServerName portal.kaltara.go.id
            DocumentRoot /var/www/portal
        </VirtualHost>
        """,
    )
    handlers = {k: a.labels["handler"].split("|")[0] for k, a in apps.items()}
    assert handlers == {
        "apache:simpeg.kaltara.go.id:80/": "unix:/run/php-fpm/laravel.sock",
        "apache:portal.kaltara.go.id:80/": "unix:/run/php-fpm/www.sock",
    }
