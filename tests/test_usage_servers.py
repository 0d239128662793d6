"""Usage from the logs of a real nginx and a real Apache serving several apps on loopback.

The test sends browser, crawler, monitor and scanner requests (from several
loopback source addresses) and checks that the agent's per-app counts,
clients and last times match exactly what was sent.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import Nginx, free_port
from servers_apache import Apache, web_tmp
from servers_caddy import Caddy
from usage_lines import BINGBOT, BROWSER, GOOGLEBOT, PHONE, UPTIME

from ronda.agent.discovery import apache, caddy, nginx
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.discovery.keys import assign_unique_keys
from ronda.agent.host import LocalHost
from ronda.agent.usage import UsageOptions, collect_usage, summarize
from ronda.model import App

pytestmark = pytest.mark.servers  # real nginx, Apache and Caddy write the access logs

SITES = ("portal", "arsip", "lama", "baru", "sepi", "nolog")
OPTIONS = UsageOptions(monitor_addresses=("127.0.0.4",), monitor_paths=("/healthz",), scanner_threshold=20)


@dataclass
class Sent:
    """What the test sent to each app, as the agent must count it."""

    counts: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (site, prefix) -> kind -> n
    clients: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    last: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)  # + kind -> window

    def request(
        self,
        port: int,
        site: str,
        path: str,
        ua: str,
        kind: str,
        source: str = "127.0.0.1",
        app_prefix: str = "/",
        logged: bool = True,
    ) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
        before = time.time()
        conn.request("GET", path, headers={"Host": f"{site}.test:{port}", "User-Agent": ua})
        response = conn.getresponse()
        response.read()
        conn.close()
        after = time.time()
        app = (site, app_prefix)
        status = response.status
        if not logged:
            return status
        if kind == "human" and status >= 400:
            kind = "error"
        self.counts.setdefault(app, Counter())[kind] += 1
        if kind == "human":
            self.clients.setdefault(app, set()).add(source)
        for last in (
            ["any"]
            + (["human"] if kind in ("human", "error") else [])
            + (["success"] if kind == "human" else [])
        ):
            self.last[(site, app_prefix, last)] = (before, after)
        return status


def traffic(port: int) -> Sent:
    sent = Sent()
    for _ in range(3):
        assert sent.request(port, "portal", "/", BROWSER, "human") == 200
    sent.request(port, "portal", "/nope.html", BROWSER, "human")  # one 404 of a person: an error
    sent.request(port, "portal", "/", PHONE, "human", source="127.0.0.3")
    for _ in range(2):
        assert sent.request(port, "portal", "/sipd/", BROWSER, "human", app_prefix="/sipd") == 200
    for _ in range(2):
        sent.request(port, "portal", "/", GOOGLEBOT, "bot")
        sent.request(port, "portal", "/", UPTIME, "monitor")
    sent.request(port, "portal", "/healthz", BROWSER, "monitor")
    sent.request(port, "portal", "/", BROWSER, "monitor", source="127.0.0.4")
    for i in range(25):  # a vulnerability scanner with a browser's user agent
        path = ("/wp-login.php", "/.env", "/phpmyadmin/index.php", "/.git/config", "/xmlrpc.php")[i % 5]
        sent.request(port, "portal", f"{path}?{i}", BROWSER, "scanner", source="127.0.0.2")
    for ua in (BINGBOT, BINGBOT, BINGBOT, "curl/8.5.0"):
        sent.request(port, "arsip", "/", ua, "bot")
    for _ in range(2):
        sent.request(port, "lama", "/", BROWSER, "human", source="127.0.0.5")
    sent.request(port, "baru", "/", PHONE, "human")
    sent.request(port, "baru", "/", GOOGLEBOT, "bot")
    sent.request(port, "nolog", "/", BROWSER, "human", logged=False)  # access_log off: no evidence
    return sent


def nginx_server(tmp: Path, web: Path, port: int) -> Nginx:
    logs = tmp / "logs"

    def server(name: str, log: str, extra: str = "") -> str:
        return f"""
    server {{
        listen 127.0.0.1:{port};
        server_name {name}.test;
        root {web}/{name};
        {log}
        {extra}
    }}"""

    body = f"""
    log_format vhosts '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                      '"$http_referer" "$http_user_agent"';
    {server("portal", f"access_log {logs}/portal.log combined;", f"location /sipd/ {{ alias {web}/sipd/; }}")}
    {server("arsip", f"access_log {logs}/arsip.log;")}
    {server("lama", f"access_log {logs}/shared.log vhosts;")}
    {server("baru", f"access_log {logs}/shared.log vhosts;")}
    {server("sepi", f"access_log {logs}/sepi.log combined;")}
    {server("nolog", "access_log off;")}
