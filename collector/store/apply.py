"""Apply one snapshot message to the store inside the caller's transaction.

Fast on purpose: agents resend their full state every interval, so most of a
snapshot is what the store already holds. Each app's wire form is hashed; an
app whose hash is unchanged is only marked present, and its last_seen moved at
most once an hour (LAST_SEEN_EVERY: rewriting every unchanged app's row for
the minute was most of a steady snapshot's writes; the host's last snapshot
says it to the second); which apps are to be marked seen (or absent) is known
first (collector.store.known), so that a snapshot with none writes no app row
for them. Of a changed app whose rest is unchanged, only its resources and
usage (its state) are checked, and stored as received, in wire form. Of a
changed app's daily usage only the days that differ from its last applied
usage are written. Unchanged apps and days
were checked when they were first stored.

A snapshot relative to a usage base (Snapshot.usage_base) carries only the
days changed since that snapshot; each is an absolute count, stored like any
other. The agents row keeps the snapshot through which the agent's usage is
whole (usage_through): a snapshot with whole windows, or relative to a base at
or before it, moves it to the snapshot's own sequence. One relative to a base
the store does not hold (restored from an older backup, the agent forgotten)
is stored as sent, and usage_through stays where it was: the ack tells the
agent, which sends the days changed since then, or whole windows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from google.protobuf.message import Message

from ronda.collector.store.known import Known, Memory, block_of, read_known
from ronda.collector.store.skim import Walked
from ronda.collector.store.usage_days import changed_only, settled_span, whole_window
from ronda.collector.store.wirebytes import AppParts, app_state, app_state_of, raw_apps, taken_apart
from ronda.collector.store.wirebytes import digest as _digest
from ronda.collector.validate import InvalidSnapshot, app_detail, check_header, validate_message
from ronda.collector.wirejson import CHECKERS, iso_seconds
from ronda.errors import InputError
from ronda.wire.v1 import ronda_pb2 as pb

AdmitHook = Callable[[sqlite3.Connection, pb.Snapshot], Callable[[], list[str]]]
_COVERAGE = {v.number: v.name[len("COVERAGE_") :].lower() for v in pb.Coverage.DESCRIPTOR.values}
_SOURCE = {v.number: v.name[len("SOURCE_") :].lower() for v in pb.Source.DESCRIPTOR.values}

_APP_UPSERT = """INSERT INTO apps (agent_id, app_key, kind, server_names, listen, path_prefix, root,
    upstream, config_file, config_line, parent_key, framework, framework_version, coverage, coverage_start,
    last_request, last_human_request, first_seen, last_seen, present, detail, state, digest, stable)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?)
    ON CONFLICT(agent_id, app_key) DO UPDATE SET kind=excluded.kind,
    server_names=excluded.server_names, listen=excluded.listen, path_prefix=excluded.path_prefix,
    root=excluded.root, upstream=excluded.upstream, config_file=excluded.config_file,
    config_line=excluded.config_line, parent_key=excluded.parent_key, framework=excluded.framework,
    framework_version=excluded.framework_version, coverage=excluded.coverage,
    coverage_start=excluded.coverage_start, last_request=excluded.last_request,
    last_human_request=excluded.last_human_request, last_seen=excluded.last_seen, present=1,
    detail=excluded.detail, state=excluded.state, digest=excluded.digest, stable=excluded.stable"""


# An app of which only resources and usage changed: those two (its state), the columns that come from
# usage, and its digest.
_APP_PATCH = """UPDATE apps SET state=?, coverage=?, coverage_start=?, last_request=?, last_human_request=?,
    last_seen=?, present=1, digest=? WHERE agent_id=? AND app_key=?"""
# Unchanged apps back in the snapshot, or last seen more than LAST_SEEN_EVERY ago.
_MARK_UNCHANGED = """UPDATE apps SET present=1, last_seen=? WHERE agent_id=?
    AND app_key IN (SELECT value FROM json_each(?))"""
# Upserts rewrite a row in place; INSERT OR REPLACE would delete it and insert it again (twice the
# index work).
_UPSERT_APP_DAILY_WIRE = """INSERT INTO app_daily_wire VALUES (?,?,?) ON CONFLICT(agent_id, app_key)
    DO UPDATE SET block=excluded.block"""
_COUNTS = """human=excluded.human, bot=excluded.bot, monitor=excluded.monitor, error=excluded.error,
    scanner=excluded.scanner, human_clients=excluded.human_clients"""
_UPSERT_APP_USAGE_DAYS = (
    """INSERT INTO app_usage_days VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(agent_id, app_key, date)
    DO UPDATE SET """
    + _COUNTS
)
# A new date moves the app's previous newest day into app_usage_days (a trigger of migration 40).
_UPSERT_APP_USAGE_LATEST = (
    """INSERT INTO app_usage_latest VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(agent_id, app_key)
    DO UPDATE SET date=excluded.date, """
    + _COUNTS
)
# Numbered parameters: the rows of the upsert, in their order.
_UPDATE_APP_USAGE_LATEST = """UPDATE app_usage_latest SET human=?4, bot=?5, monitor=?6, error=?7, scanner=?8,
    human_clients=?9 WHERE agent_id=?1 AND app_key=?2 AND date=?3"""
# json.dumps without its cycle check (these dicts are fresh trees): the same text, a third less time.
_dumps = json.JSONEncoder(check_circular=False).encode
_CHECK_RESOURCES = CHECKERS["ronda.v1.Resources"]
_CHECK_USAGE = CHECKERS["ronda.v1.Usage"]
# The parts of an app that change between snapshots: kept apart from its JSON detail, in wire form
# (its state).
_STATE = ("resources", "usage")


class SequenceConflict(InputError):
    """The (agent id, sequence) was already used by a different report."""

    def __init__(self, agent_id: str, sequence: int, last_sequence: int) -> None:
        super().__init__(
            f"sequence {sequence} of agent {agent_id!r} was already used by another report; "
            f"the newest sequence stored is {last_sequence}. The agent's state was reset or copied "
            "(a cloned machine?); it continues above the newest sequence"
        )
        self.last_sequence = last_sequence


_EPOCH = datetime(1970, 1, 1)
LAST_SEEN_EVERY = timedelta(hours=1)  # how often an unchanged app's last_seen moves


class Applied(NamedTuple):
    duplicate: bool
    stale: bool
    last_sequence: int  # the newest sequence stored for the agent
    usage_through: int  # the snapshot through which the agent's daily usage is whole (0: none)
    notes: list[str]
    written: Prepared | None = None  # what was written, for a snapshot that was applied


def ingest_message(
    c: sqlite3.Connection,
    message: pb.Snapshot,
    now: str,
    admit: AdmitHook | None = None,
    raw: bytes | None = None,
    prepared: Prepared | None = None,
    header_checked: bool = False,
    memory: Memory | None = None,
    whole: Callable[[], pb.Snapshot] | None = None,
) -> Applied:
    """Raises InvalidSnapshot or SequenceConflict.

    `prepared` (from `prepare` outside the write lock) is used if the agent's row is still what it
    was prepared against; otherwise the work is redone here (with what `memory` holds of the agent).
    `whole`: `message` was parsed without the settled days `prepared` found (collector.store.skim); it
    parses `raw` whole, for the work redone and for a snapshot older than the newest, checked whole.
    """
    problems = [] if header_checked else check_header(message)
    if problems:
        raise InvalidSnapshot(problems)
    record = admit(c, message) if admit else None
    agent_id, sequence = message.agent_id, message.sequence
    base = read_base(c, agent_id)
    last, through = (base[0], base[2]) if base else (0, 0)
    seen = c.execute(
        "SELECT report_id FROM snapshots WHERE agent_id=? AND sequence=?", (agent_id, sequence)
    ).fetchone()
    if seen:
        if seen[0] != message.report_id:
            raise SequenceConflict(agent_id, sequence, last)
        return Applied(True, False, last, through, [])
    stale = base is not None and sequence < last
    if whole is not None and (stale or prepared is None or prepared.base != base):
        message = whole()
    if stale:
        validate_message(message)
    if not stale and (prepared is None or prepared.base != base):
        prepared = prepare(c, message, now, raw, base, memory.get(agent_id, base) if memory else None)
    c.execute(
        "INSERT INTO snapshots (agent_id, sequence, report_id, collected_at, received_at, applied, "
        "app_count, error_count, coalesced) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            agent_id,
            sequence,
            message.report_id,
            _iso(message, "collected_at"),
            now,
            int(not stale),
            len(message.apps),
            len(message.errors),
            message.coalesced,
        ),
    )
    if stale:
        return Applied(False, True, last, through, [])
    assert prepared is not None  # prepared above for every snapshot that is not stale
    usage_base = message.usage_base
    held = usage_base == 0 or usage_base <= through
    c.execute(
        """INSERT INTO agents (agent_id, first_seen, last_seen, last_sequence, last_report_id, source,
                 usage_through) VALUES (?,?,?,?,?,?,?)
                 ON CONFLICT(agent_id) DO UPDATE SET last_seen=excluded.last_seen,
                 last_sequence=excluded.last_sequence, last_report_id=excluded.last_report_id,
                 source=excluded.source, usage_through=excluded.usage_through""",
        (
            agent_id,
            now,
            now,
            sequence,
            message.report_id,
            _SOURCE.get(message.source, "unspecified"),
            sequence if held else through,
        ),
    )
    write(c, agent_id, prepared)
    notes = record() if record else []
    if not held:
        notes.append(
            f"its usage days are those changed since snapshot {usage_base}, whose usage this collector does "
            + (f"not hold (it holds it through snapshot {through})" if through else "not hold")
            + ": they are stored, and the days changed before them are asked for"
        )
    return Applied(False, False, sequence, sequence if held else through, notes, prepared)


def read_base(c: sqlite3.Connection, agent_id: str) -> tuple | None:
    """What a prepared snapshot was computed against: the agent's newest sequence and report, and the
    snapshot through which its usage is whole."""
    return c.execute(
        "SELECT last_sequence, last_report_id, usage_through FROM agents WHERE agent_id=?", (agent_id,)
    ).fetchone()


def _listen_text(a: pb.ListenAddress) -> str:
    host = f"[{a.address}]" if ":" in a.address and not a.address.startswith("/") else a.address
    text = f"{host}:{a.port}" if a.port else host
    return text + (" ssl" if a.tls else "")


def _iso(message: Message, name: str) -> str | None:
    if not message.HasField(name):
        return None
    return _iso_text(getattr(message, name).seconds)


@lru_cache(maxsize=8192)
def _iso_text(seconds: int) -> str:
    """An instant as stored; agents repeat the same instants (coverage start, last request) every snapshot."""
    return iso_seconds(seconds) + "Z"


def _usage_columns(usage: pb.Usage) -> tuple:
    """The apps columns that come from an app's usage: coverage, coverage_start, last_request and
    last_human_request."""
    has = usage.HasField
    return (
        _COVERAGE.get(usage.coverage),
        _iso_text(usage.coverage_start.seconds) if has("coverage_start") else None,
        _iso_text(usage.last_request.seconds) if has("last_request") else None,
        _iso_text(usage.last_human_request.seconds) if has("last_human_request") else None,
    )


def _before(now: str, delta: timedelta) -> str:
    """`now` ("YYYY-MM-DDTHH:MM:SSZ") less `delta`, in the same form."""
    return (datetime.fromisoformat(now[:-1]) - delta).isoformat(timespec="seconds") + "Z"


def _needs_mark(stored: tuple | None, seen_before: str) -> bool:
    """Whether an unchanged app, stored as (present, last_seen), is to be marked present and seen now."""
    return stored is None or not stored[0] or stored[1] < seen_before


@dataclass
class Prepared:
    """Everything a snapshot writes, computed (and checked) before taking the write lock."""

    base: tuple | None
    host: tuple
    known: Known  # what the store held of the agent's apps, as of `base`
    now: str = ""
    vanished: list = field(default_factory=list)  # keys of the apps present until now and not in the snapshot
    seen: list = field(default_factory=list)  # keys of unchanged apps to mark present and seen now
    apps: list = field(default_factory=list)
    digests: list = field(default_factory=list)  # (key, digest, stable) of the apps in `apps`, `patches`
    blocks: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)  # of the apps in `digests` (known.Known.shapes)
    forgotten_blocks: list = field(default_factory=list)  # keys of apps whose stored block no longer holds
    days: list = field(default_factory=list)  # an app's earlier days that changed
    latest: list = field(default_factory=list)  # each app's newest day (its last entry)
    patches: list = field(default_factory=list)  # apps whose resources or usage alone changed
    listeners: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def prepare(
    c: sqlite3.Connection,
    m: pb.Snapshot,
    now: str,
    raw: bytes | None,
    base: tuple | None,
    known: Known | None = None,
    walked: list[Walked] | None = None,
    raws: list[bytes] | None = None,
) -> Prepared:
    """Check the apps that changed since the agent's last snapshot and build every row.

    Raises InvalidSnapshot. Reads only; `c` may be a reader outside the write lock (then `base` is what
    it saw, checked again later). `known`: what the store holds of the agent's apps, if remembered (used
    only if as of `base`; read otherwise). `walked`: the apps of `m` as collector.store.skim walked them
    against `known` (then as of `base`), which `m` was parsed from. `raws`: the apps of `raw` (split_apps),
    if already cut.
    """
    agent_id = m.agent_id
    h = m.host
    host = (
        agent_id,
        h.machine_id,
        h.hostname,
        h.fqdn,
        json.dumps(list(h.addresses)),
        h.os_name,
        h.os_version,
        h.kernel,
        h.architecture,
        _iso(h, "boot_time"),
        h.cpu_count,
        h.memory_total_bytes,
        h.memory_used_bytes,
        json.dumps(
            [
                {
                    "mountpoint": d.mountpoint,
                    "device": d.device,
                    "fstype": d.fstype,
                    "total_bytes": d.total_bytes,
                    "used_bytes": d.used_bytes,
                }
                for d in h.disks
            ]
        ),
        _SOURCE.get(m.source, "unspecified"),
        m.agent_version,
        m.interval_seconds,
        m.sequence,
        _iso(m, "collected_at"),
    )
    if known is None or known.base != base:
        if walked is not None:
            raise ValueError("apps walked against what the store held at another base")
        known = read_known(c, agent_id, base)
    # Which apps are present and when each was last seen is known, so the writes to the apps that vanished
    # and to the unchanged apps to mark seen are made only when there are some (seldom).
    digests, stored = known.digests, known.presence
    if raws is None and raw is not None and walked is None:
        raws = raw_apps(raw)
    if raws is not None and len(raws) != len(m.apps):
        raws = None
    problems: list[str] = []
    relative = m.usage_base != 0  # usage holds only the days changed since that snapshot
    unchanged, changed, in_snapshot = [], [], set()
    for i, app in enumerate(m.apps):
        key = app.key
        in_snapshot.add(key)
        walk = walked[i] if walked is not None else None
        if walk is not None:
            wire, digest = walk.wire, walk.digest
        else:
            wire = raws[i] if raws is not None else app.SerializeToString(deterministic=True)
            digest = _digest(wire)
        old = digests.get(key)
        if old is not None and old[0] == digest:
            unchanged.append(key)
        else:
            parts: AppParts | None
            if walk is not None and walk.parts is not None:  # an app left without its settled days has a span
                parts, span, shape = walk.parts, walk.span, walk.shape
            else:
                parts, shape = taken_apart(wire, known.shapes.get(key))
                span = None if relative else settled_span(wire, parts, known.blocks.get(key))
            stable = parts[0] if parts else None
            changed.append(
                (
                    i,
                    key,
                    app,
                    digest,
                    _digest(stable) if stable else None,
                    old[1] if old else None,
                    wire,
                    parts,
                    span,
                    shape,
                )
            )
    # the stored blocks of the whole windows whose received bytes did not show them (seldom)
    unseen = [item[1] for item in changed if item[8] is None and item[1] in known.blocks]
    blocks = (
        dict(
            c.execute(
                "SELECT app_key, block FROM app_daily_wire WHERE agent_id=? AND app_key IN "
                "(SELECT value FROM json_each(?))",
                (agent_id, json.dumps(unseen)),
            )
        )
        if unseen and not relative
        else {}
    )
    seen_before = _before(now, LAST_SEEN_EVERY)
    p = Prepared(
        base=base,
        host=host,
        known=known,
        now=now,
        vanished=[key for key, (present, _) in stored.items() if present and key not in in_snapshot],
        seen=[key for key in unchanged if _needs_mark(stored.get(key), seen_before)],
    )
    for i, key, app, digest, stable, old_stable, wire, parts, span, shape in changed:
        where = f"apps[{i}]"
        usage = app.usage if app.HasField("usage") else None
        patch = stable is not None and stable == old_stable
        if patch:  # only resources and usage moved: check those two
            if app.HasField("resources"):
                _CHECK_RESOURCES(app.resources, where + ".resources", problems)
            if usage is not None:
                _CHECK_USAGE(usage, where + ".usage", problems)
        else:
            detail = app_detail(app, where, problems)
            for name in _STATE:
                detail.pop(name, None)
        usage_rest = None  # the usage's wire form without its daily entries
        if usage is not None:
            writes = (
                changed_only(usage, wire, parts, where, problems)
                if relative
                else whole_window(usage, wire, parts, span, blocks.get(key), where, problems)
            )
            usage_rest = writes.rest
            if writes.block is not None:
                p.blocks.append((agent_id, key, writes.block))
            if writes.forget_block and key in known.blocks:
                p.forgotten_blocks.append(key)
            for n, row in enumerate(writes.rows):
                (p.latest if n == writes.newest else p.days).append((agent_id, key, *row))
        if problems:
            continue  # the snapshot is refused; only the problems are still of use
        p.digests.append((key, digest, stable))
        p.shapes[key] = shape
        state = (
            app_state(parts.resources, usage_rest)
            if parts is not None and (usage is None or usage_rest is not None)
            else app_state_of(app)
        )
        usage_columns = _usage_columns(usage) if usage is not None else (None, None, None, None)
        if patch:
            p.patches.append((state, *usage_columns, now, digest, agent_id, key))
            continue
        fw = app.framework if app.HasField("framework") else None
        p.apps.append(
            (
                agent_id,
                key,
                app.kind,
                json.dumps(list(app.server_names)),
                json.dumps([_listen_text(a) for a in app.listen]),
                app.path_prefix,
                app.root,
                app.upstream,
                app.config.file,
                app.config.line,
                app.parent_key,
                fw.name if fw else None,
                fw.version if fw else None,
                *usage_columns,
                now,
                now,
                _dumps(detail),
                state,
                digest,
                stable,
            )
        )
    if problems:
        raise InvalidSnapshot(problems)
    p.listeners = [
        (
            agent_id,
            s.protocol,
            s.address,
            s.port,
            s.pid,
            s.process,
            s.user,
            s.unit,
            s.container,
            json.dumps(list(s.app_keys)),
            int(s.public),
        )
        for s in m.listeners
    ]
    p.errors = [(agent_id, e.source, e.path, e.line, e.message) for e in m.errors]
    return p


def known_after(p: Prepared, base: tuple) -> Known:
    """What the store holds of the agent's apps once `p` is written and its agents row says `base`."""
    known = p.known
    digests = dict(known.digests)
    digests.update((key, (digest, stable)) for key, digest, stable in p.digests)
    presence = dict(known.presence)
    for key in p.vanished:
        presence[key] = (0, presence[key][1])
    seen_now = (1, p.now)
    for key in p.seen:
        presence[key] = seen_now
    for row in p.apps:
        presence[row[1]] = seen_now
    for row in p.patches:
        presence[row[-1]] = seen_now
    shapes = {**known.shapes, **p.shapes}
    blocks = known.blocks
    if p.forgotten_blocks or p.blocks:
        blocks = {key: block for key, block in blocks.items() if key not in p.forgotten_blocks}
        blocks.update((key, block_of(block)) for _, key, block in p.blocks)
    return Known(base, digests, presence, blocks, shapes)


