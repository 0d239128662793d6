"""Findings, each kind with a case where it holds and one where it does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import reconcile
from ronda.collector.reconcile.findings import framework_differs
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Inputs, Listen, ListenerInfo, iso

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


HOSTS = {
    "a": HostInfo("a", "web-a", addresses=("10.0.0.5",), last_seen=ago(0.05)),
    "b": HostInfo("b", "web-b", addresses=("10.0.0.6",), last_seen=ago(0.05)),
}
USED = DiscoveredApp(
    "a",
    "nginx:app.example:80/",
    "nginx",
    ("app.example",),
    (Listen("*", 80),),
    framework="laravel",
    framework_version="10.48.2",
    coverage="full",
    coverage_start=ago(200),
    last_request=ago(1),
    last_human_request=ago(1),
    human_window=500,
)
IDLE = replace(USED, last_human_request=ago(120), human_window=0)
# The port-80 server of an https site, as nginx and Apache discovery report it (framework "redirect").
REDIRECT = replace(
    IDLE, app_key="nginx:app.example:80/#redirect", framework="redirect", redirect="https://app.example/"
)


def declared(**kw) -> DeclaredApp:
    base = dict(
        app_id="APP-1",
        name="App",
        status="active",
        owner="Dinas X",
        contact="x@example",
        urls=["app.example"],
    )
    base.update(kw)
    return DeclaredApp(**base)


def kinds(declared_apps, apps, listeners=(), config=ReconcileConfig()) -> dict[str, list[str]]:
    out = reconcile(
        Inputs(declared=list(declared_apps), discovered=list(apps), hosts=HOSTS, listeners=list(listeners)),
        config,
        NOW,
    )
    found: dict[str, list[str]] = {}
    for f in out.findings:
        found.setdefault(f.kind, []).append(f.summary)
    return found


CASES = [
    ("hidden: runs, declared nowhere", [], [USED], "hidden", True),
    ("hidden: not when declared", [declared()], [USED], "hidden", False),
    ("hidden: not for a redirect-only server", [], [REDIRECT], "hidden", False),
    ("idle: not for a redirect-only server", [], [REDIRECT], "idle", False),
    ("missing: declared active, runs nowhere", [declared(urls=["gone.example"])], [USED], "missing", True),
    ("missing: not when it runs", [declared()], [USED], "missing", False),
    (
        "missing: not when declared retired",
        [declared(urls=["gone.example"], status="retired")],
        [],
        "missing",
        False,
    ),
    ("idle: no human use, logs cover the window", [declared()], [IDLE], "idle", True),
    ("idle: not when used", [declared()], [USED], "idle", False),
    (
        "idle: not when logs are too short",
        [declared()],
        [replace(IDLE, coverage_start=ago(20))],
        "idle",
        False,
    ),
    (
        "status-mismatch: declared inactive, still served",
        [declared(status="inactive")],
        [USED],
        "status-mismatch",
        True,
    ),
    ("status-mismatch: declared active but idle", [declared()], [IDLE], "status-mismatch", True),
    ("status-mismatch: not when active and used", [declared()], [USED], "status-mismatch", False),
    ("unowned: no contact", [declared(contact="")], [USED], "unowned", True),
    ("unowned: owner written as unknown", [declared(owner="Tidak diketahui")], [USED], "unowned", True),
    ("unowned: not with owner and contact", [declared()], [USED], "unowned", False),
    ("drift: runs on another host than declared", [declared(host="10.0.0.6")], [USED], "drift", True),
    ("drift: not on the declared host", [declared(host="web-a")], [USED], "drift", False),
    ("drift: another framework", [declared(framework="CodeIgniter")], [USED], "drift", True),
    ("drift: another major version", [declared(framework="Laravel 8")], [USED], "drift", True),
    (
        "drift: not for the same framework and version",
        [declared(framework="Laravel 10")],
        [USED],
        "drift",
        False,
    ),
]


@pytest.mark.parametrize("case, decl, apps, kind, holds", CASES, ids=[c[0] for c in CASES])
def test_finding_rules(case, decl, apps, kind, holds):
    assert (kind in kinds(decl, apps)) is holds


def test_unknown_owner_against_a_list_of_known_agencies():
    config = ReconcileConfig(known_owners=["Dinas Kesehatan", "Bappeda"])
    assert "unowned" in kinds([declared(owner="Dinas X")], [USED], config=config)
    assert "unowned" not in kinds([declared(owner="bappeda")], [USED], config=config)


@pytest.mark.parametrize(
    "sock, holds",
    [
        (ListenerInfo("a", "tcp", "0.0.0.0", 3306, "mysqld", (), True), True),
        (ListenerInfo("a", "tcp", "127.0.0.1", 3306, "mysqld", (), False), False),  # not public
        (ListenerInfo("a", "tcp", "0.0.0.0", 22, "sshd", (), True), False),  # expected: sshd
        (ListenerInfo("a", "tcp", "0.0.0.0", 80, "nginx", (), True), False),  # an app's port
        (ListenerInfo("a", "tcp", "0.0.0.0", 8080, "java", ("tomcat:8080",), True), False),  # owned by an app
    ],
)
def test_exposed_listener(sock, holds):
    assert ("exposed-listener" in kinds([declared()], [USED], [sock])) is holds


@pytest.mark.parametrize(
    "want, have, version, differs",
    [
        ("WordPress", "wordpress", "6.5", False),
        ("CI", "codeigniter", "3.1.13", False),
        ("PHP", "laravel", "10.1", False),  # a language, not a framework: nothing to compare
        ("Laravel 8", "laravel", "8.83.27", False),
        ("Laravel 8", "laravel", "10.1", True),
        ("Joomla", "wordpress", "6.5", True),
    ],
)
def test_framework_comparison(want, have, version, differs):
    assert (framework_differs(want, have, version) is not None) is differs


def test_a_redirect_record_gets_no_verdict():
    out = reconcile(
        Inputs(declared=[], discovered=[REDIRECT, USED], hosts=HOSTS, listeners=[]), ReconcileConfig(), NOW
    )
    assert [v.subject for v in out.verdicts] == [f"a/{USED.app_key}"]


def test_hidden_sub_app_names_the_declared_vhost_it_lives_in():
    portal = replace(USED, app_key="nginx:app.example:80/")
    api = replace(
        USED, app_key="nginx:app.example:80/api", path_prefix="/api", parent_key="nginx:app.example:80/"
    )
    found = kinds([declared()], [portal, api])
    assert found["hidden"] == [
        "app.example/api on web-a matches no declared app (it is served inside the vhost of declared APP-1)"
    ]
