"""Reading ronda.v1 wire bytes directly, where that spares the collector re-encoding what it received.

Agents encode with protobuf, which writes known fields in field-number order. Where the bytes
are not in that order these helpers answer None and the caller takes the slow, general path.

Every key read here comes from the generated descriptors (collector.store.wirelayout), and importing
this module checks that the rest of the layout these helpers rely on still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from google.protobuf.message import DecodeError, Message
from xxhash import xxh3_128_digest

from ronda.collector.store.wirelayout import checked_layout
from ronda.collector.store.wirelayout import varint as _varint_bytes
from ronda.wire.v1 import ronda_pb2 as pb

_LAYOUT = checked_layout(pb.DESCRIPTOR)
_APPS_KEY = _LAYOUT.apps_key
_APPS_KEY_BYTES = _varint_bytes(_APPS_KEY)
_KEY_KEY = _LAYOUT.key_key
_RESOURCES, _USAGE, _USAGE_KEY = _LAYOUT.resources, _LAYOUT.usage, _LAYOUT.usage_key
_RESOURCES_KEY = _varint_bytes(_RESOURCES << 3 | 2)
_BELOW_DAILY, _DAILY_KEY = _LAYOUT.below_daily, _LAYOUT.daily_key
_DATE_PREFIX = _LAYOUT.date_prefix
_DAILY_RECORD_KEY = bytes([_DAILY_KEY])
_DAILY_NUMBER = _DAILY_KEY >> 3


# digest(data) -> 16 bytes: says whether bytes the store held are received again (an app, its stable part,
# its daily block). Equal digests of unequal bytes are as unlikely by chance as with SHA-256 cut to 16 bytes
# (128 bits), at a twentieth of its time (0.1 against 1.8 us for an app of 90 days). xxh3 is not built to
# resist bytes crafted to a digest: an agent could craft an app or a block whose digest is one stored of its
# own (digests are per agent and app), and the store would keep what that agent sent before, which it could
# as well send again. Nothing crafted is stored unchecked: an equal digest only spares checking and writing.
digest = xxh3_128_digest


def _varint_len(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def _record_len(message: Message) -> int:
    """The bytes of a daily or logs entry: its key (one byte: wirelayout checks it), length and message."""
    size = message.ByteSize()
    return 1 + _varint_len(size) + size


def daily_block(usage: pb.Usage, wire: bytes) -> bytes:
    """The bytes of `usage.daily` in `wire` (usage serialized deterministically, unknown fields dropped)."""
    head, tail = daily_span(usage, wire)
    return wire[head:tail]


def daily_span(usage: pb.Usage, wire: bytes) -> tuple[int, int]:
    """Where the daily entries start and end in `wire` (as for daily_block).

    Fields are written in number order, so the daily entries sit between the fields numbered before
    them and `logs` and `unparsed_lines` after them.
    """
    head, size, below = 0, len(wire), _BELOW_DAILY
    while head < size and wire[head] < below:  # a one-byte key of a field before daily
        key = wire[head]
        head += 1
        if key & 7 == 2:
            length, head = _varint(wire, head)
            head += length
        else:
            _, head = _varint(wire, head)
    tail = sum(_record_len(log) for log in usage.logs)
    if usage.unparsed_lines:
        tail += 1 + _varint_len(usage.unparsed_lines)
    return head, size - tail


def changed_days(old: bytes | None, new: bytes, daily: Sequence[pb.DailyUsage]) -> list[pb.DailyUsage]:
    """The entries of `daily` (whose wire form is `new`) not byte-identical at the same place in `old`.

    Entries wholly inside the common prefix of `old` and `new` are unchanged; the rest are
    returned. A shifted window returns every entry, once a day.
    """
    if old == new:
        return []
    if not old:
        return list(daily)
    lo = common_prefix(old, new)
    end, k, n = len(new), 0, len(daily)
    while k < n and end > lo:
        end -= _record_len(daily[n - 1 - k])
        k += 1
    return list(daily[n - k :])


def daily_record(entry: pb.DailyUsage) -> bytes:
    """A daily entry as a canonical Usage writes it: its key, its length and the entry."""
    value = entry.SerializeToString(deterministic=True)
    return _DAILY_RECORD_KEY + _varint_bytes(len(value)) + value


def settled_then_newest(
    raw: bytes, start: int, end: int, length: int, settled: bytes
) -> tuple[int, int] | None:
    """Where the daily entries of the usage message `raw[start:end]` (as received) start and end, if they are
    those of a canonical block stored earlier (`length` bytes of digest `settled`), then one more, the
    newest, whose date no entry of the block names.

    Then every daily entry but the newest is byte for byte one stored earlier (equal bytes parse to equal
    entries, and the block ends where an entry ends), and the newest is protobuf's own, checked by the
    caller. The bytes are walked, not serialized again, and the block is not read: the fields before the
    daily entries (numbered before daily, in order), bytes of the block's length and digest, one entry,
    and after it fields of which none is a daily entry, whatever its wire type. None where it cannot be
    seen so quickly (a new day, an earlier day changed); the caller reads the block and serializes then.
    """
    i = _before_daily(raw, start, end)
    if i is None:
        return None
    record = i + length
    if record >= end or raw[record] != _DAILY_KEY or digest(raw[i:record]) != settled:
        return None
    try:
        size, value = _varint(raw, record + 1)
        after = j = value + size
        while j < end:  # one-byte keys and lengths (most) read without a call
            key = raw[j]
            if key < 0x80:
                j += 1
            else:
                key, j = _varint(raw, j)
            if key >> 3 == _DAILY_NUMBER:
                return None
            j = j + 1 + raw[j] if key & 7 == 2 and raw[j] < 0x80 else _field_value(raw, j, key & 7)[1]
        if j != end:
            return None
        date = pb.DailyUsage.FromString(raw[value:after]).date.encode()
    except (IndexError, DecodeError):
        return None
    # each canonical entry holds its date's key, length and text: absent from the block, no entry names it
    # (searched from the block's end, where the dates nearest the newest's are)
    return (i, after) if len(date) == 10 and raw.rfind(_DATE_PREFIX + date, i, record) < 0 else None


def _before_daily(raw: bytes, start: int, end: int) -> int | None:
    """Where the fields of the usage message `raw[start:end]` numbered before daily end (one-byte keys, in
    number order, varints or length-delimited); None where the layout is other."""
    i, last, below = start, 0, _BELOW_DAILY
    try:
        while i < end and raw[i] < below:
            key = raw[i]
            if key >> 3 <= last:
                return None
            last = key >> 3
            i += 1
            if key & 7 == 2:
                length, i = (raw[i], i + 1) if raw[i] < 0x80 else _varint(raw, i)
                i += length
            elif key & 7 == 0:
                i = i + 1 if raw[i] < 0x80 else _varint(raw, i)[1]
            else:
                return None
    except IndexError:
        return None
    return i if i <= end else None


def common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes `a` and `b` share (compared as two big integers: one XOR, no byte loop)."""
    size = min(len(a), len(b))
    diff = int.from_bytes(a[:size], "big") ^ int.from_bytes(b[:size], "big")
    return size if not diff else size - 1 - (diff.bit_length() - 1) // 8


