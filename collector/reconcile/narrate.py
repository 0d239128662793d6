"""`ronda explain` as text: the story of one app, for a terminal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ronda.collector.reconcile.chart import terminal_chart, weekly
from ronda.collector.reconcile.story import coverage_date

# How each reason bears on the verdict, as a short tag.
_EFFECT = {
    "keep": "keep",
    "review": "review",
    "insufficient-evidence": "lacking",
    "safe-to-take-down": "take-down",
    "info": "info",
}


def _money(value: int | None) -> str:
    return f"Rp {value:,}".replace(",", ".") if value else "-"


def _mib(value: Any) -> str:
    if not value:
        return "-"
    size = int(value)
    return f"{size / 2**20:,.0f} MiB" if size >= 2**20 else f"{max(1, size // 1024)} KiB"


def _join(*parts: Any) -> str:
    return " · ".join(str(p) for p in parts if p)


def narrate(story: dict[str, Any], today: date | None = None, weeks: int = 17) -> list[str]:
    today = today or datetime.now(UTC).date()
    d = story["declared"]
    v = story["verdict"]
    runs = story["runs_on"]
    where = f"{runs[0]['hostname'] or runs[0]['agent_id']}/{runs[0]['app_key']}" if runs else story["subject"]
    title = f"{d['app_id']}  {d['name']}" if d else f"{where}  (undeclared)"
    out = [title, "=" * min(len(title), 100)]
    if v:
        out.append(f"verdict   {v['verdict'].upper()}  (since {v['since'][:10]})")
        out.append(f"          {v['summary']}")
    else:
        out.append("verdict   none yet: run `ronda reconcile`")
    decisions = story["decisions"]
    if decisions:
        last = decisions[-1]
        out.append(
            f"decision  {last['decision']} by {last['decided_by']} on {last['decided_at'][:10]}: "
            f"{last['reason']}"
        )
    out.append("")
    if d:
        out.append("What it is (declared inventory)")
        out.append(
            f"  owner      {_join(d['owner'] or '(no owner)', d['unit'])}; contact {d['contact'] or '(none)'}"
        )
        kinds = _join(
            d["status"],
            d["app_class"] and "class " + d["app_class"],
            d["audience"] and "audience " + d["audience"],
        )
        out.append(f"  status     {kinds}")
        out.append(
            f"  addresses  {' '.join(d['urls']) or '(none)'}"
            + (f"; host {d['host']}" if d["host"] else "")
            + (f"; directory {d['root']}" if d["root"] else "")
        )
        built = _join(
            d["platform"], d["framework"], d["database"], d["year_built"] and f"built {d['year_built']}"
        )
        out.append(f"  built with {built or '-'}")
        out.append(f"  cost       build {_money(d['build_cost'])}, annual {_money(d['annual_cost'])}")
        extra = _join(
            d["superseded_by"] and "superseded by " + d["superseded_by"],
            d["depends_on"] and "depends on " + ", ".join(d["depends_on"]),
            d["last_verified"] and "verified " + d["last_verified"],
            d.get("withdrawn_at") and "WITHDRAWN from the inventory " + d["withdrawn_at"][:10],
        )
        if extra:
            out.append(f"  also       {extra}")
        out.append("")
    else:
        out.append("Not in the declared inventory.")
        out.append("")
    out.append("Where it runs")
    if not story["runs_on"]:
        out.append("  found on no host ronda covers")
    for a in story["runs_on"]:
        serves = a["root"] or a["upstream"] or "-"
        fw = " ".join(x for x in (a["framework"], a["framework_version"]) if x)
        state = "" if a["present"] else "  (GONE from its host's latest snapshot)"
        out.append(f"  {a['hostname'] or a['agent_id']}  {a['app_key']}{state}")
        out.append(
            f"      serves {serves}" + (f"  [{fw}]" if fw else "") + f"  listen {', '.join(a['listen'])}"
        )
        if a.get("reason"):
            out.append(f"      matched by {a['rule']}: {a['reason']}")
        if a["config_file"]:
            out.append(f"      config {a['config_file']}:{a['config_line']}")
        res = a.get("resources") or {}
        if res.get("rss_bytes") or res.get("disk_bytes"):
            out.append(
                f"      resources: memory {_mib(res.get('rss_bytes'))}, disk {_mib(res.get('disk_bytes'))}"
                + (f", {len(res.get('processes') or [])} processes" if res.get("processes") else "")
            )
        out.append(
            f"      first seen {a['first_seen'][:10]}, last seen {a['last_seen'][:10]}; logs "
            f"{a['coverage'] or 'unknown'}"
            + (f" since {a['coverage_start'][:10]}" if a["coverage_start"] else "")
            + f"; last human visit {(a['last_human_request'] or 'never seen')[:10]}"
        )
    if story.get("behind"):
        out.append("  behind it (apps of their own, that it depends on):")
        for b in story["behind"]:
            out.append(f"    {b['app']}: {b['why']}")
    out.append("")
    if story["runs_on"]:
        out.append(f"Usage, requests per week (last {weeks} weeks)")
        out.extend(
            terminal_chart(weekly(story["usage"], today, weeks, coverage_date(story["coverage_start"])))
        )
        out.append("")
    if v:
        out.append("Reasons")
        for r in v["reasons"]:
            out.append(f"  [{_EFFECT.get(r['effect'], r['effect']):>9}] {r['text']}")
        out.append("")
    out.append("Findings")
    if not story["findings"]:
        out.append("  none")
    for f in story["findings"]:
        state = f"resolved {f['resolved_at'][:10]}" if f["resolved_at"] else "open"
        out.append(f"  {f['kind']:<16} {state:<20} first seen {f['first_seen'][:10]}: {f['summary']}")
    if decisions:
        out.append("")
        out.append("Decisions (oldest first; never overwritten)")
        for x in decisions:
            into = f" into {x['into_subject']}" if x["into_subject"] else ""
            out.append(
                f"  {x['decided_at']}  {x['decision']}{into} by {x['decided_by']}: {x['reason']}"
                + (f"  (ronda said {x['verdict']})" if x["verdict"] else "")
            )
    if story["pins"]:
        out.append("")
        out.append("Pins")
        for p in story["pins"]:
            out.append(f"  {p['action']} {p['agent_id']}/{p['app_key']} by {p['decided_by']}: {p['reason']}")
    if story["inventory_history"]:
        out.append("")
        out.append("Inventory history")
        for h in story["inventory_history"]:
            changed = ", ".join(sorted(h["changes"]))[:80] if h["change"] == "updated" else ""
            out.append(
                f"  {h['changed_at'][:10]}  {h['change']} from {h['file']}"
                + (f": {changed}" if changed else "")
            )
    return out
