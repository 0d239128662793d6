"""The HTML report, rendered by a real headless Chromium: it loads with no
errors and no requests beyond its own file, and lists the expected candidates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import Browser
from reconcile_fleet import FLEET, INVENTORY, cli_run, snapshot

from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # headless Chromium loads the report

ROWS = "[...document.querySelectorAll('#%s tbody tr[data-subject]')].map(r => r.dataset.subject)"


def make_report(tmp_path: Path) -> Path:
    db = tmp_path / "ronda.db"
    Store(db).ingest(snapshot(1, FLEET))
    (tmp_path / "inv.csv").write_text(INVENTORY)
    cli_run(db, "inventory", "import", str(tmp_path / "inv.csv"))
    cli_run(db, "reconcile")
    cli_run(
        db, "decide", "APP-2", "take-down", "--reason", "replaced by e-office <2021>", "--by", "Kadis Kominfo"
    )
    out = tmp_path / "report.html"
    cli_run(db, "report", "--html", str(out))
    return out


def test_report_loads_clean_in_chromium_and_lists_the_candidates(tmp_path):
    report = make_report(tmp_path)
    html = report.read_text()
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    with Browser(tmp_path) as browser:
        page = browser.load(report.as_uri())
        assert page.errors == []
        assert page.requests == [report.as_uri()]
        assert browser.evaluate(page, ROWS % "candidates-table") == [
            "APP-2",
            "agent-web1/nginx:forgotten.prov.example:80/",
        ]
        assert browser.evaluate(page, ROWS % "review-table") == ["APP-3"]
        cards = browser.evaluate(
            page,
            "Object.fromEntries([...document.querySelectorAll('.card')].map("
            "c => [c.dataset.count, c.querySelector('b').textContent]))",
        )
        assert cards["safe to take down"] == "2" and cards["hidden (undeclared)"] == "1"
        assert cards["missing (declared, not found)"] == "1" and cards["keep"] == "1"
        decision = browser.evaluate(
            page,
            "document.querySelector('#candidates-table tr[data-subject=\"APP-2\"]').cells[8].textContent",
        )
        assert "take-down" in decision and "Kadis Kominfo" in decision and "<2021>" in decision
        charts = browser.evaluate(page, "document.querySelectorAll('#candidates-table svg').length")
        assert charts == 2


def test_the_harness_catches_external_requests_and_errors(tmp_path):
    """A page that reaches out (to a closed loopback port) and throws is caught: the clean result
    above means something."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="http://127.0.0.1:9/x.png"><script>throw new Error("x")</script></body></html>'
    )
    with Browser(tmp_path) as browser:
        page = browser.load(bad.as_uri())
    assert "http://127.0.0.1:9/x.png" in page.requests
    assert any("exception" in e for e in page.errors)
