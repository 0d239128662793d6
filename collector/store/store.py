"""The store: one SQLite file (WAL), schema migrations, idempotent ingestion.

Ingestion of a snapshot is one transaction. A snapshot already received
(same agent id and sequence) changes nothing; an older one than the newest
applied is recorded as history but does not roll the host's state back.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from ronda import __version__
from ronda.collector.store.known import REMEMBERED_AGENTS, Memory, read_known
from ronda.collector.store.migrations import KNOWN_VERSIONS, MIGRATIONS, NEXT_VERSION, apply_migration
from ronda.collector.store.wirebytes import split_apps
from ronda.errors import RondaError
from ronda.wire.v1 import ronda_pb2 as pb

# The code that checks and applies a snapshot (collector.store.apply, .skim, collector.validate) is
# imported by the methods that ingest: every other command (lists, explain, reconcile) opens a store
# without loading it.
if TYPE_CHECKING:
    from ronda.collector.store.apply import AdmitHook, Prepared
    from ronda.model import Snapshot

log = logging.getLogger("ronda.collector")


class StoreError(RondaError):
    """The database cannot be opened, is from a newer ronda, or is damaged."""


class StoreBusy(StoreError):
    """Another write held the store for longer than the caller would wait."""


def default_db_path() -> str:
    if os.environ.get("RONDA_DB"):
        return os.environ["RONDA_DB"]
    if os.geteuid() == 0:
        return "/var/lib/ronda/ronda.db"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "ronda", "ronda.db")


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT just made (sqlite3 leaves it None until a row is inserted)."""
    if cursor.lastrowid is None:
        raise StoreError("the insert made no row")
    return cursor.lastrowid


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    stale: bool
    last_sequence: int = 0  # the newest sequence stored for the agent
    notes: tuple[str, ...] = ()  # warnings for the agent's operator (e.g. a cloned machine)
    usage_through: int = 0  # the snapshot through which the agent's daily usage is whole (0: none)

    @property
    def applied(self) -> bool:
        return not (self.duplicate or self.stale)


