"""OpenLiteSpeed discovery, on fixture roots laid out as its installer and CyberPanel write them.

OpenLiteSpeed is neither in Debian nor in the package index (its own
repository is out of this machine's reach), so no real server runs here: the
configs below are written in the shapes OpenLiteSpeed 1.7's installer
(/usr/local/lsws/conf/httpd_config.conf, the Example vhost, vhTemplates) and
CyberPanel (one `virtualhost` per website with vhRoot /home/DOMAIN, a
vhconf.conf per site with an lsapi extprocessor of the site's user, listeners
Default and SSL) generate, and the access-log lines in the format
OpenLiteSpeed's access logger writes (its default: common plus quoted referer
and user agent; a vhost without a log of its own goes to the server's log with
a ["VHOST"] prefix).
"""

from __future__ import annotations

import time
from collections import Counter

from test_lighttpd_layouts import lay_out
from usage_lines import BROWSER, GOOGLEBOT

from ronda.agent.discovery import discover, litespeed
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.usage import UsageOptions, collect_usage

SERVER_CONFIG = """#
# PLAIN TEXT CONFIGURATION FILE
#
serverName
user                             nobody
group                            nogroup
indexFiles                       index.html, index.php

errorlog $SERVER_ROOT/logs/error.log {
        logLevel             DEBUG
        rollingSize          10M
}

accessLog $SERVER_ROOT/logs/access.log {
        rollingSize          10M
        keepDays             30
        logReferer           1
        logUserAgent         1
}

extProcessor lsphp{
    type                            lsapi
    address                         uds://tmp/lshttpd/lsphp.sock
    maxConns                        35
    path                            $SERVER_ROOT/fcgi-bin/lsphp
}

scriptHandler{
    add lsapi:lsphp  php
}
"""

INSTALLER = {
    "/usr/local/lsws/conf/httpd_config.conf": SERVER_CONFIG
    + """
virtualHost Example{
    vhRoot                   $SERVER_ROOT/Example/
    allowSymbolLink          1
    enableScript             1
    configFile               $SERVER_ROOT/conf/vhosts/Example/vhconf.conf
}

listener Default{
    address                  *:8088
    secure                   0
    map                      Example *
}

vhTemplate centralConfigLog{
    templateFile             $SERVER_ROOT/conf/templates/ccl.conf
    listeners                Default
    member portal {
      vhDomain               portal.example.go.id
      vhAliases              www.portal.example.go.id
    }
}

vhTemplate EasyRailsWithSuEXEC{
    templateFile             $SERVER_ROOT/conf/templates/rails.conf
    listeners                Default
}
""",
    "/usr/local/lsws/conf/vhosts/Example/vhconf.conf": """docRoot $VH_ROOT/html/
enableGzip 1

context / {
  allowBrowse 1
  location $DOC_ROOT/
  rewrite  {
    RewriteFile .htaccess
  }
}

context /docs/{
  allowBrowse 1
  location $SERVER_ROOT/docs/
}

context /protected/{
  required user test
  authName Protected
  allowBrowse 1
  location protected/
  realm SampleProtectedArea
}

context /blocked/{
  allowBrowse 0
}

context /cgi-bin/{
  allowBrowse 1
  location $VH_ROOT/cgi-bin/
  type cgi
}

accessLog $VH_ROOT/logs/access.log{
  compressArchive 0
  logReferer 1
  keepDays 30
  rollingSize 10M
  logUserAgent 1
  useServer 0
}
""",
    "/usr/local/lsws/conf/templates/ccl.conf": """allowSymbolLink 1
vhRoot $SERVER_ROOT/$VH_NAME/
configFile $SERVER_ROOT/conf/vhosts/$VH_NAME/vhconf.conf

virtualHostConfig {
  enableGzip 1
  docRoot $VH_ROOT/html/

  accessLog $SERVER_ROOT/logs/$VH_NAME.access.log{
    useServer 0
    keepDays 30
    logUserAgent 1
    logReferer 1
  }

  context / {
    allowBrowse 1
    location $DOC_ROOT/
  }
}
""",
}


