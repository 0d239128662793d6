"""Which daily usage rows one app of a snapshot writes, and what becomes of its stored daily block.

Two kinds of snapshot carry days (Snapshot.usage_base):

- Whole windows (base 0): every day the agent keeps. Most are those the store already holds, so the
  app's daily entries are compared in wire form with the block stored from its last applied usage
  (app_daily_wire), and only the entries that differ are written. The store holds every entry of the
  stored block, perhaps all but the last exactly as the block says: when only today's entry moved, the
  block is not rewritten (about once a day instead of with every snapshot), and that entry is written
  whatever it says.
- Changed days (a base): only the days changed since the base. Each is written; the stored block is
  forgotten, since the days written are not all in it, and the next whole windows are written whole.

Either way the usage's wire form without its daily entries is returned, for the app's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.unknown_fields import UnknownFieldSet

from ronda.collector.store.wirebytes import (
    AppParts,
    changed_days,
    daily_span,
    dates_once,
    last_entry_only,
    raw_daily_span,
    without_daily,
)
from ronda.collector.validate import check_days, check_unique_dates
from ronda.wire.v1 import ronda_pb2 as pb


@dataclass
class DayWrites:
    rest: bytes | None  # the usage's wire form without its daily entries (None: build it from the message)
    rows: list[tuple]  # (date, human, bot, monitor, error, scanner, human_clients) to write
    newest: int  # which of `rows` is the app's newest day (app_usage_latest); -1 with no row
    block: bytes | None = None  # store as the app's last applied block
    forget_block: bool = False  # drop the stored block


def whole_window(
    usage: pb.Usage, wire: bytes, parts: AppParts | None, old: bytes | None, where: str, problems: list[str]
) -> DayWrites:
    """The rows of a usage that holds every day, against `old`, the app's stored block (None: none)."""
    # Often the days are those already stored: then the received bytes show it, unserialized. (Where today's
    # counts moved, the stored block's last bytes are not among them: that is quicker to see.)
    span = (
        raw_daily_span(wire, parts.usage_start, parts.usage_end, usage)
        if old is not None
        and parts is not None
        and parts.usage_start >= 0
        and wire.find(old[-32:], parts.usage_start, parts.usage_end) >= 0
        else None
    )
    same = span is not None and wire[span[0] : span[1]] == old
    block = None
    if same:
        assert parts is not None and span is not None
        rest = wire[parts.usage_start : span[0]] + wire[span[1] : parts.usage_end]
    else:
        if len(UnknownFieldSet(usage)):
            usage.DiscardUnknownFields()  # from a newer agent; they would blur where the daily entries are
        usage_wire = usage.SerializeToString(deterministic=True)
        head, tail = daily_span(usage, usage_wire)
        block, rest = usage_wire[head:tail], usage_wire[:head] + usage_wire[tail:]
    stored = None
    if not usage.daily:
        moved = []  # no day yet: nothing to write, and the stored block stays, the store holding what it says
    elif not same and old != block:
        assert block is not None
        moved = changed_days(old, block, usage.daily)
        if old is None or not dates_once(block, moved):
            check_unique_dates(usage.daily, where, problems)
        if old is None or len(moved) > 1 or not last_entry_only(old, block, usage.daily[-1]):
            stored = block
        # else only the last entry (today's) moved: the stored block keeps every earlier entry as it is
    else:
        moved = usage.daily[
            -1:
        ]  # the stored block may lag behind in its last entry: written whatever it says
    rows = check_days(moved, where, problems)
    return DayWrites(rest, rows, len(rows) - 1, block=stored)


def changed_only(
    usage: pb.Usage, wire: bytes, parts: AppParts | None, where: str, problems: list[str]
) -> DayWrites:
    """The rows of a usage that holds only the days changed since the snapshot's base: all of them."""
    rest = (
        without_daily(wire, parts.usage_start, parts.usage_end)
        if parts is not None and parts.usage_start >= 0
        else None
    )
    days = usage.daily
    if len(days) > 1:  # usually today's alone
        check_unique_dates(days, where, problems)
    rows = check_days(days, where, problems)
    newest = max(range(len(rows)), key=lambda i: rows[i][0]) if len(rows) > 1 else len(rows) - 1
    return DayWrites(rest, rows, newest, forget_block=bool(rows))
