"""The whole story of one app, read from the store: what it is, where it runs,
how it is used, what ronda found, its verdict, and what people decided."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ronda.collector.inventory.db import app_from_row, history
from ronda.collector.reconcile.lookup import Found
from ronda.collector.reconcile.queries import expand
from ronda.collector.reconcile.served import backends
from ronda.collector.store import Store
from ronda.collector.wirejson import app_json


def _apps_of(store: Store, found: Found) -> list[dict[str, Any]]:
    params: tuple[str | None, ...]
    if found.app_id:
        where, params = (
            "p.agent_id = m.agent_id AND p.app_key = m.app_key AND m.app_id = ?",
            (found.app_id,),
        )
        sql = (
            "SELECT p.*, h.hostname, m.rule, m.reason FROM matches m JOIN apps p ON "
            + where
            + " LEFT JOIN hosts h ON h.agent_id = p.agent_id ORDER BY h.hostname, p.app_key"
        )
    else:
        sql = (
            "SELECT p.*, h.hostname, NULL AS rule, NULL AS reason "
            "FROM apps p LEFT JOIN hosts h USING (agent_id) WHERE p.agent_id = ? AND p.app_key = ?"
        )
        params = (found.agent_id, found.app_key)
    rows = store.query(sql, params)
    for row in rows:
        row["server_names"] = json.loads(row["server_names"])
        row["listen"] = json.loads(row["listen"])
        row["resources"] = (
            app_json(row.pop("detail", None) or "{}", row.pop("state", None)).get("resources") or {}
        )
        row.pop("digest", None)
        row.pop("daily_wire", None)
    return rows


def daily_usage(store: Store, apps: list[tuple[str, str]], since: str) -> list[dict[str, Any]]:
    """Daily counts summed over the given (agent_id, app_key) apps, from `since` (YYYY-MM-DD)."""
    if not apps:
        return []
    totals: dict[str, dict[str, int]] = {}
    for agent_id, app_key in apps:
        for r in store.query(
            "SELECT date, human, bot, monitor, error, scanner FROM app_usage_daily "
            "WHERE agent_id=? AND app_key=? AND date >= ?",
            (agent_id, app_key, since),
        ):
            day = totals.setdefault(r["date"], {"human": 0, "bot": 0, "monitor": 0, "error": 0, "scanner": 0})
            for k in day:
                day[k] += r[k] or 0
    return [{"date": d, **v} for d, v in sorted(totals.items())]


def story(store: Store, found: Found, days: int = 119, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    declared = None
    changes: list[dict] = []
    if found.app_id:
        rows = store.query("SELECT * FROM inventory WHERE app_id=?", (found.app_id,))
        if rows:
            declared = app_from_row(rows[0]).record()
            declared["withdrawn_at"] = rows[0]["withdrawn_at"]
            changes = history(store, found.app_id)
    apps = _apps_of(store, found)
    since = (now.date() - timedelta(days=days)).isoformat()
    usage = daily_usage(store, [(a["agent_id"], a["app_key"]) for a in apps], since)
    rows = store.query("SELECT * FROM verdicts WHERE subject=?", (found.subject,))
    verdict = expand(rows[0]) if rows else None
    findings = store.query(
        "SELECT kind, summary, first_seen, coalesce(last_seen, (SELECT at FROM reconciled)) "
        "AS last_seen, resolved_at FROM findings "
        "WHERE subject = ? OR subject LIKE ? ORDER BY resolved_at IS NOT NULL, first_seen",
        (found.subject, found.subject.replace("%", r"\%") + "#%"),
    )
    decisions = store.query(
        "SELECT decision, into_subject, reason, decided_by, decided_at, verdict FROM decisions "
        "WHERE subject=? ORDER BY decision_id",
        (found.subject,),
    )
    pins = (
        store.query("SELECT * FROM inventory_links WHERE app_id=?", (found.app_id,)) if found.app_id else []
    )
    starts = [a["coverage_start"] for a in apps if a.get("coverage_start")]
    hops = backends(store, [(a["agent_id"], a["app_key"], a["upstream"]) for a in apps if a["present"]])
    names = {r["agent_id"]: r["hostname"] for r in store.query("SELECT agent_id, hostname FROM hosts")}
    behind = [
        {
            "agent_id": h.backend.agent_id,
            "app_key": h.backend.app_key,
            "app": f"{names.get(h.backend.agent_id) or h.backend.agent_id}/{h.backend.app_key}",
            "why": h.why(),
        }
        for h in hops
    ]
    return {
        "subject": found.subject,
        "declared": declared,
        "inventory_history": changes,
        "runs_on": apps,
        "behind": behind,  # apps its proxies reach: apps of their own (its dependencies)
        "coverage_start": max(starts) if starts and len(starts) == len(apps) else None,
        "usage_since": since,
        "usage": usage,
        "verdict": verdict,
        "findings": findings,
        "decisions": decisions,
        "pins": pins,
    }


def coverage_date(text: str | None) -> date | None:
    return datetime.fromisoformat(text).date() if text else None
