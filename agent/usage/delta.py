"""Which days of usage a snapshot carries: every day, or the days changed since one the collector holds.

The usage state marks each (app, day) with the generation in which its counts last changed, and each
snapshot records the generation at which it read the days (its UsageMark). The collector answers each
snapshot with the sequence through which it holds the agent's usage whole (ReportAck.usage_through);
the agent keeps the marks of its recent snapshots (ronda.agent.state), so its next snapshot carries only
the days marked after that snapshot's generation, and names it in Snapshot.usage_base. Each day still
carries its absolute counts, so a day sent twice changes nothing.

Marks only move forward, so the days changed since a snapshot b include those changed since any later
one: a snapshot relative to b is right for a collector that holds any snapshot from b on (an ack lost on
the way, a store restored from a backup taken after b), and two spooled snapshots become one by joining
their days under the older base (`join_spooled`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ronda.wire.v1 import ronda_pb2 as pb


@dataclass(frozen=True)
class UsageMark:
    """Where the usage state stood when a snapshot read its days."""

    # Which state the generation counts in, and the scanner threshold the days were read back with: the
    # same counts read back with another threshold split error and scanner requests otherwise.
    state: str
    generation: int  # the snapshot holds every change marked with this generation or an earlier one


def applies(since: UsageMark | None, mark: UsageMark | None) -> bool:
    """Whether days read at `mark` may be sent as the days changed since a snapshot read at `since`."""
    return (
        since is not None
        and mark is not None
        and since.state == mark.state
        and since.generation <= mark.generation
    )


def join_spooled(older: bytes, newer: bytes) -> bytes:
    """Two spooled snapshots as one: `newer`, holding the days of `older` that it lacks, relative to the
    older of their bases. Days changed since the older base are those of `older` and those changed since,
    which `newer` holds; a day in both is as `newer` read it."""
    old, new = pb.Snapshot.FromString(older), pb.Snapshot.FromString(newer)
    if old.usage_base == new.usage_base == 0:
        return newer  # whole windows: `newer` holds every day already
    days = {app.key: app.usage.daily for app in old.apps if app.HasField("usage")}
    for app in new.apps:
        earlier = days.get(app.key)
        if not earlier:
            continue
        have = {day.date for day in app.usage.daily}
        joined = sorted([*app.usage.daily, *(d for d in earlier if d.date not in have)], key=_date)
        del app.usage.daily[:]
        app.usage.daily.extend(joined)
    new.usage_base = min(old.usage_base, new.usage_base)
    return new.SerializeToString()


def _date(day: pb.DailyUsage) -> str:
    return day.date
