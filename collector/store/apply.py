"""Apply one snapshot message to the store inside the caller's transaction.

Fast on purpose: agents resend their full state every interval, so most of a
snapshot is what the store already holds. Each app's wire form is hashed; an
app whose hash is unchanged is only marked present. Of a changed app's daily
usage only the days that differ from its last applied usage are written.
Unchanged apps and days were checked when they were first stored.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from google.protobuf.unknown_fields import UnknownFieldSet

from collector.wirejson import iso_seconds
from collector.validate import InvalidSnapshot, app_detail, check_days, check_header, check_unique_dates, \
    validate_message
from ronda_wire.v1 import ronda_pb2 as pb

AdmitHook = Callable[[sqlite3.Connection, pb.Snapshot], Callable[[], list[str]]]
_COVERAGE = {v.number: v.name[len("COVERAGE_"):].lower() for v in pb.Coverage.DESCRIPTOR.values}
_SOURCE = {v.number: v.name[len("SOURCE_"):].lower() for v in pb.Source.DESCRIPTOR.values}

_APP_UPSERT = """INSERT INTO apps (agent_id, app_key, kind, server_names, listen, path_prefix, root, upstream,
    config_file, config_line, parent_key, framework, framework_version, coverage, coverage_start, last_request,
    last_human_request, first_seen, last_seen, present, detail)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?)
    ON CONFLICT(agent_id, app_key) DO UPDATE SET kind=excluded.kind,
    server_names=excluded.server_names, listen=excluded.listen, path_prefix=excluded.path_prefix,
    root=excluded.root, upstream=excluded.upstream, config_file=excluded.config_file,
    config_line=excluded.config_line, parent_key=excluded.parent_key, framework=excluded.framework,
    framework_version=excluded.framework_version, coverage=excluded.coverage,
    coverage_start=excluded.coverage_start, last_request=excluded.last_request,
    last_human_request=excluded.last_human_request, last_seen=excluded.last_seen, present=1,
    detail=excluded.detail"""


class SequenceConflict(Exception):
    """The (agent id, sequence) was already used by a different report."""

    def __init__(self, agent_id: str, sequence: int, last_sequence: int) -> None:
        super().__init__(f"sequence {sequence} of agent {agent_id!r} was already used by another report; "
                         f"the newest sequence stored is {last_sequence}. The agent's state was reset or copied "
                         "(a cloned machine?); it continues above the newest sequence")
        self.last_sequence = last_sequence


_EPOCH = datetime(1970, 1, 1)


def ingest_message(c: sqlite3.Connection, message: pb.Snapshot, now: str, admit: AdmitHook | None = None,
                   raw: bytes | None = None, prepared: "Prepared | None" = None):
    """Returns (duplicate, stale, last_sequence, notes). Raises InvalidSnapshot or SequenceConflict.

    `prepared` (from `prepare` outside the write lock) is used if the agent's row is still what it
    was prepared against; otherwise the work is redone here.
    """
    problems = check_header(message)
    if problems:
        raise InvalidSnapshot(problems)
    record = admit(c, message) if admit else None
    agent_id, sequence = message.agent_id, message.sequence
    base = read_base(c, agent_id)
    last = base[0] if base else 0
    seen = c.execute("SELECT report_id FROM snapshots WHERE agent_id=? AND sequence=?", (agent_id, sequence)).fetchone()
    if seen:
        if seen[0] != message.report_id:
            raise SequenceConflict(agent_id, sequence, last)
        return True, False, last, []
    stale = base is not None and sequence < last
    if stale:
        validate_message(message)
    if not stale and (prepared is None or prepared.base != base):
        prepared = prepare(c, message, now, raw, base)
    c.execute("INSERT INTO snapshots (agent_id, sequence, report_id, collected_at, received_at, applied, app_count, "
              "error_count, coalesced) VALUES (?,?,?,?,?,?,?,?,?)",
              (agent_id, sequence, message.report_id, _iso(message, "collected_at"), now, int(not stale),
               len(message.apps), len(message.errors), message.coalesced))
    if stale:
        return False, True, last, []
    c.execute("""INSERT INTO agents VALUES (?,?,?,?,?,?)
                 ON CONFLICT(agent_id) DO UPDATE SET last_seen=excluded.last_seen,
                 last_sequence=excluded.last_sequence, last_report_id=excluded.last_report_id,
                 source=excluded.source""",
              (agent_id, now, now, sequence, message.report_id, _SOURCE.get(message.source, "unspecified")))
    write(c, agent_id, prepared)
    notes = record() if record else []
    return False, False, sequence, notes


def read_base(c: sqlite3.Connection, agent_id: str) -> tuple | None:
    """What a prepared snapshot was computed against: the agent's newest sequence and report."""
    return c.execute("SELECT last_sequence, last_report_id FROM agents WHERE agent_id=?", (agent_id,)).fetchone()