def test_the_installers_layout_with_the_example_vhost_and_a_template_member(tmp_path):
    host = lay_out(tmp_path, INSTALLER)
    result = litespeed.discover(host, DiscoveryOptions())
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    assert set(apps) == {
        "litespeed:_:8088/",
        "litespeed:_:8088/docs",
        "litespeed:_:8088/cgi-bin",
        "litespeed:portal.example.go.id:8088/",
    }
    example = apps["litespeed:_:8088/"]
    assert (example.root, example.labels) == (
        "/usr/local/lsws/Example/html",
        {"vhost": "Example", "handler": "unix:/tmp/lshttpd/lsphp.sock"},
    )
    assert [(a.address, a.port, a.tls, a.default_server) for a in example.listen] == [
        ("*", 8088, False, True)
    ]
    assert str(example.config) == "/usr/local/lsws/conf/httpd_config.conf:" + str(
        INSTALLER["/usr/local/lsws/conf/httpd_config.conf"].splitlines().index("virtualHost Example{") + 1
    )
    assert [(r.path, r.format) for r in example.access_logs] == [
        ("/usr/local/lsws/Example/logs/access.log", "combined")
    ]
    assert apps["litespeed:_:8088/docs"].root == "/usr/local/lsws/docs"
    cgi = apps["litespeed:_:8088/cgi-bin"]
    assert (cgi.root, cgi.labels["handler"], cgi.parent_key) == (
        "/usr/local/lsws/Example/cgi-bin",
        "cgi",
        example.key,
    )
    portal = apps["litespeed:portal.example.go.id:8088/"]
    assert portal.server_names == ["portal.example.go.id", "www.portal.example.go.id"]
    assert portal.root == "/usr/local/lsws/portal/html"
    assert portal.access_logs[0].path == "/usr/local/lsws/logs/portal.access.log"


def cyberpanel_vhconf(domain: str, user: str, extra: str = "", log: bool = True) -> str:
    """vhconf.conf as CyberPanel writes it for a website (its master template's shape)."""
    access = """
accesslog $VH_ROOT/logs/$VH_NAME.access_log {
  useServer               0
  logFormat               "%v %h %l %u %t "%r" %>s %b"
  logHeaders              5
  rollingSize             10M
  keepDays                10
  compressArchive         1
}
"""
    return f"""docRoot                   $VH_ROOT/public_html
vhDomain                  $VH_NAME
vhAliases                 www.$VH_NAME
adminEmails               admin@{domain}
enableGzip                1
enableIpGeo               1

index  {{
  useServer               0
  indexFiles              index.php, index.html
}}

errorlog $VH_ROOT/logs/$VH_NAME.error_log {{
  useServer               0
  logLevel                WARN
  rollingSize             10M
}}
{access if log else ""}
scripthandler  {{
  add                     lsapi:{user} php
}}

extprocessor {user} {{
  type                    lsapi
  address                 UDS://tmp/lshttpd/{user}.sock
  maxConns                10
  env                     LSAPI_CHILDREN=10
  autoStart               1
  path                    /usr/local/lsws/lsphp81/bin/lsphp
  extUser                 {user}
  extGroup                {user}
}}

phpIniOverride  {{
}}

rewrite  {{
  enable                  1
  autoLoadHtaccess        1
  rules                   <<<END_rules
RewriteCond %{{HTTPS}} !on
RewriteRule (.*) https://%{{HTTP_HOST}}%{{REQUEST_URI}} [R=301,L]
}}
END_rules
}}

context /.well-known/acme-challenge {{
  location                /usr/local/lsws/Example/html/.well-known/acme-challenge
  allowBrowse             1
}}
{extra}
vhssl  {{
  keyFile                 /etc/letsencrypt/live/{domain}/privkey.pem
  certFile                /etc/letsencrypt/live/{domain}/fullchain.pem
  certChain               1
}}
"""


