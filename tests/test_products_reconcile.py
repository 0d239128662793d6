"""End of support in reconciliation: an unsupported release left running with nobody using it is one
more reason to take it down; one that people still use is an `unsupported-version` finding."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import reconcile
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Inputs, Listen, iso

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


HOSTS = {"a": HostInfo("a", "web-dinkes", last_seen=ago(0.05))}
# WordPress 6.1.9 as Debian 12 ships it: the 6.1 branch's support ended 2023-03-29
IN_USE = DiscoveredApp(
    "a",
    "nginx:blog.dinkes.example:80/",
    "nginx",
    ("blog.dinkes.example",),
    (Listen("*", 80),),
    framework="wordpress",
    framework_version="6.1.9",
    coverage="full",
    coverage_start=ago(200),
    last_request=ago(1),
    last_human_request=ago(1),
    human_window=900,
    end_of_support="2023-03-29",
)
ABANDONED = replace(IN_USE, last_human_request=ago(150), last_request=ago(2), human_window=0)
SUPPORTED = replace(IN_USE, framework_version="6.9.1", end_of_support="")
DECLARED = DeclaredApp(
    app_id="APP-7",
    name="Blog Dinkes",
    status="active",
    owner="Dinas Kesehatan",
    contact="a@b",
    urls=["blog.dinkes.example"],
)


def run(app: DiscoveredApp, declared: list[DeclaredApp] = (), now: datetime = NOW):  # type: ignore[assignment]
    return reconcile(Inputs(declared=list(declared), discovered=[app], hosts=HOSTS), ReconcileConfig(), now)


def test_in_use_and_unsupported_is_a_finding() -> None:
    out = run(IN_USE, [DECLARED])
    [finding] = [f for f in out.findings if f.kind == "unsupported-version"]
    assert finding.summary == (
        "APP-7 on web-dinkes is in use and runs wordpress 6.1.9, whose support ended 2023-03-29"
    )
    assert finding.detail["end_of_support"] == "2023-03-29" and finding.app_id == "APP-7"
    [verdict] = out.verdicts
    assert verdict.verdict == "keep"  # people use it: the finding, not the verdict, carries the risk
    assert any(r.rule == "unsupported-version" and r.effect == "info" for r in verdict.reasons)


def test_abandoned_and_unsupported_strengthens_the_takedown_case() -> None:
    out = run(ABANDONED, [DECLARED])
    assert not [f for f in out.findings if f.kind == "unsupported-version"]
    [verdict] = out.verdicts
    assert verdict.verdict == "safe-to-take-down"
    [reason] = [r for r in verdict.reasons if r.rule == "unsupported-version"]
    assert reason.effect == "safe-to-take-down" and "support ended 2023-03-29" in reason.text


def test_supported_or_unknown_says_nothing() -> None:
    for app in (SUPPORTED, replace(IN_USE, end_of_support="")):
        out = run(app, [DECLARED])
        assert not [f for f in out.findings if f.kind == "unsupported-version"]
        assert not [r for v in out.verdicts for r in v.reasons if r.rule == "unsupported-version"]


def test_the_day_support_ends_the_finding_appears() -> None:
    """The last day of support is still supported; the next day's run finds it."""
    ending = replace(IN_USE, end_of_support="2026-12-07")
    assert not [f for f in run(ending).findings if f.kind == "unsupported-version"]
    later = run(ending, now=NOW + timedelta(days=1))
    assert [f.kind for f in later.findings if f.kind == "unsupported-version"] == ["unsupported-version"]


def test_undeclared_apps_are_named_by_their_address() -> None:
    [finding] = [f for f in run(IN_USE).findings if f.kind == "unsupported-version"]
    assert finding.summary.startswith("blog.dinkes.example on web-dinkes is in use")