def write(c: sqlite3.Connection, agent_id: str, p: Prepared) -> None:
    """The writes of a prepared snapshot, inside the caller's transaction."""
    c.execute("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", p.host)
    if p.vanished:
        c.execute(
            "UPDATE apps SET present=0 WHERE agent_id=? AND app_key IN (SELECT value FROM json_each(?))",
            (agent_id, json.dumps(p.vanished)),
        )
    c.executemany(_APP_UPSERT, p.apps)
    if p.seen:
        c.execute(_MARK_UNCHANGED, (p.now, agent_id, json.dumps(p.seen)))
    c.executemany(_APP_PATCH, p.patches)
    c.executemany(_UPSERT_APP_DAILY_WIRE, p.blocks)
    if p.forgotten_blocks:
        c.execute(
            "DELETE FROM app_daily_wire WHERE agent_id=? AND app_key IN (SELECT value FROM json_each(?))",
            (agent_id, json.dumps(p.forgotten_blocks)),
        )
    # Usually each app's newest day is the one stored, its counts moved: a plain update, which no trigger
    # looks at. Where some newest day is another (a new day began), the upsert, which may move an earlier
    # newest day to the days, and rewrites the others as they are now. First: before the earlier days.
    if p.latest and c.executemany(_UPDATE_APP_USAGE_LATEST, p.latest).rowcount != len(p.latest):
        c.executemany(_UPSERT_APP_USAGE_LATEST, p.latest)
    c.executemany(_UPSERT_APP_USAGE_DAYS, p.days)
    c.execute("DELETE FROM listeners WHERE agent_id=?", (agent_id,))
    c.executemany("INSERT OR REPLACE INTO listeners VALUES (?,?,?,?,?,?,?,?,?,?,?)", p.listeners)
    c.execute("DELETE FROM source_errors WHERE agent_id=?", (agent_id,))
    c.executemany("INSERT INTO source_errors VALUES (?,?,?,?,?)", p.errors)
