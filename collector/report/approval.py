"""The approval sheet (Berita Acara / lembar persetujuan): the candidate apps of one batch, one
sheet per OPD, a checkbox per decision, the evidence and annual cost of each row, and lines for
names, NIP, positions, dates and signatures. The same list goes out as XLSX or CSV in the
shape `ronda decide --from FILE` reads back: id, decision, by, reason, into, then the evidence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from typing import Any

from ronda.collector.output import output_file, to_csv, to_xlsx
from ronda.collector.report.html import head
from ronda.collector.report.parts import app_cell, e, money
from ronda.collector.report.tables import Column, table
from ronda.collector.words import Words
from ronda.errors import ConfigError
from ronda.i18n import N_, Lang

# What `ronda decide --from` reads: these first, in this order; the rest is evidence for the reader.
DECISION_COLUMNS = ["id", "decision", "by", "reason", "into"]
EVIDENCE_COLUMNS = [
    "name",
    "opd",
    "hosts",
    "url",
    "verdict",
    "last_human_request",
    "logs_since",
    "human_requests_17_weeks",
    "automated_requests_17_weeks",
    "annual_cost",
    "evidence",
    "batch",
]
COLUMNS = DECISION_COLUMNS + EVIDENCE_COLUMNS
DECISIONS = ("take-down", "keep", "consolidate")
CHOICES = (("take-down", N_("take down")), ("keep", N_("keep")), ("review", N_("review again")))
SIGNERS = (N_("Proposed by (head of the OPD)"), N_("Approved by"))


def batch_id(report: Mapping[str, Any], lang: Lang) -> str:
    """One name for the batch, on every sheet and every exported row: ronda-YYYYMMDD-HHMM, local time."""
    moment = lang.local(report["generated_at"])
    return f"ronda-{moment:%Y%m%d-%H%M}" if isinstance(moment, datetime) else "ronda"


def _by_opd(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    ordered = sorted(rows, key=lambda r: ((r["owner"] or "").casefold() == "", (r["owner"] or "").casefold()))
    return [(owner, list(group)) for owner, group in groupby(ordered, key=lambda r: r["owner"] or "")]


def _evidence(row: dict[str, Any], words: Words) -> str:
    """The evidence of one row in a sentence or two."""
    _, number = words._, words.lang.number
    f = row["figures"]
    human = sum(w.human for w in row["weeks"])
    automated = sum(w.bot + w.monitor for w in row["weeks"])
    return _(
        "Last human visit: {last}. Logs since {since}. In 17 weeks: {human} requests by people, "
        "{automated} by bots and monitors."
    ).format(
        last=words.day(f["last_human_request"], empty=_("never seen")),
        since=words.day(f["coverage_start"]),
        human=number(human),
        automated=number(automated),
    ) + (
        " "
        + _("Why: {reasons}.").format(reasons=words.summary(row["verdict"], row["reasons"], row["summary"]))
        if row["reasons"]
        else ""
    )


def export_rows(report: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    """The candidates as rows for `ronda decide --from`: the decision columns empty, to be filled."""
    words = Words(lang)
    batch = batch_id(report, lang)
    out = []
    for opd, rows in _by_opd(report["candidates"]):
        for row in rows:
            f = row["figures"]
            out.append(
                {
                    "id": row["subject"],
                    "decision": "",
                    "by": "",
                    "reason": "",
                    "into": "",
                    "name": row["name"],
                    "opd": opd,
                    "hosts": row["hosts"],
                    "url": row["url"],
                    "verdict": row["verdict"],
                    "last_human_request": f["last_human_request"],
                    "logs_since": f["coverage_start"],
                    "human_requests_17_weeks": sum(w.human for w in row["weeks"]),
                    "automated_requests_17_weeks": sum(w.bot + w.monitor for w in row["weeks"]),
                    "annual_cost": f["annual_cost"],
                    "evidence": _evidence(row, words),
                    "batch": batch,
                }
            )
    return out


def _choices(words: Words) -> str:
    return (
        '<ul class="choices">'
        + "".join(f'<li><span class="box"></span>{e(words._(label))}</li>' for _code, label in CHOICES)
        + "</ul>"
    )


def _signature(title: str, words: Words) -> str:
    _ = words._
    lines = [_("Name"), _("NIP"), _("Position"), _("Date")]
    return (
        f'<div class="signature"><p><b>{e(_(title))}</b></p>'
        + "".join(f'<p class="line"><span>{e(x)}</span><span></span></p>' for x in lines)
        + f'<p class="line sign"><span>{e(_("Signature"))}</span><span></span></p></div>'
    )


def _sheet(
    opd: str, rows: list[dict[str, Any]], number: int, count: int, report: Mapping[str, Any], words: Words
) -> str:
    _, lang = words._, words.lang
    opd_name = opd or _("(no owner declared)")
    columns = [
        Column(_("No."), 5, "num"),
        Column(_("App"), 22, "wide"),
        Column(_("Server"), 10),
        Column(_("Evidence"), 26, "wide"),
        Column(_("Annual cost"), 12, "num"),
        Column(_("Decision"), 15),
        Column(_("Notes"), 10, "wide"),
    ]
    cells = [
        [
            e(lang.number(i)),
            app_cell(row, words),
            e(row["hosts"] or "-"),
            e(_evidence(row, words)),
            money(row["figures"]["annual_cost"], words),
            _choices(words),
            '<div class="notes-cell"></div>',
        ]
        for i, row in enumerate(rows, start=1)
    ]
    cost = sum(r["figures"]["annual_cost"] or 0 for r in rows)
    intro = _(
        "ronda found the apps below unused by people for the whole idle window, with access logs covering "
        "that window and nothing depending on them. For each app, tick one decision. An app ticked "
        '"take down" is switched off after this sheet is signed; "review again" keeps it running '
        "until the next batch."
    )
    where = _("Batch {batch}, sheet {number} of {count}").format(
        batch=batch_id(report, lang), number=number, count=count
    )
    return (
        f'<div class="sheet" data-opd="{e(opd)}">'
        f"<h1>{e(_('Approval sheet: apps proposed for take-down'))}</h1>"
        f'<p class="sub">{e(where)}<br>'
        f"<b>{e(_('OPD'))}: {e(opd_name)}</b><br>{e(lang.datetime(report['generated_at']))}</p>"
        f"<p>{e(intro)}</p>"
        + table(
            f"approval-{number}",
            columns,
            cells,
            _("none"),
            [f'data-subject="{e(r["subject"])}"' for r in rows],
        )
        + f"<p><b>{e(_('Annual cost of these apps: {cost}').format(cost=lang.money(cost)))}</b></p>"
        + '<div class="signatures">'
        + "".join(_signature(title, words) for title in SIGNERS)
        + "</div></div>"
    )


def render_approval(report: Mapping[str, Any], lang: Lang) -> str:
    words = Words(lang)
    _ = lang._
    groups = _by_opd(report["candidates"])
    title = _("Approval sheet: apps proposed for take-down")
    sheets = "".join(
        _sheet(opd, rows, i, len(groups), report, words) for i, (opd, rows) in enumerate(groups, start=1)
    )
    if not groups:
        nothing = _("No app is safe to take down in this batch.")
        sheets = f'<div class="sheet"><h1>{e(title)}</h1><p>{e(nothing)}</p></div>'
    return head(title, lang) + f"<body>{sheets}</body></html>\n"


def write_approval(report: Mapping[str, Any], path: str, lang: Lang) -> int:
    """Write the sheet as .html, .xlsx or .csv (by the file's extension); return the rows written."""
    extension = os.path.splitext(path)[1].lower()
    rows = export_rows(report, lang)
    if extension in (".html", ".htm"):
        data: bytes = render_approval(report, lang).encode("utf-8")
    elif extension == ".xlsx":
        data = to_xlsx(
            rows,
            COLUMNS,
            lang,
            sheet=lang._("Approval"),
            money=("annual_cost",),
            choices={"decision": DECISIONS},
            notes=_notes(lang),
        )
    elif extension == ".csv":
        data = to_csv(rows, COLUMNS, lang.list_separator).encode("utf-8")
    else:
        raise ConfigError(f"--approval {path}: the approval sheet is written as .html, .xlsx or .csv")
    with output_file(path, binary=True) as f:
        f.write(data)
    return len(rows)


def _notes(lang: Lang) -> list[tuple[str, str]]:
    _ = lang._
    return [
        ("id", _("The app, as ronda names it. Leave it as it is.")),
        ("decision", _("take-down, keep or consolidate; leave empty for no decision yet.")),
        ("by", _("Who decided: name and position, as on the signed sheet.")),
        ("reason", _("Why: what makes the decision defensible later.")),
        ("into", _("For consolidate: the app that takes over (its id).")),
        ("", _("Then record the decisions: ronda decide --from FILE")),
    ]
