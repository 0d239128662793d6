"""Matching: URL normalisation and each matching rule, with a yes and a no case."""

from __future__ import annotations

import pytest

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.match import build_index, match_all
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Listen, Pin
from ronda.collector.reconcile.urls import host_key, parse_endpoint, path_within

A, B = "agent-a", "agent-b"
HOSTS = {
    A: HostInfo(A, "web-a", "web-a.prov.example", ("10.0.0.5",)),
    B: HostInfo(B, "web-b", "", ("10.0.0.6",)),
}


def found(key: str, names=(), port: int = 80, prefix: str = "/", agent: str = A, **kw) -> DiscoveredApp:
    listen = kw.pop("listen", (Listen("*", port, port == 443, kw.pop("default", False)),))
    return DiscoveredApp(agent, key, "nginx", tuple(names), listen, prefix, **kw)


def declared(urls=(), **kw) -> DeclaredApp:
    return DeclaredApp(
        kw.pop("app_id", "APP-1"), kw.pop("name", "App"), kw.pop("status", "active"), urls=list(urls), **kw
    )


@pytest.mark.parametrize(
    "text, host, port, path",
    [
        ("https://SIPD.Example.go.id/", "sipd.example.go.id", 443, "/"),
        ("http://sipd.example.go.id:80/app/", "sipd.example.go.id", 80, "/app"),
        ("sipd.example.go.id.", "sipd.example.go.id", None, "/"),
        ("sipd.example.go.id/Laporan//2024/?x=1#top", "sipd.example.go.id", None, "/laporan/2024"),
        ("10.1.2.3:8080", "10.1.2.3", 8080, "/"),
        ("http://[2001:db8::1]/x", "2001:db8::1", 80, "/x"),
    ],
)
def test_parse_endpoint_normalises(text, host, port, path):
    e = parse_endpoint(text)
    assert (e.host, e.port, e.path) == (host, port, path)


@pytest.mark.parametrize(
    "text", ["ftp://x.example", "http://user:pw@x.example", "not a host!", "", "http:///x"]
)
def test_parse_endpoint_refuses(text):
    with pytest.raises(ValueError):
        parse_endpoint(text)


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("www.dinkes.example", "dinkes.example", True),
        ("DINKES.example.", "dinkes.example", True),
        ("www.example", "example", False),  # a bare `www.` label is a name, not a prefix
        ("dinkes.example", "dinkes2.example", False),
    ],
)
def test_host_key(a, b, same):
    assert (host_key(a) == host_key(b)) is same


@pytest.mark.parametrize(
    "path, prefix, within",
    [
        ("/sipd/laporan", "/sipd", True),
        ("/sipd", "/sipd", True),
        ("/anything", "/", True),
        ("/sipdx", "/sipd", False),
        ("/", "/sipd", False),
    ],
)
def test_path_within(path, prefix, within):
    assert path_within(path, prefix) is within


def _match(decl: DeclaredApp, apps: list[DiscoveredApp], pins=()) -> dict[str, str]:
    index = build_index(apps, HOSTS)
    return {m.app_key: m.rule for m in match_all([decl], index, list(pins))}


PORTAL = found(
    "portal", ["dinkes.example", "www.dinkes.example"], listen=(Listen("*", 80), Listen("*", 443, True))
)
SIPD = found("sipd", ["dinkes.example"], prefix="/sipd", listen=PORTAL.listen)
REDIRECT = found("lapor80", ["lapor.example"], 80, redirect="301 https://$host$request_uri")
LAPOR = found("lapor443", ["lapor.example"], 443)
ADMIN = found("admin8080", ["lapor.example"], 8080)
DEFAULT = found("catchall", ["_"], 8081, default=True)
WILD = found("wild", ["*.kab.example"])
ON_B = found("on-b", ["other.example"], agent=B, root="/var/www/other")


@pytest.mark.parametrize(
    "case, urls, kw, apps, expected",
    [
        ("exact host name", ["https://dinkes.example"], {}, [PORTAL, SIPD], {"portal": "url"}),
        ("www. and case do not matter", ["HTTP://WWW.Dinkes.Example./"], {}, [PORTAL], {"portal": "url"}),
        ("longest path prefix wins", ["https://dinkes.example/sipd/"], {}, [PORTAL, SIPD], {"sipd": "url"}),
        (
            "a deeper path still belongs to its prefix",
            ["dinkes.example/sipd/laporan"],
            {},
            [PORTAL, SIPD],
            {"sipd": "url"},
        ),
        ("a prefix that is not a path segment does not match", ["dinkes.example/sipdx"], {}, [SIPD], {}),
        (
            "http and https vhosts of one name both match",
            ["https://lapor.example"],
            {},
            [REDIRECT, LAPOR, ADMIN],
            {"lapor80": "url", "lapor443": "url"},
        ),
        (
            "an explicit port picks that vhost",
            ["http://lapor.example:8080"],
            {},
            [REDIRECT, LAPOR, ADMIN],
            {"admin8080": "url"},
        ),
        ("another name does not match", ["https://dinkes2.example"], {}, [PORTAL], {}),
        ("wildcard server name", ["http://desa.kab.example"], {}, [WILD], {"wild": "url"}),
        ("wildcard does not match the wrong suffix", ["http://desa.kota.example"], {}, [WILD], {}),
        (
            "address of the host reaches its default server",
            ["http://10.0.0.5:8081/"],
            {},
            [DEFAULT, PORTAL],
            {"catchall": "address"},
        ),
        (
            "host name of the host reaches its default server",
            ["web-a:8081"],
            {},
            [DEFAULT],
            {"catchall": "address"},
        ),
        ("address of another host does not", ["http://10.9.9.9:8081/"], {}, [DEFAULT], {}),
        (
            "install directory on the declared host",
            [],
            {"root": "/var/www/other/", "host": "web-b"},
            [ON_B],
            {"on-b": "root"},
        ),
        (
            "install directory on another host does not",
            [],
            {"root": "/var/www/other", "host": "web-a"},
            [ON_B],
            {},
        ),
        (
            "gone apps are not matched",
            ["https://dinkes.example"],
            {},
            [found("portal", ["dinkes.example"], present=False)],
            {},
        ),
    ],
)
def test_matching_rules(case, urls, kw, apps, expected):
    assert _match(declared(urls, **kw), apps) == expected, case


def test_every_match_says_why():
    index = build_index([PORTAL, SIPD], HOSTS)
    [m] = match_all([declared(["https://www.dinkes.example/sipd"])], index, [])
    assert m.rule == "url" and "server name dinkes.example" in m.reason and "path prefix /sipd" in m.reason


@pytest.mark.parametrize(
    "pin, expected",
    [
        (Pin("APP-1", A, "catchall", "link", "same app, moved", "ops"), {"portal": "url", "catchall": "pin"}),
        (Pin("APP-1", A, "portal", "forbid", "not ours", "ops"), {}),
        (
            Pin("APP-2", A, "portal", "forbid", "other app", "ops"),
            {"portal": "url"},
        ),  # pins are per declared app
        (
            Pin("APP-1", A, "no-such-app", "link", "", "ops"),
            {"portal": "url"},
        ),  # a pin to nothing matches nothing
    ],
)
def test_pins_override_the_rules(pin, expected):
    assert _match(declared(["dinkes.example"]), [PORTAL, DEFAULT], [pin]) == expected


def test_pin_reason_is_recorded():
    index = build_index([DEFAULT], HOSTS)
    [m] = match_all([declared()], index, [Pin("APP-1", A, "catchall", "link", "same app, moved", "budi")])
    assert m.reason == "pinned by budi: same app, moved"