"""
    return Nginx.write(tmp, body)


def apache_server(tmp: Path, web: Path, port: int) -> Apache:
    logs = tmp / "logs"

    def vhost(name: str, log: str, extra: str = "") -> str:
        return f"""
<VirtualHost 127.0.0.1:{port}>
    ServerName {name}.test
    DocumentRoot {web}/{name}
    {log}
    {extra}
</VirtualHost>"""

    body = f"""
Listen 127.0.0.1:{port}
{vhost("portal", f"CustomLog {logs}/portal.log combined", f"Alias /sipd {web}/sipd")}
{vhost("arsip", f"CustomLog {logs}/arsip.log combined")}
{vhost("lama", f"CustomLog {logs}/shared.log vhost_combined")}
{vhost("baru", f"CustomLog {logs}/shared.log vhost_combined")}
{vhost("sepi", f"CustomLog {logs}/sepi.log combined")}
{vhost("nolog", "")}
"""
    return Apache.write(tmp, body)


def caddy_server(tmp: Path, web: Path, port: int) -> Caddy:
    logs = tmp / "logs"
    logs.mkdir(parents=True)

    def site(name: str, log: str, extra: str = "") -> str:
        output = f"\tlog {{\n\t\toutput file {logs}/{log}\n\t\tformat json\n\t}}\n" if log else ""
        return f"http://{name}.test:{port} {{\n\troot * {web}/{name}\n\tfile_server\n{output}{extra}}}\n"

    sipd = f"\thandle_path /sipd/* {{\n\t\troot * {web}/sipd\n\t\tfile_server\n\t}}\n"
    return Caddy.write(
        tmp,
        "\n".join(
            [
                site("portal", "portal.log", sipd),
                site("arsip", "arsip.log"),
                site("lama", "shared.log"),
                site("baru", "shared.log"),
                site("sepi", "sepi.log"),
                site("nolog", ""),
            ]
        ),
    )


SERVERS = {"nginx": nginx_server, "apache": apache_server, "caddy": caddy_server}


def discovered(kind: str, conf: Path) -> list[App]:
    if kind == "nginx":
        result = nginx.discover(LocalHost(), DiscoveryOptions(nginx_conf=str(conf)))
    elif kind == "caddy":
        result = caddy.discover(LocalHost(), DiscoveryOptions(caddyfile=str(conf)))
    else:
        result = apache.discover(LocalHost(), DiscoveryOptions(apache_conf=str(conf)))
    assign_unique_keys(result.apps)
    return result.apps, result.log_formats


def by_site(apps: list[App]) -> dict[tuple[str, str], App]:
    return {(a.primary_name.removesuffix(".test"), a.path_prefix): a for a in apps if a.primary_name}


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_counts_and_times_match_the_requests_sent(kind, tmp_path):
    with web_tmp() as web:
        for name in SITES + ("sipd",):
            (web / name).mkdir()
            (web / name / "index.html").write_text(name)
        port = free_port()
        server = SERVERS[kind](tmp_path / kind, web, port)
        with server.start(port):
            day_before = time.strftime("%Y-%m-%d")
            sent = traffic(port)
            day_after = time.strftime("%Y-%m-%d")
        apps, log_formats = discovered(kind, getattr(server, "conf", None) or server.config)
    errors = collect_usage(LocalHost(), apps, log_formats, tmp_path / "state", OPTIONS)
    assert errors == []
    found = by_site(apps)
    assert set(found) >= {(s, "/") for s in SITES} | {("portal", "/sipd")}

    for app_id, app in found.items():
        usage = app.usage
        expected = sent.counts.get(app_id, Counter())
        got = Counter(
            {
                k: sum(getattr(d, k) for d in usage.daily)
                for k in ("human", "bot", "monitor", "error", "scanner")
            }
        )
        assert +got == +expected, app_id
        if day_before == day_after and app_id in sent.clients:
            assert [d.human_clients for d in usage.daily] == [len(sent.clients[app_id])], app_id
        for last, value in (
            ("any", usage.last_request),
            ("human", usage.last_human_request),
            ("success", usage.last_human_success),
        ):
            window = sent.last.get((*app_id, last))
            if window is None:
                assert value is None, (app_id, last)
            else:
                assert int(window[0]) <= value.timestamp() <= window[1], (app_id, last)

    portal, shared = found[("portal", "/")].usage, found[("lama", "/")].usage
    assert portal.coverage == "full" and shared.coverage == "full"
    assert portal.coverage_start.timestamp() <= portal.last_request.timestamp()
    assert portal.unparsed_lines == 0 and portal.logs[0].lines == sum(sent.counts[("portal", "/")].values())
    # an app nobody visited: its log is empty (nginx, Apache) or not even created yet (Caddy opens it lazily)
    sepi = found[("sepi", "/")].usage
    assert sepi.daily == [] and sepi.last_request is None
    assert (sepi.coverage, sepi.logs[0].status) == (
        ("none", "missing") if kind == "caddy" else ("partial", "ok")
    )
    assert found[("nolog", "/")].usage.coverage == "none" and found[("nolog", "/")].usage.daily == []
    assert summarize(found[("arsip", "/")].usage).startswith("last human never, 30d: 0 human / 4 bot")
    assert summarize(found[("nolog", "/")].usage) == "no access log"


def test_nginx_reopening_its_log_after_rotation(tmp_path):
    """logrotate's way with nginx: rename, USR1 (reopen), compress later; nothing lost or counted twice."""
    with web_tmp() as web:
        (web / "portal").mkdir()
        (web / "portal" / "index.html").write_text("portal")
        port = free_port()
        logs = tmp_path / "logs"
        server = Nginx.write(
            tmp_path,
            f"""
    server {{ listen 127.0.0.1:{port}; server_name portal.test; root {web}/portal;
             access_log {logs}/portal.log combined; }}""",
        )
        state = tmp_path / "state"
        total = 0

        def send(n: int) -> None:
            nonlocal total
            sent = Sent()
            for i in range(n):  # distinct lines: files are told apart by their first bytes
                sent.request(port, "portal", f"/?n={total + i}", BROWSER, "human")
            total += n

        def count() -> int:
            apps, formats = discovered("nginx", server.conf)
            assert collect_usage(LocalHost(), apps, formats, state, OPTIONS) == []
            return sum(d.human for d in by_site(apps)[("portal", "/")].usage.daily)

        def reopen() -> None:
            pid = int((tmp_path / "nginx.pid").read_text())
            os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not (logs / "portal.log").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

        with server.start(port):
            send(5)
            _wait_lines(logs / "portal.log", 5)
            assert count() == 5
            send(3)
            _wait_lines(logs / "portal.log", 8)
            (logs / "portal.log").rename(logs / "portal.log.1")
            reopen()
            send(4)
            _wait_lines(logs / "portal.log", 4)
            assert count() == 12
            send(2)
            _wait_lines(logs / "portal.log", 6)
            (logs / "portal.log.1").rename(logs / "portal.log.2")
            (logs / "portal.log").rename(logs / "portal.log.1")
            reopen()
            with open(logs / "portal.log.2", "rb") as f, gzip.open(logs / "portal.log.2.gz", "wb") as g:
                shutil.copyfileobj(f, g)
            (logs / "portal.log.2").unlink()
            send(1)
            _wait_lines(logs / "portal.log", 1)
            assert count() == total == 15
        assert count() == 15


def _wait_lines(path: Path, n: int, timeout: float = 10.0) -> None:
    """nginx writes the log line after the response: wait until it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} has fewer than {n} lines after {timeout}s")
