"""Verdict rules, each with a yes and a no case, including every never-safe case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import reconcile
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Inputs, Listen, Subject, iso
from ronda.collector.reconcile.verdicts import INSUFFICIENT, KEEP, REVIEW, SAFE, verdict_for

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CONFIG = ReconcileConfig()  # 90 idle days, 48 h stale, 10 requests low use


def ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


FRESH = {"a": HostInfo("a", "web-a", last_seen=ago(0.1)), "b": HostInfo("b", "web-b", last_seen=ago(0.2))}

IDLE = DiscoveredApp(
    "a",
    "nginx:old.example:80/",
    "nginx",
    ("old.example",),
    (Listen("*", 80),),
    coverage="full",
    coverage_start=ago(200),
    last_request=ago(1),
    last_human_request=ago(150),
    human_window=0,
    human_recent=0,
    human_previous=0,
)


def app(**changes) -> DiscoveredApp:
    return replace(IDLE, **changes)


def decl(**kw) -> DeclaredApp:
    return DeclaredApp(
        "APP-1", "Old app", kw.pop("status", "active"), owner="Dinas X", contact="x@example", **kw
    )


def verdict(apps, declared=None, hosts=FRESH, inbound=(), config=CONFIG):
    subject = Subject(declared.app_id if declared else apps[0].handle, declared, list(apps))
    return verdict_for(subject, hosts, list(inbound), None, config, NOW)


CASES = [
    # (case, apps, declared, hosts, inbound, expected verdict, a text the reasons must hold)
    ("idle, covered, fresh, unneeded", [IDLE], None, FRESH, (), SAFE, "no human use in the last 90 days"),
    ("declared, idle and covered", [IDLE], decl(), FRESH, (), SAFE, "logs cover 200 days"),
    (
        "never safe: humans used it inside the window",
        [app(last_human_request=ago(5), human_window=300)],
        None,
        FRESH,
        (),
        KEEP,
        "humans used it 5 days ago",
    ),
    (
        "humans used it just outside the window",
        [app(last_human_request=ago(91))],
        None,
        FRESH,
        (),
        SAFE,
        "last: 2026-03-02",
    ),
    (
        "barely used: review, not keep",
        [app(last_human_request=ago(5), human_window=3)],
        None,
        FRESH,
        (),
        REVIEW,
        "only 3 human requests in 90 days",
    ),
    (
        "never safe: logs do not cover the window",
        [app(coverage_start=ago(30))],
        None,
        FRESH,
        (),
        INSUFFICIENT,
        "logs cover only 30 days",
    ),
    (
        "logs cover exactly the window",
        [app(coverage_start=ago(90))],
        None,
        FRESH,
        (),
        SAFE,
        "logs cover 90 days",
    ),
    (
        "never safe: no readable log",
        [app(coverage="none", coverage_start=None)],
        None,
        FRESH,
        (),
        INSUFFICIENT,
        "no readable access log",
    ),
    (
        "never safe: logs only partly readable",
        [app(coverage="partial")],
        None,
        FRESH,
        (),
        INSUFFICIENT,
        "partly readable",
    ),
    (
        "never safe: the host's last snapshot is stale",
        [IDLE],
        None,
        {"a": HostInfo("a", "web-a", last_seen=ago(3))},
        (),
        INSUFFICIENT,
        "last reported 72 hours ago",
    ),
    (
        "a snapshot inside the stale limit is fine",
        [IDLE],
        None,
        {"a": HostInfo("a", "web-a", last_seen=ago(1.9))},
        (),
        SAFE,
        "no human use",
    ),
    ("never safe: the host never reported", [IDLE], None, {}, (), INSUFFICIENT, "has never reported"),
    (
        "never safe: another app proxies to it",
        [IDLE],
        None,
        FRESH,
        [("a/nginx:portal:80/api", "portal/api proxies to it (http://127.0.0.1:3000)")],
        REVIEW,
        "proxies to it",
    ),
    (
        "never safe: a shared service declared active",
        [IDLE],
        decl(app_class="common"),
        FRESH,
        (),
        REVIEW,
        "shared/common service still in use (declared active",
    ),
    (
        "never safe: a retired shared service still receiving requests",
        [app(last_request=ago(2))],
        decl(app_class="common", status="retired"),
        FRESH,
        (),
        REVIEW,
        "last request 2026-05-30",
    ),
    (
        "a retired shared service no longer in use",
        [app(last_request=ago(120))],
        decl(app_class="common", status="retired"),
        FRESH,
        (),
        SAFE,
        "declared retired",
    ),
    (
        "an agency-specific app declared active is not blocked",
        [IDLE],
        decl(app_class="specific"),
        FRESH,
        (),
        SAFE,
        "no human use",
    ),
    ("superseded and unused", [IDLE], decl(superseded_by="APP-9"), FRESH, (), SAFE, "superseded by APP-9"),
    (
        "superseded but still used",
        [app(last_human_request=ago(3), human_window=900)],
        decl(superseded_by="APP-9"),
        FRESH,
        (),
        REVIEW,
        "move its users first",
    ),
    (
        "declared inactive but used",
        [app(last_human_request=ago(3), human_window=900)],
        decl(status="inactive"),
        FRESH,
        (),
        REVIEW,
        "declared inactive but humans still use it",
    ),
    ("declared in development", [IDLE], decl(status="in-development"), FRESH, (), REVIEW, "in development"),
    (
        "one of two instances lacks coverage",
        [IDLE, app(agent_id="b", coverage_start=ago(10))],
        decl(),
        FRESH,
        (),
        INSUFFICIENT,
        "logs cover only 10 days",
    ),
    (
        "one of two instances is used",
        [IDLE, app(agent_id="b", last_human_request=ago(1), human_window=50)],
        decl(),
        FRESH,
        (),
        KEEP,
        "humans used it 1 day ago",
    ),
    ("declared but found nowhere", [], decl(), FRESH, (), REVIEW, "found on no host"),
]


@pytest.mark.parametrize(
    "case, apps, declared, hosts, inbound, expected, text", CASES, ids=[c[0] for c in CASES]
)
def test_verdict_rules(case, apps, declared, hosts, inbound, expected, text):
    v = verdict(apps, declared, hosts, inbound)
    assert v.verdict == expected, [r.text for r in v.reasons]
    assert any(text in r.text for r in v.reasons), [r.text for r in v.reasons]


def test_never_safe_when_every_blocker_holds_at_once():
    v = verdict(
        [app(coverage_start=ago(10))],
        decl(app_class="common"),
        {"a": HostInfo("a", last_seen=ago(9))},
        [("x", "x proxies to it")],
    )
    assert v.verdict == REVIEW
    rules = {r.rule for r in v.reasons}
    assert {"depended-on", "shared-service", "coverage", "stale-host"} <= rules


def test_figures_carry_the_evidence():
    v = verdict([IDLE], decl(annual_cost=45_000_000))
    f = v.figures
    assert f["last_human_request"] == "2026-01-02T12:00:00Z"
    assert f["coverage_start"] == "2025-11-13T12:00:00Z" and f["coverage"] == "full"
    assert f["human_requests"] == 0 and f["trend"] == "none" and f["annual_cost"] == 45_000_000
    assert f["owner"] == "Dinas X" and f["hosts"] == ["web-a"]
    assert any("Rp 45.000.000" in r.text for r in v.reasons)


@pytest.mark.parametrize("idle_days, expected", [(90, SAFE), (180, KEEP)])
def test_the_window_comes_from_the_config(idle_days, expected):
    v = verdict([app(coverage_start=ago(400), human_window=25)], config=ReconcileConfig(idle_days=idle_days))
    assert v.verdict == expected


def test_engine_finds_dependencies_from_proxies_and_sub_apps():
    backend = app(app_key="node:3000", server_names=(), listen=(Listen("127.0.0.1", 3000),))
    named = app(app_key="node:3001", server_names=(), listen=(Listen("*", 3001),))
    portal = app(app_key="nginx:portal:80/", server_names=("portal.example",))
    api = app(
        app_key="nginx:portal:80/api",
        server_names=("portal.example",),
        path_prefix="/api",
        upstream="http://127.0.0.1:3000",
        parent_key="nginx:portal:80/",
        last_human_request=ago(2),
        human_window=400,
    )
    front = app(
        app_key="nginx:front:443/",
        server_names=("front.example",),
        upstream="http://front_backend",
        upstream_servers=("127.0.0.1:3001",),
    )
    loner = app(app_key="nginx:loner:80/", server_names=("loner.example",))
    out = reconcile(Inputs(discovered=[backend, named, portal, api, front, loner], hosts=FRESH), CONFIG, NOW)
    by = {v.subject: v for v in out.verdicts}
    assert (
        by["a/node:3000"].verdict == REVIEW
        and "proxies to it (http://127.0.0.1:3000)" in by["a/node:3000"].summary
    )
    assert by["a/node:3001"].verdict == REVIEW and "front.example proxies to it" in by["a/node:3001"].summary
    assert (
        by["a/nginx:portal:80/"].verdict == REVIEW
        and "served inside this vhost" in by["a/nginx:portal:80/"].summary
    )
    assert by["a/nginx:loner:80/"].verdict == SAFE


def test_an_idle_sub_app_goes_with_its_vhost_instead_of_blocking_it():
    portal = app(app_key="nginx:portal:80/", server_names=("portal.example",))
    wiki = app(
        app_key="nginx:portal:80/wiki",
        server_names=("portal.example",),
        path_prefix="/wiki",
        parent_key="nginx:portal:80/",
    )
    out = reconcile(Inputs(discovered=[portal, wiki], hosts=FRESH), CONFIG, NOW)
    by = {v.subject: v for v in out.verdicts}
    assert by["a/nginx:portal:80/"].verdict == SAFE and by["a/nginx:portal:80/wiki"].verdict == SAFE
    assert any("is idle too: it goes with it" in r.text for r in by["a/nginx:portal:80/"].reasons)


def test_a_backend_behind_a_declared_front_is_its_dependency_not_the_app_itself():
    # nginx in front of a Node app under PM2 (named after its process, no host name of its own).
    front = app(
        app_key="nginx:lapor:443/",
        server_names=("lapor.example",),
        listen=(Listen("*", 443, True),),
        upstream="http://lapor_backend",
        upstream_servers=("127.0.0.1:3001",),
        framework="proxy",
    )
    node = app(
        app_key="node:lapor-api:3001/",
        server_names=("lapor-api",),
        listen=(Listen("*", 3001),),
        framework="express",
        framework_version="4.18.2",
    )
    declared = DeclaredApp(
        "LAPOR",
        "Lapor",
        "active",
        urls=["https://lapor.example"],
        framework="Express",
        owner="X",
        contact="y",
    )
    out = reconcile(Inputs(declared=[declared], discovered=[front, node], hosts=FRESH), CONFIG, NOW)
    assert {(m.app_key, m.rule) for m in out.matches} == {("nginx:lapor:443/", "url")}
    assert not [f for f in out.findings if f.kind in ("hidden", "drift")]
    by = {v.subject: v for v in out.verdicts}
    assert by["LAPOR"].verdict == SAFE
    assert by["a/node:lapor-api:3001/"].verdict == REVIEW
    assert (
        "lapor.example proxies to it (http://lapor_backend = 127.0.0.1:3001)"
        in by["a/node:lapor-api:3001/"].summary
    )


def test_engine_counts_declared_dependencies_of_live_apps_only():
    target = DeclaredApp("SSO", "Single sign-on", "active", urls=["old.example"], owner="X", contact="y")
    live = DeclaredApp("APP-2", "Uses SSO", "active", depends_on=["SSO"])
    retired = DeclaredApp("APP-3", "Used SSO once", "retired", depends_on=["SSO"])
    for users, expected in (([live], REVIEW), ([retired], SAFE)):
        out = reconcile(Inputs(declared=[target, *users], discovered=[IDLE], hosts=FRESH), CONFIG, NOW)
        assert {v.subject: v.verdict for v in out.verdicts}["SSO"] == expected