class Store:
    def __init__(
        self,
        path: str | Path,
        checkpoint_every: float | None = None,
        remember_agents: int = REMEMBERED_AGENTS,
    ) -> None:
        """`checkpoint_every` (seconds): copy the write-ahead log into the database at the end of the first
        write after each such interval, instead of whenever it passes 1,000 pages (SQLite's default).

        With SQLite's default, one write in some thirty copies the pages of all of them while every other
        writer waits; on a busy collector, a page written by many writes in an interval is copied once.

        `remember_agents`: of how many agents what the store holds of their apps is kept in memory
        between their snapshots (collector.store.known; 0: read it for every snapshot).
        """
        self.path = str(path)
        self.known = Memory(remember_agents)
        self.checkpoint_every = checkpoint_every
        self._next_checkpoint = 0.0
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the directory of {self.path}: {e.strerror}") from None
        if self.path != ":memory:" and not Path(self.path).exists():
            # owner only (tokens' hashes, inventories, who uses what); SQLite gives -wal and -shm its mode
            with contextlib.suppress(OSError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if checkpoint_every is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from None
        self.conn = conn
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []  # every thread's, closed with the store
        self._lock_file: int | None = None
        if self.path != ":memory:":
            try:
                self._lock_file = os.open(f"{self.path}-lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._lock_file = None  # a read-only place: SQLite's own locking still holds
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- schema ----------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def _migrate(self) -> None:
        """Apply, in the one sequence's order, every migration the database lacks, all in one transaction."""
        with self.writing() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, description TEXT, applied_at TEXT)"
            )
            applied = {row[0] for row in c.execute("SELECT version FROM schema_migrations")}
            unknown = applied - KNOWN_VERSIONS
            if unknown:
                raise StoreError(
                    f"{self.path} has schema version(s) {sorted(unknown)} that this ronda ({__version__}, "
                    f"versions up to {NEXT_VERSION - 1}) does not know; it was written by a newer ronda: "
                    "upgrade ronda"
                )
            for migration in MIGRATIONS:
                if migration.version in applied:
                    continue
                try:
                    apply_migration(c, migration)
                except sqlite3.Error as e:
                    raise StoreError(
                        f"cannot upgrade {self.path}: migration {migration.version} "
                        f"({migration.description}) failed: {e}; the database is left as it was"
                    ) from None
                c.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.version, migration.description, iso(datetime.now(UTC))),
                )

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The store's connection for reads (and connection settings), this thread's alone until the block
        ends. Several statements in one block see one state only inside `writing()`."""
        with self._lock:
            yield self.conn

    @contextmanager
    def writing(self, wait: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; with `wait`, give up (StoreBusy) after that many seconds in line."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            raise StoreBusy(f"the store stayed busy for {wait:.1f} s")
        try:
            if self._lock_file is not None:
                # Writers of other processes (ronda serve --processes) queue here and wake at once,
                # rather than in SQLite's busy loop, which sleeps up to 100 ms between tries.
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    if self.conn.in_transaction:  # SQLite ends it itself on some errors (a full disk)
                        self.conn.execute("ROLLBACK")
                    raise
                else:
                    self.conn.execute("COMMIT")
                    if self.checkpoint_every is not None and time.monotonic() >= self._next_checkpoint:
                        self._checkpoint(self.checkpoint_every)
            finally:
                if self._lock_file is not None:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _checkpoint(self, every: float) -> None:
        """Copy the write-ahead log into the database, still holding the write lock: a checkpoint beside
        running writers would never catch up with them, and the log restarts from its beginning only once
        it is wholly copied."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as e:  # the write itself is committed; the next interval tries again
            log.warning("checkpoint of %s failed: %s", self.path, e)
        self._next_checkpoint = time.monotonic() + every

    def close(self) -> None:
        for reader in self._reader_conns:
            reader.close()
        self._reader_conns.clear()
        self.conn.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's read-only connection (WAL lets it read while another connection writes)."""
        if self.path == ":memory:":
            return None
        reader = getattr(self._readers, "conn", None)
        if reader is None:
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            reader.execute("PRAGMA query_only=ON")
            self._readers.conn = reader
            self._reader_conns.append(reader)
        return reader

    def _prepare(
        self,
        message: pb.Snapshot,
        now: str,
        raw: bytes | None,
        admit: AdmitHook | None = None,
        apps: list[bytes] | None = None,
    ) -> Prepared | None:
        """The CPU-heavy part of an ingest, done before the write lock so that calls (and processes) overlap.

        None when it cannot help (a duplicate, a bad header, an in-memory database); the transaction
        then does the work itself. `apps`: the apps of `raw` (split_apps), if already cut.
        """
        from ronda.collector.store.apply import prepare, read_base

        reader = self._reader()
        if reader is None:
            return None
        reader.execute("BEGIN")
        try:
            if admit is not None:
                admit(reader, message)  # refuse a caller before spending work on its snapshot (checked again)
            if self._received(reader, message):
                return None
            base = read_base(reader, message.agent_id)
            return prepare(reader, message, now, raw, base, self.known.get(message.agent_id, base), raws=apps)
        finally:
            reader.execute("COMMIT")

    def _skim(
        self, head: pb.Snapshot, rest: bytes, apps: list[bytes], now: str, raw: bytes, admit: AdmitHook | None
    ) -> tuple[pb.Snapshot, Prepared | None] | None:
        """A snapshot of whole windows (`head`: its fields but the apps, `rest` in wire form; `apps` as
        received) parsed without the daily entries the store holds of the agent (collector.store.skim), and
        prepared, on this thread's reader; None where that cannot be done (the caller parses it whole).
        Raises InvalidSnapshot, DecodeError or what `admit` raises."""
        from ronda.collector.store.apply import prepare, read_base
        from ronda.collector.store.skim import skim, walk
        from ronda.collector.validate import InvalidSnapshot, check_header

        reader = self._reader()
        if reader is None:
            return None
        reader.execute("BEGIN")
        try:
            base = read_base(reader, head.agent_id)
            known = self.known.get(head.agent_id, base) or read_known(reader, head.agent_id, base)
            skimmed = skim(rest, walk(apps, known), known)
            if skimmed is None:
                return None
            message = skimmed.message
            problems = check_header(message)  # as for a message parsed whole: its header, then its caller
            if problems:
                raise InvalidSnapshot(problems)
            if admit is not None:
                admit(reader, message)  # refuse a caller before spending work on its snapshot (checked again)
            if self._received(reader, message):
                return message, None
            return message, prepare(reader, message, now, raw, base, known, walked=skimmed.walked)
        finally:
            reader.execute("COMMIT")

    @staticmethod
    def _received(c: sqlite3.Connection, message: pb.Snapshot) -> bool:
        """Whether the snapshot's (agent id, sequence) was stored already."""
        found = c.execute(
            "SELECT 1 FROM snapshots WHERE agent_id=? AND sequence=?", (message.agent_id, message.sequence)
        ).fetchone()
        return found is not None

    # -- ingestion -------------------------------------------------------------
    def ingest(
        self, snap: Snapshot, received_at: datetime | None = None, admit: AdmitHook | None = None
    ) -> IngestResult:
        """Store a snapshot built in this process (e.g. by an SSH scan)."""
        from ronda.collector.validate import InvalidSnapshot
        from ronda.convert import snapshot_to_wire

        try:
            message = snapshot_to_wire(snap)
        except (ValueError, TypeError, OverflowError, KeyError) as e:
            raise InvalidSnapshot([f"cannot be encoded: {e}"]) from None
        return self.ingest_message(message, received_at, admit)

    def ingest_message(
        self,
        message: pb.Snapshot,
        received_at: datetime | None = None,
        admit: AdmitHook | None = None,
        wait: float | None = None,
        raw: bytes | None = None,
    ) -> IngestResult:
        """Store a ronda.v1.Snapshot in one transaction (see collector.store.apply).

        `raw`: the bytes `message` was parsed from, if at hand (spares re-encoding each app to hash it).
        Raises InvalidSnapshot, SequenceConflict, StoreBusy (after `wait` seconds in line), or whatever
        `admit` raises; nothing is stored then.
        """
        return self._ingest_parsed(message, iso(received_at or datetime.now(UTC)), admit, wait, raw)

    def _ingest_parsed(
        self,
        message: pb.Snapshot,
        now: str,
        admit: AdmitHook | None,
        wait: float | None,
        raw: bytes | None,
        apps: list[bytes] | None = None,
    ) -> IngestResult:
        from ronda.collector.validate import InvalidSnapshot, check_header

        problems = check_header(message)
        if problems:
            raise InvalidSnapshot(problems)
        prepared = self._prepare(message, now, raw, admit, apps)
        return self._ingest(message, now, admit, wait, raw, prepared)

    def _ingest(
        self,
        message: pb.Snapshot,
        now: str,
        admit: AdmitHook | None,
        wait: float | None,
        raw: bytes | None,
        prepared: Prepared | None,
        skimmed: bool = False,
    ) -> IngestResult:
        """The write transaction of an ingest; `skimmed`: `message` was parsed from `raw` without the settled
        days `prepared` found."""
        from ronda.collector.store.apply import ingest_message, known_after

        whole = (lambda: pb.Snapshot.FromString(raw)) if skimmed and raw is not None else None
        with self.writing(wait) as c:
            applied = ingest_message(
                c, message, now, admit, raw, prepared, header_checked=True, memory=self.known, whole=whole
            )
        if applied.written is not None:  # committed: remember what the store now holds of the agent's apps
            base = (message.sequence, message.report_id, applied.usage_through)
            self.known.put(message.agent_id, known_after(applied.written, base))
        return IngestResult(
            duplicate=applied.duplicate,
            stale=applied.stale,
            last_sequence=applied.last_sequence,
            notes=tuple(applied.notes),
            usage_through=applied.usage_through,
        )

    def ingest_bytes(
        self,
        raw: bytes,
        received_at: datetime | None = None,
        admit: AdmitHook | None = None,
        wait: float | None = None,
    ) -> tuple[IngestResult, pb.Snapshot]:
        """Store a serialized ronda.v1.Snapshot, as received, in one transaction.

        As ingest_message, and DecodeError where `raw` is not a Snapshot. Returns the result and the
        message, whose apps may lack the daily entries the store already held (collector.store.skim).
        """
        now = iso(received_at or datetime.now(UTC))
        split = split_apps(raw)
        if split is not None:
            rest, apps = split
            head = pb.Snapshot.FromString(rest)
            # whole windows: their settled days are left out; days changed since a base are few and parsed
            skimmed = None if head.usage_base else self._skim(head, rest, apps, now, raw, admit)
            if skimmed is not None:
                message, prepared = skimmed
                return self._ingest(message, now, admit, wait, raw, prepared, skimmed=True), message
        message = pb.Snapshot.FromString(raw)
        return self._ingest_parsed(message, now, admit, wait, raw, split[1] if split else None), message

    # -- queries -----------------------------------------------------------------
    def query(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        """Each row as a dict of its columns, in the order SQL gives them."""
        with self.reading() as conn:
            cursor = conn.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def hosts(self) -> list[dict[str, Any]]:
        """Every host that reported or that an SSH scan was told to read, and how it is covered: `agent` (its
        agent reports), `ssh` (the collector's SSH scan reads it) or `none` (an SSH target that never
        answered); `last_seen` is when it last answered that way. Addresses only a network sweep found are
        added by `ronda.collector.present.host_rows`."""
        return self.query("""
            SELECT h.agent_id, h.hostname, h.fqdn, h.addresses, h.os_name, h.os_version, h.source,
                   CASE a.source WHEN 'ssh' THEN 'ssh' ELSE 'agent' END AS coverage, a.last_seen, h.sequence,
                   (SELECT count(*) FROM apps p WHERE p.agent_id = h.agent_id AND p.present) AS apps,
                   (SELECT count(*) FROM source_errors e WHERE e.agent_id = h.agent_id) AS errors
            FROM hosts h JOIN agents a USING (agent_id)
            UNION ALL
            SELECT agent_id, name, NULL, json_array(address), NULL, NULL, 'ssh', 'none', NULL, NULL, 0, 0
            FROM ssh_targets
            WHERE last_success IS NULL AND agent_id NOT IN (SELECT agent_id FROM hosts)
            ORDER BY 2, 1""")

    def apps(self, include_gone: bool = False) -> list[dict[str, Any]]:
        return self.query(f"""
            SELECT h.hostname, p.agent_id, p.app_key, p.kind, p.server_names, p.listen, p.path_prefix, p.root,
                   p.upstream, p.config_file, p.config_line, p.parent_key, p.framework, p.framework_version,
                   p.coverage, p.coverage_start, p.last_human_request, p.first_seen, p.last_seen, p.present
            FROM apps p JOIN hosts h USING (agent_id)
            {"" if include_gone else "WHERE p.present"}
            ORDER BY h.hostname, p.app_key""")

    def dump(self) -> str:
        """The whole database as SQL text (for comparing states)."""
        with self.reading() as conn:
            return "\n".join(conn.iterdump())
