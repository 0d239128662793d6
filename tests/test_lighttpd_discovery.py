"""lighttpd discovery against a real lighttpd (Debian's package) on loopback: asked through
`lighttpd -p` and by reading the files, with its access logs feeding usage.

The config is written in the shape Debian's package lays out: a main
lighttpd.conf that includes conf-enabled/*.conf (modules and global aliases,
like 90-javascript-alias.conf and roundcube's 50-roundcube.conf), `var.`
variables, `+=`, and one `$HTTP["host"]` block per site, as hosting guides
write them (an exact name, a regex with an optional www., an `else` branch).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from servers import free_port, http_get
from servers_apache import web_tmp
from servers_lighttpd import Lighttpd
from test_usage_servers import OPTIONS, SITES, by_site, traffic

from ronda.agent.discovery import lighttpd
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.discovery.keys import assign_unique_keys
from ronda.agent.host import LocalHost
from ronda.agent.snapshot import ScanOptions, scan
from ronda.agent.usage import collect_usage

pytestmark = pytest.mark.servers  # a real lighttpd serves the sites


def write_site(tmp: Path, web: Path, port: int, tls_port: int, api_port: int) -> Lighttpd:
    for name in ("default", "portal", "sipd", "arsip", "api", "js", "mail", "ppid"):
        (web / name).mkdir()
        (web / name / "index.html").write_text(name)
    (tmp / "logs").mkdir()
    conf_enabled = tmp / "conf-enabled"
    conf_enabled.mkdir()
    # what Debian's 90-javascript-alias.conf and 50-roundcube.conf add to every site
    (conf_enabled / "90-javascript-alias.conf").write_text(f'alias.url += ( "/javascript" => "{web}/js" )\n')
    (conf_enabled / "50-mail.conf").write_text(
        f'alias.url += ("/mail" => "{web}/mail/")\n\n'
        '$HTTP["url"] =~ "^/mail" {\n  server.follow-symlink = "enable"\n}\n'
        '$HTTP["url"] =~ "^/mail/config|/mail/temp" {\n  url.access-deny = ( "" )\n}\n'
    )
    (conf_enabled / "15-fastcgi-php-fpm.conf").write_text(
        'fastcgi.server += ( ".php" =>\n\t((\n\t\t"socket" => "/run/php/php-fpm.sock",\n'
        '\t\t"broken-scriptfilename" => "enable"\n\t))\n)\n'
    )
    body = f"""
var.basedir = "{web}"
var.logdir  = "{tmp}/logs"
server.document-root = basedir + "/default"
server.port = {port}
server.bind = "127.0.0.1"
accesslog.filename = logdir + "/access.log"

include "conf-enabled/*.conf"

$SERVER["socket"] == "127.0.0.1:{tls_port}" {{
    server.document-root = basedir + "/ppid"
}}

