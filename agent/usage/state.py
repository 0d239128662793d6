"""The usage collector's local memory: a small SQLite file under the agent's state dir.

It holds, per log file ever read, how far it was read (keyed by device+inode
and a fingerprint of its first bytes), and per app the daily counts, the
clients (as non-reversible ids) and the last times. Counts and the offsets
they come from are written in one transaction, so a crash or restart never
counts a line twice or loses one.

Each write also marks the (app, day)s it changed with the state's current
generation; `seal` starts a new generation when a snapshot reads the days, so
a later snapshot can carry only the days changed since one the collector holds
(ronda.agent.usage.delta).
"""

from __future__ import annotations

import os
import sqlite3
import struct
import uuid
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

# 2: the clients of a day are blobs of ids (a part per write) instead of a row per client
# 3: the generation in which each day last changed (day_changes), the state's id and generation in meta
SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY, log TEXT NOT NULL, path TEXT NOT NULL, dev INTEGER, ino INTEGER,
    size INTEGER, mtime REAL, fp_len INTEGER NOT NULL, fp TEXT NOT NULL, offset INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, seen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS files_log ON files(log);
CREATE TABLE IF NOT EXISTS logs(
    log TEXT PRIMARY KEY, oldest INTEGER, newest INTEGER, lines INTEGER NOT NULL DEFAULT 0,
    unparsed INTEGER NOT NULL DEFAULT 0, read_at INTEGER);
CREATE TABLE IF NOT EXISTS app_logs(
    app TEXT NOT NULL, log TEXT NOT NULL, oldest INTEGER, newest INTEGER, lines INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(app, log));
CREATE TABLE IF NOT EXISTS app_last(app TEXT NOT NULL, kind INTEGER NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY(app, kind));
CREATE TABLE IF NOT EXISTS daily(
    app TEXT NOT NULL, day TEXT NOT NULL, human INTEGER NOT NULL DEFAULT 0, bot INTEGER NOT NULL DEFAULT 0,
    monitor INTEGER NOT NULL DEFAULT 0, error INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(app, day));