def raw_apps(request: bytes) -> list[bytes] | None:
    """The apps of a serialized Snapshot as the agent sent them, without re-encoding them.

    None when the bytes hold something this reader does not expect (the caller re-serializes then).
    """
    split = split_apps(request)
    return None if split is None else split[1]


def split_apps(request: bytes) -> tuple[bytes, list[bytes]] | None:
    """A serialized Snapshot's fields but its apps, in their order (they parse to the snapshot without its
    apps), and its apps as the agent sent them; None as for raw_apps."""
    rest, apps, i, end, apps_key = [], [], 0, len(request), _APPS_KEY
    try:
        while i < end:
            field = i
            key, i = _varint(request, i)
            value, i = _field_value(request, i, key & 7)
            if key == apps_key:
                apps.append(request[value:i])
            else:
                rest.append(request[field:i])
    except IndexError:
        return None
    return (b"".join(rest), apps) if i == end else None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    byte = data[i]
    if byte < 0x80:  # most keys and lengths
        return byte, i + 1
    result, shift = byte & 0x7F, 7
    while True:
        i += 1
        byte = data[i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i + 1
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")


def _field_value(data: bytes, i: int, wire_type: int) -> tuple[int, int]:
    """Where the value of a field whose key ends at `i` starts (after its length, if any) and ends.
    IndexError for a wire type this reader does not expect (groups) or a value cut short."""
    if wire_type == 2:
        size, i = _varint(data, i)
        return i, i + size
    if wire_type == 0:
        return i, _varint(data, i)[1]
    if wire_type == 1:
        return i, i + 8
    if wire_type == 5:
        return i, i + 4
    raise IndexError(f"wire type {wire_type}")


class AppParts(NamedTuple):
    stable: bytes  # the App without its resources and usage: the part that rarely changes
    usage_start: int  # where the usage message's own bytes start and end in the App (-1 without usage)
    usage_end: int
    resources: bytes  # the resources field as received (key, length and message), or b""
    cut: int = -1  # where resources and usage start in the App, the stable part's first bytes before it


class Shape(NamedTuple):
    """The stable part of an App taken apart earlier, as the bytes before its resources and usage and those
    after them: an app whose bytes start and end so is taken apart without walking them again."""

    head: bytes
    tail: bytes


def shape_of(parts: AppParts | None) -> Shape | None:
    if parts is None or parts.cut < 0:
        return None
    return Shape(parts.stable[: parts.cut], parts.stable[parts.cut :])


def app_parts(raw: bytes) -> AppParts | None:
    """An App's wire form taken apart (see AppParts), or None if its fields are not in number order or
    resources or usage appears more than once."""
    usage_start = usage_end = -1
    cut_start = cut_end = -1
    resources = b""
    i, end, last = 0, len(raw), 0
    first, second = _RESOURCES, _USAGE  # two fields in a row
    try:
        while i < end:
            start = i
            key = raw[i]
            if key < 0x80:  # a one-byte key (fields 1-15), read without a call
                i += 1
            else:
                key, i = _varint(raw, i)
            number, wire_type = key >> 3, key & 7
            if number < last or (number == last and first <= number <= second):
                return None  # out of order, or a message field written twice (protobuf would merge them)
            if wire_type == 2 and raw[i] < 0x80:  # a string or message under 128 bytes, read without a call
                value = i + 1
                i = value + raw[i]
            else:
                value, i = _field_value(raw, i, wire_type)
            if first <= number <= second:
                if cut_start < 0:
                    cut_start = start
                cut_end = i
                if number == second and wire_type == 2:
                    usage_start, usage_end = value, i
                elif number == first:
                    resources = raw[start:i]
            last = number
    except IndexError:
        return None
    if i != end:
        return None
    if cut_start < 0:
        return AppParts(raw, usage_start, usage_end, resources)
    return AppParts(raw[:cut_start] + raw[cut_end:], usage_start, usage_end, resources, cut_start)


def parts_around(raw: bytes, shape: Shape) -> AppParts | None:
    """app_parts(raw), for an App whose bytes are `shape.head`, then its resources and usage, each once and as
    protobuf writes them, then `shape.tail`: the fields of head and tail, byte for byte those app_parts
    walked earlier (shape_of), are not walked again. None where the bytes are other."""
    head, tail = shape
    cut, end = len(head), len(raw) - len(tail)
    if cut >= end or not (raw.startswith(head) and raw.endswith(tail)):
        return None
    i, resources, usage_start, usage_end = cut, b"", -1, -1
    try:
        if raw.startswith(_RESOURCES_KEY, i):
            i += len(_RESOURCES_KEY)
            size, i = (raw[i], i + 1) if raw[i] < 0x80 else _varint(raw, i)
            i += size
            resources = raw[cut:i]
        if i < end and raw.startswith(_USAGE_KEY, i):
            size, usage_start = _varint(raw, i + len(_USAGE_KEY))
            i = usage_end = usage_start + size
    except IndexError:
        return None
    if i != end:
        return None
    return AppParts(head + tail, usage_start, usage_end, resources, cut)


def taken_apart(wire: bytes, shape: Shape | None) -> tuple[AppParts | None, Shape | None]:
    """An app's bytes taken apart, around its stable part's `shape` as remembered where they still have it,
    and the shape to remember."""
    parts = parts_around(wire, shape) if shape is not None else None
    if parts is not None:
        return parts, shape
    parts = app_parts(wire)
    return parts, shape_of(parts)


def without_daily(raw: bytes, start: int, end: int) -> bytes | None:
    """The usage message `raw[start:end]` (as received) without its daily entries, its other fields as they
    are; None where the bytes are not a message this reader can walk."""
    kept, i, since = [], start, start
    try:
        while i < end:
            record = i
            key, i = _varint(raw, i)
            if key & 7 == 2 and raw[i] < 0x80:  # a string or message under 128 bytes, read without a call
                i += 1 + raw[i]
            else:
                _, i = _field_value(raw, i, key & 7)
            if key == _DAILY_KEY:
                kept.append(raw[since:record])
                since = i
    except IndexError:
        return None
    if i != end:
        return None
    kept.append(raw[since:end])
    return b"".join(kept)


def app_state(resources: bytes, usage: bytes | None) -> bytes:
    """The wire form of an App holding only `resources` (its field as received, or b"") and a usage
    message `usage` without its daily entries (None: no usage): what the store keeps as the app's state."""
    if usage is None:
        return resources
    return resources + _USAGE_KEY + _varint_bytes(len(usage)) + usage


def app_state_of(app: pb.App) -> bytes:
    """app_state built by protobuf, for an app whose bytes were not taken apart."""
    state = pb.App()
    if app.HasField("resources"):
        state.resources.SetInParent()
        state.resources.CopyFrom(app.resources)
    if app.HasField("usage"):
        state.usage.SetInParent()
        state.usage.CopyFrom(app.usage)
        state.usage.ClearField("daily")
    return state.SerializeToString(deterministic=True)


def app_key(raw: bytes) -> str | None:
    """The key of the App `raw`, if its first field is the key (as protobuf writes it); else None."""
    if not raw.startswith(_KEY_KEY):
        return None
    try:
        size, i = _varint(raw, len(_KEY_KEY))
        return raw[i : i + size].decode() if i + size <= len(raw) else None
    except (IndexError, UnicodeDecodeError):
        return None


def without_settled(raw: bytes, parts: AppParts, cut: tuple[int, int]) -> bytes | None:
    """The App `raw` (taken apart as `parts`) with the bytes `raw[cut[0]:cut[1]]`, daily entries inside its
    usage, left out; None where the usage's key and length are not written as protobuf writes them."""
    start, end = parts.usage_start, parts.usage_end
    head = _USAGE_KEY + _varint_bytes(end - start)
    if raw[start - len(head) : start] != head:
        return None
    size = end - start - (cut[1] - cut[0])
    return b"".join(
        (raw[: start - len(head)], _USAGE_KEY, _varint_bytes(size), raw[start : cut[0]], raw[cut[1] :])
    )


def join_apps(rest: bytes, apps: list[bytes]) -> bytes:
    """A serialized Snapshot of the fields `rest` (split_apps) and the App messages `apps`."""
    return rest + b"".join(_APPS_KEY_BYTES + _varint_bytes(len(app)) + app for app in apps)


def dates_once(block: bytes, days: Sequence[pb.DailyUsage]) -> bool:
    """True if each of `days` names a date that no other entry of `block` (their canonical wire form) names.

    Every entry of a 10-character date holds the bytes of its date's key, the length 10 and the date, so
    a count of one proves it unique; a count above one (perhaps by chance inside another field) answers
    False and the caller checks the slow way. Only for a few days: each costs a scan of the block.
    """
    if len(days) > 8:
        return False
    for d in days:
        date = d.date.encode()
        if len(date) != 10 or block.count(_DATE_PREFIX + date) != 1:
            return False
    return True
