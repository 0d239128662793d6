"""The lean regex path and the general path give the same Usage for the same logs, malformed lines
included."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import Nginx, free_port, http_get
from usage_lines import AGENTS, BROWSER, GOOGLEBOT, PHONE, UPTIME

from ronda.agent.host import LocalHost
from ronda.agent.usage import UsageCollector, UsageOptions
from ronda.agent.usage.tally import client_id
from ronda.model import App, LogRef, Usage

START = 1767225600  # 2026-01-01
# name -> (server kind, format name, definition or None for a built-in, vhost field?)
FORMATS = {
    "combined": ("nginx", "combined", None, False),
    "vhost_iso": (
        "nginx",
        "vhost_iso",
        '$host $remote_addr [$time_iso8601] "$request" $status "$http_user_agent"',
        True,
    ),
    "vhost_combined": ("apache", "vhost_combined", None, True),
    "msec": ("nginx", "msec", '$msec $remote_addr "$request" $status "$http_user_agent"', False),
}
ADDRS = ["10.0.0.1", "10.0.0.2", "192.0.2.77", "2001:db8::5", "10.9.9.9", ""]
PATHS = [
    "/",
    "/index.php?a=1",
    "/healthz",
    "/healthz?full=1",
    "/sipd",
    "/sipd/api/x",
    "/sipdx",
    "/.env",
    "/a b",
    '/q\\"uote',
    "/ping",
]
STATUSES = ["200", "204", "301", "304", "000", "099", "400", "401", "403", "404", "410", "499", "500", "503"]
AGENT_LIST = sorted(AGENTS) + ['odd \\"quoted\\" agent', ""]


@dataclasses.dataclass(frozen=True)
class Line:
    fmt: str
    vhost: str
    addr: str
    when: int
    path: str
    status: str
    ua: str

    def text(self) -> str:
        if self.fmt == "msec":
            request = f'"GET {self.path} HTTP/1.1" {self.status} "{self.ua}"'
            return f"{self.when}.{self.when % 1000:03d} {self.addr} {request}"
        if self.fmt == "vhost_iso":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(self.when))
            return f'{self.vhost} {self.addr} [{stamp}] "GET {self.path} HTTP/1.1" {self.status} "{self.ua}"'
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0700", time.gmtime(self.when))
        head = f"{self.vhost}:443 " if self.fmt == "vhost_combined" else ""
        return f'{head}{self.addr} - - [{stamp}] "GET {self.path} HTTP/1.1" {self.status} 512 "-" "{self.ua}"'


def lines_of(fmt: str):
    return st.builds(
        Line,
        fmt=st.just(fmt),
        vhost=st.sampled_from(["a.test", "B.TEST", "c.test", "-"]),
        addr=st.sampled_from(ADDRS),
        when=st.integers(START, START + 3 * 86400),
        path=st.sampled_from(PATHS),
        status=st.sampled_from(STATUSES),
        ua=st.sampled_from(AGENT_LIST),
    )


@st.composite
def malformed(draw, fmt: str) -> bytes:
    """Lines no regex should read as a request, and lines that only the careful one reads right."""
    line = draw(lines_of(fmt)).text().encode()
    kind = draw(
        st.sampled_from(["junk", "truncated", "status", "date", "empty-day", "quote", "blank", "crlf"])
    )
    if kind == "junk":
        return draw(st.binary(max_size=120)).replace(b"\n", b" ")
    if kind == "truncated":
        return line[: draw(st.integers(0, len(line) - 1))]
    if kind == "status":
        return line.replace(b'HTTP/1.1" ', b'HTTP/1.1" 2x', 1)
    if kind == "date":
        return (
            line.replace(b"/Jan/", b"/Foo/", 1)
            .replace(b"[2026-01-0", b"[2026-13-0", 1)
            .replace(b"17", b"x7", 1)
        )
    if kind == "empty-day":
        return line.replace(b"[0", b"[:", 1) if b"[0" in line else line.replace(b"[2026-01-0", b"[", 1)
    if kind == "quote":
        return line.replace(b'"GET ', b'"GET "', 1)  # an unbalanced quote a careless regex reads past
    if kind == "blank":
        return b""
    return line + b"\r"  # a CRLF line: still a request


def apps_for(fmt: str, log: Path) -> tuple[list[App], dict[str, str]]:
    kind, name, definition, vhosts = FORMATS[fmt]
    ref = [LogRef(path=str(log), format=name)]
    apps = [
        App(key="a", kind=kind, server_names=["a.test"], access_logs=ref),
        App(key="a-sipd", kind=kind, server_names=["a.test"], path_prefix="/sipd", access_logs=ref),
    ]
    if vhosts:
        apps.append(App(key="b", kind=kind, server_names=["b.test"], access_logs=ref))
    return apps, ({f"{kind}:{name}": definition} if definition else {})


def scan_both(fmt: str, log: Path, work: Path, options: UsageOptions) -> tuple[dict, dict]:
    """Per path (lean, general): the Usage of every app and the scan's stats."""
    out = {}
    for lean in (True, False):
        apps, formats = apps_for(fmt, log)
        collector = UsageCollector(
            LocalHost(), apps, formats, work / f"state-{lean}", dataclasses.replace(options, lean_regex=lean)
        )
        assert collector.run() == []
        out[lean] = ({app.key: _comparable(app.usage) for app in apps}, collector.stats)
    return out[True], out[False]


