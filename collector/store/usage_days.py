"""Which daily usage rows one app of a snapshot writes, and what becomes of its stored daily block.

Two kinds of snapshot carry days (Snapshot.usage_base):

- Whole windows (base 0): every day the agent keeps. Most are those the store already holds, so the
  app's daily entries are compared in wire form with the block stored from its last applied usage
  (app_daily_wire): its entries but the newest (the settled days), which the store holds exactly as
  the block says. The newest entry is always written (it is the one that moves); of the others only
  those that differ from the block. Where the received entries are the block's, then the newest, the
  received bytes show it without serializing anything or reading the block (its length and digest are
  remembered: collector.store.known); the block is read, and rewritten, only when a settled day changed
  or a new day began (about once a day).
- Changed days (a base): only the days changed since the base. Each is written; the stored block is
  forgotten, since the days written are not all in it, and the next whole windows are written whole.

Either way the usage's wire form without its daily entries is returned, for the app's state.
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf.unknown_fields import UnknownFieldSet

from ronda.collector.store.known import Block
from ronda.collector.store.wirebytes import (
    AppParts,
    changed_days,
    daily_record,
    daily_span,
    dates_once,
    settled_then_newest,
    without_daily,
)
from ronda.collector.validate import check_day, check_days, check_unique_dates
from ronda.wire.v1 import ronda_pb2 as pb


class DayWrites(NamedTuple):
    rest: bytes | None  # the usage's wire form without its daily entries (None: build it from the message)
    rows: list[tuple]  # (date, human, bot, monitor, error, scanner, human_clients) to write
    newest: int  # which of `rows` is the app's newest day (app_usage_latest); -1 with no row
    block: bytes | None = None  # store as the app's last applied block
    forget_block: bool = False  # drop the stored block


def settled_span(wire: bytes, parts: AppParts | None, block: Block | None) -> tuple[int, int] | None:
    """Where a whole window's daily entries are in the app's received bytes `wire`, if they are those of its
    stored block (`block`: its length and digest) and then the newest: usually only the newest day moved
    since the block was stored, which the received bytes show without the block being read (see
    wirebytes.settled_then_newest). None otherwise: whole_window then needs the block itself."""
    if block is None or parts is None or parts.usage_start < 0:
        return None
    return settled_then_newest(wire, parts.usage_start, parts.usage_end, block.length, block.digest)


def whole_window(
    usage: pb.Usage,
    wire: bytes,
    parts: AppParts | None,
    span: tuple[int, int] | None,
    old: bytes | None,
    where: str,
    problems: list[str],
) -> DayWrites:
    """The rows of a usage that holds every day: where `span` (settled_span) was found, the newest day alone;
    otherwise each day that differs from `old`, the app's stored block (None: none), and the newest."""
    daily = usage.daily
    if not daily:  # no day yet: nothing to write, and the stored block stays, the store holding what it says
        return DayWrites(_rest(usage, wire, parts), [], -1)
    if span is not None and parts is not None:
        rest = wire[parts.usage_start : span[0]] + wire[span[1] : parts.usage_end]
        return DayWrites(rest, [check_day(daily[-1], where, problems)], 0)
    if len(UnknownFieldSet(usage)):
        usage.DiscardUnknownFields()  # from a newer agent; they would blur where the daily entries are
    usage_wire = usage.SerializeToString(deterministic=True)
    head, tail = daily_span(usage, usage_wire)
    block, rest = usage_wire[head:tail], usage_wire[:head] + usage_wire[tail:]
    settled = block[: len(block) - len(daily_record(daily[-1]))]
    moved = [daily[-1]] if old == settled else [*changed_days(old, settled, list(daily)[:-1]), daily[-1]]
    if old is None or not dates_once(block, moved):
        check_unique_dates(daily, where, problems)
    rows = check_days(moved, where, problems)
    return DayWrites(rest, rows, len(rows) - 1, block=settled if settled != old else None)


def _rest(usage: pb.Usage, wire: bytes, parts: AppParts | None) -> bytes | None:
    """The usage's wire form without its daily entries, cut from the received bytes where they can be
    walked (None: the caller builds it from the message)."""
    if parts is None or parts.usage_start < 0:
        return None
    return without_daily(wire, parts.usage_start, parts.usage_end)


def changed_only(
    usage: pb.Usage, wire: bytes, parts: AppParts | None, where: str, problems: list[str]
) -> DayWrites:
    """The rows of a usage that holds only the days changed since the snapshot's base: all of them."""
    rest = _rest(usage, wire, parts)
    days = usage.daily
    if len(days) > 1:  # usually today's alone
        check_unique_dates(days, where, problems)
    rows = check_days(days, where, problems)
    newest = max(range(len(rows)), key=lambda i: rows[i][0]) if len(rows) > 1 else len(rows) - 1
    return DayWrites(rest, rows, newest, forget_block=bool(rows))
