"""Everything the HTML report and the approval sheet show, read from the store into plain dicts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ronda.collector.listing import app_url
from ronda.collector.lists import host_rows
from ronda.collector.reconcile.chart import weekly
from ronda.collector.reconcile.lookup import Found
from ronda.collector.reconcile.model import iso
from ronda.collector.reconcile.queries import candidate_rows, expand, finding_rows
from ronda.collector.reconcile.story import coverage_date, daily_usage, story
from ronda.collector.reconcile.verdicts import VERDICTS
from ronda.collector.store import Store

WEEKS = 17
SAFE = "safe-to-take-down"
REVIEW = ("review", "insufficient-evidence")


def _folded(text: str | None) -> str:
    return (text or "").strip().casefold()


def _apps_of(store: Store, row: dict[str, Any]) -> list[tuple[str, str]]:
    if row["app_id"]:
        return [
            (r["agent_id"], r["app_key"])
            for r in store.query("SELECT agent_id, app_key FROM matches WHERE app_id=?", (row["app_id"],))
        ]
    return [(row["agent_id"], row["app_key"])] if row["agent_id"] else []


def _url(store: Store, row: dict[str, Any], apps: list[tuple[str, str]]) -> str:
    """The declared URL, else the address of the first app it runs as."""
    if row["app_id"]:
        urls = store.query("SELECT urls FROM inventory WHERE app_id=?", (row["app_id"],))
        declared = json.loads(urls[0]["urls"] or "[]") if urls else []
        if declared:
            url = declared[0]
            return url if "://" in url else f"http://{url}"
    for agent_id, app_key in apps:
        found = store.query(
            "SELECT server_names, listen, path_prefix FROM apps WHERE agent_id=? AND app_key=?",
            (agent_id, app_key),
        )
        if found:
            r = found[0]
            url = app_url(json.loads(r["server_names"]), json.loads(r["listen"]), r["path_prefix"])
            if url:
                return url
    return ""


def verdict_rows(
    store: Store, verdicts: tuple[str, ...], today: date, opd: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Verdict rows with their evidence, weekly usage and address, for one OPD or all."""
    rows = [expand(r) for r in candidate_rows(store, verdicts)]
    if opd:
        rows = [r for r in rows if _folded(r["owner"]) == _folded(opd)]
    rows = rows[:limit] if limit else rows
    since = (today - timedelta(days=7 * WEEKS - 1)).isoformat()
    for row in rows:
        apps = _apps_of(store, row)
        usage = daily_usage(store, apps, since)
        row["weeks"] = weekly(usage, today, WEEKS, coverage_date(row["figures"]["coverage_start"]))
        row["url"] = _url(store, row, apps)
        row["id"] = row["subject"]
    return rows


_COVERAGE_RANK = {"none": 0, "network": 1, "ssh": 2, "agent": 3}


def _coverage(store: Store, now: datetime, stale_after_hours: int) -> dict[str, Any]:
    hosts = host_rows(store, stale_after_hours, now)
    apps = {
        r["coverage"] or "": r["n"]
        for r in store.query("SELECT coverage, count(*) AS n FROM apps WHERE present GROUP BY 1")
    }
    unmanaged = store.query(
        "SELECT count(*) AS n FROM findings WHERE kind = 'unmanaged-host' AND resolved_at IS NULL"
    )[0]["n"]
    stale = [h for h in hosts if h["stale"]]
    return {
        "hosts": len(hosts),
        "fresh": len(hosts) - len(stale),
        "stale": len(stale),
        "stale_hosts": sorted(h["hostname"] or h["agent_id"] for h in stale),
        "agent": sum(1 for h in hosts if h["coverage"] == "agent"),
        "ssh": sum(1 for h in hosts if h["coverage"] == "ssh"),
        "unmanaged": unmanaged,
        # each host as `ronda hosts` lists it, the least covered first
        "host_list": sorted(
            (
                {
                    k: h[k]
                    for k in ("hostname", "agent_id", "addresses", "coverage", "last_seen", "stale", "apps")
                }
                for h in hosts
            ),
            key=lambda h: (_COVERAGE_RANK.get(h["coverage"], 0), not h["stale"], h["hostname"] or ""),
        ),
        "stale_after_hours": stale_after_hours,
        "apps_by_coverage": {k: apps.get(k, 0) for k in ("full", "partial", "unreadable", "none", "")},
    }


