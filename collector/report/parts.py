"""Pieces the report and the approval sheet share: escaping, tags, the app cell, the usage chart."""

from __future__ import annotations

from html import escape
from typing import Any

from ronda.collector.reconcile.chart import Week
from ronda.collector.words import Words


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def tag(code: str, label: str) -> str:
    return f'<span class="tag {e(code)}">{e(label)}</span>'


def breakable(text: str) -> str:
    """A technical key that may break after its separators rather than widen its column."""
    return "".join(e(c) + ("<wbr>" if c in "/:.-_" else "") for c in text)


def money(value: int | None, words: Words) -> str:
    """An amount whose digits stay on one line (the symbol may go on the line above)."""
    text = words.lang.money(value)
    symbol, _, digits = text.rpartition(" ")
    return f'{e(symbol)} <span class="nw">{e(digits)}</span>' if symbol else e(text)


def human_name(row: dict[str, Any], words: Words) -> str:
    """The declared name; for an undeclared app its address, with `_` (a default server) said in words."""
    name = row["name"] or row["app_id"] or row["app_key"] or row["subject"]
    if not row["app_id"] and name.startswith("_"):
        rest = name[1:]
        name = words._("default site") + (f" {rest}" if rest else "")
    return name


def app_cell(row: dict[str, Any], words: Words, link: bool = True) -> str:
    """The app as a person names it, first; its id or key small and breakable beneath."""
    name = human_name(row, words)
    lines = [f'<span class="name">{breakable(name) if not row["app_id"] else e(name)}</span>']
    key = row["app_id"] or row["app_key"] or row["subject"]
    if key and key != name:
        lines.append(f'<span class="key">{breakable(key)}</span>')
    if not row["app_id"]:
        lines.append(tag("undeclared", words._("not declared")))
    url = row.get("url")
    if url and link:
        lines.append(f'<a class="url" href="{e(url)}">{breakable(url)}</a>')
    return "".join(lines)


def _bars(
    values: list[int], covered: list[bool], top: int, css: str, width: int = 170, height: int = 22
) -> str:
    step = width / max(1, len(values))
    parts = []
    for i, (value, seen) in enumerate(zip(values, covered, strict=True)):
        x = i * step
        if not seen:
            parts.append(f'<rect class="nolog" x="{x:.1f}" y="0" width="{step - 1:.1f}" height="{height}"/>')
        elif value:
            h = max(1.5, value / top * (height - 1))
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{height - h:.1f}" '
                f'width="{step - 1:.1f}" height="{h:.1f}"/>'
            )
    parts.append(f'<line class="base" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>')
    box = f'viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true"'
    return f"<svg {box}>{''.join(parts)}</svg>"


def usage_chart(weeks: list[Week], words: Words, large: bool = False) -> str:
    """Weekly requests in two lanes on one scale: people above, bots and monitors below, each
    lane named beside it with its total. Weeks the logs do not reach are hatched."""
    _, number = words._, words.lang.number
    if not weeks:
        return f'<span class="muted">{e(_("no usage data"))}</span>'
    human = [w.human for w in weeks]
    automated = [w.bot + w.monitor for w in weeks]
    covered = [w.covered for w in weeks]
    top = max([*human, *automated, 1])
    label = _("{human} human and {automated} automated requests in {weeks} weeks").format(
        human=number(sum(human)), automated=number(sum(automated)), weeks=len(weeks)
    )
    lanes = [("human", _("people"), human), ("automated", _("bots & monitors"), automated)]
    if large:
        rows = "".join(
            f'<span class="who {css}">{e(name)}</span>{_bars(values, covered, top, css)}'
            f'<span class="total">{e(number(sum(values)))}</span>'
            for css, name, values in lanes
        )
        rows += (
            f'<span></span><span class="axis"><span>{e(words.day(weeks[0].start))}</span>'
            f"<span>{e(words.day(weeks[-1].start))}</span></span><span></span>"
        )
    else:
        rows = "".join(
            f'<span class="who {css}">{e(name)} <b>{e(number(sum(values)))}</b></span>'
            + _bars(values, covered, top, css)
            for css, name, values in lanes
        )
    return f'<div class="usage{" large" if large else ""}" role="img" aria-label="{e(label)}">{rows}</div>'


def reasons_list(reasons: list[dict[str, str]], words: Words, verdict: str | None = None) -> str:
    """Every reason, those arguing for or against first, each labelled with what it argues for.
    With `verdict`, only the reasons arguing for it, unlabelled: what a table row needs."""
    if verdict:
        shown = [r for r in reasons if r["effect"] == verdict]
        items = "".join(f"<li>{e(words.reason(r))}</li>" for r in shown)
        return f'<ul class="reasons">{items}</ul>'
    shown = [r for r in reasons if r["effect"] != "info"] + [r for r in reasons if r["effect"] == "info"]
    items = "".join(
        f'<li class="e-{e(r["effect"])}"><span class="effect">{e(words.effect(r["effect"]))}</span> '
        f"{e(words.reason(r))}</li>"
        for r in shown
    )
    return f'<ul class="reasons">{items}</ul>'


def decision_cell(row: dict[str, Any], words: Words) -> str:
    if not row.get("decision"):
        return f'<span class="muted">{e(words._("none yet"))}</span>'
    return (
        f"{tag(row['decision'], words.decision(row['decision']))}<br>"
        f'<span class="muted">{e(row["decided_by"])}, {e(words.day(row["decided_at"]))}</span><br>'
        f"{e(row['decision_reason'])}"
    )
