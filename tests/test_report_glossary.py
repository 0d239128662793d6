"""The report's glossary: every term a decision maker meets in the report (the verdicts, the kinds of
finding, log coverage, app keys, OPD) explained once, in the reader's language, Indonesian or
English, so a Kepala Dinas reading "bukti belum cukup" or "tersembunyi" learns what it means on the
same page.

The fleet is naming_fleet's (hidden default vhosts, an idle declared app, one that runs nowhere).
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from ronda.collector.reconcile.queries import KINDS
from ronda.collector.reconcile.verdicts import VERDICTS
from ronda.collector.report import build_report, render_html
from ronda.collector.report.glossary import TERMS
from ronda.collector.store import Store
from ronda.collector.words import Words
from ronda.i18n import get


def _glossary(html: str) -> dict[str, str]:
    section = re.findall(r'<section id="glossary"><h2>(.*?)</h2><dl class="glossary">(.*?)</dl>', html)
    assert len(section) == 1  # one glossary in the page
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", section[0][1])
    terms = [unescape(t) for t, _ in pairs]
    assert len(terms) == len(set(terms)) == len(TERMS)  # each term once
    return {unescape(t).casefold(): unescape(d) for t, d in pairs}


@pytest.mark.parametrize("code, heading", [("id", "Glosarium"), ("en", "Glossary")])
def test_every_term_the_report_uses_is_explained_once(fleet, code, heading):
    lang = get(code, "WITA")
    words = Words(lang)
    html = render_html(build_report(Store(fleet)), lang=lang)
    assert f'<section id="glossary"><h2>{heading}</h2>' in html
    glossary = _glossary(html)
    for verdict in VERDICTS:  # a verdict's label is a term, word for word
        assert words.verdict(verdict).casefold() in glossary, verdict
    for kind in KINDS:  # a finding's label ("hidden (undeclared)") is named by a term
        label = words.kind(kind).split(" (")[0].casefold()
        assert any(label in term for term in glossary), (kind, label, list(glossary))
    assert all(len(text) > 20 for text in glossary.values())  # explained, not repeated


def test_indonesian_explains_every_term_in_indonesian(fleet):
    indonesian = _glossary(render_html(build_report(Store(fleet)), lang=get("id", "WITA")))
    english = _glossary(render_html(build_report(Store(fleet)), lang=get("en", "WITA")))
    assert len(indonesian) == len(english)
    untranslated = [t for t in indonesian if t in english and t != "opd"]  # OPD is an Indonesian word
    assert untranslated == []
    assert not set(indonesian.values()) & set(english.values())
    assert "tidak dipakai" in indonesian and "tanpa pemilik" in indonesian
