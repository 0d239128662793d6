"""What the operator's commands print: store rows made ready for `render`.

JSON columns of the store decoded, the columns a table shows chosen, dates
shortened for a terminal; the CLI and the demo print what these return and
shape nothing themselves. The list commands (hosts, apps, findings,
candidates) with their filters and languages are in `ronda.collector.lists`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ronda.collector.lists import app_rows, host_rows
from ronda.collector.output import render
from ronda.collector.reconcile.queries import AppNames, candidate_rows, expand
from ronda.collector.reconcile.verdicts import VERDICTS
from ronda.collector.store import Store
from ronda.safetext import terminal_text

if TYPE_CHECKING:
    from ronda.collector.reconcile.save import RunSummary

__all__ = ["app_rows", "host_rows", "verdict_rows", "explain_rows", "explain_text", "reconcile_text"]


def verdict_rows(store: Store) -> list[dict[str, Any]]:
    """Every verdict, in the order of VERDICTS, with the figures a table shows."""
    order = {v: i for i, v in enumerate(VERDICTS)}
    names = AppNames.of(store)
    rows = sorted(
        (expand(r) for r in candidate_rows(store, VERDICTS)),
        key=lambda r: (order[r["verdict"]], r["subject"]),
    )
    for r in rows:
        r["app"] = names.name(r)
        r["last_human"] = (r["figures"]["last_human_request"] or "never")[:10]
        r["logs_since"] = (r["figures"]["coverage_start"] or "-")[:10]
    return rows


def explain_rows(story: dict[str, Any]) -> list[dict[str, Any]]:
    """An app's story as (section, key, value) rows, for CSV."""
    verdict = story["verdict"] or {}
    rows = [{"section": "verdict", "key": "verdict", "value": verdict.get("verdict")}]
    rows += [
        {"section": "reason", "key": r["effect"], "value": r["text"]} for r in verdict.get("reasons", [])
    ]
    for k, v in (verdict.get("figures") or {}).items():
        value = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
        rows.append({"section": "figure", "key": k, "value": value})
    rows += [{"section": "declared", "key": k, "value": v} for k, v in (story["declared"] or {}).items()]
    rows += [
        {"section": "runs_on", "key": a["hostname"] or a["agent_id"], "value": a["app_key"]}
        for a in story["runs_on"]
    ]
    rows += [{"section": "finding", "key": f["kind"], "value": f["summary"]} for f in story["findings"]]
    rows += [{"section": "usage", "key": u["date"], "value": u["human"]} for u in story["usage"]]
    return rows


def explain_text(story: dict[str, Any], fmt: str, weeks: int) -> str:
    if fmt == "json":
        return json.dumps(story, indent=2, ensure_ascii=False, default=str)
    if fmt == "csv":
        return render(explain_rows(story), "csv", ["section", "key", "value"])
    from ronda.collector.reconcile.narrate import narrate

    return "\n".join(terminal_text(line) for line in narrate(story, weeks=weeks))


def reconcile_text(summary: RunSummary, fmt: str) -> str:
    """A reconcile run's summary: three lines for a person, or one row of CSV or JSON."""
    if fmt != "table":
        row = {
            "run_id": summary.run_id,
            "declared": summary.declared,
            "discovered": summary.discovered,
            "matched": summary.matched,
            "findings_open": summary.findings_open,
            "opened": summary.opened,
            "resolved": summary.resolved,
            **{f"findings_{k}": v for k, v in sorted(summary.counts.items())},
            **{f"verdict_{k}": v for k, v in sorted(summary.verdicts.items())},
        }
        return render([row], fmt)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.counts.items())) or "none"
    return "\n".join(
        [
            f"reconciled {summary.declared} declared apps with {summary.discovered} discovered apps "
            f"({summary.matched} matched; {summary.unchanged} unchanged since the last run)",
            f"findings: {summary.findings_open} open ({summary.opened} new, {summary.resolved} resolved): "
            + counts,
            "verdicts: " + ", ".join(f"{summary.verdicts.get(k, 0)} {k}" for k in VERDICTS),
        ]
    )