$HTTP["host"] == "portal.test" {{
    server.document-root = basedir + "/portal"
    accesslog.filename = logdir + "/portal.log"
    alias.url += ( "/sipd" => basedir + "/sipd" )
    $HTTP["url"] =^ "/api/" {{
        proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {api_port} ) ) )
    }}
}}
else $HTTP["host"] =~ "^(www\\.)?arsip\\.test$" {{
    server.document-root = basedir + "/arsip"
}}
"""
    return Lighttpd.write(tmp, body)


@pytest.fixture(scope="module")
def site():
    with web_tmp("ronda-lighttpd-") as web, web_tmp("ronda-lighttpd-conf-") as tmp:
        port, socket_port, api_port = free_port(), free_port(), free_port()
        api = Lighttpd.write(
            tmp / "api",
            f'server.document-root = "{web}"\nserver.port = {api_port}\nserver.bind = "127.0.0.1"\n',
        )
        server = write_site(tmp, web, port, socket_port, api_port)
        server.check()
        with api.start(api_port), server.start(port, socket_port):
            yield {
                "tmp": tmp,
                "web": web,
                "port": port,
                "socket": socket_port,
                "api": api_port,
                "conf": server.conf,
            }


def test_lighttpd_serves_what_is_configured(site):
    port = site["port"]
    assert http_get(port, "/", "portal.test") == (200, b"portal")
    assert http_get(port, "/sipd/", "portal.test") == (200, b"sipd")
    assert http_get(port, "/api/", "portal.test") == (200, b"api")  # through mod_proxy
    assert http_get(port, "/", "www.arsip.test") == (200, b"arsip")
    assert http_get(port, "/", "other.test") == (200, b"default")
    assert http_get(port, "/javascript/", "other.test") == (200, b"js")
    assert http_get(port, "/mail/", "arsip.test") == (200, b"mail")
    assert http_get(site["socket"], "/", "portal.test")[1] == b"portal"  # host blocks apply on every socket
    assert http_get(site["socket"], "/", "x.test") == (200, b"ppid")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("use_binaries", [True, False], ids=["lighttpd-p", "files"])
def test_apps_of_a_real_lighttpd(site, use_binaries):
    tmp, web, port, sock = site["tmp"], site["web"], site["port"], site["socket"]
    conf = site["conf"]
    result = lighttpd.discover(
        LocalHost(), DiscoveryOptions(lighttpd_conf=str(conf), use_binaries=use_binaries)
    )
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    low = min(port, sock)  # host blocks apply on both sockets: the key names the lower port
    sites = [f"lighttpd:{n}.test:{low}" for n in ("portal", "arsip")] + [
        f"lighttpd:_:{p}" for p in (port, sock)
    ]
    assert set(apps) == {
        *(f"{site_}{prefix}" for site_ in sites for prefix in ("/", "/javascript", "/mail")),
        f"lighttpd:portal.test:{low}/sipd",
        f"lighttpd:portal.test:{low}/api",
    }
    portal = apps[f"lighttpd:portal.test:{low}/"]
    assert portal.server_names == ["portal.test"]
    assert (portal.root, str(portal.config)) == (f"{web}/portal", f"{conf}:{line_of(conf, 'portal.test')}")
    assert [(a.address, a.port, a.default_server) for a in portal.listen] == [
        ("127.0.0.1", port, False),
        ("127.0.0.1", sock, False),
    ]
    assert [(r.path, r.format) for r in portal.access_logs] == [(f"{tmp}/logs/portal.log", "default")]
    assert portal.labels == {"handler": "unix:/run/php/php-fpm.sock"}
    sipd = apps[f"lighttpd:portal.test:{low}/sipd"]
    assert (sipd.root, sipd.parent_key, sipd.config.line) == (
        f"{web}/sipd",
        portal.key,
        line_of(conf, "/sipd"),
    )
    api = apps[f"lighttpd:portal.test:{low}/api"]
    assert (api.upstream, api.root, api.config.line) == (
        f"http://127.0.0.1:{site['api']}",
        "",
        line_of(conf, "=^"),
    )
    arsip = apps[f"lighttpd:arsip.test:{low}/"]
    assert arsip.server_names == ["arsip.test"]
    assert arsip.labels["server_name_regex"] == "^(www\\.)?arsip\\.test$"
    assert [(r.path, r.format) for r in arsip.access_logs] == [(f"{tmp}/logs/access.log", "default")]
    default = apps[f"lighttpd:_:{port}/"]
    assert (default.root, default.config.line) == (f"{web}/default", line_of(conf, 'basedir + "/default"'))
    assert [a.default_server for a in default.listen] == [True]
    mail = apps[f"lighttpd:_:{port}/mail"]
    assert (mail.root, mail.config.file, mail.config.line) == (
        f"{web}/mail",
        str(tmp / "conf-enabled/50-mail.conf"),
        1,
    )
    ppid = apps[f"lighttpd:_:{sock}/"]
    assert (ppid.root, [(a.address, a.port, a.default_server) for a in ppid.listen]) == (
        f"{web}/ppid",
        [("127.0.0.1", sock, True)],
    )
    assert result.log_formats == {"lighttpd:default": lighttpd.DEFAULT_LOG_FORMAT}


def test_the_running_lighttpd_is_found_from_its_process_and_owns_its_sockets(site):
    """No config path given: the agent finds lighttpd's -f FILE on its command line."""
    snapshot = scan(LocalHost(), ScanOptions(discovery=DiscoveryOptions(sources=("lighttpd",))))
    portal = f"lighttpd:portal.test:{min(site['port'], site['socket'])}"
    assert {f"{portal}/", f"{portal}/api"} <= {
        a.key for a in snapshot.apps if a.config.file == str(site["conf"])
    }
    listeners = {(x.address, x.port): x for x in snapshot.listeners}
    served = listeners[("127.0.0.1", site["port"])]
    assert served.process == "lighttpd" and {f"{portal}/", f"lighttpd:_:{site['port']}/"} <= set(
        served.app_keys
    )
    assert f"lighttpd:_:{site['socket']}/" in listeners[("127.0.0.1", site["socket"])].app_keys
    # the /api backend (another lighttpd) is known as what portal's /api forwards to
    assert f"{portal}/api" in listeners[("127.0.0.1", site["api"])].app_keys


