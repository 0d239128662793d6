"""Who sent a request: crawler list from crawler-user-agents, configurable monitors; and the table summary."""

from __future__ import annotations

from datetime import UTC, date, datetime

import crawleruseragents
import pytest
from usage_lines import BROWSER, PHONE

from ronda.agent.usage import UsageOptions, summarize
from ronda.agent.usage.classify import BOT, HUMAN, MONITOR, Classifier, crawler_matcher
from ronda.model import DailyUsage, Usage

BROWSERS = [
    BROWSER,
    PHONE,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
]


def test_matcher_agrees_with_the_package_on_every_listed_instance():
    matcher = crawler_matcher()
    instances = [
        i for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for i in entry.get("instances", [])
    ]
    assert len(instances) > 1000
    for ua in instances + BROWSERS:
        assert matcher.search(ua) == crawleruseragents.is_crawler(ua), ua
    assert not any(matcher.search(ua) for ua in BROWSERS)


@pytest.mark.parametrize(
    "ua,expected",
    [
        (BROWSER, HUMAN),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", BOT),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", BOT),
        ("python-requests/2.32.3", BOT),
        ("", BOT),
        ("-", BOT),
        ("UptimeRobot/2.0", MONITOR),  # listed as a crawler too: monitors are decided first
        ("kube-probe/1.30", MONITOR),
        ("Zabbix", MONITOR),
        ("ELB-HealthChecker/2.0", MONITOR),
    ],
)
def test_agent_classes(ua, expected):
    assert Classifier(UsageOptions()).agent_class(ua.encode()) == expected


def test_monitors_are_configurable():
    options = UsageOptions(
        monitor_agents=("MyChecker",), monitor_addresses=("10.9.0.0/16", "192.0.2.1", "bogus")
    )
    classifier = Classifier(options)
    assert classifier.agent_class(b"MyChecker/1.0") == MONITOR
    assert classifier.agent_class(b"kube-probe/1.30") == HUMAN  # the defaults were replaced
    assert classifier.monitor_address(b"10.9.200.1") and classifier.monitor_address(b"192.0.2.1")
    assert not classifier.monitor_address(b"10.8.0.1") and not classifier.monitor_address(b"not-an-ip")


def test_summary_line():
    usage = Usage(
        coverage="full",
        coverage_start=datetime(2026, 8, 1, tzinfo=UTC),
        last_human_request=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        daily=[
            DailyUsage("2026-09-01", human=99, bot=7),
            DailyUsage("2026-11-20", human=1234, bot=50),
            DailyUsage("2026-11-27", human=0, bot=6),
        ],
    )
    assert (
        summarize(usage, today=date(2026, 11, 27))
        == "last human 2026-11-20, 30d: 1,234 human / 56 bot (logs since 2026-08-01)"
    )
    assert summarize(Usage(coverage="none")) == "no access log"
    assert summarize(None) == "no access log"
    assert summarize(Usage(coverage="unreadable")) == "access log unreadable"
    partial = Usage(coverage="partial", coverage_start=datetime(2026, 11, 1, tzinfo=UTC))
    assert (
        summarize(partial, today=date(2026, 11, 27))
        == "last human never, 30d: 0 human / 0 bot (logs since 2026-11-01, partial)"
    )