def _owners(store: Store, opd: str | None) -> list[dict[str, Any]]:
    rows = store.query("""
        SELECT owner, sum(verdict = 'safe-to-take-down') AS safe, sum(verdict = 'review') AS review,
               sum(verdict = 'keep') AS keep, sum(verdict = 'insufficient-evidence') AS insufficient,
               count(*) AS total,
               sum(iif(verdict = 'safe-to-take-down', coalesce(annual_cost, 0), 0)) AS candidate_cost,
               sum(coalesce(annual_cost, 0)) AS annual_cost
        FROM verdicts GROUP BY owner ORDER BY safe DESC, total DESC, owner""")
    return [r for r in rows if not opd or _folded(r["owner"]) == _folded(opd)]


def _findings(store: Store, opd: str | None, limit: int) -> list[dict[str, Any]]:
    rows = finding_rows(store)
    if opd:
        owners = {
            r["app_id"]: r["owner"]
            for r in store.query("SELECT app_id, owner FROM inventory WHERE owner != ''")
        }
        rows = [r for r in rows if r["app_id"] and _folded(owners.get(r["app_id"])) == _folded(opd)]
    return rows[:limit]


def _decisions(store: Store, opd: str | None) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT d.*, v.name, v.owner FROM decisions d LEFT JOIN verdicts v USING (subject) "
        "ORDER BY d.decision_id DESC LIMIT 200"
    )
    return [r for r in rows if not opd or _folded(r["owner"]) == _folded(opd)]


def app_pages(store: Store, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The whole story (what `ronda explain` tells) of each row's app."""
    return [
        story(store, Found(r["subject"], r["app_id"], r["agent_id"], r["app_key"]), 7 * WEEKS - 1, now)
        for r in rows
    ]


def build_report(
    store: Store,
    now: datetime | None = None,
    limit: int = 1000,
    opd: str | None = None,
    stale_after_hours: int = 48,
    pages: bool = True,
) -> dict[str, Any]:
    """The report's contents for the whole fleet, or for one OPD (`opd`, the declared owner)."""
    now = now or datetime.now(UTC)
    today = now.date()
    counts = store.query("""SELECT
        (SELECT count(*) FROM apps WHERE present) AS discovered,
        (SELECT count(*) FROM inventory WHERE withdrawn_at IS NULL) AS declared,
        (SELECT count(DISTINCT agent_id || '/' || app_key) FROM matches) AS matched,
        (SELECT max(finished_at) FROM reconcile_runs) AS reconciled_at""")[0]
    owners = _owners(store, opd)
    candidates = verdict_rows(store, (SAFE,), today, opd, limit)
    findings = _findings(store, opd, limit * 2)
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
    return {
        "generated_at": iso(now),
        "opd": opd,
        "counts": counts,
        "verdicts": {v: sum(o[_COUNT[v]] or 0 for o in owners) for v in VERDICTS},
        "candidate_cost": sum(o["candidate_cost"] or 0 for o in owners),
        "findings_by_kind": by_kind,
        "coverage": _coverage(store, now, stale_after_hours),
        "owners": owners,
        "candidates": candidates,
        "review": verdict_rows(store, REVIEW, today, opd, limit),
        "findings": findings,
        "decisions": _decisions(store, opd),
        "pages": app_pages(store, candidates, now) if pages else [],
    }


_COUNT = {
    "safe-to-take-down": "safe",
    "review": "review",
    "keep": "keep",
    "insufficient-evidence": "insufficient",
}
