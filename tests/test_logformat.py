"""Access-log formats: the parser is derived from the server's own format definition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ronda.agent.usage.formats import FormatError, parse_definition
from ronda.agent.usage.parse import _day, _epoch

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
CASES = [
    (
        "nginx",
        "combined",
        None,
        f'10.1.2.3 - - [10/Oct/2026:13:55:36 +0700] "GET /sipd/laporan?x=1 HTTP/1.1" 200 2326 "-" "{UA}"',
        {"addr": "10.1.2.3", "day": "2026-10-10", "status": "200", "ua": UA, "prefix": "/sipd", "probe": ""},
        "2026-10-10T06:55:36",
    ),
    (
        "nginx",
        "vhosts",
        (
            '$host $remote_addr [$time_local] "$request" $status $body_bytes_sent '
            '"$http_user_agent" $request_time'
        ),
        f'app.example.go.id 10.1.2.3 [01/Jan/2026:00:00:01 +0000] "POST /login HTTP/2.0" 302 0 "{UA}" 0.012',
        {
            "vhost": "app.example.go.id",
            "addr": "10.1.2.3",
            "status": "302",
            "ua": UA,
            "prefix": "",
            "probe": "",
        },
        "2026-01-01T00:00:01",
    ),
    (
        "nginx",
        "iso",
        '$remote_addr [$time_iso8601] "$request" $status "$http_user_agent"',
        '::1 [2026-03-04T05:06:07+07:00] "GET /healthz HTTP/1.1" 200 "kube-probe/1.29"',
        {"addr": "::1", "day": "2026-03-04", "status": "200", "ua": "kube-probe/1.29", "probe": "/healthz"},
        "2026-03-03T22:06:07",
    ),
    (
        "nginx",
        "epoch",
        '$msec $remote_addr "$request" $status "$http_user_agent"',
        '1767225600.123 10.0.0.9 "GET / HTTP/1.1" 404 "curl/8.5.0"',
        {"addr": "10.0.0.9", "day": "2026-01-01", "status": "404", "ua": "curl/8.5.0"},
        "2026-01-01T00:00:00",
    ),
    (
        "nginx",
        "json-escaped",
        '$remote_addr [$time_local] "$request" $status "$http_user_agent"',
        '10.0.0.1 [02/Feb/2026:10:00:00 +0000] "GET /sipd HTTP/1.1" 200 "odd \\"quoted\\" agent"',
        {"addr": "10.0.0.1", "status": "200", "ua": 'odd \\"quoted\\" agent', "prefix": "/sipd"},
        "2026-02-02T10:00:00",
    ),
    (
        "apache",
        "combined",
        None,
        '192.0.2.7 - alice [10/Oct/2026:13:55:36 -0700] "GET /index.php HTTP/1.1" 200 2326 '
        f'"http://x/" "{UA}"',
        {"addr": "192.0.2.7", "day": "2026-10-10", "status": "200", "ua": UA},
        "2026-10-10T20:55:36",
    ),
    (
        "apache",
        "agent-named",
        '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
        '192.0.2.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 304 - "-" "Googlebot/2.1"',
        {"addr": "192.0.2.7", "status": "304", "ua": "Googlebot/2.1"},
        "2026-10-10T13:55:36",
    ),
    (
        "apache",
        "vhost_combined",
        None,
        'www.example.go.id:443 192.0.2.8 - - [10/Oct/2026:13:55:36 +0700] "GET /sipd/ HTTP/1.1" 500 0 '
        f'"-" "{UA}"',
        {"vhost": "www.example.go.id", "addr": "192.0.2.8", "status": "500", "prefix": "/sipd"},
        "2026-10-10T06:55:36",
    ),
    (
        "apache",
        "common",
        None,
        '192.0.2.9 - - [10/Oct/2026:13:55:36 +0000] "GET /a b c HTTP/1.0" 200 -',
        {"addr": "192.0.2.9", "status": "200"},
        "2026-10-10T13:55:36",
    ),
    (
        "apache",
        "seconds",
        '%{sec}t %a %>s "%r" "%{User-Agent}i"',
        '1767225661 2001:db8::1 403 "GET /.env HTTP/1.1" "x"',
        {"addr": "2001:db8::1", "day": "2026-01-01", "status": "403", "ua": "x"},
        "2026-01-01T00:01:01",
    ),
    (
        "apache",
        "escaped",
        '%h %t "%r" %>s "%{User-Agent}i"',
        '192.0.2.1 [10/Oct/2026:13:55:36 +0000] "GET /x HTTP/1.1" 200 "a \\"b\\" c"',
        {"addr": "192.0.2.1", "ua": 'a \\"b\\" c'},
        "2026-10-10T13:55:36",
    ),
    (
        "tomcat",
        "common",
        None,
        '127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /manager HTTP/1.1" 401 2473',
        {"addr": "127.0.0.1", "status": "401"},
        "2026-10-10T13:55:36",
    ),
]


def _fields(compiled_fields, match) -> dict[str, str]:
    return {name: value.decode() for name, value in zip(compiled_fields, match.groups(), strict=True)}


@pytest.mark.parametrize("kind,name,definition,line,expected,when", CASES, ids=[c[1] for c in CASES])
def test_fields_from_the_servers_own_format(kind, name, definition, line, expected, when):
    fmt = parse_definition(kind, name, definition)
    compiled = fmt.compile(["/sipd", "/sipd/api"], ["/healthz", "/ping"])
    data = line.encode() + b"\n"
    [safe] = list(compiled.safe.finditer(data))
    # the fast regex may refuse a line with escaped quotes (the parser then uses the safe one),
    # never misread it
    for m in [safe, *compiled.fast.finditer(data)]:
        got = _fields(compiled.fields, m)
        assert {k: got.get(k) for k in expected if k != "day"} == {
            k: v for k, v in expected.items() if k != "day"
        }
        if "day" in expected:
            assert _day(compiled.time_kind, got["day"].encode()) == expected["day"]
    detail = _fields(compiled.detail_fields, compiled.detail.match(data, 0, len(data) - 1))
    clock = detail.get("clock", "").encode() or None
    epoch = _epoch(compiled.time_kind, detail["day"].encode(), clock)
    assert datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S") == when


def test_vhost_format_knows_its_virtual_host():
    assert parse_definition("apache", "vhost_combined", None).has_vhost
    assert not parse_definition("nginx", "combined", None).has_vhost


@pytest.mark.parametrize(
    "kind,name,definition,message",
    [
        ("nginx", "mystery", None, "unknown log format"),
        ("nginx", "notime", '$remote_addr "$request" $status', "no request time"),
        ("apache", "notime", '%h "%r" %>s', "no request time"),
    ],
)
def test_formats_ronda_cannot_use_are_reported(kind, name, definition, message):
    with pytest.raises(FormatError, match=message):
        parse_definition(kind, name, definition)


def test_a_line_of_another_format_does_not_match():
    compiled = parse_definition("nginx", "combined", None).compile([], [])
    other = b'www.example:80 192.0.2.8 - - [10/Oct/2026:13:55:36 +0700] "GET / HTTP/1.1" 200 0 "-" "x"\n'
    assert compiled.fast.findall(other) == [] and compiled.safe.findall(other) == []
