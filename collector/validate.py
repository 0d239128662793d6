"""Checks every snapshot before it reaches the store. Bad input is refused
whole with every problem named; nothing is half-stored."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agent.model import Snapshot
from agent.state import valid_agent_id

MAX_APPS = 20_000
MAX_LISTENERS = 20_000
MAX_ERRORS = 5_000
MAX_DAYS = 3_700
MAX_STRING = 4_096
MAX_LIST = 1_000
CLOCK_SKEW = timedelta(days=1)


class InvalidSnapshot(ValueError):
    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        super().__init__(f"invalid snapshot: {shown}")
        self.problems = problems


def validate(snap: Snapshot, now: datetime | None = None) -> None:
    """Raise InvalidSnapshot listing every problem found."""
    now = now or datetime.now(timezone.utc)
    problems: list[str] = []
    add = problems.append
    if not valid_agent_id(snap.agent_id):
        add("agent_id must be 1-128 characters of letters, digits and ._:@- (starting with a letter or digit)")
    if snap.sequence < 1:
        add("sequence must be 1 or more")
    if not snap.report_id or len(snap.report_id) > 128:
        add("report_id must be 1-128 characters")
    if snap.collected_at is None:
        add("collected_at is missing")
    elif snap.collected_at > now + CLOCK_SKEW:
        add(f"collected_at {snap.collected_at.isoformat()} is in the future; check the agent's clock")
    if snap.source not in ("agent", "ssh"):
        add(f"source {snap.source!r} is not agent or ssh")
    for name, items, limit in (("apps", snap.apps, MAX_APPS), ("listeners", snap.listeners, MAX_LISTENERS),
                               ("errors", snap.errors, MAX_ERRORS)):
        if len(items) > limit:
            add(f"{len(items)} {name} is more than the limit of {limit}")
    keys = set()
    for i, app in enumerate(snap.apps[:MAX_APPS]):
        where = f"apps[{i}]"
        if not app.key:
            add(f"{where}: key is empty")
        elif app.key in keys:
            add(f"{where}: key {app.key!r} appears twice")
        keys.add(app.key)
        if not app.kind:
            add(f"{where}: kind is empty")
        if len(app.server_names) > MAX_LIST or len(app.listen) > MAX_LIST:
            add(f"{where}: more than {MAX_LIST} server names or listen addresses")
        if any(a.port > 65535 for a in app.listen):
            add(f"{where}: a listen port is above 65535")
        if app.usage and len(app.usage.daily) > MAX_DAYS:
            add(f"{where}: more than {MAX_DAYS} days of usage")
        if app.usage and any(not _is_date(d.date) for d in app.usage.daily):
            add(f"{where}: a usage date is not YYYY-MM-DD")
    for i, sock in enumerate(snap.listeners[:MAX_LISTENERS]):
        if sock.port > 65535:
            add(f"listeners[{i}]: port {sock.port} is above 65535")
    _check_strings(snap, "snapshot", problems)
    if problems:
        raise InvalidSnapshot(problems)


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return len(text) == 10


def _check_strings(value, where: str, problems: list[str], depth: int = 0) -> None:
    """Every string in the snapshot is bounded; only the first offender per field path is reported."""
    if len(problems) > 50 or depth > 8:
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            problems.append(f"{where}: string of {len(value)} characters is longer than {MAX_STRING}")
    elif isinstance(value, list):
        for i, item in enumerate(value[:MAX_APPS]):
            _check_strings(item, f"{where}[{i}]", problems, depth + 1)
    elif isinstance(value, dict):
        if len(value) > MAX_LIST:
            problems.append(f"{where}: more than {MAX_LIST} entries")
        for k, v in list(value.items())[:MAX_LIST]:
            _check_strings(k, f"{where}.{k[:20]}", problems, depth + 1)
            _check_strings(v, f"{where}.{k[:20]}", problems, depth + 1)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _check_strings(getattr(value, name), f"{where}.{name}", problems, depth + 1)