CREATE TABLE IF NOT EXISTS client_days(app TEXT NOT NULL, day TEXT NOT NULL, part INTEGER NOT NULL,
    ids BLOB NOT NULL, PRIMARY KEY(app, day, part)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejects(app TEXT NOT NULL, day TEXT NOT NULL, client INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY(app, day, client)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day_changes(app TEXT NOT NULL, day TEXT NOT NULL, generation INTEGER NOT NULL,
    PRIMARY KEY(app, day)) WITHOUT ROWID;
"""
# The generation is read inside the write's own transaction, which already holds the write lock: a seal by
# another process (a `ronda-agent scan` beside the daemon) comes wholly before or after it.
_MARK = """INSERT INTO day_changes SELECT ?, ?, CAST(value AS INTEGER) FROM meta WHERE key = 'generation'
    ON CONFLICT(app, day) DO UPDATE SET generation = excluded.generation"""
_CHANGED_SINCE = "SELECT day FROM day_changes WHERE app = :app AND generation > :since"


@dataclass
class FileEntry:
    id: int
    log: str
    path: str
    dev: int
    ino: int
    size: int
    mtime: float
    fp_len: int
    fp: str
    offset: int
    done: bool
    seen: int


@dataclass
class Batch:
    """Everything one flush writes, in one transaction."""

    log: str
    daily: list[tuple[str, str, int, int, int, int]]  # app, day, human, bot, monitor, error
    clients: dict[tuple[str, str], set[int]]  # (app, day) -> client ids
    rejects: list[tuple[str, str, int, int]]
    last: list[tuple[str, int, int]]  # app, kind, epoch
    app_logs: list[tuple[str, int | None, int | None, int]]  # app, oldest, newest, lines
    oldest: int | None
    newest: int | None
    lines: int
    unparsed: int
    file: FileEntry | None


class UsageState:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            if not Path(self.path).exists():
                # created private: the state holds log paths and per-day client ids
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(self.path, timeout=30)
        # WAL with synchronous=NORMAL stays consistent on a crash (counts and offsets roll back
        # together, so the lines are simply read again) and spares the fsync per transaction.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._migrate()
        self.id = self._identify()
        self.db.execute("INSERT OR REPLACE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        self.db.commit()

    def _identify(self) -> str:
        """This state's id. A state without one, or last written by an agent that kept no day_changes (one
        older than schema 3, perhaps after a downgrade), gets a new one: no earlier mark holds for it."""
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('schema', 'id')").fetchall())
        if meta.get("id") and meta.get("schema") == str(SCHEMA_VERSION):
            return meta["id"]
        state_id = uuid.uuid4().hex
        self.db.execute("INSERT OR REPLACE INTO meta VALUES('id', ?)", (state_id,))
        self.db.execute("INSERT OR IGNORE INTO meta VALUES('generation', '1')")
        return state_id

    def _migrate(self) -> None:
        """Schema 1 kept a row per client and day: fold those rows into the day's blob."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'clients'").fetchone():
            return
        with self.db:
            rows = self.db.execute("SELECT app, day, client FROM clients ORDER BY app, day")
            self.db.executemany(
                "INSERT INTO client_days VALUES (?, ?, 0, ?)",  # a day at a time in memory
                (
                    (app, day, _pack({r[2] for r in group}))
                    for (app, day), group in groupby(rows, key=lambda r: (r[0], r[1]))
                ),
            )
            self.db.execute("DROP TABLE clients")

    def close(self) -> None:
        self.db.close()

    # -- files ------------------------------------------------------------------
    def files(self, log: str) -> list[FileEntry]:
        rows = self.db.execute(
            "SELECT id, log, path, dev, ino, size, mtime, fp_len, fp, offset, done, seen "
            "FROM files WHERE log = ? ORDER BY id",
            (log,),
        ).fetchall()
        # mypy cannot count the fields of a row: it reads *row[:10] as possibly all twelve
        return [FileEntry(*row[:10], bool(row[10]), row[11]) for row in rows]  # type: ignore[call-arg]

    def touch(self, entry: FileEntry) -> None:
        self.db.execute(
            "UPDATE files SET seen = ?, path = ? WHERE id = ?", (entry.seen, entry.path, entry.id)
        )
        self.db.commit()

    def forget_files(self, log: str, older_than: int) -> None:
        self.db.execute("DELETE FROM files WHERE log = ? AND seen < ?", (log, older_than))
        self.db.commit()

    # -- counts -----------------------------------------------------------------
    def write(self, batch: Batch) -> FileEntry | None:
        """Apply one batch of counts and the file offset they reach, atomically."""
        db = self.db
        with db:
            db.executemany(
                "INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(app, day) DO UPDATE SET "
                "human = human + excluded.human, bot = bot + excluded.bot, "
                "monitor = monitor + excluded.monitor, error = error + excluded.error",
                batch.daily,
            )
            self._add_clients(batch.clients)
            db.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?) ON CONFLICT(app, day, client) "
                "DO UPDATE SET n = n + excluded.n",
                batch.rejects,
            )
            db.executemany(
                _MARK,
                {(app, day) for app, day, *_ in batch.daily}
                | batch.clients.keys()
                | {(app, day) for app, day, *_ in batch.rejects},
            )
            db.executemany(
                "INSERT INTO app_last VALUES (?, ?, ?) ON CONFLICT(app, kind) "
                "DO UPDATE SET at = max(at, excluded.at)",
                batch.last,
            )
            db.executemany(
                "INSERT INTO app_logs VALUES (?, ?, ?, ?, ?) ON CONFLICT(app, log) DO UPDATE SET "
                "oldest = min(coalesce(oldest, excluded.oldest), coalesce(excluded.oldest, oldest)), "
                "newest = max(coalesce(newest, excluded.newest), coalesce(excluded.newest, newest)), "
                "lines = lines + excluded.lines",
                [(app, batch.log, oldest, newest, lines) for app, oldest, newest, lines in batch.app_logs],
            )
            db.execute(
                "INSERT INTO logs(log, oldest, newest, lines, unparsed) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(log) DO UPDATE SET "
                "oldest = min(coalesce(oldest, excluded.oldest), coalesce(excluded.oldest, oldest)), "
                "newest = max(coalesce(newest, excluded.newest), coalesce(excluded.newest, newest)), "
                "lines = lines + excluded.lines, unparsed = unparsed + excluded.unparsed",
                (batch.log, batch.oldest, batch.newest, batch.lines, batch.unparsed),
            )
            entry = batch.file
            if entry is not None:
                values = (
                    entry.log,
                    entry.path,
                    entry.dev,
                    entry.ino,
                    entry.size,
                    entry.mtime,
                    entry.fp_len,
                    entry.fp,
                    entry.offset,
                    int(entry.done),
                    entry.seen,
                )
                if entry.id:
                    db.execute(
                        "UPDATE files SET log=?, path=?, dev=?, ino=?, size=?, mtime=?, fp_len=?, fp=?, "
                        "offset=?, done=?, seen=? WHERE id = ?",
                        (*values, entry.id),
                    )
                else:
                    inserted = db.execute(
                        "INSERT INTO files(log, path, dev, ino, size, mtime, fp_len, fp, offset,"
                        " done, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values,
                    ).lastrowid
                    assert inserted is not None  # every INSERT sets it
                    entry.id = inserted
        return entry

    def _add_clients(self, clients: dict[tuple[str, str], set[int]]) -> None:
        """Each write adds a part per app and day: linear however many clients a day has. Parts may
        share ids; they are merged (and counted) when the day is read back."""
        self.db.executemany(
            "INSERT INTO client_days VALUES (?1, ?2, "
            "(SELECT ifnull(max(part) + 1, 0) FROM client_days WHERE app = ?1 AND day = ?2), ?3)",
            [(app, day, _pack(ids)) for (app, day), ids in clients.items()],
        )

    def _client_counts(self, app: str, since: int | None) -> dict[str, int]:
        """Distinct clients per day. A day written in several parts is merged into one on the way."""
        counts = {}
        for day, parts, size in self.db.execute(
            "SELECT day, count(*), sum(length(ids)) FROM client_days WHERE app = :app"
            + _only_changed(since)
            + " GROUP BY day",
            {"app": app, "since": since},
        ).fetchall():
            if parts == 1:
                counts[day] = size // 8
                continue
            ids: set[int] = set()
            for (blob,) in self.db.execute(
                "SELECT ids FROM client_days WHERE app = ? AND day = ?", (app, day)
            ):
                ids.update(_unpack(blob))
            with self.db:
                self.db.execute("DELETE FROM client_days WHERE app = ? AND day = ?", (app, day))
                self.db.execute("INSERT INTO client_days VALUES (?, ?, 0, ?)", (app, day, _pack(ids)))
            counts[day] = len(ids)
        return counts

    def mark_read(self, log: str, when: int) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO logs(log, read_at) VALUES (?, ?) "
                "ON CONFLICT(log) DO UPDATE SET read_at = excluded.read_at",
                (log, when),
            )

    def prune(self, before_day: str) -> None:
        with self.db:
            for table in ("daily", "client_days", "rejects", "day_changes"):
                self.db.execute(f"DELETE FROM {table} WHERE day < ?", (before_day,))

    def seal(self) -> int:
        """Start a new generation; returns the one that ends. Days read after this hold every change marked
        with it or before; changes written later are marked after it."""
        with self.db:
            self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            (generation,) = self.db.execute(
                "SELECT CAST(value AS INTEGER) - 1 FROM meta WHERE key = 'generation'"
            ).fetchone()
        return generation

    # -- reading back -----------------------------------------------------------
    def daily(
        self, app: str, scanner_threshold: int, since: int | None = None
    ) -> list[tuple[str, int, int, int, int, int, int]]:
        """(day, human, bot, monitor, error, scanner, human_clients) for every day with any request, or with
        `since` (a generation), only the days changed after it."""
        only = _only_changed(since)
        params = {"app": app, "since": since, "threshold": scanner_threshold}
        days: dict[str, list[int]] = {}
        for day, human, bot, monitor, error in self.db.execute(
            "SELECT day, human, bot, monitor, error FROM daily WHERE app = :app" + only, params
        ):
            days[day] = [human, bot, monitor, error, 0, 0]
        for day, below, above in self.db.execute(
            "SELECT day, sum(CASE WHEN n < :threshold THEN n ELSE 0 END), "
            "sum(CASE WHEN n >= :threshold THEN n ELSE 0 END) FROM rejects WHERE app = :app"
            + only
            + " GROUP BY day",
            params,
        ):
            row = days.setdefault(day, [0] * 6)
            row[3] += below
            row[4] += above
        for day, count in self._client_counts(app, since).items():
            days.setdefault(day, [0] * 6)[5] = count
        return [(day, h, b, m, e, s, c) for day, (h, b, m, e, s, c) in sorted(days.items())]

    def last(self, app: str) -> dict[int, int]:
        return dict(self.db.execute("SELECT kind, at FROM app_last WHERE app = ?", (app,)).fetchall())

    def app_log(self, app: str, log: str) -> tuple[int | None, int | None, int] | None:
        row = self.db.execute(
            "SELECT oldest, newest, lines FROM app_logs WHERE app = ? AND log = ?", (app, log)
        ).fetchone()
        return tuple(row) if row else None

    def log(self, log: str) -> tuple[int | None, int | None, int, int, int | None] | None:
        row = self.db.execute(
            "SELECT oldest, newest, lines, unparsed, read_at FROM logs WHERE log = ?", (log,)
        ).fetchone()
        return tuple(row) if row else None


def _only_changed(since: int | None) -> str:
    """The condition that keeps a query on one app (:app) to the days changed after generation :since."""
    return "" if since is None else f" AND day IN ({_CHANGED_SINCE})"


def _pack(ids: set[int]) -> bytes:
    """Client ids (signed 64-bit) as little-endian bytes."""
    return struct.pack(f"<{len(ids)}q", *ids)


def _unpack(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // 8}q", blob)
