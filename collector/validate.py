"""Checks every snapshot before it reaches the store. Bad input is refused
whole with every problem named; nothing is half-stored.

Checks work on the ronda.v1 message itself, in generated code that also builds the
app's JSON detail (protobuf's JSON mapping, proto field names), because the
collector must keep up with hundreds of snapshots a second. Every field is
bounded: counts of repeated fields, string lengths, integers that fit SQLite,
finite numbers, known enum values, timestamps in range, ports and dates.
Daily usage rows are checked by `check_days` as the store reads them (it only
reads the days that changed since the agent's last snapshot).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache

from google.protobuf.timestamp_pb2 import Timestamp

from ronda.collector.wirejson import (
    CONVERTERS,
    LIMITS,
    MAX_INT,
    MAX_SECONDS,
    MAX_STRING,
    MIN_SECONDS,  # noqa: F401
    timestamp_json,
    to_json,
)
from ronda.errors import InputError
from ronda.ids import valid_agent_id
from ronda.model import Snapshot
from ronda.wire.v1 import ronda_pb2 as pb

MAX_APPS = 20_000
MAX_LISTENERS = 20_000
MAX_ERRORS = 5_000
MAX_DAYS = 3_700
_APP = CONVERTERS["ronda.v1.App"]
CLOCK_SKEW = timedelta(days=1)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidSnapshot(InputError, ValueError):
    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        super().__init__(f"invalid snapshot: {shown}")
        self.problems = problems


def validate(snap: Snapshot, now: datetime | None = None) -> None:
    """Raise InvalidSnapshot listing every problem found (the dataclass form of `validate_message`)."""
    from ronda.convert import snapshot_to_wire

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
    now = now or datetime.now(UTC)
    problems: list[str] = []
    add = problems.append
    if not valid_agent_id(message.agent_id):
        add(
            "agent_id must be 1-128 characters of letters, digits and ._:@- (starting with a letter or digit)"
        )
    if message.sequence < 1 or message.sequence > MAX_INT:
        add(f"sequence must be 1 to {MAX_INT}")
    if message.usage_base and message.usage_base >= message.sequence:
        add(f"usage_base {message.usage_base} must be an earlier snapshot than sequence {message.sequence}")
    if not message.report_id or len(message.report_id) > 128:
        add("report_id must be 1-128 characters")
    if not message.HasField("collected_at"):
        add("collected_at is missing")
    elif (
        _timestamp_ok(message.collected_at) and message.collected_at.ToDatetime(tzinfo=UTC) > now + CLOCK_SKEW
    ):
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
        elif "\x00" in app.key:
            add(f"apps[{i}]: key {app.key[:128]!r} holds a NUL character")
        keys.add(app.key)
        if not app.kind:
            add(f"apps[{i}]: kind is empty")
    if len(message.agent_version) > MAX_STRING:
        add(f"agent_version is longer than {MAX_STRING}")
    if message.HasField("collected_at"):
        timestamp_json(message.collected_at, "collected_at", problems)
    if message.HasField("host"):
        to_json(message.host, "host", problems)
    for name in ("listeners", "errors"):
        for i, item in enumerate(getattr(message, name)[: LIMITS[name]]):
            to_json(item, f"{name}[{i}]", problems)
    return problems


def app_detail(app: pb.App, where: str, problems: list[str]) -> dict:
    """Check one app (all but its daily usage) and return it as a JSON-ready dict without `usage.daily`."""
    end = app.framework.end_of_support
    if end and not _valid_date(end):
        problems.append(f"{where}.framework.end_of_support: {end[:20]!r} is not YYYY-MM-DD")
    return _APP(app, where, problems)


def check_days(days: Sequence[pb.DailyUsage], where: str, problems: list[str]) -> list[tuple]:
    """Check daily usage entries; returns (date, human, bot, monitor, error, scanner, human_clients) rows."""
    if len(days) > MAX_DAYS:
        problems.append(f"{where}: more than {MAX_DAYS} days of usage")
        return []
    rows = [(d.date, d.human, d.bot, d.monitor, d.error, d.scanner, d.human_clients) for d in days]
    for row in rows:
        if problem := _day_problem(row, where):
            problems.append(problem)
            break
    return rows


def check_day(day: pb.DailyUsage, where: str, problems: list[str]) -> tuple:
    """check_days of one entry (an app's newest day, most often the only one stored): its row."""
    row = (day.date, day.human, day.bot, day.monitor, day.error, day.scanner, day.human_clients)
    if problem := _day_problem(row, where):
        problems.append(problem)
    return row


def _day_problem(row: tuple, where: str) -> str | None:
    if not _valid_date(row[0]):
        return f"{where}: usage date {row[0][:20]!r} is not YYYY-MM-DD"
    if max(row[1:]) > MAX_INT:
        return f"{where}: a usage count on {row[0]} is above {MAX_INT}"
    return None


def check_unique_dates(days: Sequence[pb.DailyUsage], where: str, problems: list[str]) -> None:
    """One entry per date: a list that names a day twice is ambiguous (and would confuse the store's diff)."""
    seen: set[str] = set()
    for d in days:
        if d.date in seen:
            problems.append(f"{where}: usage date {d.date[:20]!r} appears twice")
            return
        seen.add(d.date)


@cache
def _valid_date(text: str) -> bool:
    if len(text) != 10 or not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _timestamp_ok(ts: Timestamp) -> bool:
    return MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000
