"""lighttpd configs in the shapes distributions and hosting guides write, read from fixture roots
(a file tree, as under --root or over SSH without the binary), and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ronda.agent.discovery import lighttpd
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.discovery.lighttpd_names import host_names
from ronda.agent.discovery.lighttpd_syntax import Condition
from ronda.agent.host import LocalHost
from ronda.collector.scans.ssh_host import _allowed


def lay_out(root: Path, files: dict[str, str]) -> LocalHost:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return LocalHost(str(root))


# Debian before 1.4.6x: the package's include_shell helpers, a2enmod-like conf-enabled/ files
DEBIAN_OLD = {
    "/etc/lighttpd/lighttpd.conf": """server.modules = (
\t"mod_access",
\t"mod_alias",
\t"mod_compress",
\t"mod_redirect",
)

server.document-root        = "/var/www/html"
server.upload-dirs          = ( "/var/cache/lighttpd/uploads" )
server.errorlog             = "/var/log/lighttpd/error.log"
server.pid-file             = "/var/run/lighttpd.pid"
server.username             = "www-data"
server.groupname            = "www-data"
server.port                 = 80

index-file.names            = ( "index.php", "index.html", "index.lighttpd.html" )
url.access-deny             = ( "~", ".inc" )
static-file.exclude-extensions = ( ".php", ".pl", ".fcgi" )

# default listening port for IPv6 falls back to the IPv4 port
include_shell "/usr/share/lighttpd/use-ipv6.pl " + server.port
include_shell "/usr/share/lighttpd/create-mime.assign.pl"
include_shell "/usr/share/lighttpd/include-conf-enabled.pl"
""",
    "/etc/lighttpd/conf-enabled/10-accesslog.conf": """server.modules += ( "mod_accesslog" )

accesslog.filename = "/var/log/lighttpd/access.log"
""",
    "/etc/lighttpd/conf-enabled/10-fastcgi.conf": 'server.modules += ( "mod_fastcgi" )\n',
    "/etc/lighttpd/conf-enabled/15-fastcgi-php.conf": """# -*- depends: fastcgi -*-
fastcgi.server += ( ".php" =>
\t((
\t\t"bin-path" => "/usr/bin/php-cgi",
\t\t"socket" => "/var/run/lighttpd/php.socket",
\t\t"max-procs" => 1,
\t\t"bin-environment" => (
\t\t\t"PHP_FCGI_CHILDREN" => "4",
\t\t\t"PHP_FCGI_MAX_REQUESTS" => "10000"
\t\t),
\t\t"broken-scriptfilename" => "enable"
\t))
)
""",
    "/etc/lighttpd/conf-enabled/50-phpmyadmin.conf": """alias.url += (
\t"/phpmyadmin" => "/usr/share/phpmyadmin/",
)

$HTTP["url"] =~ "^/phpmyadmin/(libraries|setup/frames|setup/libs)" {
    url.access-deny = ( "" )
}
""",
    # a provincial agency's sites, as hosting guides write them: TLS on 443, a proxied Node app,
    # a redirect-only old name, a site for every subdomain
    "/etc/lighttpd/conf-enabled/90-sites.conf": """$SERVER["socket"] == ":443" {
    ssl.engine  = "enable"
    ssl.pemfile = "/etc/lighttpd/ssl/dinkes.pem"
}

$HTTP["host"] =~ "(^|\\.)dinkes\\.example\\.go\\.id$" {
    server.document-root = "/srv/dinkes/public"
    accesslog.filename   = "/var/log/lighttpd/dinkes.log"
    accesslog.format     = "%h %V %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" %D"
    proxy.server = ( "/antrian" => ( ( "host" => "127.0.0.1", "port" => 3000 ),
                                     ( "host" => "127.0.0.1", "port" => 3001 ) ) )
}

$HTTP["host"] == "lama.example.go.id" {
    url.redirect = ( "^/(.*)" => "https://dinkes.example.go.id/$1" )
}