DINKES, ARSIP = "dinkes.example.go.id", "arsip.example.go.id"
CYBERPANEL = {
    "/usr/local/lsws/conf/httpd_config.conf": SERVER_CONFIG
    + f"""
listener Default {{
  address                 *:80
  secure                  0
  map                     {DINKES} {DINKES}, www.{DINKES}
  map                     {ARSIP} {ARSIP}, www.{ARSIP}
}}

listener SSL {{
  address                 *:443
  secure                  1
  keyFile                 /usr/local/lsws/admin/conf/webadmin.key
  certFile                /usr/local/lsws/admin/conf/webadmin.crt
  map                     {DINKES} {DINKES}, www.{DINKES}
}}

virtualhost {DINKES} {{
  vhRoot                  /home/{DINKES}
  configFile              $SERVER_ROOT/conf/vhosts/$VH_NAME/vhconf.conf
  allowSymbolLink         1
  enableScript            1
  restrained              1
}}

virtualhost {ARSIP} {{
  vhRoot                  /home/{ARSIP}
  configFile              $SERVER_ROOT/conf/vhosts/$VH_NAME/vhconf.conf
  allowSymbolLink         1
  enableScript            1
  restrained              1
}}
""",
    f"/usr/local/lsws/conf/vhosts/{DINKES}/vhconf.conf": cyberpanel_vhconf(
        DINKES,
        "dinke1234",
        """
extprocessor antrian {
  type                    proxy
  address                 127.0.0.1:3000
  maxConns                100
}

context /antrian {
  type                    proxy
  handler                 antrian
  addDefaultCharset       off
}

context /sipd {
  type                    appserver
  location                /home/dinkes.example.go.id/sipd/
  binPath                 /usr/bin/node
  appType                 node
}
""",
    ),
    f"/usr/local/lsws/conf/vhosts/{ARSIP}/vhconf.conf": cyberpanel_vhconf(ARSIP, "arsip5678", log=False),
}


def test_a_cyberpanel_server(tmp_path):
    host = lay_out(tmp_path, CYBERPANEL)
    result = discover(host, DiscoveryOptions(sources=("litespeed",)))
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    assert set(apps) == {
        f"litespeed:{DINKES}:80/",
        f"litespeed:{DINKES}:80/antrian",
        f"litespeed:{DINKES}:80/sipd",
        f"litespeed:{ARSIP}:80/",
    }
    dinkes = apps[f"litespeed:{DINKES}:80/"]
    assert dinkes.server_names == [DINKES, f"www.{DINKES}"]
    assert [str(a) for a in dinkes.listen] == ["*:80", "*:443 ssl"]
    assert (dinkes.root, dinkes.tls.file) == (
        f"/home/{DINKES}/public_html",
        f"/etc/letsencrypt/live/{DINKES}/fullchain.pem",
    )
    assert dinkes.labels == {"vhost": DINKES, "handler": "unix:/tmp/lshttpd/dinke1234.sock"}
    (log,) = dinkes.access_logs
    assert log.path == f"/home/{DINKES}/logs/{DINKES}.access_log"
    assert result.log_formats[f"litespeed:{log.format}"] == '%v %h %l %u %t "%r" %>s %b'
    antrian = apps[f"litespeed:{DINKES}:80/antrian"]
    assert (antrian.upstream, antrian.parent_key) == ("http://127.0.0.1:3000", dinkes.key)
    sipd = apps[f"litespeed:{DINKES}:80/sipd"]
    assert (sipd.root, sipd.labels["app_type"]) == (f"/home/{DINKES}/sipd", "node")
    arsip = apps[f"litespeed:{ARSIP}:80/"]
    assert [str(a) for a in arsip.listen] == ["*:80"] and arsip.tls is None
    assert [(r.path, r.format) for r in arsip.access_logs] == [
        ("/usr/local/lsws/logs/access.log", "vhost-combined")
    ]
    assert result.log_formats["litespeed:vhost-combined"] == '["%v"] ' + litespeed.COMBINED
    assert arsip.labels["log_vhost"] == ARSIP


