"""Writing a reconcile outcome: findings with their history, verdicts, matches, the run record.

Rows carry a digest, so a run rewrites only what changed. What the previous
run left is read on a second connection while the inputs are read. An outcome
may come in two parts (the second worked out by another process, see
collector.reconcile.split): each part writes the rows of its own subjects.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING

from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.model import Finding, Outcome, Verdict, iso
from ronda.collector.reconcile.verdicts import SAFE
from ronda.collector.store import Store

if TYPE_CHECKING:
    from ronda.collector.reconcile.split import Split

CHUNK = 20_000


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    declared: int
    discovered: int
    matched: int
    findings_open: int
    opened: int
    resolved: int
    counts: dict[str, int]  # open findings per kind
    verdicts: dict[str, int]  # subjects per verdict
    unchanged: int = 0  # subjects whose inputs had not changed since the previous run
    processes: int = 1  # that worked out the subjects


@dataclass
class Previous:
    """What the latest run left: its id and start, the open findings and the verdicts (with digests)."""

    run_id: int | None = None
    started: str | None = None
    findings: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    verdicts: dict[str, tuple[int, str, str, int | None]] = field(
        default_factory=dict
    )  # digest, verdict, since,
    #                                                                                      input digest

    def known(self) -> dict[str, int]:
        """Subject -> input checksum of its stored verdict (for reconcile's `known`)."""
        return {s: v[3] for s, v in self.verdicts.items() if v[3] is not None}

    def only(self, keep: Callable[[str], bool]) -> Previous:
        """The findings and verdicts whose subject `keep` accepts."""
        return Previous(
            self.run_id,
            self.started,
            {k: v for k, v in self.findings.items() if keep(k[1])},
            {s: v for s, v in self.verdicts.items() if keep(s)},
        )


def _latest_run(conn: sqlite3.Connection) -> tuple[int | None, str | None]:
    return conn.execute(
        "SELECT run_id, started_at FROM reconcile_runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone() or (None, None)


def read_previous(conn: sqlite3.Connection) -> Previous:
    """Each table comes back as one JSON text that SQLite builds without the GIL: read in a thread,
    it does not take turns, row by row, with the thread reading the inputs."""
    run_id, started = _latest_run(conn)
    findings, verdicts = conn.execute("""
        SELECT (SELECT json_group_array(json_array(finding_id, kind, subject, digest)) FROM findings
                WHERE resolved_at IS NULL),
               (SELECT json_group_array(json_array(subject, digest, verdict, since, input_digest)) FROM verdicts)
        """).fetchone()
    return Previous(
        run_id,
        started,
        {(k, s): (fid, d) for fid, k, s, d in json.loads(findings)},
        {s: (d, v, since, key) for s, d, v, since, key in json.loads(verdicts)},
    )


class Prefetch(threading.Thread):
    """read_previous on its own connection, in the background (WAL: a consistent snapshot)."""

    def __init__(self, path: str) -> None:
        super().__init__(name="ronda-reconcile-prefetch", daemon=True)
        self.path = path
        self.result: Previous | None = None

    def run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                conn.execute("BEGIN")
                self.result = read_previous(conn)
            finally:
                conn.close()
        except sqlite3.Error:
            self.result = None  # the writer reads it again inside its transaction

    def get(self) -> Previous | None:
        self.join()
        return self.result


Put = Callable[[str, list[tuple]], object]  # runs one statement over many rows (executemany)


@dataclass
class Written:
    """What a part of an outcome wrote, for the run record."""

    opened: int = 0
    resolved: int = 0
    kinds: Counter = field(default_factory=Counter)  # open findings per kind
    verdicts: Counter = field(default_factory=Counter)  # subjects per verdict
    unchanged: int = 0

    def __add__(self, other: Written) -> Written:
        return Written(
            self.opened + other.opened,
            self.resolved + other.resolved,
            self.kinds + other.kinds,
            self.verdicts + other.verdicts,
            self.unchanged + other.unchanged,
        )


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
if c_make_encoder is not None:
    # JSONEncoder.encode builds a new C encoder on every call, half the cost of encoding a finding's
    # detail; this one is built once (no circular check: the values are plain trees).
    _encode = c_make_encoder(None, _JSON.default, encode_basestring, None, ":", ",", False, False, True)

    def _dumps(value: object) -> str:
        return "".join(_encode(value, 0))
else:
    _dumps = _JSON.encode


class StaleSkip(Exception):
    """Another run finished between reading its results and writing ours: the skipped subjects are unsure."""


def _digest(f: Finding) -> int:
    """A checksum of a finding's summary and detail values: it only tells "changed" from "same"."""
    return zlib.crc32((f.summary + "\x1f" + "\x1e".join(map(str, f.detail.values()))).encode())


def verdict_row(v: Verdict, key: int, since: str) -> tuple:
    """The verdicts row as written, in column order: inbound and reasons in JSON, and the input checksum
    both as the row's digest and its input_digest."""
    f = v.figures
    inbound = f["inbound"]
    return (
        v.subject,
        v.app_id,
        v.agent_id,
        v.app_key,
        v.name,
        v.owner,
        ", ".join(v.hosts),
        v.verdict,
        v.summary,
        f["apps"],
        f["coverage"],
        f["coverage_start"],
        f["last_human_request"],
        f["last_request"],
        f["human_requests"],
        f["human_recent"],
        f["human_previous"],
        f["trend"],
        f["oldest_snapshot"],
        _dumps(inbound) if inbound else None,
        f["annual_cost"],
        f["rss_bytes"],
        f["disk_bytes"],
        _dumps([[r.effect, r.rule, r.text] for r in v.reasons]),
        key,
        since,
        key,
    )


FINDING_COLUMNS = "kind, subject, app_id, agent_id, app_key, summary, detail, digest, first_seen"
VERDICT_COLUMNS = 27
NEW_FINDING = f"INSERT INTO findings ({FINDING_COLUMNS}) VALUES ({', '.join('?' * 9)})"
_CHANGED_FINDING = "UPDATE findings SET summary=?, detail=?, digest=? WHERE finding_id=?"
VERDICT = f"INSERT OR REPLACE INTO verdicts VALUES ({', '.join('?' * VERDICT_COLUMNS)})"


def _matches(put: Put, c: sqlite3.Connection, outcome: Outcome) -> None:
    old = set(c.execute("SELECT app_id, agent_id, app_key, rule, reason FROM matches"))
    new = {(m.app_id, m.agent_id, m.app_key, m.rule, m.reason) for m in outcome.matches}
    put("DELETE FROM matches WHERE app_id=? AND agent_id=? AND app_key=?", [r[:3] for r in old - new])
    put("INSERT OR REPLACE INTO matches VALUES (?,?,?,?,?)", list(new - old))


def _findings(put: Put, outcome: Outcome, old: dict, stamp: str, previous: str, written: Written) -> None:
    new, changed, held = [], [], set()
    if outcome.skipped:  # the open findings of skipped subjects still hold (drift keeps `#aspect` subjects)
        held.update(key for key in old if key[1].split("#", 1)[0] in outcome.skipped)
    for f in outcome.findings:
        key = (f.kind, f.subject)
        if key in held:
            continue
        held.add(key)
        digest = _digest(f)
        row = old.get(key)
        if row is None:
            new.append(
                (
                    f.kind,
                    f.subject,
                    f.app_id,
                    f.agent_id,
                    f.app_key,
                    f.summary,
                    _dumps(f.detail),
                    digest,
                    stamp,
                )
            )
        elif row[1] != digest:
            changed.append((f.summary, _dumps(f.detail), digest, row[0]))
        if len(new) >= CHUNK:
            written.opened += len(new)
            put(NEW_FINDING, new)
            new = []
    gone = [(stamp, previous, fid) for key, (fid, _) in old.items() if key not in held]
    put("UPDATE findings SET resolved_at=?, last_seen=? WHERE finding_id=?", gone)
    put(NEW_FINDING, new)
    put(_CHANGED_FINDING, changed)
    written.opened += len(new)
    written.resolved += len(gone)
    written.kinds.update(kind for kind, _ in held)


def _verdicts(put: Put, outcome: Outcome, old: dict, stamp: str, written: Written) -> None:
    """Write the verdicts of the subjects worked out this run.

    A subject's row changes with its inputs, so its input checksum is its digest: no second checksum of
    the output is needed to tell a changed row."""
    existing = {s: v for s, v in old.items() if s not in outcome.skipped}
    counts = written.verdicts
    counts.update(v[1] for s, v in old.items() if s in outcome.skipped)
    keys = outcome.keys
    rows = []
    for v in outcome.verdicts:
        counts[v.verdict] += 1
        before = existing.pop(v.subject, None)
        since = before[2] if before is not None and before[1] == v.verdict else stamp
        rows.append(verdict_row(v, keys.get(v.subject, 0), since))
        if len(rows) >= CHUNK:
            put(VERDICT, rows)
            rows = []
    put(VERDICT, rows)
    put("DELETE FROM verdicts WHERE subject=?", [(s,) for s in existing])


def write_part(put: Put, outcome: Outcome, previous: Previous, stamp: str) -> Written:
    """Write the findings and verdicts of an outcome's subjects against what the previous run left of
    them (`previous`, only theirs when the outcome is a part); `stamp`: when this run started."""
    written = Written(unchanged=len(outcome.skipped))
    _findings(put, outcome, previous.findings, stamp, previous.started or stamp, written)
    _verdicts(put, outcome, previous.verdicts, stamp, written)
    return written


def save_outcome(
    store: Store,
    outcome: Outcome,
    config: ReconcileConfig,
    started: datetime,
    declared: int,
    discovered: int,
    previous: Previous | None = None,
    rest: Split | None = None,
) -> RunSummary:
    """Write `outcome` and, after it, the `rest` of the run's outcome: both were worked out against
    `previous`, so should another run have finished since, StaleSkip tells the caller to start over."""
    stamp = iso(started) or ""
    with store.writing() as c:
        if previous is None or previous.run_id != _latest_run(c)[0]:
            if outcome.skipped or rest is not None:
                raise StaleSkip()
            previous = read_previous(c)  # none prefetched, or another run finished in between

        def put(sql: str, rows: list[tuple]) -> None:
            if rows:
                c.executemany(sql, rows)

        _matches(put, c, outcome)
        written = write_part(put, outcome, previous, stamp)
        if rest is not None:
            written += rest.copy_into(c)
        matched = len({m.handle for m in outcome.matches})
        finished = iso(datetime.now(UTC))
        counts, verdicts = dict(written.kinds), dict(written.verdicts)
        run_id = c.execute(
            "INSERT INTO reconcile_runs (started_at, finished_at, config, declared, discovered, "
            "matched, findings_open, opened, resolved, candidates) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                stamp,
                finished,
                _dumps(config.as_dict()),
                declared,
                discovered,
                matched,
                sum(counts.values()),
                written.opened,
                written.resolved,
                verdicts.get(SAFE, 0),
            ),
        ).lastrowid
    return RunSummary(
        run_id,
        declared,
        discovered,
        matched,
        sum(counts.values()),
        written.opened,
        written.resolved,
        counts,
        verdicts,
        written.unchanged,
        1 if rest is None else 2,
    )
