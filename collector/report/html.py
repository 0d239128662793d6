"""Render the report as one HTML page: inline CSS and SVG, no scripts, no external
requests (a Content-Security-Policy forbids them even if a value tried)."""

from __future__ import annotations

from html import escape
from typing import Any

from ronda import __version__
from ronda.collector.reconcile.chart import Week

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
header,section,footer{max-width:1280px;margin:0 auto;padding:12px 24px}
header{padding-top:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px}
.muted{color:#5b6573}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card.safe b{color:#b42318}.card.review b{color:#b54708}
.card.keep b{color:#067647}.card.insufficient b{color:#475467}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #eceff3}
th{background:#eef1f5;font-weight:600;font-size:13px}td.num{text-align:right;white-space:nowrap}
ul.reasons{margin:0;padding-left:16px}ul.reasons li{margin:0}
.tag{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;background:#eef1f5;
white-space:nowrap}
.tag.safe-to-take-down,.tag.take-down{background:#fee4e2;color:#912018}.tag.review{background:#fef0c7;color:#93370d}
.tag.keep{background:#d1fadf;color:#05603a}.tag.insufficient-evidence{background:#eaecf0;color:#344054}
.e-safe-to-take-down{color:#912018}.e-keep{color:#05603a}.e-review{color:#93370d}
.e-insufficient-evidence{color:#344054}
.e-info{color:#5b6573}code{font-size:12px}svg{display:block}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _day(value: str | None, default: str = "-") -> str:
    return _e(value[:10]) if value else default


def _money(value: int | None) -> str:
    return ("Rp " + f"{value:,}".replace(",", ".")) if value else "-"


def usage_svg(weeks: list[Week], width: int = 136, height: int = 30) -> str:
    """Weekly human (dark) and bot (light) requests as bars; hatched where no logs reach."""
    if not weeks:
        return '<span class="muted">no data</span>'
    step = width / len(weeks)
    top = max([w.human + w.bot for w in weeks] + [1])
    parts = []
    for i, w in enumerate(weeks):
        x = i * step
        if not w.covered:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - 3}" width="{step - 1:.1f}" height="3" fill="#d0d5dd"/>'
            )
            continue
        hb = (w.bot / top) * (height - 2)
        hh = (w.human / top) * (height - 2)
        if w.bot:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - hb - hh:.1f}" width="{step - 1:.1f}" height="{hb:.1f}" '
                'fill="#b2ccff"/>'
            )
        if w.human:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - hh:.1f}" width="{step - 1:.1f}" height="{hh:.1f}" '
                'fill="#1849a9"/>'
            )
        if not (w.human or w.bot):
            parts.append(
                f'<rect x="{x:.1f}" y="{height - 1}" width="{step - 1:.1f}" height="1" fill="#98a2b3"/>'
            )
    human = sum(w.human for w in weeks)
    bot = sum(w.bot for w in weeks)
    label = f"{human} human and {bot} bot requests in {len(weeks)} weeks from {weeks[0].start.isoformat()}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(label)}"><title>{_e(label)}</title>{"".join(parts)}</svg>'
    )


def _reasons(reasons: list[dict[str, str]]) -> str:
    shown = [r for r in reasons if r["effect"] != "info"] + [r for r in reasons if r["effect"] == "info"]
    return (
        '<ul class="reasons">'
        + "".join(f'<li class="e-{_e(r["effect"])}">{_e(r["text"])}</li>' for r in shown)
        + "</ul>"
    )


def _decision(row: dict[str, Any]) -> str:
    if not row.get("decision"):
        return '<span class="muted">none yet</span>'
    return (
        f'<span class="tag {_e(row["decision"])}">{_e(row["decision"])}</span><br>'
        f'<span class="muted">{_e(row["decided_by"])}, {_day(row["decided_at"])}</span><br>'
        f"{_e(row['decision_reason'])}"
    )


def _app_cell(row: dict[str, Any]) -> str:
    ident = row["app_id"] or row["app_key"] or row["subject"]
    name = row["name"] if row["name"] != ident else ""
    declared = "" if row["app_id"] else '<br><span class="tag">not declared</span>'
    return f"<b>{_e(ident)}</b><br>{_e(name)}{declared}"


def _verdict_table(rows: list[dict[str, Any]], table_id: str, with_verdict: bool) -> str:
    head = (
        ["App", "Owner", "Runs on"]
        + (["Verdict"] if with_verdict else [])
        + ["Last human visit", "Logs since", "Usage, 17 weeks", "Annual cost", "Evidence", "Decision"]
    )
    out = [
        f'<table id="{table_id}"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for row in rows:
        cells = [("", _app_cell(row)), ("", _e(row["owner"] or "-")), ("", _e(row["hosts"] or "-"))]
        if with_verdict:
            cells.append(("", f'<span class="tag {_e(row["verdict"])}">{_e(row["verdict"])}</span>'))
        f = row["figures"]
        cells += [
            ("num", _day(f["last_human_request"], "never seen")),
            ("num", _day(f["coverage_start"])),
            ("", usage_svg(row["weeks"])),
            ("num", _money(f["annual_cost"])),
            ("", _reasons(row["reasons"])),
            ("", _decision(row)),
        ]
        out.append(
            f'<tr data-subject="{_e(row["subject"])}">'
            + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>" for c, v in cells)
            + "</tr>"
        )
    if not rows:
        out.append(f'<tr><td colspan="{len(head)}" class="muted">none</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _cards(report: dict[str, Any]) -> str:
    c, v, f = report["counts"], report["verdicts"], report["findings_by_kind"]
    cards = [
        ("hosts", c["hosts"], ""),
        ("apps found", c["discovered"], ""),
        ("declared", c["declared"], ""),
        ("matched", c["matched"], ""),
        ("hidden (undeclared)", f.get("hidden", 0), ""),
        ("missing (declared, not found)", f.get("missing", 0), ""),
        ("idle", f.get("idle", 0), ""),
        ("safe to take down", v.get("safe-to-take-down", 0), "safe"),
        ("review", v.get("review", 0), "review"),
        ("keep", v.get("keep", 0), "keep"),
        ("insufficient evidence", v.get("insufficient-evidence", 0), "insufficient"),
        ("annual cost of candidates", _money(c["candidate_cost"]), "safe"),
    ]
    return (
        '<div class="cards" id="summary-cards">'
        + "".join(
            f'<div class="card {cls}" data-count="{_e(label)}"><b>{_e(value)}</b>{_e(label)}</div>'
            for label, value, cls in cards
        )
        + "</div>"
    )


def _findings(rows: list[dict[str, Any]]) -> str:
    out = [
        '<table id="findings-table"><thead><tr><th>Kind</th><th>Host</th><th>Finding</th><th>First seen</th>'
        "<th>Last seen</th></tr></thead><tbody>"
    ]
    for r in rows:
        out.append(
            f'<tr data-kind="{_e(r["kind"])}"><td><span class="tag">{_e(r["kind"])}</span></td>'
            f"<td>{_e(r['hostname'] or '')}</td><td>{_e(r['summary'])}</td>"
            f'<td class="num">{_day(r["first_seen"])}</td><td class="num">{_day(r["last_seen"])}</td></tr>'
        )
    if not rows:
        out.append('<tr><td colspan="5" class="muted">none</td></tr>')
    return "".join(out) + "</tbody></table>"


def _owners(rows: list[dict[str, Any]]) -> str:
    out = [
        '<table id="owners-table"><thead><tr><th>Owner (OPD)</th><th>Safe to take down</th><th>Review</th>'
        "<th>Keep</th><th>Insufficient evidence</th><th>Apps</th><th>Declared annual cost</th></tr></thead>"
        "<tbody>"
    ]
    for r in rows:
        out.append(
            f"<tr><td>{_e(r['owner'])}</td>"
            + "".join(
                f'<td class="num">{_e(r[k])}</td>'
                for k in ("safe", "review", "keep", "insufficient", "total")
            )
            + f'<td class="num">{_money(r["annual_cost"])}</td></tr>'
        )
    return "".join(out) + "</tbody></table>"


def _decisions(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return (
            '<p class="muted">No decisions recorded yet (<code>ronda decide APP keep|take-down|consolidate '
            "--reason ... --by ...</code>).</p>"
        )
    out = [
        '<table id="decisions-table"><thead><tr><th>When</th><th>App</th><th>Decision</th><th>By</th>'
        "<th>Why</th><th>ronda's verdict then</th></tr></thead><tbody>"
    ]
    for r in rows:
        into = f" into {_e(r['into_subject'])}" if r["into_subject"] else ""
        out.append(
            f'<tr><td class="num">{_e(r["decided_at"])}</td><td>{_e(r["subject"])}<br>'
            f'<span class="muted">{_e(r["name"] or "")}</span></td>'
            f'<td><span class="tag {_e(r["decision"])}">{_e(r["decision"])}</span>{into}</td>'
            f"<td>{_e(r['decided_by'])}</td><td>{_e(r['reason'])}</td><td>{_e(r['verdict'] or '-')}</td></tr>"
        )
    return "".join(out) + "</tbody></table>"


def render_html(report: dict[str, Any], title: str = "ronda report") -> str:
    c = report["counts"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(title)}</title><style>{STYLE}</style></head>
<body>
<header><h1>{_e(title)}</h1>
<p class="muted">Generated {_e(report["generated_at"])} from the ronda collector database; last reconciled
{_e(c["reconciled_at"] or "never")}. ronda recommends; people decide, and their decisions are recorded
below.</p>
</header>
<section id="summary"><h2>Summary</h2>{_cards(report)}</section>
<section id="candidates"><h2>Safe to take down</h2>
<p class="muted">No human use inside the idle window, access logs covering the whole window, a host that
reported recently, nothing depending on it, and not a shared service still in use. Each row lists the
evidence.</p>
{_verdict_table(report["candidates"], "candidates-table", False)}</section>
<section id="review"><h2>Needs review, or not enough evidence</h2>
{_verdict_table(report["review"], "review-table", True)}</section>
<section id="findings"><h2>Open findings</h2>{_findings(report["findings"])}</section>
<section id="owners"><h2>By owner</h2>{_owners(report["owners"])}</section>
<section id="decisions"><h2>Decisions</h2>{_decisions(report["decisions"])}</section>
<footer class="muted">ronda {_e(__version__)} ·
usage bars: dark = human, light = bots, grey line = no logs yet</footer>
</body></html>
"""
