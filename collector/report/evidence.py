"""A page per candidate app with its whole evidence: what `ronda explain` tells, for print."""

from __future__ import annotations

from datetime import date
from typing import Any

from ronda.collector.reconcile.chart import weekly
from ronda.collector.reconcile.story import coverage_date
from ronda.collector.report.parts import breakable, e, reasons_list, tag, usage_chart
from ronda.collector.words import Words

WEEKS = 17


def _facts(pairs: list[tuple[str, str]]) -> str:
    """A definition list; values are HTML already, empty ones left out."""
    return '<dl class="facts">' + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs if v) + "</dl>"


def _declared(d: dict[str, Any], words: Words) -> str:
    _, lang = words._, words.lang
    built = " · ".join(str(x) for x in (d["platform"], d["framework"], d["database"], d["year_built"]) if x)
    return _facts(
        [
            (_("Owner (OPD)"), e(d["owner"] or _("none declared"))),
            (_("Unit"), e(d["unit"])),
            (_("Contact"), e(d["contact"] or _("none"))),
            (_("Declared status"), e(words.status(d["status"])) if d["status"] else ""),
            (_("Addresses"), "<br>".join(breakable(u) for u in d["urls"])),
            (_("Server"), e(d["host"])),
            (_("Built with"), e(built)),
            (_("Build cost"), e(lang.money(d["build_cost"])) if d["build_cost"] else ""),
            (_("Annual cost"), e(lang.money(d["annual_cost"])) if d["annual_cost"] else ""),
            (_("Superseded by"), e(d["superseded_by"])),
            (_("Depends on"), e(", ".join(d["depends_on"]))),
            (_("Last verified"), e(words.day(d["last_verified"])) if d["last_verified"] else ""),
        ]
    )


def _runs_on(apps: list[dict[str, Any]], words: Words) -> str:
    _, lang = words._, words.lang
    if not apps:
        return f'<p class="muted">{e(_("Found on no server ronda covers."))}</p>'
    out = []
    for a in apps:
        framework = " ".join(x for x in (a["framework"], a["framework_version"]) if x)
        res = a.get("resources") or {}
        gone = "" if a["present"] else " " + tag("review", _("gone from its server's latest report"))
        out.append(
            f"<h4>{e(a['hostname'] or a['agent_id'])} "
            f'<span class="key">{breakable(a["app_key"])}</span>{gone}</h4>'
        )
        out.append(
            _facts(
                [
                    (_("Serves"), breakable(a["root"] or a["upstream"] or "-")),
                    (_("Framework"), e(framework)),
                    (_("Listens on"), e(", ".join(a["listen"]))),
                    (
                        _("Configured in"),
                        breakable(f"{a['config_file']}:{a['config_line']}") if a["config_file"] else "",
                    ),
                    (_("Matched by"), e(a["reason"]) if a.get("reason") else ""),
                    (_("Memory"), e(lang.bytes(res.get("rss_bytes"))) if res.get("rss_bytes") else ""),
                    (_("Disk"), e(lang.bytes(res.get("disk_bytes"))) if res.get("disk_bytes") else ""),
                    (_("First seen"), e(words.day(a["first_seen"]))),
                    (_("Last seen"), e(words.day(a["last_seen"]))),
                    (
                        _("Log coverage"),
                        e(words.coverage(a["coverage"]))
                        + (
                            e(" " + _("since {date}").format(date=words.day(a["coverage_start"])))
                            if a["coverage_start"]
                            else ""
                        ),
                    ),
                    (_("Last human visit"), e(words.day(a["last_human_request"], empty=_("never seen")))),
                ]
            )
        )
    return "".join(out)


def app_page(story: dict[str, Any], words: Words, today: date) -> str:
    _ = words._
    d, v = story["declared"], story["verdict"]
    runs = story["runs_on"]
    title = d["name"] if d else (v["name"] if v and v["name"] else story["subject"])
    key = d["app_id"] if d else (runs[0]["app_key"] if runs else story["subject"])
    parts = [
        f'<article class="app" id="app-{e(story["subject"])}" data-subject="{e(story["subject"])}">',
        f'<h3><span class="name">{breakable(title)}</span><span class="key">{breakable(key)}</span></h3>',
    ]
    if v:
        parts.append(
            f"<p>{tag(v['verdict'], words.verdict(v['verdict']))} "
            f"{e(words.summary(v['verdict'], v['reasons'], v['summary']))}</p>"
        )
    parts.append(f"<h4>{e(_('What it is (declared inventory)'))}</h4>")
    parts.append(
        _declared(d, words) if d else f'<p class="muted">{e(_("Not in the declared inventory."))}</p>'
    )
    parts.append(f"<h4>{e(_('Where it runs'))}</h4>{_runs_on(runs, words)}")
    if runs:
        weeks = weekly(story["usage"], today, WEEKS, coverage_date(story["coverage_start"]))
        parts.append(f"<h4>{e(_('Requests per week, last {weeks} weeks').format(weeks=WEEKS))}</h4>")
        parts.append(usage_chart(weeks, words, large=True))
    if v:
        parts.append(f"<h4>{e(_('Reasons'))}</h4>{reasons_list(v['reasons'], words)}")
    if story["findings"]:
        items = "".join(
            f"<li>{tag(f['kind'], words.kind(f['kind']))} {e(words.finding(f))}"
            f' <span class="muted">({e(_("since {date}").format(date=words.day(f["first_seen"])))}'
            + (
                f"; {e(_('resolved {date}').format(date=words.day(f['resolved_at'])))}"
                if f["resolved_at"]
                else ""
            )
            + ")</span></li>"
            for f in story["findings"]
        )
        parts.append(f'<h4>{e(_("Findings"))}</h4><ul class="reasons">{items}</ul>')
    if story["decisions"]:
        items = "".join(
            f"<li>{e(words.day(x['decided_at']))}: {tag(x['decision'], words.decision(x['decision']))} "
            f"{e(x['decided_by'])}: {e(x['reason'])}</li>"
            for x in story["decisions"]
        )
        parts.append(f'<h4>{e(_("Decisions"))}</h4><ul class="reasons">{items}</ul>')
    parts.append("</article>")
    return "".join(parts)
