"""Everything the HTML report shows, read from the store into plain dicts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ronda.collector.reconcile.chart import weekly
from ronda.collector.reconcile.model import iso
from ronda.collector.reconcile.queries import (
    candidate_rows,
    expand,
    finding_counts,
    finding_rows,
    verdict_counts,
)
from ronda.collector.reconcile.story import coverage_date, daily_usage
from ronda.collector.store import Store

WEEKS = 17


def _apps_of(store: Store, row: dict[str, Any]) -> list[tuple[str, str]]:
    if row["app_id"]:
        return [
            (r["agent_id"], r["app_key"])
            for r in store.query("SELECT agent_id, app_key FROM matches WHERE app_id=?", (row["app_id"],))
        ]
    return [(row["agent_id"], row["app_key"])] if row["agent_id"] else []


def _with_usage(store: Store, rows: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    since = (today - timedelta(days=7 * WEEKS - 1)).isoformat()
    rows = [expand(r) for r in rows]
    for row in rows:
        usage = daily_usage(store, _apps_of(store, row), since)
        row["weeks"] = weekly(usage, today, WEEKS, coverage_date(row["figures"]["coverage_start"]))
    return rows


def build_report(store: Store, now: datetime | None = None, limit: int = 1000) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    today = now.date()
    counts = store.query("""SELECT
        (SELECT count(*) FROM hosts) AS hosts,
        (SELECT count(*) FROM apps WHERE present) AS discovered,
        (SELECT count(*) FROM inventory WHERE withdrawn_at IS NULL) AS declared,
        (SELECT count(DISTINCT agent_id || '/' || app_key) FROM matches) AS matched,
        (SELECT sum(annual_cost) FROM verdicts WHERE verdict = 'safe-to-take-down') AS candidate_cost,
        (SELECT max(finished_at) FROM reconcile_runs) AS reconciled_at""")[0]
    owners = store.query("""
        SELECT CASE WHEN owner = '' THEN '(undeclared or no owner)' ELSE owner END AS owner,
               sum(verdict = 'safe-to-take-down') AS safe, sum(verdict = 'review') AS review,
               sum(verdict = 'keep') AS keep, sum(verdict = 'insufficient-evidence') AS insufficient,
               count(*) AS total, sum(coalesce(annual_cost, 0)) AS annual_cost
        FROM verdicts GROUP BY 1 ORDER BY safe DESC, total DESC, 1 LIMIT 200""")
    return {
        "generated_at": iso(now),
        "counts": counts,
        "verdicts": verdict_counts(store),
        "findings_by_kind": finding_counts(store),
        "candidates": _with_usage(store, candidate_rows(store, ("safe-to-take-down",), limit), today),
        "review": _with_usage(
            store, candidate_rows(store, ("review", "insufficient-evidence"), limit), today
        ),
        "findings": finding_rows(store)[: limit * 2],
        "owners": owners,
        "decisions": store.query(
            "SELECT d.*, v.name FROM decisions d LEFT JOIN verdicts v USING (subject) "
            "ORDER BY d.decision_id DESC LIMIT 200"
        ),
    }
