"""Writing a reconcile run into the store.

While the subjects are worked out, their rows go into tables of an in-memory
database attached to the store's connection (`stage`): no write lock is held
meanwhile, and a fleet's worth of findings and verdicts is never held as Python
objects at once. `write` then
sets them against what the previous run left, in one short transaction, one
statement per kind of change:

- an open finding that no longer holds is resolved, unless its subject was
  not worked out (its inputs had not changed: its findings still hold);
- an open finding that holds with other figures is updated; a new one opens;
- the verdicts of the subjects worked out are written (`since` kept when the
  verdict is the same), and those of subjects that are gone deleted.

The columns are named once, by the fields of FindingRow and VerdictRow.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring  # the C string encoder json uses
from typing import Any, NamedTuple

from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.model import Finding, Match, Reason, SubjectResult, Verdict, iso
from ronda.collector.reconcile.verdicts import SAFE

CHUNK = 5_000  # rows staged per statement


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


class FindingRow(NamedTuple):
    """The columns of a findings row that a run sets (first_seen is when the run started)."""

    kind: str
    subject: str
    app_id: str | None
    agent_id: str | None
    app_key: str | None
    summary: str
    detail: str  # JSON
    digest: int  # of summary and detail: it only tells a changed finding from the same one


class VerdictRow(NamedTuple):
    """The columns of a verdicts row that a run sets (`since` is kept while the verdict stays the same)."""

    subject: str
    app_id: str | None
    agent_id: str | None
    app_key: str | None
    name: str
    owner: str
    hosts: str
    verdict: str
    summary: str
    apps: int
    coverage: str | None
    coverage_start: str | None
    last_human_request: str | None
    last_request: str | None
    human_requests: int | None
    human_recent: int | None
    human_previous: int | None
    trend: str | None
    oldest_snapshot: str | None
    inbound: str | None  # JSON, or None when nothing depends on it
    annual_cost: int | None
    rss_bytes: int | None
    disk_bytes: int | None
    reasons: str  # JSON
    digest: int
    input_digest: int


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)  # no cycles here
# _JSON's C encoder, made once: JSONEncoder.encode makes a new one on every call, which is half the cost
# of a finding's small detail (a fleet's first run writes half a million of them).
_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None where json has no C speedups
_ENCODER = _MAKE_ENCODER and _MAKE_ENCODER(
    None, _JSON.default, encode_basestring, None, ":", ",", False, False, True
)


def to_json(value: Any) -> str:
    """`value` as _JSON writes it."""
    return "".join(_ENCODER(value, 0)) if _ENCODER else _JSON.encode(value)


def finding_row(f: Finding) -> tuple:
    """A finding's row, its values in FindingRow's order: sqlite3 binds a plain tuple's a third faster
    than a named tuple's, and a fleet's first run stages some 300,000."""
    detail = to_json(f.detail)
    digest = zlib.crc32((f.summary + "\x1f" + detail).encode())
    return (f.kind, f.subject, f.app_id, f.agent_id, f.app_key, f.summary, detail, digest)


def _reasons_json(reasons: list[Reason]) -> str:
    """`[[effect, rule, text], ...]` as _JSON writes it, without building the lists (a row per subject)."""
    text = encode_basestring
    return "[" + ",".join([f"[{text(r.effect)},{text(r.rule)},{text(r.text)}]" for r in reasons]) + "]"


def verdict_row(v: Verdict, key: int) -> tuple:
    """A verdict's row, its values in VerdictRow's order (see finding_row). `key`: the subject's input
    checksum. A verdict changes only with its inputs, so it is also the row's digest: no second checksum
    of the output is needed to tell a changed row."""
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
        to_json(inbound) if inbound else None,
        f["annual_cost"],
        f["rss_bytes"],
        f["disk_bytes"],
        _reasons_json(v.reasons),
        key,  # digest
        key,  # input_digest
    )


_FINDING = FindingRow._fields
_VERDICT = VerdictRow._fields


def _names(columns: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + name for name in columns)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({_names(columns)}) VALUES ({', '.join('?' * len(columns))})"


_STAGING = (
    "ATTACH DATABASE ':memory:' AS staging",
    f"CREATE TABLE staging.findings ({_names(_FINDING)})",
    f"CREATE TABLE staging.verdicts ({_names(_VERDICT)})",
    "CREATE TABLE staging.skipped (subject TEXT PRIMARY KEY) WITHOUT ROWID",
)
# No key: (kind, subject) is unique in a run by construction (a subject's findings are about it, drift
# aspects as `APP#aspect`; Plan.fleet_findings leaves out what sweeps repeat), and the store's unique
# index on open findings would refuse a repeat. SQLite indexes what a statement looks up, when it must.
_STAGE_FINDING = _insert("staging.findings", _FINDING)
_STAGE_VERDICT = _insert("staging.verdicts", _VERDICT)
_STAGE_SKIPPED = "INSERT INTO staging.skipped (subject) VALUES (?)"


def drop_staging(conn: sqlite3.Connection) -> None:
    if any(name == "staging" for _, name, _ in conn.execute("PRAGMA database_list")):
        conn.execute("DETACH DATABASE staging")


def stage(conn: sqlite3.Connection, results: Iterable[SubjectResult], fleet: list[Finding]) -> int:
    """Put the rows of each subject worked out (and of the findings about no subject) into the staging
    tables, as the subjects come; returns how many subjects were not worked out (unchanged)."""
    drop_staging(conn)
    for statement in _STAGING:
        conn.execute(statement)
    findings: list[tuple] = []
    verdicts: list[tuple] = []
    skipped: list[tuple[str]] = []
    unchanged = 0
    for result in results:
        if result.worked:
            findings += map(finding_row, result.findings)
            if result.verdict is not None:
                verdicts.append(verdict_row(result.verdict, result.key))
        else:
            skipped.append((result.handle,))
        if len(findings) + len(verdicts) + len(skipped) >= CHUNK:
            unchanged += _flush(conn, findings, verdicts, skipped)
            findings, verdicts, skipped = [], [], []
    findings += map(finding_row, fleet)
    return unchanged + _flush(conn, findings, verdicts, skipped)


def _flush(conn: sqlite3.Connection, findings: list, verdicts: list, skipped: list) -> int:
    """Stage one chunk in one transaction (not one per row); it writes only the staging tables."""
    conn.execute("BEGIN")
    try:
        conn.executemany(_STAGE_FINDING, findings)
        conn.executemany(_STAGE_VERDICT, verdicts)
        conn.executemany(_STAGE_SKIPPED, skipped)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(skipped)


def latest_run(conn: sqlite3.Connection) -> tuple[int | None, str | None]:
    """(run id, started at) of the latest run, or (None, None)."""
    return conn.execute(
        "SELECT run_id, started_at FROM reconcile_runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone() or (None, None)


# The subject a finding belongs to: drift findings are about `APP#aspect`.
_OWNER = "substr(f.subject, 1, instr(f.subject || '#', '#') - 1)"
_RESOLVE = f"""
    UPDATE findings AS f SET resolved_at = :stamp, last_seen = :previous
    WHERE f.resolved_at IS NULL AND {_OWNER} NOT IN (SELECT subject FROM staging.skipped)
      AND (f.kind, f.subject) NOT IN (SELECT kind, subject FROM staging.findings)"""
_UPDATE = """
    UPDATE findings AS f SET summary = n.summary, detail = n.detail, digest = n.digest
    FROM staging.findings n
    WHERE f.resolved_at IS NULL AND f.kind = n.kind AND f.subject = n.subject AND f.digest != n.digest"""
_OPEN = f"""
    INSERT INTO findings ({_names(_FINDING)}, first_seen)
    SELECT {_names(_FINDING, "n.")}, :stamp FROM staging.findings n
    WHERE NOT EXISTS (SELECT 1 FROM findings f
                      WHERE f.resolved_at IS NULL AND f.kind = n.kind AND f.subject = n.subject)
    ORDER BY n.rowid"""
_GONE = """
    DELETE FROM verdicts WHERE subject NOT IN (SELECT subject FROM staging.skipped)
                           AND subject NOT IN (SELECT subject FROM staging.verdicts)"""
_VERDICTS = f"""
    INSERT INTO verdicts ({_names(_VERDICT)}, since)
    SELECT {_names(_VERDICT, "n.")}, :stamp FROM staging.verdicts n WHERE true ORDER BY n.rowid
    ON CONFLICT (subject) DO UPDATE SET
        {", ".join(f"{name} = excluded.{name}" for name in _VERDICT[1:])},
        since = iif(verdicts.verdict = excluded.verdict, verdicts.since, excluded.since)"""


def _matches(conn: sqlite3.Connection, matches: list[Match]) -> None:
    """Rewrite only the matches that changed: most runs change none."""
    old = set(conn.execute("SELECT app_id, agent_id, app_key, rule, reason FROM matches"))
    new = {(m.app_id, m.agent_id, m.app_key, m.rule, m.reason) for m in matches}
    conn.executemany(
        "DELETE FROM matches WHERE app_id = ? AND agent_id = ? AND app_key = ?", [r[:3] for r in old - new]
    )
    conn.executemany(
        "INSERT OR REPLACE INTO matches (app_id, agent_id, app_key, rule, reason) VALUES (?, ?, ?, ?, ?)",
        sorted(new - old),
    )


def write(
    conn: sqlite3.Connection,
    matches: list[Match],
    started: datetime,
    config: ReconcileConfig,
    declared: int,
    discovered: int,
    unchanged: int,
) -> RunSummary:
    """Write the staged run and its record, inside the caller's transaction (see `stage`);
    `unchanged`: how many subjects were not worked out."""
    stamp = iso(started)
    _, previous = latest_run(conn)
    _matches(conn, matches)
    resolved = conn.execute(_RESOLVE, {"stamp": stamp, "previous": previous or stamp}).rowcount
    conn.execute(_UPDATE)
    opened = conn.execute(_OPEN, {"stamp": stamp}).rowcount
    conn.execute(_GONE)
    conn.execute(_VERDICTS, {"stamp": stamp})
    counts = dict(conn.execute("SELECT kind, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY kind"))
    verdicts = dict(conn.execute("SELECT verdict, count(*) FROM verdicts GROUP BY verdict"))
    matched = len({(m.agent_id, m.app_key) for m in matches})
    cursor = conn.execute(
        "INSERT INTO reconcile_runs (started_at, finished_at, config, declared, discovered, matched, "
        "findings_open, opened, resolved, candidates) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            stamp,
            iso(datetime.now(UTC)),
            _JSON.encode(config.as_dict()),
            declared,
            discovered,
            matched,
            sum(counts.values()),
            opened,
            resolved,
            verdicts.get(SAFE, 0),
        ),
    )
    return RunSummary(
        cursor.lastrowid or 0,  # an INSERT's row id
        declared,
        discovered,
        matched,
        sum(counts.values()),
        opened,
        resolved,
        counts,
        verdicts,
        unchanged,
    )
