"""Checks every snapshot before it reaches the store. Bad input is refused
whole with every problem named; nothing is half-stored.

Checks work on the ronda.v1 message itself, in one walk that also builds the
app's JSON detail (protobuf's JSON mapping, proto field names), because the
collector must keep up with hundreds of snapshots a second. Every field is
bounded: counts of repeated fields, string lengths, integers that fit SQLite,
finite numbers, known enum values, timestamps in range, ports and dates.
Daily usage rows are checked by `check_days` as the store reads them (it only
reads the days that changed since the agent's last snapshot).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import cache

from google.protobuf.message import Message

from agent.model import Snapshot
from agent.state import valid_agent_id
from ronda_wire.v1 import ronda_pb2 as pb

MAX_APPS = 20_000
MAX_LISTENERS = 20_000
MAX_ERRORS = 5_000
MAX_DAYS = 3_700
MAX_STRING = 4_096
MAX_LIST = 1_000
MAX_INT = 2**63 - 1           # SQLite's INTEGER
CLOCK_SKEW = timedelta(days=1)
MIN_SECONDS, MAX_SECONDS = -62135596800, 253402300799  # 0001-01-01 .. 9999-12-31, RFC 3339's range
LIMITS = {"apps": MAX_APPS, "listeners": MAX_LISTENERS, "errors": MAX_ERRORS, "daily": MAX_DAYS}
PORT_FIELDS = {("ronda.v1.ListenAddress", "port"), ("ronda.v1.Listener", "port")}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Field kinds, decided once per field descriptor.
_MAP, _REPEATED_MSG, _TIMESTAMP, _MSG, _REPEATED, _STRING, _ENUM, _INT64, _FLOAT, _PORT, _PLAIN = range(11)


class InvalidSnapshot(ValueError):
    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        super().__init__(f"invalid snapshot: {shown}")
        self.problems = problems


def validate(snap: Snapshot, now: datetime | None = None) -> None:
    """Raise InvalidSnapshot listing every problem found (the dataclass form of `validate_message`)."""
    from agent.wire import snapshot_to_wire

    try:
        message = snapshot_to_wire(snap)
    except (ValueError, TypeError, OverflowError, KeyError) as e:
        raise InvalidSnapshot([f"cannot be encoded: {e}"]) from None
    validate_message(message, now)


def validate_message(message: pb.Snapshot, now: datetime | None = None) -> None:
    """Check a whole snapshot message, every app and every day."""
    problems = check_header(message, now)
    for i, app in enumerate(message.apps[:MAX_APPS]):
        app_detail(app, f"apps[{i}]", problems)
        if app.HasField("usage"):
            check_days(app.usage.daily, f"apps[{i}]", problems)
            check_unique_dates(app.usage.daily, f"apps[{i}]", problems)
    if problems:
        raise InvalidSnapshot(problems)


def check_header(message: pb.Snapshot, now: datetime | None = None) -> list[str]:
    """Everything but the apps' contents: ids, times, counts, listeners, errors, host facts, app keys."""
    now = now or datetime.now(timezone.utc)
    problems: list[str] = []
    add = problems.append
    if not valid_agent_id(message.agent_id):
        add("agent_id must be 1-128 characters of letters, digits and ._:@- (starting with a letter or digit)")
    if message.sequence < 1 or message.sequence > MAX_INT:
        add(f"sequence must be 1 to {MAX_INT}")
    if not message.report_id or len(message.report_id) > 128:
        add("report_id must be 1-128 characters")
    if not message.HasField("collected_at"):
        add("collected_at is missing")
    elif _timestamp_ok(message.collected_at):
        if message.collected_at.ToDatetime(tzinfo=timezone.utc) > now + CLOCK_SKEW:
            add(f"collected_at {message.collected_at.ToJsonString()} is in the future; check the agent's clock")
    if message.source not in (pb.SOURCE_AGENT, pb.SOURCE_SSH):
        add("source must be agent or ssh")
    for name in ("apps", "listeners", "errors"):
        count = len(getattr(message, name))
        if count > LIMITS[name]:
            add(f"{count} {name} is more than the limit of {LIMITS[name]}")
    keys: set[str] = set()
    for i, app in enumerate(message.apps[:MAX_APPS]):
        if not app.key:
            add(f"apps[{i}]: key is empty")
        elif app.key in keys:
            add(f"apps[{i}]: key {app.key!r} appears twice")
        keys.add(app.key)
        if not app.kind:
            add(f"apps[{i}]: kind is empty")
    for name in ("host", "listeners", "errors", "agent_version", "report_id", "agent_id", "collected_at"):
        field = message.DESCRIPTOR.fields_by_name[name]
        _check_value(field, getattr(message, name), "snapshot", problems)
    return problems


def app_detail(app: pb.App, where: str, problems: list[str]) -> dict:
    """Check one app (all but its daily usage) and return it as a JSON-ready dict without `usage.daily`."""
    return _walk(app, where, problems, skip_daily=True)


def check_days(days, where: str, problems: list[str]) -> list[tuple]:
    """Check daily usage entries; returns (date, human, bot, monitor, error, scanner, human_clients) rows."""
    if len(days) > MAX_DAYS:
        problems.append(f"{where}: more than {MAX_DAYS} days of usage")
        return []
    rows = [(d.date, d.human, d.bot, d.monitor, d.error, d.scanner, d.human_clients) for d in days]
    for row in rows:
        if not _valid_date(row[0]):
            problems.append(f"{where}: usage date {row[0][:20]!r} is not YYYY-MM-DD")
            break
        if max(row[1:]) > MAX_INT:
            problems.append(f"{where}: a usage count on {row[0]} is above {MAX_INT}")
            break
    return rows


