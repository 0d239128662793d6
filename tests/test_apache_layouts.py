"""Apache discovery by parsing alone (`--root`, SSH: no binary) on the Debian, RHEL and SUSE layouts.

Each fixture root is laid out like `/` with the distribution's stock files
(trimmed to what matters) plus the sites a provincial server would carry.
"""

import textwrap
from pathlib import Path

import pytest

from ronda.agent.discovery import apache
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost


def plant(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> LocalHost:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    for link, target in (links or {}).items():
        where = root / link.lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        where.symlink_to(target)
    return LocalHost(str(root))


def discover(host, **options):
    result = apache.discover(host, DiscoveryOptions(**options))
    return result, {a.key: a for a in result.apps}


DEBIAN = {
    "/etc/apache2/envvars": """
        unset HOME
        if [ "${APACHE_CONFDIR##/etc/apache2-}" != "${APACHE_CONFDIR}" ] ; then
            SUFFIX="-${APACHE_CONFDIR##/etc/apache2-}"
        else
            SUFFIX=
        fi
        export APACHE_RUN_USER=www-data
        export APACHE_RUN_GROUP=www-data
        export APACHE_PID_FILE=/var/run/apache2$SUFFIX/apache2.pid
        export APACHE_RUN_DIR=/var/run/apache2$SUFFIX
        export APACHE_LOCK_DIR=/var/lock/apache2$SUFFIX
        export APACHE_LOG_DIR=/var/log/apache2$SUFFIX
    """,
    "/etc/apache2/apache2.conf": """
        DefaultRuntimeDir ${APACHE_RUN_DIR}
        PidFile ${APACHE_PID_FILE}
        User ${APACHE_RUN_USER}
        Group ${APACHE_RUN_GROUP}
        ErrorLog ${APACHE_LOG_DIR}/error.log
        IncludeOptional mods-enabled/*.load
        IncludeOptional mods-enabled/*.conf
        Include ports.conf
        <Directory /var/www/>
            Options Indexes FollowSymLinks
            AllowOverride None
            Require all granted
        </Directory>
        LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" vhost_combined
        LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
        LogFormat "%h %l %u %t \\"%r\\" %>s %O" common
        IncludeOptional conf-enabled/*.conf
        IncludeOptional sites-enabled/*.conf
    """,
    "/etc/apache2/ports.conf": """
        Listen 80
        <IfModule ssl_module>
            Listen 443
        </IfModule>
        <IfModule mod_gnutls.c>
            Listen 443
        </IfModule>
    """,
    "/etc/apache2/mods-available/alias.load": (
        "LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\n"
    ),
    "/etc/apache2/mods-available/alias.conf": """
        <IfModule alias_module>
            Options FollowSymlinks
            Alias /icons/ "/usr/share/apache2/icons/"
        </IfModule>
    """,
    "/etc/apache2/mods-available/ssl.load": "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n",
    "/etc/apache2/mods-available/proxy.load": (
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
    ),
    "/etc/apache2/mods-available/proxy_fcgi.load": (
        "LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so\n"
    ),
    "/etc/apache2/conf-available/phpmyadmin.conf": """
        # phpMyAdmin default Apache configuration
        Alias /phpmyadmin /usr/share/phpmyadmin
        <Directory /usr/share/phpmyadmin>
            Options SymLinksIfOwnerMatch
            DirectoryIndex index.php
        </Directory>
    """,
    "/etc/apache2/conf-available/php8.2-fpm.conf": """
        <IfModule !mod_php8.c>
        <IfModule proxy_fcgi_module>
            <FilesMatch ".+\\.ph(?:ar|p|tml)$">
                SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
            </FilesMatch>
        </IfModule>
        </IfModule>
    """,
    "/etc/apache2/conf-available/dokuwiki.conf": """
        AliasMatch ^/dokuwiki/sites/[^/]+$      /usr/share/dokuwiki/
        AliasMatch ^/dokuwiki/sites/[^/]+/(.*)$ /usr/share/dokuwiki/$1
        Alias      /dokuwiki                    /usr/share/dokuwiki/
    """,
    "/etc/apache2/conf-available/other-vhosts-access-log.conf": (
        "CustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined\n"
    ),
    "/etc/apache2/conf-available/serve-cgi-bin.conf": """
        <IfModule mod_alias.c>
            <IfModule mod_cgi.c>
                Define ENABLE_USR_LIB_CGI_BIN
            </IfModule>
            <IfDefine ENABLE_USR_LIB_CGI_BIN>
                ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/
            </IfDefine>
        </IfModule>
    """,
    "/etc/apache2/conf-available/roundcube.conf": "Alias /roundcube /var/lib/roundcube/public_html\n",
    "/etc/apache2/sites-available/000-default.conf": """
        <VirtualHost *:80>
            ServerAdmin webmaster@localhost
            DocumentRoot /var/www/html
            ErrorLog ${APACHE_LOG_DIR}/error.log
            CustomLog ${APACHE_LOG_DIR}/access.log combined
        </VirtualHost>
    """,
    "/etc/apache2/sites-available/sipd.conf": """
        <VirtualHost *:80>
            ServerName sipd.kaltara.go.id
            ServerAlias www.sipd.kaltara.go.id
            DocumentRoot /var/www/sipd/public
            Alias /lama /var/www/sipd-2019
            ProxyPass /laporan http://127.0.0.1:8081/
            ProxyPass /laporan/static !
            <Location /antrian>
                ProxyPass http://10.0.0.5:3000/
            </Location>
            <Proxy balancer://peta>
                BalancerMember http://127.0.0.1:9001
                BalancerMember http://127.0.0.1:9002
            </Proxy>
            ProxyPass /peta balancer://peta/
        </VirtualHost>
    """,
    "/etc/apache2/sites-available/sipd-ssl.conf": """
        <IfModule mod_ssl.c>
        <VirtualHost *:443>
            ServerName sipd.kaltara.go.id
            DocumentRoot /var/www/sipd/public
            SSLEngine on
            SSLCertificateFile /etc/letsencrypt/live/sipd.kaltara.go.id/fullchain.pem
            SSLCertificateKeyFile /etc/letsencrypt/live/sipd.kaltara.go.id/privkey.pem
            CustomLog "|/usr/bin/rotatelogs -l ${APACHE_LOG_DIR}/sipd-ssl.%Y-%m-%d.log 86400" combined
        </VirtualHost>
        </IfModule>
    """,
    "/etc/apache2/sites-available/disabled.conf": """
        <VirtualHost *:80>
            ServerName not-enabled.example
        </VirtualHost>
    """,
}
DEBIAN_LINKS = {
    **{
        f"/etc/apache2/mods-enabled/{m}": f"../mods-available/{m}"
        for m in ("alias.load", "alias.conf", "ssl.load", "proxy.load", "proxy_fcgi.load")
    },
    **{
        f"/etc/apache2/conf-enabled/{c}.conf": f"../conf-available/{c}.conf"
        for c in ("phpmyadmin", "php8.2-fpm", "dokuwiki", "other-vhosts-access-log", "serve-cgi-bin")
    },
    **{
        f"/etc/apache2/sites-enabled/{s}.conf": f"../sites-available/{s}.conf"
        for s in ("000-default", "sipd", "sipd-ssl")
    },
}


def test_debian_layout(tmp_path):
    result, apps = discover(plant(tmp_path, DEBIAN, DEBIAN_LINKS))
    assert result.errors == []
    sipd, ssl = "apache:sipd.kaltara.go.id:80", "apache:sipd.kaltara.go.id:443"
    assert set(apps) == {
        "apache:_:80/",
        "apache:_:80/phpmyadmin",
        "apache:_:80/dokuwiki",
        f"{sipd}/",
        f"{sipd}/lama",
        f"{sipd}/laporan",
        f"{sipd}/antrian",
        f"{sipd}/peta",
        f"{sipd}/phpmyadmin",
        f"{sipd}/dokuwiki",
        f"{ssl}/",
        f"{ssl}/phpmyadmin",
        f"{ssl}/dokuwiki",
    }  # no /icons, /cgi-bin (mod_cgi off), /roundcube (not enabled), not-enabled.example
    default = apps["apache:_:80/"]
    assert default.root == "/var/www/html" and default.listen[0].default_server
    assert [(lr.path, lr.format) for lr in default.access_logs] == [
        ("/var/log/apache2/access.log", "combined")
    ]
    assert default.labels["handler"] == "unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
    assert default.config.file == "/etc/apache2/sites-enabled/000-default.conf"

    vhost = apps[f"{sipd}/"]
    assert vhost.server_names == ["sipd.kaltara.go.id", "www.sipd.kaltara.go.id"]
    assert not vhost.listen[0].default_server  # 000-default came first on *:80
    # no CustomLog of its own: Debian's other-vhosts-access-log applies
    assert [(lr.path, lr.format) for lr in vhost.access_logs] == [
        ("/var/log/apache2/other_vhosts_access.log", "vhost_combined")
    ]
    assert apps[f"{sipd}/lama"].root == "/var/www/sipd-2019"
    assert apps[f"{sipd}/laporan"].upstream == "http://127.0.0.1:8081/"
    assert apps[f"{sipd}/antrian"].upstream == "http://10.0.0.5:3000/"
    assert apps[f"{sipd}/peta"].labels["upstream_servers"] == "http://127.0.0.1:9001,http://127.0.0.1:9002"
    pma = apps[f"{sipd}/phpmyadmin"]
    assert (pma.root, pma.config.file, pma.config.line, pma.parent_key) == (
        "/usr/share/phpmyadmin",
        "/etc/apache2/conf-enabled/phpmyadmin.conf",
        2,
        f"{sipd}/",
    )
    assert apps[f"{sipd}/dokuwiki"].root == "/usr/share/dokuwiki"  # AliasMatch under /dokuwiki: the same app

    tls = apps[f"{ssl}/"]
    assert tls.tls.file == "/etc/letsencrypt/live/sipd.kaltara.go.id/fullchain.pem"
    assert tls.listen[0].tls and tls.listen[0].port == 443
    assert tls.access_logs[0].path == "/var/log/apache2/sipd-ssl.*-*-*.log"
    assert result.log_formats["apache:vhost_combined"].startswith("%v:%p %h %l %u %t")


def test_debian_without_ssl_module_has_no_443_vhost(tmp_path):
    links = {k: v for k, v in DEBIAN_LINKS.items() if not k.endswith("ssl.load")}
    result, apps = discover(plant(tmp_path, DEBIAN, links))
    assert result.errors == []
    assert not [k for k in apps if ":443/" in k]


RHEL = {
    "/etc/httpd/conf/httpd.conf": """
        ServerRoot "/etc/httpd"
        Listen 80
        Include conf.modules.d/*.conf
        User apache
        Group apache
        ServerName web01.bkd.kaltara.go.id:80
        DocumentRoot "/var/www/html"
        <IfModule dir_module>
            DirectoryIndex index.html
        </IfModule>
        ErrorLog "logs/error_log"
        <IfModule log_config_module>
            LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
            LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
            CustomLog "logs/access_log" combined
        </IfModule>
        <IfModule alias_module>
            ScriptAlias /cgi-bin/ "/var/www/cgi-bin/"
        </IfModule>
        IncludeOptional conf.d/*.conf
    """,
    "/etc/httpd/conf.modules.d/00-base.conf": """
        LoadModule alias_module modules/mod_alias.so
        LoadModule dir_module modules/mod_dir.so
        LoadModule log_config_module modules/mod_log_config.so
    """,
    "/etc/httpd/conf.modules.d/00-ssl.conf": "LoadModule ssl_module modules/mod_ssl.so\n",
    "/etc/httpd/conf.d/welcome.conf": """
        <LocationMatch "^/+$">
            Options -Indexes
            ErrorDocument 403 /.noindex.html
        </LocationMatch>
        Alias /.noindex.html /usr/share/httpd/noindex/index.html
    """,
    "/etc/httpd/conf.d/phpMyAdmin.conf": """
        Alias /phpMyAdmin /usr/share/phpMyAdmin
        Alias /phpmyadmin /usr/share/phpMyAdmin
    """,
    "/etc/httpd/conf.d/ssl.conf": """
        Listen 443 https
        <VirtualHost _default_:443>
        ErrorLog logs/ssl_error_log
        TransferLog logs/ssl_access_log
        SSLEngine on
        SSLCertificateFile /etc/pki/tls/certs/localhost.crt
        SSLCertificateKeyFile /etc/pki/tls/private/localhost.key
        </VirtualHost>
    """,
}


def test_rhel_layout(tmp_path):
    result, apps = discover(plant(tmp_path, RHEL))
    assert result.errors == []
    main, ssl = "apache:web01.bkd.kaltara.go.id:80", "apache:web01.bkd.kaltara.go.id:443"
    assert set(apps) == {f"{main}/", f"{main}/phpMyAdmin", f"{ssl}/", f"{ssl}/phpMyAdmin"}
    server = apps[f"{main}/"]  # no vhost on port 80: the main server answers it
    assert server.root == "/var/www/html"
    assert (server.config.file, server.config.line) == ("/etc/httpd/conf/httpd.conf", 7)
    assert [(lr.path, lr.format) for lr in server.access_logs] == [("/etc/httpd/logs/access_log", "combined")]
    pma = apps[f"{main}/phpMyAdmin"]
    assert pma.root == "/usr/share/phpMyAdmin" and pma.labels["also_at"] == "/phpmyadmin"
    tls = apps[f"{ssl}/"]
    assert tls.listen[0].tls and tls.listen[0].default_server and tls.root == "/var/www/html"
    assert tls.tls.file == "/etc/pki/tls/certs/localhost.crt"
    assert [(lr.path, lr.format) for lr in tls.access_logs] == [("/etc/httpd/logs/ssl_access_log", "common")]


SUSE = {
    "/etc/apache2/httpd.conf": """
        Include /etc/apache2/uid.conf
        Include /etc/apache2/sysconfig.d/loadmodule.conf
        Include /etc/apache2/listen.conf
        Include /etc/apache2/mod_log_config.conf
        Include /etc/apache2/sysconfig.d/global.conf
        Include /etc/apache2/default-server.conf
        IncludeOptional /etc/apache2/vhosts.d/*.conf
    """,
    "/etc/apache2/uid.conf": "User wwwrun\nGroup www\n",
    "/etc/apache2/sysconfig.d/loadmodule.conf": """
        LoadModule alias_module /usr/lib64/apache2-prefork/mod_alias.so
        LoadModule ssl_module /usr/lib64/apache2-prefork/mod_ssl.so
        LoadModule log_config_module /usr/lib64/apache2-prefork/mod_log_config.so
    """,
    "/etc/apache2/listen.conf": """
        Listen 80
        <IfDefine SSL>
            <IfDefine !NOSSL>
                <IfModule mod_ssl.c>
                    Listen 443
                </IfModule>
            </IfDefine>
        </IfDefine>
    """,
    "/etc/apache2/mod_log_config.conf": """
        <IfModule mod_log_config.c>
            LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
            CustomLog /var/log/apache2/access_log combined
        </IfModule>
    """,
    "/etc/apache2/sysconfig.d/global.conf": "ServerSignature off\n",
    "/etc/apache2/default-server.conf": """
        DocumentRoot "/srv/www/htdocs"
        Alias /icons/ "/usr/share/apache2/icons/"
        IncludeOptional /etc/apache2/conf.d/*.conf
    """,
    "/etc/apache2/conf.d/phpMyAdmin.conf": "Alias /phpMyAdmin /srv/www/htdocs/phpMyAdmin\n",
    "/etc/apache2/vhosts.d/bappeda.conf": """
        <VirtualHost *:80>
            ServerName bappeda.kaltara.go.id
            DocumentRoot /srv/www/vhosts/bappeda
            CustomLog /var/log/apache2/bappeda-access_log combined
        </VirtualHost>
    """,
    "/etc/apache2/vhosts.d/bappeda-ssl.conf": """
        <IfDefine SSL>
        <IfDefine !NOSSL>
        <VirtualHost _default_:443>
            ServerName bappeda.kaltara.go.id
            DocumentRoot /srv/www/vhosts/bappeda
            SSLEngine on
            SSLCertificateFile /etc/apache2/ssl.crt/bappeda.crt
        </VirtualHost>
        </IfDefine>
        </IfDefine>
    """,
    "/etc/apache2/vhosts.d/vhost.template": "<VirtualHost *:80>\nServerName dummy-host.example.com\n",
}


@pytest.mark.parametrize(
    "flags,with_ssl", [('APACHE_SERVER_FLAGS="SSL"', True), ('APACHE_SERVER_FLAGS=""', False)]
)
def test_suse_layout(tmp_path, flags, with_ssl):
    host = plant(tmp_path, {**SUSE, "/etc/sysconfig/apache2": f'APACHE_MODULES="alias ssl"\n{flags}\n'})
    result, apps = discover(host)
    assert result.errors == []
    plain, ssl = "apache:bappeda.kaltara.go.id:80", "apache:bappeda.kaltara.go.id:443"
    expected = {f"{plain}/", f"{plain}/phpMyAdmin"}
    if with_ssl:
        expected |= {f"{ssl}/", f"{ssl}/phpMyAdmin"}
    assert set(apps) == expected
    vhost = apps[f"{plain}/"]
    assert vhost.root == "/srv/www/vhosts/bappeda"
    assert vhost.config.file == "/etc/apache2/vhosts.d/bappeda.conf"
    assert vhost.access_logs[0].path == "/var/log/apache2/bappeda-access_log"
    assert apps[f"{plain}/phpMyAdmin"].root == "/srv/www/htdocs/phpMyAdmin"
    if with_ssl:
        assert apps[f"{ssl}/"].tls.file == "/etc/apache2/ssl.crt/bappeda.crt"
        assert apps[f"{ssl}/"].access_logs[0].path == "/var/log/apache2/access_log"


def test_the_explicit_config_wins_over_the_layouts(tmp_path):
    host = plant(
        tmp_path,
        {
            **RHEL,
            "/opt/web/httpd.conf": """
        Listen 8080
        ServerName custom.example
        DocumentRoot /opt/web/htdocs
    """,
        },
    )
    result, apps = discover(host, apache_conf="/opt/web/httpd.conf")
    assert set(apps) == {"apache:custom.example:8080/"}
    assert apps["apache:custom.example:8080/"].config.file == "/opt/web/httpd.conf"


def test_no_apache_no_apps_no_errors(tmp_path):
    result, apps = discover(plant(tmp_path, {"/etc/hostname": "web01\n"}))
    assert (apps, result.errors) == ({}, [])


def test_macros_defines_and_versions(tmp_path):
    host = plant(
        tmp_path,
        {
            "/etc/apache2/apache2.conf": """
        Define OPD_ROOT /srv/opd
        Listen 80
        <Macro OpdSite $name $dir>
            <VirtualHost *:80>
                ServerName $name.kaltara.go.id
                DocumentRoot ${OPD_ROOT}/$dir
            </VirtualHost>
        </Macro>
        Use OpdSite dinkes kesehatan
        Use OpdSite disdik pendidikan
        UndefMacro OpdSite
        <IfVersion >= 2.4>
            Alias /new /srv/new
        </IfVersion>
        <IfVersion < 2.3>
            Alias /old /srv/old
        </IfVersion>
    """
        },
    )
    result, apps = discover(host)
    assert result.errors == []
    assert set(apps) == {
        "apache:dinkes.kaltara.go.id:80/",
        "apache:dinkes.kaltara.go.id:80/new",
        "apache:disdik.kaltara.go.id:80/",
        "apache:disdik.kaltara.go.id:80/new",
    }
    assert apps["apache:disdik.kaltara.go.id:80/"].root == "/srv/opd/pendidikan"
