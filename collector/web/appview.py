"""The report and an app's evidence as the console shows them: the same HTML as `ronda report`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from ronda.collector.reconcile.chart import weekly
from ronda.collector.reconcile.narrate import narrate
from ronda.collector.reconcile.story import coverage_date
from ronda.collector.report import build_report, render_html
from ronda.collector.report.html import CSP, usage_svg
from ronda.collector.store import Store
from ronda.collector.web.lang import Lang

WEEKS = 17
REPORT_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}


def report_page(store: Store, lang: Lang) -> str:
    return render_html(build_report(store))


def title(told: dict[str, Any]) -> str:
    declared, verdict, runs = told["declared"], told["verdict"], told["runs_on"]
    if declared:
        return f"{declared['app_id']} {declared['name']}"
    if verdict and verdict.get("name"):
        return str(verdict["name"])
    return f"{runs[0]['hostname']}/{runs[0]['app_key']}" if runs else told["subject"]


def evidence_html(told: dict[str, Any], lang: Lang) -> Markup:
    today = datetime.now(UTC).date()
    weeks = weekly(told["usage"], today, WEEKS, coverage_date(told["coverage_start"]))
    chart = usage_svg(weeks, width=680, height=120) if told["runs_on"] else ""
    text = "\n".join(narrate(told, today, WEEKS))
    return Markup(f'<div class="usage-chart">{chart}</div><pre class="explain">{escape(text)}</pre>')
