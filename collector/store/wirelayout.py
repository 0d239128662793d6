"""Where the fields that collector.store.wirebytes reads sit on the wire, taken from ronda.v1's descriptors.

wirebytes walks protobuf bytes itself, to spare re-encoding what agents send. It needs the key (field
number and wire type) of a few fields, and a few facts about the messages around them. The keys come from
the generated descriptors (`layout`); the facts are checked (`problems`), each problem naming what changed,
which walker relies on it and what to do. Importing wirebytes checks ronda.wire, so a .proto change that
breaks a fact fails when the collector starts, loudly, instead of storing wrong usage.
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf.descriptor import FieldDescriptor, FileDescriptor

_WIRE_TYPES = {  # protobuf's encoding: 0 varint, 1 eight bytes, 2 length-delimited, 3 group, 5 four bytes
    getattr(FieldDescriptor, f"TYPE_{name}"): wire_type
    for wire_type, names in (
        (0, "INT32 INT64 UINT32 UINT64 SINT32 SINT64 BOOL ENUM"),
        (1, "FIXED64 SFIXED64 DOUBLE"),
        (2, "STRING BYTES MESSAGE"),
        (3, "GROUP"),
        (5, "FIXED32 SFIXED32 FLOAT"),
    )
    for name in names.split()
}
_PROTO_TYPES = {
    getattr(FieldDescriptor, n): n[5:].lower() for n in dir(FieldDescriptor) if n.startswith("TYPE_")
}
_ONE_BYTE = 15  # the highest field number whose key is one byte
_ONE_BYTE_VARINTS = [bytes((n,)) for n in range(0x80)]
_DATE_LENGTH = len("YYYY-MM-DD")
_SEE = "see 'When a field is added' in proto/ronda/v1/ronda.proto"


def wire_type(field: FieldDescriptor) -> int:
    """The wire type protobuf writes `field` with (packed repeated scalars are length-delimited)."""
    return 2 if field.is_packed else _WIRE_TYPES[field.type]


def key(field: FieldDescriptor) -> int:
    return field.number << 3 | wire_type(field)


def varint(n: int) -> bytes:
    if n < 0x80:  # keys and lengths below 128 (most), then below 16,384 (the rest), without a loop
        return _ONE_BYTE_VARINTS[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class Layout(NamedTuple):
    apps_key: int  # Snapshot.apps
    key_key: bytes  # App.key's key as written (a string)
    resources: int  # App.resources, a field number
    usage: int  # App.usage, a field number (resources + 1)
    usage_key: bytes  # App.usage's key as written
    below_daily: int  # a one-byte key below this belongs to a Usage field numbered before daily
    daily_key: int  # Usage.daily (one byte)
    date_prefix: bytes  # DailyUsage.date's key and the length of a YYYY-MM-DD date


class LayoutChanged(RuntimeError):
    """ronda.v1 no longer has the layout collector.store.wirebytes reads."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "ronda.v1 changed where collector/store/wirebytes.py reads it "
            f"({_SEE}):\n" + "\n".join(f"  - {p}" for p in problems)
        )
        self.problems = problems


def checked_layout(file: FileDescriptor) -> Layout:
    """`layout(file)`, or LayoutChanged naming every fact that no longer holds."""
    found = problems(file)
    if found:
        raise LayoutChanged(found)
    return layout(file)


def layout(file: FileDescriptor) -> Layout:
    """The keys wirebytes reads (assumes `problems(file)` is empty)."""
    messages = file.message_types_by_name
    app, usage = messages["App"].fields_by_name, messages["Usage"].fields_by_name
    daily = usage["daily"]
    return Layout(
        apps_key=key(messages["Snapshot"].fields_by_name["apps"]),
        key_key=varint(key(app["key"])),
        resources=app["resources"].number,
        usage=app["usage"].number,
        usage_key=varint(key(app["usage"])),
        below_daily=daily.number << 3,
        daily_key=key(daily),
        date_prefix=varint(key(messages["DailyUsage"].fields_by_name["date"])) + varint(_DATE_LENGTH),
    )


def problems(file: FileDescriptor) -> list[str]:
    """Each fact about `file` that wirebytes relies on and that does not hold, with what to change."""
    found: list[str] = []
    messages = file.message_types_by_name

    def field(message: str, name: str, type_name: str, repeated: bool, why: str) -> FieldDescriptor | None:
        desc = messages.get(message)
        f = desc.fields_by_name.get(name) if desc is not None else None
        if f is None:
            found.append(f"{message}.{name} is gone; {why}")
            return None
        kind = f.message_type.name if f.message_type is not None else _PROTO_TYPES[f.type]
        if kind != type_name or f.is_repeated != repeated:
            shape = f"{'repeated ' if repeated else ''}{type_name}"
            found.append(f"{message}.{name} is no longer {shape}; {why}")
            return None
        return f

    field("Snapshot", "apps", "App", True, "raw_apps cuts each app from a snapshot's bytes by its key")
    field("App", "key", "string", False, "app_key reads an app's key from its bytes")
    cut = "app_parts cuts resources and usage out of an app as one span and app_state writes them back"
    resources = field("App", "resources", "Resources", False, cut)
    app_usage = field("App", "usage", "Usage", False, cut)
    if resources and app_usage and app_usage.number != resources.number + 1:
        found.append(
            f"App.usage ({app_usage.number}) no longer follows App.resources ({resources.number}); {cut}"
        )
    span = (
        "daily_span and settled_then_newest find the daily entries between the fields before and after them"
    )
    daily = field("Usage", "daily", "DailyUsage", True, span)
    logs = field("Usage", "logs", "LogSource", True, span)
    unparsed = field("Usage", "unparsed_lines", "uint64", False, span)
    field("DailyUsage", "date", "string", False, "dates_once finds a day by its date's key and length")
    if daily is None or logs is None or unparsed is None:
        return found
    for f in (daily, logs, unparsed):
        if f.number > _ONE_BYTE:
            found.append(f"Usage.{f.name} is field {f.number}, whose key is not one byte; {span}")
    if unparsed.has_presence:
        found.append(f"Usage.unparsed_lines has presence (a zero is written when set); {span}")
    if not daily.number < logs.number < unparsed.number:
        found.append(f"Usage.daily, logs and unparsed_lines are no longer in this order; {span}")
    for f in messages["Usage"].fields:
        if f.number < daily.number and wire_type(f) not in (0, 2):
            found.append(
                f"Usage.{f.name} ({f.number}, before daily) has wire type {wire_type(f)}; daily_span skips "
                "the fields before the daily entries as varints or length-delimited: teach it the new type"
            )
        if f.number > daily.number and f.name not in ("logs", "unparsed_lines"):
            found.append(
                f"Usage.{f.name} ({f.number}) follows daily; {span}, and expect only logs and unparsed_lines "
                "after them: teach them the new field"
            )
    return found