def usage_server(tmp: Path, web: Path, port: int) -> Lighttpd:
    """The sites test_usage_servers sends its traffic to, as a lighttpd config: own logs, one log shared
    by two sites (split by %V, the host, which lighttpd's default format carries), one site without a log."""
    logs = tmp / "logs"
    logs.mkdir(parents=True)
    blocks = []
    for name in SITES:
        log = {"lama": "shared.log", "baru": "shared.log", "nolog": ""}.get(name, f"{name}.log")
        lines = [f'server.document-root = "{web}/{name}"']
        if log:
            lines.append(f'accesslog.filename = "{logs}/{log}"')
        if name == "portal":
            lines.append(f'alias.url = ( "/sipd" => "{web}/sipd/" )')
        blocks.append(f'$HTTP["host"] == "{name}.test" {{\n    ' + "\n    ".join(lines) + "\n}")
    body = f'server.document-root = "{web}"\nserver.port = {port}\nserver.bind = "127.0.0.1"\n' + "\n".join(
        blocks
    )
    return Lighttpd.write(tmp, body)


def test_usage_counts_and_times_from_lighttpds_own_logs(tmp_path):
    with web_tmp() as web:
        for name in SITES + ("sipd",):
            (web / name).mkdir()
            (web / name / "index.html").write_text(name)
        port = free_port()
        server = usage_server(tmp_path / "lighttpd", web, port)
        with server.start(port):
            sent = traffic(port)
        # lighttpd writes its buffered log lines when it stops
        result = lighttpd.discover(LocalHost(), DiscoveryOptions(lighttpd_conf=str(server.conf)))
    assign_unique_keys(result.apps)
    errors = collect_usage(LocalHost(), result.apps, result.log_formats, tmp_path / "state", OPTIONS)
    assert errors == [] and result.errors == []
    found = by_site(result.apps)
    assert set(found) == {(s, "/") for s in SITES} | {("portal", "/sipd")}
    for app_id, app in found.items():
        got = Counter(
            {
                k: sum(getattr(d, k) for d in app.usage.daily)
                for k in ("human", "bot", "monitor", "error", "scanner")
            }
        )
        assert +got == +sent.counts.get(app_id, Counter()), app_id
        window = sent.last.get((*app_id, "human"))
        last = app.usage.last_human_request
        if window is None:
            assert last is None, app_id
        else:  # lighttpd stamps lines from a clock it refreshes once a second: allow that second
            assert int(window[0]) - 1 <= last.timestamp() <= window[1], app_id
    portal = found[("portal", "/")].usage
    assert portal.coverage == "full" and portal.unparsed_lines == 0
    assert found[("lama", "/")].usage.coverage == "full"  # the shared log splits by host
    assert (found[("sepi", "/")].usage.daily, found[("sepi", "/")].usage.logs[0].status) == ([], "ok")
    assert found[("nolog", "/")].usage.coverage == "none"
