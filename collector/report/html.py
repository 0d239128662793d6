"""Render the report as one HTML page: inline CSS, no scripts, no external requests (a
Content-Security-Policy forbids them even if a value tried)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ronda import __version__
from ronda.collector.report.evidence import app_page
from ronda.collector.report.glossary import glossary
from ronda.collector.report.parts import (
    app_cell,
    breakable,
    decision_cell,
    e,
    money,
    reasons_list,
    tag,
    usage_chart,
)
from ronda.collector.report.tables import Column, table
from ronda.collector.words import Words
from ronda.i18n import Lang
from ronda.i18n import get as get_lang

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STYLE = (Path(__file__).parent / "report.css").read_text(encoding="utf-8")
COVERAGE_ORDER = ("full", "partial", "unreadable", "none", "")


def head(title: str, lang: Lang) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{e(lang.code)}"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(title)}</title><style>{STYLE}</style></head>\n"
    )


def _cards(cards: list[tuple[str, Any, str, str]], box_id: str) -> str:
    """(label, value, css class, note) cards; data-count keeps the code a test can find."""
    return (
        f'<div class="cards" id="{box_id}">'
        + "".join(
            f'<div class="card {e(css)}" data-count="{e(code)}"><b>{e(value)}</b>{e(label)}</div>'
            for code, label, value, css in cards
        )
        + "</div>"
    )


def _summary(report: dict[str, Any], words: Words) -> str:
    _, n = words._, words.lang.number
    v, c, f = report["verdicts"], report["counts"], report["findings_by_kind"]
    verdicts = [
        ("safe-to-take-down", words.verdict("safe-to-take-down"), n(v["safe-to-take-down"]), "safe"),
        ("review", words.verdict("review"), n(v["review"]), "review"),
        ("keep", words.verdict("keep"), n(v["keep"]), "keep"),
        (
            "insufficient-evidence",
            words.verdict("insufficient-evidence"),
            n(v["insufficient-evidence"]),
            "insufficient",
        ),
        (
            "candidate-cost",
            _("annual cost of the apps safe to take down"),
            words.lang.money(report["candidate_cost"]),
            "safe",
        ),
    ]
    found = [
        ("discovered", _("apps found"), n(c["discovered"]), ""),
        ("declared", _("apps declared"), n(c["declared"]), ""),
        ("matched", _("found and declared"), n(c["matched"]), ""),
        ("hidden", words.kind("hidden"), n(f.get("hidden", 0)), ""),
        ("missing", words.kind("missing"), n(f.get("missing", 0)), ""),
        ("idle", words.kind("idle"), n(f.get("idle", 0)), ""),
    ]
    safe = v["safe-to-take-down"]
    lead = _(
        "ronda recommends taking down {safe} apps, which cost {cost} a year. Each is listed below with its "
        "evidence, and has a page of its own at the end. People decide: sign the approval sheet, or record "
        "decisions with `ronda decide`."
    ).format(safe=n(safe), cost=words.lang.money(report["candidate_cost"]))
    return (
        f"<p>{e(lead)}</p>"
        + _cards(verdicts, "verdict-cards")
        + "<h3>"
        + e(_("What runs, and what is declared"))
        + "</h3>"
        + _cards(found, "summary-cards")
    )


def _coverage(report: dict[str, Any], words: Words) -> str:
    _, n = words._, words.lang.number
    cov = report["coverage"]
    cards = [
        ("hosts", _("servers reporting"), n(cov["hosts"]), ""),
        (
            "fresh",
            _("reported in the last {hours} hours").format(hours=n(cov["stale_after_hours"])),
            n(cov["fresh"]),
            "keep",
        ),
        ("stale", _("stale servers"), n(cov["stale"]), "review" if cov["stale"] else ""),
        ("ssh", _("scanned over SSH (no agent)"), n(cov["ssh"]), ""),
        (
            "unmanaged",
            words.kind("unmanaged-host"),
            n(cov["unmanaged"]),
            "review" if cov["unmanaged"] else "",
        ),
    ]
    apps = cov["apps_by_coverage"]
    total = sum(apps.values()) or 1
    names = {code: words.coverage(code) for code in COVERAGE_ORDER}
    css = {code: code or "unknown" for code in COVERAGE_ORDER}
    bar = "".join(
        f'<span class="{css[k]}" style="width:{100 * apps[k] / total:.2f}%" title="{e(names[k])}"></span>'
        for k in COVERAGE_ORDER
        if apps[k]
    )
    legend = "".join(f'<li class="{css[k]}">{e(names[k])}: {e(n(apps[k]))}</li>' for k in COVERAGE_ORDER)
    stale = ""
    if cov["stale_hosts"]:
        stale = f"<p>{e(_('Stale servers'))}: {e(', '.join(cov['stale_hosts'][:30]))}</p>"
    return (
        _cards(cards, "coverage-cards")
        + f"<h3>{e(_('Access-log coverage of the apps found'))}</h3>"
        + f'<div class="bar" role="img" aria-label="{e(_("log coverage"))}">{bar}</div>'
        + f'<ul class="legend">{legend}</ul>'
        + stale
        + f"<h3>{e(_('How each server is covered'))}</h3>"
        + _hosts_table(cov["host_list"], words)
    )


_COVERAGE_CSS = {"agent": "keep", "ssh": "keep", "network": "review", "none": "safe"}


def _hosts_table(hosts: list[dict[str, Any]], words: Words) -> str:
    """Each server, how ronda covers it and when it last answered (what `ronda hosts` lists)."""
    _ = words._
    columns = [
        Column(_("Server"), 34),
        Column(_("Covered by"), 22),
        Column(_("Last answered"), 30),
        Column(_("Apps"), 14, "num"),
    ]
    rows, attrs = [], []
    for h in hosts:
        name = h["hostname"] or h["agent_id"]
        detail = h["agent_id"] if h["agent_id"] and h["agent_id"] != name else ", ".join(h["addresses"])
        last = e(words.lang.datetime(h["last_seen"], "medium", empty=_("never")))
        if h["stale"] and h["last_seen"]:
            last += " " + tag("review", _("stale"))
        rows.append(
            [
                f'<span class="name">{e(name)}</span>'
                + (f'<span class="key">{breakable(detail)}</span>' if detail else ""),
                tag(_COVERAGE_CSS.get(h["coverage"], ""), words.host_coverage(h["coverage"])),
                last,
                e(words.lang.number(h["apps"])) if h["coverage"] != "network" else "-",
            ]
        )
        attrs.append(f'data-host="{e(name)}" data-coverage="{e(h["coverage"])}"')
    return table("hosts-table", columns, rows, _("no host has reported yet"), attrs)


def _owners(rows: list[dict[str, Any]], words: Words) -> str:
    _, n = words._, words.lang.number
    columns = [
        Column(_("Owner (OPD)"), 24),
        Column(words.verdict("safe-to-take-down"), 10, "num"),
        Column(words.verdict("review"), 9, "num"),
        Column(words.verdict("keep"), 9, "num"),
        Column(words.verdict("insufficient-evidence"), 10, "num"),
        Column(_("Apps"), 8, "num"),
        Column(_("Annual cost of the candidates"), 15, "num"),
        Column(_("Declared annual cost"), 15, "num"),
    ]
    cells = [
        [
            e(r["owner"] or _("(undeclared or no owner)")),
            *(e(n(r[k] or 0)) for k in ("safe", "review", "keep", "insufficient", "total")),
            money(r["candidate_cost"] or 0, words),
            money(r["annual_cost"] or 0, words),
        ]
        for r in rows
    ]
    return table("owners-table", columns, cells, _("none"))


def verdict_table(rows: list[dict[str, Any]], table_id: str, with_verdict: bool, words: Words) -> str:
    _ = words._
    columns = [
        Column(_("App"), 18, "wide"),
        Column(_("Owner (OPD)"), 10),
        Column(_("Server"), 9),
        *([Column(_("Verdict"), 9)] if with_verdict else []),
        Column(_("Last human visit"), 8, "num"),
        Column(_("Logs since"), 8, "num"),
        Column(_("Use per week, 17 weeks"), 14, "wide"),
        Column(_("Annual cost"), 10, "num"),
        Column(_("Evidence"), 16 + (2 if with_verdict else 0), "wide"),
        Column(_("Decision"), 9),
    ]
    cells, attrs = [], []
    for row in rows:
        f = row["figures"]
        verdict = [tag(row["verdict"], words.verdict(row["verdict"]))] if with_verdict else []
        cells.append(
            [
                app_cell(row, words),
                e(row["owner"] or "-"),
                breakable(row["hosts"] or "-"),
                *verdict,
                e(words.day(f["last_human_request"], empty=_("never seen"))),
                e(words.day(f["coverage_start"])),
                usage_chart(row["weeks"], words),
                money(f["annual_cost"], words),
                reasons_list(row["reasons"], words, None if with_verdict else row["verdict"]),
                decision_cell(row, words),
            ]
        )
        attrs.append(f'data-subject="{e(row["subject"])}"')
    return table(table_id, columns, cells, _("none"), attrs)


def _findings(rows: list[dict[str, Any]], words: Words) -> str:
    _ = words._
    columns = [
        Column(_("Kind"), 14),
        Column(_("Server"), 12),
        Column(_("Finding"), 50, "wide"),
        Column(_("First seen"), 12, "num"),
        Column(_("Last seen"), 12, "num"),
    ]
    cells = [
        [
            tag(r["kind"], words.kind(r["kind"])),
            e(r["hostname"] or ""),
            e(words.finding(r)),
            e(words.day(r["first_seen"])),
            e(words.day(r["last_seen"])),
        ]
        for r in rows
    ]
    return table("findings-table", columns, cells, _("none"), [f'data-kind="{e(r["kind"])}"' for r in rows])


def _decisions(rows: list[dict[str, Any]], words: Words) -> str:
    _ = words._
    if not rows:
        hint = _(
            "No decisions recorded yet: sign the approval sheet, "
            "or use `ronda decide APP take-down --reason ... --by ...`."
        )
        return f'<p class="muted">{e(hint)}</p>'
    columns = [
        Column(_("When"), 14, "num"),
        Column(_("App"), 22),
        Column(_("Decision"), 12),
        Column(_("By"), 14),
        Column(_("Why"), 26, "wide"),
        Column(_("ronda's verdict then"), 12),
    ]
    cells = []
    for r in rows:
        into = " → " + e(r["into_subject"]) if r["into_subject"] else ""
        cells.append(
            [
                e(words.lang.datetime(r["decided_at"], "medium")),
                f'<span class="name">{e(r["name"] or r["subject"])}</span>'
                f'<span class="key">{breakable(r["subject"])}</span>',
                tag(r["decision"], words.decision(r["decision"])) + into,
                e(r["decided_by"]),
                e(r["reason"]),
                e(words.verdict(r["verdict"]) or "-"),
            ]
        )
    return table("decisions-table", columns, cells, _("none"))


def render_html(report: dict[str, Any], title: str | None = None, lang: Lang | None = None) -> str:
    lang = lang or get_lang("en", "UTC")
    words = Words(lang)
    _ = lang._
    title = title or _("ronda: web apps, their use, and what can be taken down")
    now = (
        datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00"))
        if report["generated_at"]
        else datetime.now(UTC)
    )
    reconciled = report["counts"]["reconciled_at"]
    scope = _("OPD: {opd}").format(opd=report["opd"]) + " · " if report["opd"] else ""
    meta = _(
        "{scope}Generated {generated}; last reconciled {reconciled}. ronda recommends; people decide."
    ).format(
        scope=scope,
        generated=lang.datetime(report["generated_at"]),
        reconciled=lang.datetime(reconciled) if reconciled else _("never"),
    )
    criteria = _(
        "No human use inside the idle window, access logs covering the whole window, a server that "
        "reported recently, nothing depending on it, and not a shared service still in use."
    )
    legend = _("usage charts: people above, bots and monitors below, on one scale; grey: no logs yet")
    sections = [
        ("summary", _("Summary"), _summary(report, words)),
        ("coverage", _("Fleet coverage"), _coverage(report, words)),
        ("owners", _("By OPD"), _owners(report["owners"], words)),
        (
            "candidates",
            words.verdict("safe-to-take-down").capitalize(),
            f'<p class="muted">{e(criteria)}</p>'
            + verdict_table(report["candidates"], "candidates-table", False, words),
        ),
        (
            "review",
            _("Needs review, or more evidence"),
            verdict_table(report["review"], "review-table", True, words),
        ),
        ("findings", _("Open findings"), _findings(report["findings"], words)),
        ("decisions", _("Decisions"), _decisions(report["decisions"], words)),
        (
            "evidence",
            _("The evidence, app by app"),
            "".join(app_page(s, words, now.date()) for s in report["pages"])
            or f'<p class="muted">{e(_("none"))}</p>',
        ),
        ("glossary", _("Glossary"), glossary(words)),
    ]
    nav = "".join(f'<li><a href="#{sid}">{e(name)}</a></li>' for sid, name, _body in sections)
    body = "".join(f'<section id="{sid}"><h2>{e(name)}</h2>{html}</section>' for sid, name, html in sections)
    return (
        head(title, lang)
        + f'<body>\n<header><h1>{e(title)}</h1><p class="muted">{e(meta)}</p></header>\n'
        + f'<nav aria-label="{e(_("Contents"))}"><ol>{nav}</ol></nav>\n{body}\n'
        + f'<footer class="muted">ronda {e(__version__)} · {e(legend)}</footer>\n'
        + "</body></html>\n"
    )