def check_unique_dates(days, where: str, problems: list[str]) -> None:
    """One entry per date: a list that names a day twice is ambiguous (and would confuse the store's diff)."""
    dates = [d.date for d in days]
    if len(set(dates)) != len(dates):
        seen: set[str] = set()
        twice = next(d for d in dates if d in seen or seen.add(d))
        problems.append(f"{where}: usage date {twice[:20]!r} appears twice")


@cache
def _valid_date(text: str) -> bool:
    if len(text) != 10 or not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _timestamp_ok(ts) -> bool:
    return MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000


@cache
def _kind(field) -> int:
    message_type = field.message_type
    if message_type is not None:
        if message_type.GetOptions().map_entry:
            return _MAP
        if message_type.full_name == "google.protobuf.Timestamp":
            return _TIMESTAMP
        return _REPEATED_MSG if field.is_repeated else _MSG
    if field.is_repeated:
        return _REPEATED
    if (field.containing_type.full_name, field.name) in PORT_FIELDS:
        return _PORT
    t = field.type
    if t == field.TYPE_STRING:
        return _STRING
    if t == field.TYPE_ENUM:
        return _ENUM
    if t in (field.TYPE_INT64, field.TYPE_UINT64, field.TYPE_SINT64, field.TYPE_FIXED64, field.TYPE_SFIXED64):
        return _INT64
    if t in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return _FLOAT
    return _PLAIN


def _walk(message: Message, where: str, problems: list[str], skip_daily: bool = False) -> dict:
    out: dict = {}
    kinds = _KINDS
    for field, value in message.ListFields():
        kind = kinds.get(field)
        if kind is None:
            kind = kinds[field] = _kind(field)
        if kind == _MSG:
            out[field.name] = _walk(value, f"{where}.{field.name}", problems, skip_daily)
        elif kind == _STRING:
            if len(value) > MAX_STRING:
                problems.append(f"{where}.{field.name}: string of {len(value)} characters is longer than {MAX_STRING}")
            out[field.name] = value
        elif kind == _PLAIN:
            out[field.name] = value
        elif kind == _REPEATED_MSG:
            name = field.name
            if skip_daily and name == "daily":
                continue
            limit = LIMITS.get(name, MAX_LIST)
            if len(value) > limit:
                problems.append(f"{where}.{name}: {len(value)} entries is more than the limit of {limit}")
                value = value[:limit]
            out[name] = [_walk(v, f"{where}.{name}[{i}]", problems, skip_daily) for i, v in enumerate(value)]
        else:
            out[field.name] = _check_value(field, value, where, problems, kind)
    return out


_KINDS: dict = {}


def _check_value(field, value, where: str, problems: list[str], kind: int | None = None):
    """Check one field's value (`where` names its parent); returns its JSON form."""
    kind = _kind(field) if kind is None else kind
    if kind in (_MSG, _REPEATED_MSG):
        where = f"{where}.{field.name}"
    if kind == _STRING:
        if len(value) > MAX_STRING:
            problems.append(f"{where}.{field.name}: string of {len(value)} characters is longer than {MAX_STRING}")
        return value
    if kind == _INT64:
        if value > MAX_INT or value < -MAX_INT:
            problems.append(f"{where}.{field.name}: {value} is out of range")
        return str(value)
    if kind == _PORT:
        if value > 65535:
            problems.append(f"{where}.{field.name}: port {value} is above 65535")
        return value
    if kind == _ENUM:
        known = field.enum_type.values_by_number.get(value)
        if known is None:
            problems.append(f"{where}.{field.name}: {value} is not a known value")
            return value
        return known.name
    if kind == _FLOAT:
        if value != value or value in (float("inf"), float("-inf")):
            problems.append(f"{where}.{field.name}: not a finite number")
            return str(value)
        return value
    if kind == _TIMESTAMP:
        if not _timestamp_ok(value):
            problems.append(f"{where}.{field.name}: timestamp out of range")
            return ""
        return value.ToJsonString()
    if kind == _MAP:
        if len(value) > MAX_LIST:
            problems.append(f"{where}.{field.name}: more than {MAX_LIST} entries")
        for k, v in list(value.items())[:MAX_LIST]:
            if len(k) > MAX_STRING or len(v) > MAX_STRING:
                problems.append(f"{where}.{field.name}.{k[:20]}: string longer than {MAX_STRING}")
                break
        return dict(value)
    if kind == _REPEATED:
        if len(value) > MAX_LIST:
            problems.append(f"{where}.{field.name}: {len(value)} entries is more than the limit of {MAX_LIST}")
        if any(isinstance(v, str) and len(v) > MAX_STRING for v in value[:MAX_LIST]):
            problems.append(f"{where}.{field.name}: a string is longer than {MAX_STRING}")
        return list(value)
    if kind == _MSG:
        return _walk(value, where, problems)
    if kind == _REPEATED_MSG:
        limit = LIMITS.get(field.name, MAX_LIST)
        if len(value) > limit:
            problems.append(f"{where}: {len(value)} entries is more than the limit of {limit}")
        return [_walk(v, f"{where}[{i}]", problems) for i, v in enumerate(value[:limit])]
    return value
