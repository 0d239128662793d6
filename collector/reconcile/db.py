"""Reconciliation's I/O: read its inputs from the store, write its outcome back.

Findings keep their history: one still holding gets a new last_seen, one
that stopped holding is resolved, one that comes back is a new row. Writing
the same outcome twice changes nothing but the last_seen/computed_at stamps.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from collector.inventory.db import declared_apps
from collector.reconcile.config import ReconcileConfig
from collector.reconcile.engine import reconcile
from collector.reconcile.model import (Decision, DiscoveredApp, HostInfo, Inputs, Listen, ListenerInfo, Outcome,
                                       Pin, iso)
from collector.reconcile.verdicts import SAFE
from collector.store import Store


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _listen(text: str | None) -> tuple[Listen, ...]:
    return tuple(Listen(str(x.get("address", "*")), int(x.get("port", 0)), bool(x.get("tls", False)),
                        bool(x.get("default_server", False))) for x in json.loads(text or "[]"))


def load_discovered(store: Store, config: ReconcileConfig, now: datetime) -> list[DiscoveredApp]:
    window = (now - timedelta(days=config.idle_days)).strftime("%Y-%m-%d")
    recent = (now - timedelta(days=config.trend_days)).strftime("%Y-%m-%d")
    previous = (now - timedelta(days=2 * config.trend_days)).strftime("%Y-%m-%d")
    earliest = min(window, previous)
    sql = """
        SELECT p.agent_id, p.app_key, p.kind, p.server_names, json_extract(p.detail, '$.listen') AS listen,
               p.path_prefix, p.root, p.upstream, p.parent_key, p.framework, p.framework_version,
               json_extract(p.detail, '$.labels.redirect') AS redirect, p.coverage, p.coverage_start,
               p.last_request, p.last_human_request,
               json_extract(p.detail, '$.resources.rss_bytes') AS rss,
               json_extract(p.detail, '$.resources.disk_bytes') AS disk,
               u.hw, u.hr, u.hp, u.rw
        FROM apps p LEFT JOIN (
            SELECT agent_id, app_key,
                   sum(CASE WHEN date >= :window THEN human ELSE 0 END) AS hw,
                   sum(CASE WHEN date >= :recent THEN human ELSE 0 END) AS hr,
                   sum(CASE WHEN date >= :previous AND date < :recent THEN human ELSE 0 END) AS hp,
                   sum(CASE WHEN date >= :window THEN human + bot ELSE 0 END) AS rw
            FROM app_usage_daily WHERE date >= :earliest GROUP BY agent_id, app_key
        ) u ON u.agent_id = p.agent_id AND u.app_key = p.app_key
        WHERE p.present"""
    out = []
    with store._lock:
        cursor = store.conn.execute(sql, {"window": window, "recent": recent, "previous": previous,
                                          "earliest": earliest})
        for (agent_id, app_key, kind, names, listen, prefix, root, upstream, parent, fw, fw_version, redirect,
             coverage, coverage_start, last_request, last_human, rss, disk, hw, hr, hp, rw) in cursor:
            counted = coverage_start is not None  # with logs read, no daily row means no request that day
            out.append(DiscoveredApp(
                agent_id=agent_id, app_key=app_key, kind=kind, server_names=tuple(json.loads(names)),
                listen=_listen(listen), path_prefix=prefix or "/", root=root or "", upstream=upstream or "",
                parent_key=parent or "", framework=fw or "", framework_version=fw_version or "",
                redirect=redirect or "", coverage=coverage or "", coverage_start=_time(coverage_start),
                last_request=_time(last_request), last_human_request=_time(last_human),
                human_window=(hw or 0) if counted else None, human_recent=(hr or 0) if counted else None,
                human_previous=(hp or 0) if counted else None, requests_window=(rw or 0) if counted else None,
                rss_bytes=int(rss or 0), disk_bytes=int(disk or 0)))
    return out


def load_inputs(store: Store, config: ReconcileConfig, now: datetime) -> Inputs:
    hosts = {}
    for r in store.query("SELECT h.agent_id, h.hostname, h.fqdn, h.addresses, h.interval_seconds, a.last_seen "
                         "FROM hosts h JOIN agents a USING (agent_id)"):
        hosts[r["agent_id"]] = HostInfo(r["agent_id"], r["hostname"] or "", r["fqdn"] or "",
                                        tuple(json.loads(r["addresses"] or "[]")), _time(r["last_seen"]),
                                        r["interval_seconds"] or 0)
    listeners = [ListenerInfo(r["agent_id"], r["protocol"], r["address"], r["port"], r["process"] or "",
                              tuple(json.loads(r["app_keys"] or "[]")), bool(r["public"]))
                 for r in store.query("SELECT * FROM listeners")]
    pins = [Pin(r["app_id"], r["agent_id"], r["app_key"], r["action"], r["reason"], r["decided_by"])
            for r in store.query("SELECT * FROM inventory_links")]
    decisions = {r["subject"]: Decision(r["decision"], r["reason"], r["decided_by"], r["decided_at"],
                                        r["into_subject"] or "")
                 for r in store.query("SELECT * FROM latest_decisions")}
    return Inputs(declared=declared_apps(store), discovered=load_discovered(store, config, now), hosts=hosts,
                  listeners=listeners, pins=pins, decisions=decisions)


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    declared: int
    discovered: int
    matched: int
    findings_open: int
    opened: int
    resolved: int
    counts: dict[str, int]        # open findings per kind
    verdicts: dict[str, int]      # subjects per verdict


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def save_outcome(store: Store, outcome: Outcome, config: ReconcileConfig, started: datetime,
                 declared: int, discovered: int) -> RunSummary:
    stamp = iso(started)
    with store.transaction() as c:
        c.execute("DELETE FROM matches")
        c.executemany("INSERT INTO matches VALUES (?,?,?,?,?)",
                      [(m.app_id, m.agent_id, m.app_key, m.rule, m.reason) for m in outcome.matches])
        current = {(f.kind, f.subject): f for f in outcome.findings}
        open_rows = {(k, s): (fid, summary, detail) for fid, k, s, summary, detail in c.execute(
            "SELECT finding_id, kind, subject, summary, detail FROM findings WHERE resolved_at IS NULL")}
        gone = [(stamp, fid) for key, (fid, _, _) in open_rows.items() if key not in current]
        c.executemany("UPDATE findings SET resolved_at=? WHERE finding_id=?", gone)
        c.execute("UPDATE findings SET last_seen=? WHERE resolved_at IS NULL", (stamp,))
        new, changed = [], []
        for key, f in current.items():
            detail = _dumps(f.detail)
            row = open_rows.get(key)
            if row is None:
                new.append((f.kind, f.subject, f.app_id, f.agent_id, f.app_key, f.summary, detail, stamp, stamp))
            elif row[1] != f.summary or row[2] != detail:
                changed.append((f.summary, detail, row[0]))
        c.executemany("INSERT INTO findings (kind, subject, app_id, agent_id, app_key, summary, detail, first_seen, "
                      "last_seen) VALUES (?,?,?,?,?,?,?,?,?)", new)
        c.executemany("UPDATE findings SET summary=?, detail=? WHERE finding_id=?", changed)
        _save_verdicts(c, outcome, stamp)
        counts = dict(c.execute("SELECT kind, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY kind"))
        verdicts = dict(c.execute("SELECT verdict, count(*) FROM verdicts GROUP BY verdict"))
        finished = iso(datetime.now(timezone.utc))
        run_id = c.execute("INSERT INTO reconcile_runs (started_at, finished_at, config, declared, discovered, "
                           "matched, findings_open, opened, resolved, candidates) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (stamp, finished, _dumps(config.as_dict()), declared, discovered,
                            len({m.handle for m in outcome.matches}), sum(counts.values()), len(new), len(gone),
                            verdicts.get(SAFE, 0))).lastrowid
    return RunSummary(run_id, declared, discovered, len({m.handle for m in outcome.matches}), sum(counts.values()),
                      len(new), len(gone), counts, verdicts)


def _save_verdicts(c, outcome: Outcome, stamp: str) -> None:
    existing = {s: (v, since, summary, reasons, figures) for s, v, since, summary, reasons, figures in c.execute(
        "SELECT subject, verdict, since, summary, reasons, figures FROM verdicts")}
    rows = []
    for v in outcome.verdicts:
        reasons = _dumps([{"rule": r.rule, "effect": r.effect, "text": r.text} for r in v.reasons])
        figures = _dumps(v.figures)
        old = existing.pop(v.subject, None)
        if old and old[0] == v.verdict and old[2] == v.summary and old[3] == reasons and old[4] == figures:
            continue
        since = old[1] if old and old[0] == v.verdict else stamp
        f = v.figures
        rows.append((v.subject, v.app_id, v.agent_id, v.app_key, v.name, v.owner, ", ".join(v.hosts), v.verdict,
                     v.summary, f.get("last_human_request"), f.get("coverage_start"), f.get("human_requests"),
                     f.get("trend"), f.get("annual_cost"), reasons, figures, stamp, since))
    c.executemany("DELETE FROM verdicts WHERE subject=?", [(s,) for s in existing])
    c.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    c.execute("UPDATE verdicts SET computed_at=?", (stamp,))


def run_reconcile(store: Store, config: ReconcileConfig, now: datetime | None = None) -> RunSummary:
    """Read, reconcile, write: what `ronda reconcile` and a schedule run. Idempotent."""
    now = now or datetime.now(timezone.utc)
    inputs = load_inputs(store, config, now)
    outcome = reconcile(inputs, config, now)
    return save_outcome(store, outcome, config, now, len(inputs.declared), len(inputs.discovered))
