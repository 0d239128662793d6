"""Languages and time zones: the choice (--lang, $RONDA_LANG, the locale), dates, numbers and money
as each language writes them in the zone the reader works in, the catalog complete, and nothing
in the Indonesian report or lists left in English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ronda.collector.listing import Filters
from ronda.collector.lists import Output, apps_list, candidates_list, findings_list, hosts_list
from ronda.collector.reconcile import texts as T
from ronda.collector.report import build_report, render_html
from ronda.collector.report.approval import render_approval
from ronda.collector.store import Store
from ronda.collector.words import Words
from ronda.i18n import LANGUAGES, LanguageError, choose_language, choose_timezone, get
from ronda.i18n.catalog import extract_messages, problems


@pytest.mark.parametrize(
    "explicit, environ, expected",
    [
        (None, {}, "en"),
        ("id", {"LANG": "en_US.UTF-8"}, "id"),
        (None, {"RONDA_LANG": "id", "LANG": "en_US.UTF-8"}, "id"),
        ("en", {"RONDA_LANG": "id"}, "en"),
        (None, {"LANG": "id_ID.UTF-8"}, "id"),  # an Indonesian desktop or server locale
        (None, {"LC_ALL": "in_ID"}, "id"),  # the old code some Java-era systems still set
        (None, {"LC_MESSAGES": "id_ID@euro", "LANG": "en_GB.UTF-8"}, "id"),
        (None, {"LANG": "C.UTF-8"}, "en"),
        (None, {"LANG": "fr_FR.UTF-8"}, "en"),  # a locale ronda does not speak falls back
        ("id-ID", {}, "id"),
    ],
)
def test_language_choice(explicit, environ, expected):
    assert choose_language(explicit, environ) == expected


@pytest.mark.parametrize("explicit, environ", [("fr", {}), (None, {"RONDA_LANG": "jv"})])
def test_a_language_asked_for_that_ronda_does_not_speak_is_an_error(explicit, environ):
    with pytest.raises(LanguageError, match="ronda speaks en .*, id"):
        choose_language(explicit, environ)


@pytest.mark.parametrize(
    "explicit, environ, zone",
    [
        ("WIB", {}, "Asia/Jakarta"),
        ("wita", {}, "Asia/Makassar"),
        ("WIT", {}, "Asia/Jayapura"),
        ("Asia/Makassar", {}, "Asia/Makassar"),
        (None, {"RONDA_TZ": "WITA", "TZ": "UTC"}, "Asia/Makassar"),
        (None, {"TZ": ":Asia/Jayapura"}, "Asia/Jayapura"),
    ],
)
def test_time_zone_choice(explicit, environ, zone):
    assert choose_timezone(explicit, environ).key == zone


def test_an_unknown_time_zone_is_an_error_that_names_the_choices():
    with pytest.raises(LanguageError, match="WIB, WITA, WIT"):
        choose_timezone("Borneo/Samarinda", {})


MOMENT = "2026-12-07T02:07:26Z"  # 10.07 in Samarinda, Kalimantan Timur


@pytest.mark.parametrize(
    "lang, tz, expected",
    [
        ("id", "WITA", "7 Desember 2026 pukul 10.07 WITA"),
        ("id", "WIB", "7 Desember 2026 pukul 09.07 WIB"),
        ("id", "WIT", "7 Desember 2026 pukul 11.07 WIT"),
        ("en", "WITA", "December 7, 2026 at 10:07\u202fAM WITA"),
        ("en", "UTC", "December 7, 2026 at 2:07\u202fAM UTC"),
    ],
)
def test_date_and_time_per_language_and_zone(lang, tz, expected):
    assert get(lang, tz).datetime(MOMENT) == expected


def test_the_day_is_the_readers_day():
    """Late evening UTC is already the next morning in Papua."""
    assert get("id", "WIT").date("2026-12-06T17:30:00Z") == "7 Desember 2026"
    assert get("id", "UTC").date("2026-12-06T17:30:00Z") == "6 Desember 2026"
    assert get("id", "WIT").date("2026-12-06") == "6 Desember 2026"  # a bare day is not moved


@pytest.mark.parametrize(
    "lang, money, number",
    [("id", "Rp 50.000.000", "1.234.567,5"), ("en", "IDR 50,000,000", "1,234,567.5")],
)
def test_money_and_numbers_per_language(lang, money, number):
    speaking = get(lang, "WITA")
    assert speaking.money(50_000_000) == money
    assert speaking.number(1234567.5) == number
    assert speaking.money(None) == "-"


def test_the_catalog_is_complete_and_compiled():
    """Every message the code asks for has an Indonesian translation with the same placeholders,
    and the .mo ronda loads is compiled from the .po a translator edits."""
    template = extract_messages()
    assert len(template) > 200
    for language in LANGUAGES:
        if language != "en":
            assert problems(language, template) == []


def test_every_reconcile_sentence_has_a_translation():
    """Each template of the reasons and findings, filled with sample values, comes back in Indonesian
    with no English left and its values written the Indonesian way."""
    words = Words(get("id", "WITA"))
    samples = {"date": "2026-11-30", "start": "2026-08-08", "money": "12.000.000", "status": "inactive"}
    for group, templates in T.TEXTS.items():
        for template in templates:
            values = {
                name: samples.get(name, "42" if T.KINDS.get(name) == "number" else "x")
                for name in T.PLACEHOLDER.findall(template.message)
            }
            if "trend" in values:
                values["trend"] = "rising"
            english = template(**values)
            words.lang.missing = set()
            translated = words.sentence(group, english)
            assert words.lang.missing == set(), english
            if group not in ("dependency", "depended-on") or template.message != "{why}":
                assert translated != english or template.message in (
                    "{why}",
                    "{app_id} {name}: {problems}",
                ), english
            if "date" in values:
                assert "30 Nov 2026" in translated, translated


def _tracked(language: str = "id"):
    lang = get(language, "WITA")
    lang.missing = set()
    return lang


@pytest.mark.servers  # the demo fleet's agents report over gRPC
def test_the_indonesian_report_and_sheet_leave_nothing_in_english(fleet_db):
    lang = _tracked()
    report = build_report(Store(fleet_db), now=datetime.now(UTC))
    html = render_html(report, lang=lang) + render_approval(report, lang)
    assert lang.missing == set()
    for english in (
        "Safe to take down",
        "Evidence",
        "Decision",
        "never seen",
        "Annual cost",
        "insufficient-evidence",
    ):
        assert f">{english}<" not in html


@pytest.mark.servers  # the demo fleet
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_the_indonesian_lists_leave_nothing_in_english(fleet_db, fmt):
    lang = _tracked()
    store = Store(fleet_db)
    out = Output(fmt, lang)
    text = "".join(
        str(listing(store, Filters(), out))
        for listing in (hosts_list, apps_list, findings_list, candidates_list)
    )
    text += str(candidates_list(store, Filters(verdicts=("review", "keep", "insufficient-evidence")), out))
    assert lang.missing == set()
    for english in ("matches no declared app", "no human use", "humans used it", "logs cover"):
        assert english not in text
