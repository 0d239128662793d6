"""The store: one SQLite file (WAL), schema migrations, idempotent ingestion.

Ingestion of a snapshot is one transaction. A snapshot already received
(same agent id and sequence) changes nothing; an older one than the newest
applied is recorded as history but does not roll the host's state back.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from agent.model import Snapshot
from agent.wire import message_to_dict, to_message
from collector.store.migrations import MIGRATIONS
from ronda_wire.v1 import ronda_pb2 as pb


class StoreError(Exception):
    """The database cannot be opened, is from a newer ronda, or is damaged."""


def default_db_path() -> str:
    if os.environ.get("RONDA_DB"):
        return os.environ["RONDA_DB"]
    if os.geteuid() == 0:
        return "/var/lib/ronda/ronda.db"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "ronda", "ronda.db")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    stale: bool

    @property
    def applied(self) -> bool:
        return not (self.duplicate or self.stale)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the directory of {self.path}: {e.strerror}") from None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._migrate()

    # -- schema ----------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def _migrate(self) -> None:
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                              "(version INTEGER PRIMARY KEY, description TEXT, applied_at TEXT)")
            applied = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations")}
            unknown = applied - {version for version, _, _ in MIGRATIONS}
            if unknown:
                raise StoreError(f"{self.path} has schema version(s) {sorted(unknown)} that this ronda does not "
                                 "know; it was written by a newer ronda: upgrade ronda")
            for version, description, sql in sorted(MIGRATIONS):
                if version in applied:
                    continue
                for statement in _statements(sql):
                    self.conn.execute(statement)
                self.conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                  (version, description, iso(datetime.now(timezone.utc))))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- ingestion -------------------------------------------------------------
    def ingest(self, snap: Snapshot, received_at: datetime | None = None) -> IngestResult:
        now = iso(received_at or datetime.now(timezone.utc))
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM snapshots WHERE agent_id=? AND sequence=?",
                         (snap.agent_id, snap.sequence)).fetchone():
                return IngestResult(duplicate=True, stale=False)
            row = c.execute("SELECT last_sequence FROM agents WHERE agent_id=?", (snap.agent_id,)).fetchone()
            stale = row is not None and snap.sequence < row[0]
            c.execute("INSERT INTO snapshots VALUES (?,?,?,?,?,?,?,?)",
                      (snap.agent_id, snap.sequence, snap.report_id, iso(snap.collected_at), now, int(not stale),
                       len(snap.apps), len(snap.errors)))
            if stale:
                return IngestResult(duplicate=False, stale=True)
            c.execute("""INSERT INTO agents VALUES (?,?,?,?,?,?)
                         ON CONFLICT(agent_id) DO UPDATE SET last_seen=excluded.last_seen,
                         last_sequence=excluded.last_sequence, last_report_id=excluded.last_report_id,
                         source=excluded.source""",
                      (snap.agent_id, now, now, snap.sequence, snap.report_id, snap.source))
            self._apply_state(c, snap, now)
        return IngestResult(duplicate=False, stale=False)

    def _apply_state(self, c: sqlite3.Connection, snap: Snapshot, now: str) -> None:
        h = snap.host
        c.execute("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
            snap.agent_id, h.machine_id, h.hostname, h.fqdn, json.dumps(h.addresses), h.os_name, h.os_version,
            h.kernel, h.architecture, iso(h.boot_time), h.cpu_count, h.memory_total_bytes, h.memory_used_bytes,
            json.dumps([vars(d) for d in h.disks]), snap.source, snap.agent_version, snap.interval_seconds,
            snap.sequence, iso(snap.collected_at)))
        c.execute("UPDATE apps SET present=0 WHERE agent_id=?", (snap.agent_id,))
        for app in snap.apps:
            usage = app.usage
            framework = app.framework
            c.execute("""INSERT INTO apps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?)
                ON CONFLICT(agent_id, app_key) DO UPDATE SET kind=excluded.kind,
                server_names=excluded.server_names, listen=excluded.listen, path_prefix=excluded.path_prefix,
                root=excluded.root, upstream=excluded.upstream, config_file=excluded.config_file,
                config_line=excluded.config_line, parent_key=excluded.parent_key, framework=excluded.framework,
                framework_version=excluded.framework_version, coverage=excluded.coverage,
                coverage_start=excluded.coverage_start, last_request=excluded.last_request,
                last_human_request=excluded.last_human_request, last_seen=excluded.last_seen, present=1,
                detail=excluded.detail""", (
                snap.agent_id, app.key, app.kind, json.dumps(app.server_names),
                json.dumps([str(a) for a in app.listen]), app.path_prefix, app.root, app.upstream,
                app.config.file, app.config.line, app.parent_key,
                framework.name if framework else None, framework.version if framework else None,
                usage.coverage if usage else None, iso(usage.coverage_start) if usage else None,
                iso(usage.last_request) if usage else None, iso(usage.last_human_request) if usage else None,
                now, now, json.dumps(message_to_dict(to_message(app, pb.App())), sort_keys=True)))
            for day in (usage.daily if usage else []):
                c.execute("INSERT OR REPLACE INTO app_usage_daily VALUES (?,?,?,?,?,?,?,?,?)",
                          (snap.agent_id, app.key, day.date, day.human, day.bot, day.monitor, day.error,
                           day.scanner, day.human_clients))
        c.execute("DELETE FROM listeners WHERE agent_id=?", (snap.agent_id,))
        c.executemany("INSERT OR REPLACE INTO listeners VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
            (snap.agent_id, s.protocol, s.address, s.port, s.pid, s.process, s.user, s.unit, s.container,
             json.dumps(s.app_keys), int(s.public)) for s in snap.listeners])
        c.execute("DELETE FROM source_errors WHERE agent_id=?", (snap.agent_id,))
        c.executemany("INSERT INTO source_errors VALUES (?,?,?,?,?)",
                      [(snap.agent_id, e.source, e.path, e.line, e.message) for e in snap.errors])

    # -- queries -----------------------------------------------------------------
    def query(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))

    def hosts(self) -> list[dict[str, Any]]:
        return self.query("""
            SELECT h.agent_id, h.hostname, h.fqdn, h.addresses, h.os_name, h.os_version, h.source,
                   a.last_seen, h.sequence,
                   (SELECT count(*) FROM apps p WHERE p.agent_id = h.agent_id AND p.present) AS apps,
                   (SELECT count(*) FROM source_errors e WHERE e.agent_id = h.agent_id) AS errors
            FROM hosts h JOIN agents a USING (agent_id) ORDER BY h.hostname, h.agent_id""")

    def apps(self, include_gone: bool = False) -> list[dict[str, Any]]:
        return self.query(f"""
            SELECT h.hostname, p.agent_id, p.app_key, p.kind, p.server_names, p.listen, p.path_prefix, p.root,
                   p.upstream, p.config_file, p.config_line, p.parent_key, p.framework, p.framework_version,
                   p.coverage, p.coverage_start, p.last_human_request, p.first_seen, p.last_seen, p.present
            FROM apps p JOIN hosts h USING (agent_id)
            {'' if include_gone else 'WHERE p.present'}
            ORDER BY h.hostname, p.app_key""")

    def dump(self) -> str:
        """The whole database as SQL text (for comparing states)."""
        with self._lock:
            return "\n".join(self.conn.iterdump())


def _statements(sql: str) -> list[str]:
    """Split a migration into statements; a trigger body's own `;` do not end its CREATE TRIGGER."""
    statements, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