def _comparable(usage: Usage) -> Usage:
    assert usage.coverage_end is not None
    return dataclasses.replace(
        usage, coverage_end=None
    )  # when the log was read: the two scans differ by a second


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    fmt=st.sampled_from(sorted(FORMATS)),
    seed=st.integers(0, 2**32),
    chunk=st.integers(64, 4096),
    monitor_addr=st.booleans(),
)
def test_lean_and_general_paths_give_the_same_usage(data, fmt, seed, chunk, monitor_addr):
    good = [line.text().encode() for line in data.draw(st.lists(lines_of(fmt), max_size=120))]
    bad = data.draw(st.lists(malformed(fmt), max_size=12))
    lines = good + bad
    random.Random(seed).shuffle(lines)
    work = Path(tempfile.mkdtemp(prefix="ronda-usage-lean-"))
    try:
        log = work / "access.log"
        log.write_bytes(b"".join(line + b"\n" for line in lines))
        options = UsageOptions(
            chunk_bytes=chunk,
            monitor_paths=("/healthz", "/ping"),
            scanner_threshold=3,
            monitor_addresses=("10.9.9.0/24",) if monitor_addr else (),
        )
        (lean, lean_stats), (general, general_stats) = scan_both(fmt, log, work, options)
        assert lean == general
        assert lean_stats.lines == general_stats.lines == len(lines)
        assert general_stats.lean_lines == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _visits(n: int, fmt: str) -> list[bytes]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        ua = rnd.choice([BROWSER, PHONE, GOOGLEBOT, UPTIME])
        status = rnd.choice(["200", "200", "304", "404", "500"])
        out.append(
            Line(
                fmt,
                rnd.choice(["a.test", "b.test"]),
                f"10.0.{rnd.randrange(4)}.{rnd.randrange(50)}",
                START + i * 7,
                rnd.choice(PATHS[:6]),
                status,
                ua,
            )
            .text()
            .encode()
        )
    return out


def test_a_malformed_line_sends_only_its_buffer_to_the_general_path(tmp_path):
    lines = _visits(6000, "combined")
    options = UsageOptions(chunk_bytes=16 << 10, monitor_paths=("/healthz",))
    log = tmp_path / "clean.log"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    (lean, stats), (general, _) = scan_both("combined", log, tmp_path / "clean", options)
    assert lean == general and stats.lean_lines == stats.lines == len(lines)

    lines[3000:3000] = [b'10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "no end']
    log = tmp_path / "broken.log"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    (lean, stats), (general, _) = scan_both("combined", log, tmp_path / "broken", options)
    assert lean == general and lean["a"].unparsed_lines == 1
    # one buffer of ~16 KiB (about 100 lines) took the general path, every other one the lean path
    assert len(lines) - 200 < stats.lean_lines < len(lines)


@pytest.mark.servers
def test_the_log_of_a_real_nginx_reads_the_same_both_ways(tmp_path):
    web = tmp_path / "web"
    (web / "sipd").mkdir(parents=True)
    (web / "index.html").write_text("portal")
    (web / "sipd" / "index.html").write_text("sipd")
    port = free_port()
    log = tmp_path / "nginx" / "logs" / "portal.log"
    server = Nginx.write(
        tmp_path / "nginx",
        f"""
    server {{
        listen 127.0.0.1:{port};
        server_name a.test;
        root {web};
        access_log {log} combined;
        location = /healthz {{ return 200; }}
        location = /forbidden {{ return 403; }}
        location = /broken {{ return 502; }}
    }}""",
    )
    with server.start(port):
        for i in range(40):
            ua = (BROWSER, PHONE, GOOGLEBOT, UPTIME, 'odd "quoted" agent', "")[i % 6]
            path = ("/", "/sipd/", "/healthz", "/nope", "/forbidden", "/broken", "/?q=1", "/sipd/x")[i % 8]
            http_get(port, path, host_header="a.test", user_agent=ua)
    deadline = time.monotonic() + 10
    while log.read_bytes().count(b"\n") < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    options = UsageOptions(monitor_paths=("/healthz",), scanner_threshold=2)
    (lean, stats), (general, _) = scan_both("combined", log, tmp_path, options)
    assert lean == general
    assert stats.lines == stats.lean_lines == 40
    assert sum(d.human for d in lean["a"].daily) > 0 and sum(d.bot for d in lean["a"].daily) > 0


def test_client_ids_stay_what_the_state_already_holds():
    """Ids in existing state files were made this way: a scan after an upgrade must make the same ones."""
    for addr in (b"10.0.0.1", b"2001:db8::5", b"", b"x" * 300):
        digest = hashlib.blake2b(addr, digest_size=8, person=b"ronda-client").digest()
        assert client_id(addr) == int.from_bytes(digest, "big", signed=True)