$HTTP["host"] !~ "^(dinkes|lama)\\." {
    url.redirect = ( "^/(.*)" => "https://dinkes.example.go.id/$1" )
}
""",
}


def test_debian_layout_with_the_packages_include_shell_helpers(tmp_path):
    host = lay_out(tmp_path, DEBIAN_OLD)
    result = lighttpd.discover(host, DiscoveryOptions())
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    assert set(apps) == {
        "lighttpd:_:80/",
        "lighttpd:_:80/phpmyadmin",
        "lighttpd:dinkes.example.go.id:80/",
        "lighttpd:dinkes.example.go.id:80/phpmyadmin",
        "lighttpd:dinkes.example.go.id:80/antrian",
        "lighttpd:lama.example.go.id:80/",
        "lighttpd:lama.example.go.id:80/phpmyadmin",
    }
    default = apps["lighttpd:_:80/"]
    assert [str(a) for a in default.listen] == ["*:80", "[::]:80", "*:443 ssl"]
    assert (default.root, default.labels) == (
        "/var/www/html",
        {"handler": "unix:/var/run/lighttpd/php.socket"},
    )
    assert [(r.path, r.format) for r in default.access_logs] == [("/var/log/lighttpd/access.log", "default")]
    pma = apps["lighttpd:_:80/phpmyadmin"]
    assert (pma.root, str(pma.config)) == (
        "/usr/share/phpmyadmin",
        "/etc/lighttpd/conf-enabled/50-phpmyadmin.conf:1",
    )
    dinkes = apps["lighttpd:dinkes.example.go.id:80/"]
    assert dinkes.server_names == ["dinkes.example.go.id", "*.dinkes.example.go.id"]
    assert dinkes.tls.file == "/etc/lighttpd/ssl/dinkes.pem"
    (log,) = dinkes.access_logs
    assert log.path == "/var/log/lighttpd/dinkes.log" and log.format.startswith("custom-")
    assert result.log_formats[f"lighttpd:{log.format}"].endswith('"%{User-Agent}i" %D')
    antrian = apps["lighttpd:dinkes.example.go.id:80/antrian"]
    assert (antrian.upstream, antrian.labels) == (
        "http://127.0.0.1:3000",
        {"upstream_servers": "http://127.0.0.1:3000,http://127.0.0.1:3001"},
    )
    assert apps["lighttpd:lama.example.go.id:80/"].labels["redirect"] == "https://dinkes.example.go.id/$1"


@pytest.mark.parametrize(
    "op, value, names",
    [
        ("==", "sipd.example.go.id", ["sipd.example.go.id"]),
        ("==", "sipd.example.go.id:8080", ["sipd.example.go.id"]),
        ("=~", "^(www\\.)?sipd\\.example\\.go\\.id$", ["sipd.example.go.id"]),
        ("=~", "^sipd\\.example\\.go\\.id(:[0-9]+)?$", ["sipd.example.go.id"]),
        ("=~", "(^|\\.)example\\.go\\.id$", ["example.go.id", "*.example.go.id"]),
        ("=~", "^(a\\.example\\.go\\.id|b\\.example\\.go\\.id)$", ["a.example.go.id", "b.example.go.id"]),
        ("=$", ".example.go.id", ["*.example.go.id"]),
        ("=~", "^[0-9]+\\.cdn\\.", ["~^[0-9]+\\.cdn\\."]),
    ],
)
def test_host_conditions_as_the_names_users_type(op, value, names):
    assert host_names(Condition("HTTP[host]", op, value))[0] == names


def test_current_debian_layout_with_include_and_else_branches(tmp_path):
    """lighttpd 1.4.6x's Debian config includes conf-enabled/ directly; an `else` catches other hosts."""
    host = lay_out(
        tmp_path,
        {
            "/etc/lighttpd/lighttpd.conf": 'server.document-root = "/var/www/html"\nserver.port = 80\n'
            'include "/etc/lighttpd/conf-enabled/*.conf"\n',
            "/etc/lighttpd/conf-enabled/20-sites.conf": """
$HTTP["host"] == "ppid.example.go.id" {
    server.document-root = "/srv/ppid"
    $HTTP["url"] =^ "/arsip/" { server.document-root = "/srv/arsip-lama" }
    $HTTP["url"] =~ "\\.py$" { fastcgi.server = ( "" => (( "socket" => "/run/ppid.sock" )) ) }
}
else $HTTP["host"] == "jdih.example.go.id" {
    fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => 9001, "check-local" => "disable" )) )
}
else {
    server.document-root = "/srv/parked"
}
""",
        },
    )
    result = lighttpd.discover(host, DiscoveryOptions())
    assert result.errors == []
    apps = {a.key: (a.root, a.upstream) for a in result.apps}
    assert apps == {  # the global scope is never reached: the plain else catches every other host
        "lighttpd:ppid.example.go.id:80/": ("/srv/ppid", ""),
        "lighttpd:ppid.example.go.id:80/arsip": ("/srv/arsip-lama/arsip", ""),
        "lighttpd:jdih.example.go.id:80/": ("/var/www/html", "127.0.0.1:9001"),
        "lighttpd:_:80/": ("/srv/parked", ""),
    }
    parked = next(a for a in result.apps if a.key == "lighttpd:_:80/")
    assert [a.default_server for a in parked.listen] == [True]