def _listen_text(a) -> str:
    host = f"[{a.address}]" if ":" in a.address and not a.address.startswith("/") else a.address
    text = f"{host}:{a.port}" if a.port else host
    return text + (" ssl" if a.tls else "")


_TIMES = ("coverage_start", "coverage_end", "last_request", "last_human_request", "last_human_success")


def _varint_len(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def _record_len(message) -> int:
    size = message.ByteSize()
    return 1 + _varint_len(size) + size


def daily_block(usage: pb.Usage, wire: bytes) -> bytes:
    """The bytes of `usage.daily` inside `wire` (usage serialized deterministically, unknown fields dropped).

    Fields are written in number order, so the daily entries (field 7) sit between fields 1-6 and 8-9.
    """
    head = 1 + _varint_len(usage.coverage) if usage.coverage else 0
    for name in _TIMES:
        if usage.HasField(name):
            head += _record_len(getattr(usage, name))
    tail = sum(_record_len(log) for log in usage.logs)
    if usage.unparsed_lines:
        tail += 1 + _varint_len(usage.unparsed_lines)
    return wire[head:len(wire) - tail]


def changed_days(old: bytes | None, new: bytes, daily) -> list:
    """The entries of `daily` (whose wire form is `new`) not byte-identical at the same place in `old`.

    Entries wholly inside the common prefix of `old` and `new` are unchanged; the rest are
    returned (usually just today's). A shifted window returns every entry, once a day.
    """
    if old == new:
        return []
    if not old:
        return list(daily)
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    end, k, n = len(new), 0, len(daily)
    while k < n and end > lo:
        end -= _record_len(daily[n - 1 - k])
        k += 1
    return list(daily[n - k:])


def raw_apps(request: bytes) -> list[bytes] | None:
    """The apps (field 8) of a serialized Snapshot as the agent sent them, without re-encoding them.

    None when the bytes hold something this reader does not expect (the caller re-serializes then).
    """
    apps, i, end = [], 0, len(request)
    try:
        while i < end:
            key, i = _varint(request, i)
            wire_type = key & 7
            if wire_type == 2:
                size, i = _varint(request, i)
                if key >> 3 == 8:
                    apps.append(request[i:i + size])
                i += size
            elif wire_type == 0:
                _, i = _varint(request, i)
            elif wire_type == 1:
                i += 8
            elif wire_type == 5:
                i += 4
            else:
                return None
    except IndexError:
        return None
    return apps if i == end else None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def _iso(message, name: str) -> str | None:
    if not message.HasField(name):
        return None
    return iso_seconds(getattr(message, name).seconds) + "Z"


@dataclass
class Prepared:
    """Everything a snapshot writes, computed (and checked) before taking the write lock."""
    base: tuple | None
    host: tuple
    keys: str
    unchanged: list = field(default_factory=list)
    apps: list = field(default_factory=list)
    digests: list = field(default_factory=list)
    blocks: list = field(default_factory=list)
    days: list = field(default_factory=list)
    listeners: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def prepare(c: sqlite3.Connection, m: pb.Snapshot, now: str, raw: bytes | None, base: tuple | None) -> Prepared:
    """Check the apps that changed since the agent's last snapshot and build every row; raises InvalidSnapshot.

    Reads only; `c` may be a reader outside the write lock (then `base` is what it saw, checked again later).
    """
    agent_id = m.agent_id
    h = m.host
    host = (
        agent_id, h.machine_id, h.hostname, h.fqdn, json.dumps(list(h.addresses)), h.os_name, h.os_version,
        h.kernel, h.architecture, _iso(h, "boot_time"), h.cpu_count, h.memory_total_bytes, h.memory_used_bytes,
        json.dumps([{"mountpoint": d.mountpoint, "device": d.device, "fstype": d.fstype,
                     "total_bytes": d.total_bytes, "used_bytes": d.used_bytes} for d in h.disks]),
        _SOURCE.get(m.source, "unspecified"), m.agent_version, m.interval_seconds, m.sequence,
        _iso(m, "collected_at"))
    digests = dict(c.execute("SELECT app_key, digest FROM app_digests WHERE agent_id=?", (agent_id,)))
    raws = raw_apps(raw) if raw is not None else None
    if raws is not None and len(raws) != len(m.apps):
        raws = None
    problems: list[str] = []
    unchanged, changed = [], []
    for i, app in enumerate(m.apps):
        wire = raws[i] if raws is not None else app.SerializeToString(deterministic=True)
        digest = hashlib.blake2b(wire, digest_size=16).digest()
        if digests.get(app.key) == digest:
            unchanged.append((now, agent_id, app.key))
        else:
            changed.append((i, app, digest))
    blocks = dict(c.execute("SELECT app_key, block FROM app_daily_wire WHERE agent_id=? AND app_key IN "
                            "(SELECT value FROM json_each(?))",
                            (agent_id, json.dumps([app.key for _, app, _ in changed])))) if changed else {}
    app_rows, digest_rows, block_rows, day_rows = [], [], [], []
    for i, app, digest in changed:
        where = f"apps[{i}]"
        detail = app_detail(app, where, problems)
        usage = app.usage if app.HasField("usage") else None
        if usage is not None:
            if len(UnknownFieldSet(usage)):
                usage.DiscardUnknownFields()  # from a newer agent; they would blur where the daily entries are
            block = daily_block(usage, usage.SerializeToString(deterministic=True))
            old = blocks.get(app.key)
            if old != block:
                check_unique_dates(usage.daily, where, problems)  # stored blocks never name a day twice
                for row in check_days(changed_days(old, block, usage.daily), where, problems):
                    day_rows.append((agent_id, app.key, *row))
                block_rows.append((agent_id, app.key, block))
        if problems:
            continue  # the snapshot is refused; only the problems are still of use
        fw = app.framework if app.HasField("framework") else None
        digest_rows.append((agent_id, app.key, digest))
        app_rows.append((
            agent_id, app.key, app.kind, json.dumps(list(app.server_names)),
            json.dumps([_listen_text(a) for a in app.listen]), app.path_prefix, app.root, app.upstream,
            app.config.file, app.config.line, app.parent_key, fw.name if fw else None, fw.version if fw else None,
            _COVERAGE.get(usage.coverage) if usage else None, _iso(usage, "coverage_start") if usage else None,
            _iso(usage, "last_request") if usage else None,
            _iso(usage, "last_human_request") if usage else None,
            now, now, json.dumps(detail)))
    if problems:
        raise InvalidSnapshot(problems)
    return Prepared(
        base=base, host=host, keys=json.dumps([app.key for app in m.apps]), unchanged=unchanged, apps=app_rows,
        digests=digest_rows, blocks=block_rows, days=day_rows,
        listeners=[(agent_id, s.protocol, s.address, s.port, s.pid, s.process, s.user, s.unit, s.container,
                    json.dumps(list(s.app_keys)), int(s.public)) for s in m.listeners],
        errors=[(agent_id, e.source, e.path, e.line, e.message) for e in m.errors])


def write(c: sqlite3.Connection, agent_id: str, p: Prepared) -> None:
    """The writes of a prepared snapshot, inside the caller's transaction."""
    c.execute("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", p.host)
    c.execute("UPDATE apps SET present=0 WHERE agent_id=? AND present=1 AND app_key NOT IN "
              "(SELECT value FROM json_each(?))", (agent_id, p.keys))
    c.executemany(_APP_UPSERT, p.apps)
    c.executemany("UPDATE apps SET present=1, last_seen=? WHERE agent_id=? AND app_key=?", p.unchanged)
    c.executemany("INSERT OR REPLACE INTO app_digests VALUES (?,?,?)", p.digests)
    c.executemany("INSERT OR REPLACE INTO app_daily_wire VALUES (?,?,?)", p.blocks)
    c.executemany("INSERT OR REPLACE INTO app_usage_daily VALUES (?,?,?,?,?,?,?,?,?)", p.days)
    c.execute("DELETE FROM listeners WHERE agent_id=?", (agent_id,))
    c.executemany("INSERT OR REPLACE INTO listeners VALUES (?,?,?,?,?,?,?,?,?,?,?)", p.listeners)
    c.execute("DELETE FROM source_errors WHERE agent_id=?", (agent_id,))
    c.executemany("INSERT INTO source_errors VALUES (?,?,?,?,?)", p.errors)