def clf_time(t: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def test_usage_from_logs_in_the_format_openlitespeed_writes(tmp_path):
    host = lay_out(tmp_path, CYBERPANEL)
    now = time.time()
    own, shared = [], []
    for i in range(3):  # CyberPanel's logFormat: no user agent, so every request counts as a person's
        own.append(f'{DINKES} 10.1.0.{i} - - [{clf_time(now - 60)}] "GET / HTTP/1.1" 200 512')
    own.append(f'{DINKES} 10.1.0.9 - - [{clf_time(now - 30)}] "GET /antrian/api/nomor HTTP/2" 200 90')
    own.append(f'www.{DINKES} 10.1.0.9 - - [{clf_time(now - 20)}] "POST /sipd/login HTTP/1.1" 302 -')
    # the server's log: arsip has no log of its own, so its lines carry ["VHOST"]; a request that
    # matched no vhost has no prefix and belongs to no app
    for i in range(40):
        request = f'[{clf_time(now - 50)}] "GET / HTTP/1.1" 200 44 "-" "{BROWSER}"'
        shared.append(f'["{ARSIP}"] 10.2.0.{i} - - {request}')
    shared.append(
        f'["{ARSIP}"] 66.249.66.1 - - [{clf_time(now - 40)}] "GET / HTTP/1.1" 200 44 "-" "{GOOGLEBOT}"'
    )
    shared.append(f'10.9.9.9 - - [{clf_time(now - 10)}] "GET / HTTP/1.1" 404 0 "-" "{BROWSER}"')
    logs = tmp_path / "home" / DINKES / "logs"
    logs.mkdir(parents=True)
    (logs / f"{DINKES}.access_log").write_text("\n".join(own) + "\n")
    (tmp_path / "usr/local/lsws/logs").mkdir(parents=True)
    (tmp_path / "usr/local/lsws/logs/access.log").write_text("\n".join(shared) + "\n")
    result = litespeed.discover(host, DiscoveryOptions())
    errors = collect_usage(host, result.apps, result.log_formats, tmp_path / "state", UsageOptions())
    assert errors == []
    counted = {
        a.path_prefix if a.primary_name == DINKES else a.primary_name: Counter(
            {k: sum(getattr(d, k) for d in a.usage.daily) for k in ("human", "bot", "error")}
        )
        for a in result.apps
    }
    assert counted == {
        "/": Counter(human=3),
        "/antrian": Counter(human=1),
        "/sipd": Counter(human=1),
        ARSIP: Counter(human=40, bot=1),
    }
    arsip = next(a for a in result.apps if a.primary_name == ARSIP)
    assert arsip.usage.logs[0].unparsed_lines == 1  # the line of no vhost
    assert arsip.usage.coverage == "full"  # 1 line in 42 that is no app's: under the 5% allowed


def test_bad_input_is_reported_and_the_rest_still_read(tmp_path):
    files = dict(CYBERPANEL)
    del files[f"/usr/local/lsws/conf/vhosts/{ARSIP}/vhconf.conf"]  # deleted by hand, still declared
    files[f"/usr/local/lsws/conf/vhosts/{DINKES}/vhconf.conf"] += "context /lama {\n  location /srv/lama\n"
    host = lay_out(tmp_path, files)
    result = litespeed.discover(host, DiscoveryOptions())
    problems = [(e.path.rsplit("/", 1)[-1], e.line, e.message) for e in result.errors]
    assert any(f"vhosts/{ARSIP}/vhconf.conf" in m and "cannot read" in m for *_, m in problems)
    assert any(f == "vhconf.conf" and "never closed" in m for f, _, m in problems)
    keys = {a.key for a in result.apps}
    assert {f"litespeed:{DINKES}:80/", f"litespeed:{DINKES}:80/lama", f"litespeed:{ARSIP}:80/"} <= keys


def test_no_secret_in_what_discovery_returns(tmp_path):
    """Passwords a vhconf holds (an extprocessor's environment, php.ini overrides) never reach the result."""
    secret = "Pw-1a2b3c4d"
    files = dict(CYBERPANEL)
    files[f"/usr/local/lsws/conf/vhosts/{ARSIP}/vhconf.conf"] += f"""
extprocessor arsipapi {{
  type                    proxy
  address                 http://svc:{secret}@127.0.0.1:8080
  env                     DB_PASSWORD={secret}
}}
context /api {{
  type                    proxy
  handler                 arsipapi
}}
phpIniOverride  {{
  php_admin_value mysqli.default_pw {secret}
}}
"""
    result = litespeed.discover(lay_out(tmp_path, files), DiscoveryOptions())
    api = next(a for a in result.apps if a.key == f"litespeed:{ARSIP}:80/api")
    assert api.upstream == "http://127.0.0.1:8080"
    assert secret not in repr(result)