def test_bad_input_is_reported_and_the_rest_still_read(tmp_path):
    secret = "s3cr3t-Bind-Pw"
    host = lay_out(
        tmp_path,
        {
            "/etc/lighttpd/lighttpd.conf": 'server.document-root = "/var/www/html"\n'
            'include "conf.d/*.conf"\ninclude "missing.conf"\n'
            'include_shell "/usr/local/bin/make-vhosts.sh"\ninclude "lighttpd.conf"\n',
            "/etc/lighttpd/conf.d/10-good.conf": 'alias.url += ( "/wiki" => "/usr/share/dokuwiki" )\n',
            "/etc/lighttpd/conf.d/20-broken.conf": '$HTTP["host"] == "x.example" {\n'
            f'  auth.backend.ldap.bind-pw = "{secret}"\n  server.document-root = "/srv/x"\n',
            "/etc/lighttpd/conf.d/30-typo.conf": f'server.document-root "{secret}"\n',
        },
    )
    result = lighttpd.discover(host, DiscoveryOptions())
    assert {a.key for a in result.apps} >= {"lighttpd:_:80/", "lighttpd:_:80/wiki"}
    messages = [(e.path.rsplit("/", 1)[-1], e.line, e.message) for e in result.errors]
    assert ("20-broken.conf", 3, "unexpected end of file, expected }") in messages
    assert any(f == "30-typo.conf" and line == 1 for f, line, _ in messages)
    assert any("missing.conf" in m for *_, m in messages)
    assert any("make-vhosts.sh" in m and "not run" in m for *_, m in messages)
    assert any("include loop" in m for *_, m in messages)
    assert secret not in repr(result.errors)


def test_the_ssh_scan_may_ask_lighttpd_but_never_start_it():
    assert _allowed(["lighttpd", "-p", "-f", "/etc/lighttpd/lighttpd.conf"])
    assert _allowed(["/usr/sbin/lighttpd", "-v"])
    for argv in (
        ["lighttpd", "-D", "-f", "/etc/lighttpd/lighttpd.conf"],
        ["lighttpd", "-f", "/etc/lighttpd/lighttpd.conf"],
        ["lighttpd", "-1", "-f", "x"],
        ["lighttpd"],
        ["lighttpd", "-p", "-f"],
    ):
        assert not _allowed(argv), argv


def test_no_secret_in_what_discovery_returns(tmp_path):
    """Passwords a lighttpd config holds (LDAP bind, environment for PHP) never reach the result."""
    secret = "Pw-9f8e7d6c"
    host = lay_out(
        tmp_path,
        {
            "/etc/lighttpd/lighttpd.conf": f"""server.document-root = "/var/www/html"
auth.backend = "ldap"
auth.backend.ldap.bind-pw = "{secret}"
setenv.add-environment = ( "DB_PASSWORD" => "{secret}" )
$HTTP["host"] == "sipd.example.go.id" {{
    fastcgi.server = ( ".php" => (( "socket" => "/run/php/sipd.sock",
                                    "bin-environment" => ( "APP_KEY" => "{secret}" ) )) )
    proxy.server = ( "/api" => (( "host" => "127.0.0.1", "port" => 8000 )) )
}}
""",
        },
    )
    result = lighttpd.discover(host, DiscoveryOptions())
    assert {a.key for a in result.apps} == {
        "lighttpd:_:80/",
        "lighttpd:sipd.example.go.id:80/",
        "lighttpd:sipd.example.go.id:80/api",
    }
    assert secret not in repr(result)
