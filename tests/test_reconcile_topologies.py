"""Front proxies and their backends, followed as HTTP does: which backend vhost a front reaches, what
is matched, what is hidden and what is "served behind" a declared app.

Each case is a topology government servers run: nginx on the public address in front of Apache's
name-based vhosts on a loopback or LAN address (webmail, an Adminer console and PostfixAdmin on one
mail server), Apache proxying without ProxyPreserveHost, a fixed intranet Host, a catch-all front
passing every name on, and a Node app under PM2 behind nginx.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import plan, reconcile
from ronda.collector.reconcile.hops import hops_from
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Inputs, Listen, Pin

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
FRONT, BACK = "front", "back"
HOSTS = {
    FRONT: HostInfo(FRONT, "web-front", addresses=("10.20.0.5",), last_seen="2026-06-01T11:00:00Z"),
    BACK: HostInfo(BACK, "web-mail", addresses=("10.20.0.32",), last_seen="2026-06-01T11:00:00Z"),
}


def vhost(
    name: str, address: str = "10.20.0.32", port: int = 80, default: bool = False, **kw
) -> DiscoveredApp:
    agent = kw.pop("agent", BACK)
    kind = kw.pop("kind", "apache")
    names = (name,) if name else ()
    key = f"{kind}:{name or '_'}:{port}/"
    return DiscoveredApp(agent, key, kind, names, (Listen(address, port, False, default),), **kw)


def front(names: tuple[str, ...], upstream: str, host_header: str = "$host", **kw) -> DiscoveredApp:
    key = f"nginx:{names[0] if names else '_'}:443/"
    listen = (Listen("*", 443, True, kw.pop("default", False)),)
    return DiscoveredApp(
        FRONT,
        key,
        "nginx",
        names,
        listen,
        upstream=upstream,
        host_header=host_header,
        framework="proxy",
        **kw,
    )


# The mail server: Debian's default vhost first (Apache's default for the address), then three sites.
MAIL = [
    vhost("", default=True, root="/var/www/html"),
    vhost("webmail.prov.example", root="/var/lib/roundcube", framework="roundcube"),
    vhost("adminer.prov.example", root="/usr/share/adminer", framework="adminer"),
    vhost("pfa.prov.example", root="/usr/share/postfixadmin", framework="postfixadmin"),
]
WEBMAIL = DeclaredApp(
    "APP-1",
    "Webmail",
    "active",
    owner="Diskominfo",
    contact="mail@prov.example",
    urls=["https://webmail.prov.example"],
)


def backends(app: DiscoveredApp, apps: list[DiscoveredApp]) -> dict[str, str]:
    index = plan(Inputs(discovered=apps, hosts=HOSTS), ReconcileConfig(), NOW).index
    return {h.backend.app_key: h.host for h in hops_from(app, index)}


@pytest.mark.parametrize(
    "case, proxy, expected",
    [
        (
            "nginx, proxy_set_header Host $host: the vhost of its own name, never the others on the address",
            front(("webmail.prov.example",), "http://10.20.0.32:80"),
            {"apache:webmail.prov.example:80/": "webmail.prov.example"},
        ),
        (
            "one front block for every name of the mail server passes each on",
            front(("webmail.prov.example", "adminer.prov.example", "pfa.prov.example"), "http://10.20.0.32"),
            {
                "apache:webmail.prov.example:80/": "webmail.prov.example",
                "apache:adminer.prov.example:80/": "adminer.prov.example",
                "apache:pfa.prov.example:80/": "pfa.prov.example",
            },
        ),
        (
            "nginx without proxy_set_header asks for the address: the default vhost answers",
            front(("webmail.prov.example",), "http://10.20.0.32:80", "$proxy_host"),
            {"apache:_:80/": "10.20.0.32"},
        ),
        (
            "a snapshot from an older agent without the label: nginx's own default ($proxy_host)",
            front(("webmail.prov.example",), "http://10.20.0.32:80", ""),
            {"apache:_:80/": "10.20.0.32"},
        ),
        (
            "a fixed Host names one vhost",
            front(("mail.prov.example",), "http://10.20.0.32", "adminer.prov.example"),
            {"apache:adminer.prov.example:80/": "adminer.prov.example"},
        ),
        (
            "a name the backend does not serve falls to its default vhost",
            front(("surat.prov.example",), "http://10.20.0.32"),
            {"apache:_:80/": "surat.prov.example"},
        ),
        (
            "a catch-all front passing the Host on reaches every vhost there",
            front(("_",), "http://10.20.0.32"),
            {a.app_key: "" for a in MAIL},
        ),
        (
            "a front proxying to the backend host by its host name",
            front(("webmail.prov.example",), "http://web-mail"),
            {"apache:webmail.prov.example:80/": "webmail.prov.example"},
        ),
        (
            "another port on that address: nothing listens, nothing is reached",
            front(("webmail.prov.example",), "http://10.20.0.32:8080"),
            {},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_front_reaches_the_vhost_that_answers_the_host_it_sends(case, proxy, expected):
    assert backends(proxy, [proxy, *MAIL]) == expected


def test_vhosts_bound_to_the_address_come_before_those_on_every_address():
    bound = vhost("", address="127.0.0.32", default=True, agent=FRONT, kind="apache")
    everywhere = vhost("", address="*", default=True, agent=FRONT, kind="nginx")
    proxy = front(("portal.prov.example",), "http://127.0.0.32", "$proxy_host")
    assert backends(proxy, [proxy, bound, everywhere]) == {"apache:_:80/": "127.0.0.32"}


def run(apps: list[DiscoveredApp], declared: list[DeclaredApp], pins: list[Pin] = ()):
    return reconcile(
        Inputs(declared=declared, discovered=apps, hosts=HOSTS, pins=list(pins)), ReconcileConfig(), NOW
    )


def test_the_issue_topology_declared_webmail_matches_and_the_console_stays_hidden():
    # The case that hid an Adminer console: the declared webmail's front passes Host $host to the
    # backend address where Adminer, PostfixAdmin and the default vhost also live.
    proxy = front(("webmail.prov.example",), "http://10.20.0.32:80")
    out = run([proxy, *MAIL], [WEBMAIL])
    assert sorted((m.app_key, m.rule) for m in out.matches) == [
        ("apache:webmail.prov.example:80/", "url"),
        ("nginx:webmail.prov.example:443/", "url"),
    ]
    hidden = {f.app_key: f for f in out.findings if f.kind == "hidden"}
    assert sorted(hidden) == [
        "apache:_:80/",
        "apache:adminer.prov.example:80/",
        "apache:pfa.prov.example:80/",
    ]
    assert (
        "served behind" not in hidden["apache:adminer.prov.example:80/"].summary
    )  # the front never sends it


def test_undeclared_vhosts_a_declared_front_passes_on_are_hidden_and_served_behind_it():
    proxy = front(("webmail.prov.example", "adminer.prov.example", "pfa.prov.example"), "http://10.20.0.32")
    out = run([proxy, *MAIL], [WEBMAIL])
    hidden = {f.app_key: f for f in out.findings if f.kind == "hidden"}
    assert sorted(hidden) == [
        "apache:_:80/",
        "apache:adminer.prov.example:80/",
        "apache:pfa.prov.example:80/",
    ]
    console = hidden["apache:adminer.prov.example:80/"]
    assert console.summary == "adminer.prov.example on web-mail matches no declared app (served behind APP-1)"
    assert console.detail["behind"] == ["APP-1"]
    verdicts = {v.subject: v for v in out.verdicts}
    assert any(
        "webmail.prov.example proxies to it (http://10.20.0.32), asking for Host adminer.prov.example"
        in r.text
        for r in verdicts["back/apache:adminer.prov.example:80/"].reasons
    )


@pytest.mark.parametrize("declared_front", [True, False], ids=["declared front", "undeclared front"])
def test_a_backend_without_a_name_of_its_own(declared_front):
    """A Node app under PM2 behind nginx: behind a declared front it is that app's dependency, not a
    hidden app; behind an undeclared one it is hidden, with the front named."""
    node = DiscoveredApp(FRONT, "node:lapor-api:3001/", "node", ("lapor-api",), (Listen("*", 3001),))
    proxy = front(("lapor.prov.example",), "http://127.0.0.1:3001", "$proxy_host")
    declared = DeclaredApp("APP-6", "LAPOR", "active", owner="X", contact="y", urls=["lapor.prov.example"])
    out = run([proxy, node], [declared] if declared_front else [])
    hidden = {f.app_key: f.summary for f in out.findings if f.kind == "hidden"}
    if declared_front:
        assert hidden == {}
    else:
        assert hidden["node:lapor-api:3001/"] == (
            "lapor-api:3001 on web-front matches no declared app "
            "(served behind lapor.prov.example on web-front, undeclared)"
        )
    verdict = {v.subject: v for v in out.verdicts}["front/node:lapor-api:3001/"]
    assert verdict.verdict == "review" and "lapor.prov.example proxies to it" in verdict.summary


def test_pins_and_forbids_override_every_automatic_match():
    proxy = front(("webmail.prov.example",), "http://10.20.0.32:80", "$proxy_host")
    forbid = Pin(
        "APP-1", BACK, "apache:webmail.prov.example:80/", "forbid", "a copy, not the live one", "ops"
    )
    link = Pin("APP-1", BACK, "apache:_:80/", "link", "the default vhost serves it", "ops")
    out = run([proxy, *MAIL], [WEBMAIL], [forbid, link])
    assert sorted((m.app_key, m.rule) for m in out.matches) == [
        ("apache:_:80/", "pin"),
        ("nginx:webmail.prov.example:443/", "url"),
    ]
    hidden = {f.app_key for f in out.findings if f.kind == "hidden"}
    assert "apache:webmail.prov.example:80/" in hidden and "apache:_:80/" not in hidden


def test_the_backend_vhost_of_the_declared_name_on_another_port_is_the_declared_app():
    """nginx on 443 in front of Apache on 127.0.0.1:8080, both named webmail: the declared URL reaches
    the Apache vhost through the front, by its own name; it is the app, not a hidden one."""
    backend = vhost(
        "webmail.prov.example", address="127.0.0.1", port=8080, agent=FRONT, framework="roundcube"
    )
    console = vhost("adminer.prov.example", address="127.0.0.1", port=8080, agent=FRONT)
    proxy = front(("webmail.prov.example",), "http://127.0.0.1:8080")
    out = run([proxy, backend, console], [WEBMAIL])
    matched = {m.app_key: m.reason for m in out.matches}
    assert matched["apache:webmail.prov.example:8080/"] == (
        "https://webmail.prov.example -> webmail.prov.example passes Host webmail.prov.example on to "
        "webmail.prov.example"
    )
    assert [f.app_key for f in out.findings if f.kind == "hidden"] == ["apache:adminer.prov.example:8080/"]


def test_a_redirect_record_lends_no_evidence_to_the_app_it_points_to():
    """Certbot's port-80 server (`return 301 https://$host$request_uri`, no access log of its own)
    matches the declared URL beside the https server: the verdict rests on the https server's logs."""
    https = vhost(
        "surat.prov.example",
        address="*",
        port=443,
        agent=FRONT,
        kind="nginx",
        coverage="full",
        coverage_start="2025-11-01T00:00:00Z",
        last_human_request="2026-01-10T08:00:00Z",
        human_window=0,
        human_recent=0,
        human_previous=0,
    )
    redirect = vhost(
        "surat.prov.example", address="*", port=80, agent=FRONT, kind="nginx", redirect="https://$host"
    )
    declared = DeclaredApp(
        "APP-5", "e-Surat", "active", owner="Setda", contact="x", urls=["https://surat.prov.example"]
    )
    out = run([https, redirect], [declared])
    assert {m.app_key for m in out.matches} == {
        "nginx:surat.prov.example:443/",
        "nginx:surat.prov.example:80/",
    }
    verdict = next(v for v in out.verdicts if v.subject == "APP-5")
    assert verdict.verdict == "safe-to-take-down", [r.text for r in verdict.reasons]
    assert [f.kind for f in out.findings if f.app_id == "APP-5"] == ["idle", "status-mismatch"]
