"""Reconciliation's I/O: read its inputs from the store, write its outcome back.

Findings keep their history: one that stops holding is resolved (with the
last time it held), one that comes back is a new row. Rows carry a digest so
that a run writes only what changed: running twice on the same data writes
nothing but the run record. That keeps a 200,000-app fleet within seconds.
"""
from __future__ import annotations

import gc
import json
import sqlite3
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from collector.inventory.db import declared_apps
from collector.reconcile.config import ReconcileConfig
from collector.reconcile.engine import reconcile
from collector.reconcile.model import (Decision, DiscoveredApp, HostInfo, Inputs, Listen, ListenerInfo, Outcome,
                                       Pin, Verdict, iso)
from collector.reconcile.verdicts import SAFE
from collector.store import Store

def _listen(text: str | None) -> tuple[Listen, ...]:
    return tuple(Listen(str(x.get("address", "*")), int(x.get("port", 0)), bool(x.get("tls", False)),
                        bool(x.get("default_server", False))) for x in json.loads(text or "[]"))


def usage_windows(conn: sqlite3.Connection, config: ReconcileConfig,
                  now: datetime) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(agent, app) -> (human requests in the idle window, in the last trend_days, in the trend_days before).

    Only apps with a human request inside the longest window are summed: for the others every count is
    zero by definition. Each sum is one seek into the covering index of the daily counts.
    """
    window = (now - timedelta(days=config.idle_days - 1)).strftime("%Y-%m-%d")
    recent = (now - timedelta(days=config.trend_days - 1)).strftime("%Y-%m-%d")
    previous = (now - timedelta(days=2 * config.trend_days - 1)).strftime("%Y-%m-%d")
    earliest = min(window, previous)
    rows = conn.execute("""
        SELECT p.agent_id, p.app_key, (
            SELECT printf('%d %d %d', total(CASE WHEN d.date >= :window THEN d.human END),
                          total(CASE WHEN d.date >= :recent THEN d.human END),
                          total(CASE WHEN d.date >= :previous AND d.date < :recent THEN d.human END))
            FROM app_usage_daily d
            WHERE d.agent_id = p.agent_id AND d.app_key = p.app_key AND d.date >= :earliest)
        FROM apps p WHERE p.present AND p.last_human_request >= :earliest""",
                        {"window": window, "recent": recent, "previous": previous, "earliest": earliest})
    out = {}
    for agent_id, app_key, sums in rows:
        a, b, c = sums.split()
        out[(agent_id, app_key)] = (int(a), int(b), int(c))
    return out


def load_discovered(store: Store, config: ReconcileConfig, now: datetime) -> list[DiscoveredApp]:
    """Present apps with their usage windows. The sums run on a second connection in a thread while
    this one reads the apps: SQLite works without the GIL, so both cores are busy."""
    windows: dict[tuple[str, str], tuple[int, int, int]] = {}
    worker = None
    if store.path != ":memory:":
        def sums() -> None:
            conn = sqlite3.connect(store.path, timeout=30)
            try:
                windows.update(usage_windows(conn, config, now))
            finally:
                conn.close()
        worker = threading.Thread(target=sums, name="ronda-usage-windows")
        worker.start()
    else:
        with store._lock:
            windows = usage_windows(store.conn, config, now)
    apps = _present_apps(store)
    if worker is not None:
        worker.join()
    for app in apps:
        if app.coverage_start:   # with logs read, no daily row on a day means no request that day
            app.human_window, app.human_recent, app.human_previous = windows.get((app.agent_id, app.app_key),
                                                                                 (0, 0, 0))
    return apps


def _present_apps(store: Store) -> list[DiscoveredApp]:
    out = []
    with store._lock:
        cursor = store.conn.execute("""
            SELECT agent_id, app_key, kind, server_names, json_extract(detail, '$.listen'), path_prefix, root,
                   upstream, json_extract(detail, '$.labels.upstream_servers'), parent_key, framework,
                   framework_version, json_extract(detail, '$.labels.redirect'),
                   coverage, coverage_start, last_request, last_human_request,
                   json_extract(detail, '$.resources.rss_bytes'), json_extract(detail, '$.resources.disk_bytes')
            FROM apps WHERE present""")
        for (agent_id, app_key, kind, names, listen, prefix, root, upstream, servers, parent, fw, fw_version,
             redirect, coverage, coverage_start, last_request, last_human, rss, disk) in cursor:
            out.append(DiscoveredApp(
                agent_id, app_key, kind, tuple(json.loads(names)), _listen(listen), prefix or "/", root or "",
                upstream or "", tuple(servers.split(",")) if servers else (), parent or "", fw or "",
                fw_version or "", redirect or "", coverage or "",
                coverage_start, last_request, last_human, None, None, None, int(rss or 0), int(disk or 0)))
    return out


def load_inputs(store: Store, config: ReconcileConfig, now: datetime) -> Inputs:
    hosts = {}
    for r in store.query("SELECT h.agent_id, h.hostname, h.fqdn, h.addresses, h.interval_seconds, a.last_seen "
                         "FROM hosts h JOIN agents a USING (agent_id)"):
        hosts[r["agent_id"]] = HostInfo(r["agent_id"], r["hostname"] or "", r["fqdn"] or "",
                                        tuple(json.loads(r["addresses"] or "[]")), r["last_seen"],
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
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _digest(value: tuple) -> int:
    return zlib.crc32(repr(value).encode())


def verdict_row(v: Verdict) -> tuple:
    """The verdicts row without its digest and since, in column order; inbound and reasons still as tuples."""
    f = v.figures
    return (v.subject, v.app_id, v.agent_id, v.app_key, v.name, v.owner, ", ".join(v.hosts), v.verdict, v.summary,
            f["apps"], f["coverage"], f["coverage_start"], f["last_human_request"], f["last_request"],
            f["human_requests"], f["human_recent"], f["human_previous"], f["trend"], f["oldest_snapshot"],
            tuple((i["from"], i["why"]) for i in f["inbound"]), f["annual_cost"], f["rss_bytes"], f["disk_bytes"],
            tuple((r.effect, r.rule, r.text) for r in v.reasons))


def _stored(row: tuple) -> tuple:
    """A verdict row as written: inbound and reasons in JSON (only rows that changed get this far)."""
    inbound = _dumps([{"from": a, "why": b} for a, b in row[19]]) if row[19] else None
    return row[:19] + (inbound,) + row[20:23] + (_dumps(row[23]),)


def save_outcome(store: Store, outcome: Outcome, config: ReconcileConfig, started: datetime,
                 declared: int, discovered: int) -> RunSummary:
    stamp = iso(started)
    with store.transaction() as c:
        previous = c.execute("SELECT max(started_at) FROM reconcile_runs").fetchone()[0] or stamp
        c.execute("DELETE FROM matches")
        c.executemany("INSERT INTO matches VALUES (?,?,?,?,?)",
                      [(m.app_id, m.agent_id, m.app_key, m.rule, m.reason) for m in outcome.matches])
        opened, resolved = _save_findings(c, outcome, stamp, previous)
        _save_verdicts(c, outcome, stamp)
        counts = dict(c.execute("SELECT kind, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY kind"))
        verdicts = dict(c.execute("SELECT verdict, count(*) FROM verdicts GROUP BY verdict"))
        matched = len({m.handle for m in outcome.matches})
        finished = iso(datetime.now(timezone.utc))
        run_id = c.execute("INSERT INTO reconcile_runs (started_at, finished_at, config, declared, discovered, "
                           "matched, findings_open, opened, resolved, candidates) VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (stamp, finished, _dumps(config.as_dict()), declared, discovered, matched,
                            sum(counts.values()), opened, resolved, verdicts.get(SAFE, 0))).lastrowid
    return RunSummary(run_id, declared, discovered, matched, sum(counts.values()), opened, resolved, counts, verdicts)


def _save_findings(c, outcome: Outcome, stamp: str, previous: str) -> tuple[int, int]:
    open_rows = {(k, s): (fid, digest) for fid, k, s, digest in c.execute(
        "SELECT finding_id, kind, subject, digest FROM findings WHERE resolved_at IS NULL")}
    new, changed, held = [], [], set()
    for f in outcome.findings:
        key = (f.kind, f.subject)
        if key in held:
            continue
        held.add(key)
        digest = _digest((f.summary, f.detail))
        row = open_rows.get(key)
        if row is None:
            new.append((f.kind, f.subject, f.app_id, f.agent_id, f.app_key, f.summary, _dumps(f.detail), digest,
                        stamp))
        elif row[1] != digest:
            changed.append((f.summary, _dumps(f.detail), digest, row[0]))
    gone = [(stamp, previous, fid) for key, (fid, _) in open_rows.items() if key not in held]
    c.executemany("UPDATE findings SET resolved_at=?, last_seen=? WHERE finding_id=?", gone)
    c.executemany("INSERT INTO findings (kind, subject, app_id, agent_id, app_key, summary, detail, digest, "
                  "first_seen) VALUES (?,?,?,?,?,?,?,?,?)", new)
    c.executemany("UPDATE findings SET summary=?, detail=?, digest=? WHERE finding_id=?", changed)
    return len(new), len(gone)


def _save_verdicts(c, outcome: Outcome, stamp: str) -> None:
    existing = {s: (digest, verdict, since) for s, digest, verdict, since in c.execute(
        "SELECT subject, digest, verdict, since FROM verdicts")}
    rows = []
    for v in outcome.verdicts:
        row = verdict_row(v)
        digest = _digest(row)
        old = existing.pop(v.subject, None)
        if old is not None and old[0] == digest:
            continue
        since = old[2] if old is not None and old[1] == v.verdict else stamp
        rows.append(_stored(row) + (digest, since))
    c.executemany("DELETE FROM verdicts WHERE subject=?", [(s,) for s in existing])
    c.executemany(f"INSERT OR REPLACE INTO verdicts VALUES ({', '.join('?' * 26)})", rows)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A run allocates millions of small objects and frees nothing until the end: the cyclic collector
    would walk them all again and again (seconds at fleet scale) to find no garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_reconcile(store: Store, config: ReconcileConfig, now: datetime | None = None) -> RunSummary:
    """Read, reconcile, write: what `ronda reconcile` and a schedule run. Idempotent."""
    now = now or datetime.now(timezone.utc)
    with _no_cycle_collection():
        inputs = load_inputs(store, config, now)
        outcome = reconcile(inputs, config, now)
        return save_outcome(store, outcome, config, now, len(inputs.declared), len(inputs.discovered))
