"""The report and an app's evidence as the console shows them: the HTML `ronda report` writes, in
the console's language and time zone."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from markupsafe import Markup

from ronda.collector.report import build_report, render_html
from ronda.collector.report.evidence import app_page
from ronda.collector.report.html import CSP, STYLE
from ronda.collector.store import Store
from ronda.collector.words import Words
from ronda.i18n import Lang

REPORT_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
SCOPE = ".ronda-evidence"


def report_page(store: Store, lang: Lang) -> str:
    return render_html(build_report(store), lang=lang)


def title(told: dict[str, Any]) -> str:
    declared, verdict, runs = told["declared"], told["verdict"], told["runs_on"]
    if declared:
        return f"{declared['app_id']} {declared['name']}"
    if verdict and verdict.get("name"):
        return str(verdict["name"])
    return f"{runs[0]['hostname']}/{runs[0]['app_key']}" if runs else told["subject"]


def evidence_html(told: dict[str, Any], lang: Lang) -> Markup:
    """What `ronda explain` tells, as the report's page for one app."""
    page = app_page(told, Words(lang), datetime.now(lang.tz).date())
    return Markup(f'<div class="{SCOPE[1:]}">{page}</div>')


@cache
def evidence_css() -> str:
    """The report's stylesheet, each rule confined to the evidence (Datasette styles the rest of the
    page); print rules left out."""
    return _scoped(re.sub(r"/\*.*?\*/", "", STYLE, flags=re.S))


def _scoped(css: str) -> str:
    out = []
    for head, body in _blocks(css):
        if head.startswith("@media screen"):
            out.append(f"{head} {{{_scoped(body)}}}")
        elif head.startswith("@"):
            continue  # @page and @media print: the console is not printed as the report is
        elif head == ":root":
            out.append(f":root {{{body}}}")
        else:
            selectors = (_within(s.strip()) for s in head.split(","))
            out.append(f"{', '.join(selectors)} {{{body}}}")
    return "\n".join(out)


def _within(selector: str) -> str:
    if selector in ("*", "body", "html"):
        return SCOPE
    return f"{SCOPE} {selector}"


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level (selector or at-rule, body) pairs; a body may hold blocks of its own."""
    blocks, depth, start, head = [], 0, 0, ""
    for i, char in enumerate(css):
        if char == "{":
            if depth == 0:
                head, start = css[start:i].strip(), i + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                blocks.append((head, css[start:i].strip()))
                start = i + 1
    return blocks
