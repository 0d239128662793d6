"""Usage as a small chart: terminal sparklines and the weekly buckets they (and the HTML report) draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Week:
    start: date
    human: int
    bot: int
    covered: bool  # the logs reach back into this week
    monitor: int = 0  # uptime checks and health probes: automated, like bots


def weekly(daily: list[dict], today: date, weeks: int, coverage_start: date | None) -> list[Week]:
    """Sum daily rows ({date, human, bot, monitor}) into `weeks` weeks ending today, oldest first."""
    by_day = {row["date"]: row for row in daily}
    out = []
    for w in range(weeks - 1, -1, -1):
        end = today - timedelta(days=7 * w)
        start = end - timedelta(days=6)
        human = bot = monitor = 0
        for d in range(7):
            row = by_day.get((start + timedelta(days=d)).isoformat())
            if row:
                human += row.get("human", 0) or 0
                bot += row.get("bot", 0) or 0
                monitor += row.get("monitor", 0) or 0
        covered = coverage_start is not None and coverage_start <= end
        out.append(Week(start, human, bot, covered or bool(human or bot or monitor), monitor))
    return out


def spark(values: list[int], covered: list[bool]) -> str:
    """One character per value: blank where logs do not reach, `·` for none, blocks scaled to the maximum."""
    top = max(values, default=0)
    chars = []
    for value, seen in zip(values, covered, strict=True):
        if not seen:
            chars.append(" ")
        elif value == 0:
            chars.append("·")
        else:
            chars.append(BLOCKS[min(len(BLOCKS) - 1, (value * len(BLOCKS) - 1) // top)] if top else BLOCKS[0])
    return "".join(chars)


def terminal_chart(weeks: list[Week]) -> list[str]:
    if not weeks:
        return ["  no usage data"]
    covered = [w.covered for w in weeks]
    human = [w.human for w in weeks]
    bot = [w.bot for w in weeks]
    first, last = weeks[0].start, weeks[-1].start + timedelta(days=6)
    return [
        f"  human  {spark(human, covered)}  total {sum(human):,}, busiest week {max(human):,}",
        f"  bots   {spark(bot, covered)}  total {sum(bot):,}",
        f"         {first.isoformat()}{' ' * max(1, len(weeks) - 20)}{last.isoformat()}",
        "         (one column per week; blank: no logs yet, ·: no requests)",
    ]
