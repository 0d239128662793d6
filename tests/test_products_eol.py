"""Support standing of a running version, with a fixed "today": its release cycle, the end of that
cycle's security support, and whether a newer release of the cycle was out when the data was taken."""

from __future__ import annotations

from datetime import date

import pytest

from ronda.agent.inspect.eol import cycle_of, standing
from ronda.agent.inspect.identify import with_support
from ronda.agent.inspect.signatures import catalogue
from ronda.model import Framework

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    "product,version,cycle,end,supported,outdated",
    [
        # WordPress supports only its newest branch: 6.1 ended when 6.2 came out
        ("wordpress", "6.1.9", "6.1", date(2023, 3, 29), False, False),
        ("wordpress", "6.8.1", "6.8", date(2025, 12, 2), False, True),
        ("wordpress", "6.9", "6.9", None, True, True),  # no end announced; 6.9.1 was out
        ("wordpress", "5.0.24", "5.0", date(2019, 2, 21), False, False),
        ("wordpress", "3.9.40", "3", date(2014, 9, 4), False, False),  # older releases: one cycle
        # cycles of different depth: Drupal 7 ("7") next to 10.x minors
        ("drupal", "7.98", "7", date(2025, 1, 5), False, True),
        ("drupal", "10.2.5", "10.2", date(2024, 12, 9), False, True),
        # LTS branches outlive newer ones
        ("zabbix", "6.0.14", "6.0", date(2027, 2, 28), True, True),
        ("zabbix", "6.4.21", "6.4", date(2024, 12, 31), False, False),
        ("moodle", "4.1.22", "4.1", date(2025, 12, 8), False, False),
        ("moodle", "4.5.3", "4.5", date(2027, 10, 4), True, True),
        ("mediawiki", "1.39.17", "1.39", date(2025, 12, 31), False, False),
        ("laravel", "8.83.26", "8", date(2023, 1, 24), False, True),
        ("laravel", "12.3.0", "12", date(2027, 2, 24), True, False),
        ("django", "4.2.29", "4.2", date(2026, 4, 30), False, False),
        ("django", "5.2.1", "5.2", date(2028, 4, 30), True, True),
        ("tomcat", "10.1.60", "10.1", None, True, False),
        ("tomcat", "8.5.100", "8.5", date(2024, 3, 31), False, False),
        ("spring-boot", "2.7.18", "2.7", date(2023, 6, 30), False, False),
        ("joomla", "3.10.12", "3", date(2023, 8, 17), False, False),
        ("joomla", "2.5.28", "2.5", date(2014, 12, 31), False, False),
        ("redmine", "5.0.4", "5.0", date(2025, 9, 21), False, True),
        # from endoflife.date's product files: majors, minors, LTS lines, ESRs, patch releases
        ("nextcloud", "27.1.11", "27", date(2024, 6, 30), False, False),
        ("nextcloud", "30.0.4", "30", date(2025, 9, 30), False, True),
        ("gitlab", "16.8.1", "16.8", date(2024, 4, 18), False, True),
        ("grafana", "8.5.27", "8", date(2023, 6, 9), False, False),
        ("grafana", "11.5.1", "11.5", None, True, True),  # the newest minor when the data was taken
        ("jenkins", "2.440.3", "2.440", date(2024, 5, 15), False, False),  # an LTS line
        ("keycloak", "24.0.5", "24.0", date(2024, 6, 10), False, False),
        ("mattermost", "9.11.2", "9.11", date(2025, 5, 15), False, True),  # an ESR outlives newer monthlies
        ("magento", "2.4.5-p1", "2.4.5", date(2024, 11, 25), False, False),  # a patch release
        ("magento", "1.9.4.3", "1.9", date(2020, 6, 1), False, False),
        ("typo3", "11.5.28", "11", date(2024, 10, 31), False, False),
    ],
)
def test_standing(product, version, cycle, end, supported, outdated) -> None:
    s = standing(catalogue().by_name[product], version)
    assert s is not None
    assert (s.cycle, s.end_of_support, s.supported_on(TODAY), s.outdated) == (cycle, end, supported, outdated)
    assert s.source.startswith("https://")


def test_the_last_day_is_still_supported() -> None:
    s = standing(catalogue().by_name["zabbix"], "7.2.3")
    assert s.supported_on(date(2025, 12, 31)) and not s.supported_on(date(2026, 1, 1))


@pytest.mark.parametrize(
    "product,version",
    [
        ("wordpress", ""),  # no version: nothing to place
        ("wordpress", "2.9.2"),  # older than the data reaches
        ("phpmyadmin", "5.2.1"),  # a product without support data
        ("mediawiki", "1.4.2"),  # "1.4" is not a prefix of "1.41"
    ],
)
def test_no_standing_without_data(product: str, version: str) -> None:
    assert standing(catalogue().by_name[product], version) is None


def test_prefixes_are_whole_components() -> None:
    releases = catalogue().by_name["mediawiki"].support.releases
    assert cycle_of(releases, "1.41.0").cycle == "1.41"
    assert cycle_of(releases, "1.4") is None


def test_the_framework_carries_its_standing() -> None:
    fw = with_support(Framework("wordpress", "6.4.3", "/srv/wp/wp-includes/version.php", "php", "file"))
    assert (fw.release_cycle, fw.end_of_support, fw.latest_in_cycle) == ("6.4", "2024-04-02", "6.4.7")
    assert fw.support_source == "https://endoflife.date/wordpress (2026-02-03)"
    untouched = with_support(Framework("php", "", "/srv/x/index.php", "php"))
    assert (untouched.release_cycle, untouched.end_of_support) == ("", "")


def test_every_support_date_is_sane() -> None:
    """Dates in the data file are after 2000 and the data was taken before today's fixed date."""
    for p in catalogue().products:
        if p.support is None:
            continue
        assert p.support.taken <= TODAY, p.name
        for r in p.support.releases:
            assert r.end is None or r.end.year >= 2000, (p.name, r.cycle)
    assert sum(1 for p in catalogue().products if p.support) >= 12
