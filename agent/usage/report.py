"""From the usage state to `agent.model.Usage`, and a one-line summary for tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ronda.agent.usage.options import UsageOptions
from ronda.agent.usage.state import UsageState
from ronda.agent.usage.tally import LAST_ANY, LAST_HUMAN, LAST_SUCCESS
from ronda.model import App, DailyUsage, LogSource, Usage


@dataclass
class LogStatus:
    """How reading one log went in this scan."""

    state: str = "ok"  # ok, missing, unreadable, unknown-format
    message: str = ""
    read: bool = False
    shared: bool = False  # several sites write here and the format cannot tell them apart
    unparsed: int = 0
    unreadable: list[str] = field(default_factory=list)

    def set(self, state: str, message: str) -> None:
        self.state, self.message = state, message


def _dt(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def build_usage(
    state: UsageState,
    app: App,
    counted: tuple[str, int] | None,
    statuses: dict[str, LogStatus],
    options: UsageOptions,
    since: int | None = None,
) -> Usage:
    """The app's usage; its daily counts for every day, or with `since` (a generation of the state), for
    the days changed after it."""
    if counted is None:
        return Usage(coverage="none")
    path, ref_index = counted
    status = statuses.get(path, LogStatus())
    applog = state.app_log(app.key, path)
    log = state.log(path)
    usage = Usage()
    ref = app.access_logs[ref_index]
    source = LogSource(
        path=ref.path, format=ref.format or "combined", status=status.state, error=status.message
    )
    if status.state == "ok" and status.unreadable:
        source.status, source.error = "partial", "unreadable: " + ", ".join(status.unreadable)
    elif status.state == "ok" and status.shared:
        source.error = (
            "several sites share this log and its format has no virtual host field: "
            "each request is counted for all of them"
        )
    if applog is not None:
        source.oldest_line, source.newest_line, source.lines = _dt(applog[0]), _dt(applog[1]), applog[2]
    if log is not None:
        source.unparsed_lines = log[3]
    usage.logs = [source] + [
        LogSource(
            path=other.path,
            format=other.format or "combined",
            status="not-counted",
            error=f"the same requests are counted from {ref.path}",
        )
        for i, other in enumerate(app.access_logs)
        if i != ref_index
    ]
    usage.unparsed_lines = log[3] if log is not None else 0

    if applog is None or applog[0] is None:
        if status.state in ("unreadable", "unknown-format"):
            usage.coverage = "unreadable"
        elif status.read:
            usage.coverage = "partial"  # the log exists but holds no line yet: how far back is unknown
            usage.coverage_end = _dt(log[4]) if log and log[4] else None
        else:
            usage.coverage = "none"
        return usage

    total_lines = log[2] if log else 0
    unparsed_share = (usage.unparsed_lines / total_lines) if total_lines else 0.0
    full = (
        status.read
        and status.state == "ok"
        and not status.unreadable
        and not status.shared
        and unparsed_share <= options.max_unparsed_share
    )
    usage.coverage = "full" if full else "partial"
    oldest = applog[0]
    if options.retention_days:
        oldest = max(oldest, int(time.time()) - options.retention_days * 86400)
    usage.coverage_start = _dt(oldest)
    usage.coverage_end = _dt(log[4]) if status.read and log and log[4] else _dt(applog[1])
    last = state.last(app.key)
    usage.last_request = _dt(last.get(LAST_ANY))
    usage.last_human_request = _dt(last.get(LAST_HUMAN))
    usage.last_human_success = _dt(last.get(LAST_SUCCESS))
    usage.daily = [
        DailyUsage(day, human, bot, monitor, error, scanner, clients)
        for day, human, bot, monitor, error, scanner, clients in state.daily(
            app.key, options.scanner_threshold, since
        )
    ]
    return usage


def summarize(usage: Usage | None, days: int = 30, today: date | None = None) -> str:
    """One line for a table: "last human 2026-11-20, 30d: 1,234 human / 56 bot"."""
    if usage is None or usage.coverage in ("unspecified", "none"):
        return "no access log"
    if usage.coverage == "unreadable":
        return "access log unreadable"
    today = today or datetime.now(UTC).date()
    since = (today - timedelta(days=days - 1)).isoformat()
    recent = [d for d in usage.daily if d.date >= since]
    human = sum(d.human for d in recent)
    bot = sum(d.bot for d in recent)
    last = usage.last_human_request.date().isoformat() if usage.last_human_request else "never"
    text = f"last human {last}, {days}d: {human:,} human / {bot:,} bot"
    if usage.coverage_start:
        text += f" (logs since {usage.coverage_start.date().isoformat()}"
        text += ", partial)" if usage.coverage == "partial" else ")"
    return text
