"""Check a ronda.v1 message and turn it into protobuf's JSON mapping (proto field names), fast.

One plain Python function per message type is generated from the .proto's descriptors when this
module is imported, so a field added to the .proto is checked and converted with no change here.
The generated code reads each field directly, which is several times faster than a generic walk
(ListFields plus dispatch), and the collector converts every changed app of every snapshot.

Output equals `json_format.MessageToDict(message, preserving_proto_field_name=True)` (a property
test holds it to that), except that `Usage.daily` is left out: daily rows are stored on their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ronda.wire.v1 import ronda_pb2 as pb

MAX_STRING = 4_096
MAX_LIST = 1_000
MAX_INT = 2**63 - 1
MIN_SECONDS, MAX_SECONDS = -62135596800, 253402300799  # RFC 3339's range
LIMITS = {"apps": 20_000, "listeners": 20_000, "errors": 5_000, "daily": 3_700}
PORT_FIELDS = {("ronda.v1.ListenAddress", "port"), ("ronda.v1.Listener", "port")}
SKIPPED = {("ronda.v1.Usage", "daily")}
_EPOCH = datetime(1970, 1, 1)
_INT64_TYPES = {"TYPE_INT64", "TYPE_UINT64", "TYPE_SINT64", "TYPE_FIXED64", "TYPE_SFIXED64"}


@lru_cache(maxsize=1 << 16)
def iso_seconds(seconds: int) -> str:
    """'YYYY-MM-DDTHH:MM:SS' (UTC); agents repeat the same instants snapshot after snapshot."""
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()


def timestamp_json(ts: Timestamp, where: str, problems: list[str], field: str = "") -> str:
    """`field` (".name") is appended to `where` only in a problem: valid timestamps build no strings."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (MIN_SECONDS <= seconds <= MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        problems.append(f"{where}{field}: timestamp out of range")
        return ""
    text = iso_seconds(seconds)
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{text}.{nanos // 1_000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def _float_json(v: float, where: str, problems: list[str]) -> float | str:
    if math.isnan(v) or math.isinf(v):
        problems.append(f"{where}: not a finite number")
        return str(v)
    return v


def _is_type(field: Any, name: str) -> bool:  # a FieldDescriptor, pure Python or upb
    return field.type == getattr(field, name)


def _source(desc: Any, check_only: bool = False) -> list[str]:  # a message Descriptor
    """conv_<Message>(m, where, problems) -> its JSON dict; with check_only, check_<Message>: the same checks,
    no output (for parts of a message the store keeps in wire form)."""
    full = desc.full_name
    prefix = "check" if check_only else "conv"

    def put(name: str, expr: str, checks: bool = False) -> str:
        """Store `expr` under `name`, or in check_only mode evaluate it only if it checks something."""
        if not check_only:
            return f"out[{name!r}] = {expr}"
        return expr if checks else "pass"

    out = [f"def {prefix}_{desc.name}(m, where, problems):"] + ([] if check_only else ["    out = {}"])
    for f in desc.fields:
        n = f.name
        if (full, n) in SKIPPED:
            continue
        sub = f.message_type
        if sub is not None and sub.GetOptions().map_entry:
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        if len(v) > {MAX_LIST}:",
                f"            problems.append(f'{{where}}.{n}: more than {MAX_LIST} entries')",
                f"        if any(len(k) > {MAX_STRING} or len(x) > {MAX_STRING} for k, x in v.items()):",
                f"            problems.append(f'{{where}}.{n}: a string is longer than {MAX_STRING}')",
                f"        {put(n, 'dict(v)')}",
            ]
        elif sub is not None and sub.full_name == "google.protobuf.Timestamp":
            if f.is_repeated:
                raise NotImplementedError(f"repeated Timestamp {f.full_name}")
            out += [f"    if m.HasField({n!r}):"]
            if check_only:  # the range check of timestamp_json, inline: the collector checks many
                out += [
                    f"        t = m.{n}",
                    f"        if not ({MIN_SECONDS} <= t.seconds <= {MAX_SECONDS}"
                    " and 0 <= t.nanos < 1000000000):",
                    f"            problems.append(f'{{where}}.{n}: timestamp out of range')",
                ]
            else:
                out += [f"        out[{n!r}] = ts(m.{n}, where, problems, '.{n}')"]
        elif sub is not None and f.is_repeated:
            limit = LIMITS.get(n, MAX_LIST)
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        if len(v) > {limit}:",
                f"            problems.append(f'{{where}}.{n}: {{len(v)}} entries is more than "
                f"the limit of {limit}')",
                f"            v = v[:{limit}]",
            ]
            if check_only:
                out += [
                    "        for i, x in enumerate(v):",
                    f"            check_{sub.name}(x, f'{{where}}.{n}[{{i}}]', problems)",
                ]
            else:
                out += [
                    f"        out[{n!r}] = [conv_{sub.name}(x, f'{{where}}.{n}[{{i}}]', problems) "
                    "for i, x in enumerate(v)]"
                ]
        elif sub is not None:
            call = f"{prefix}_{sub.name}(m.{n}, where + '.{n}', problems)"
            out += [f"    if m.HasField({n!r}):", f"        {put(n, call, True)}"]
        elif f.is_repeated:
            if not _is_type(f, "TYPE_STRING"):
                raise NotImplementedError(f"repeated non-string scalar {f.full_name}")
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        if len(v) > {MAX_LIST}:",
                f"            problems.append(f'{{where}}.{n}: {{len(v)}} entries is more than "
                f"the limit of {MAX_LIST}')",
                f"        if any(len(x) > {MAX_STRING} for x in v):",
                f"            problems.append(f'{{where}}.{n}: a string is longer than {MAX_STRING}')",
                f"        {put(n, 'list(v)')}",
            ]
        elif _is_type(f, "TYPE_STRING"):
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        if len(v) > {MAX_STRING}:",
                f"            problems.append(f'{{where}}.{n}: string of {{len(v)}} characters "
                f"is longer than {MAX_STRING}')",
                f"        {put(n, 'v')}",
            ]
        elif _is_type(f, "TYPE_ENUM") and check_only:
            out += [
                f"    v = m.{n}",
                f"    if v and v not in ENUMS[{f.enum_type.full_name!r}]:",
                f"        problems.append(f'{{where}}.{n}: {{v}} is not a known value')",
            ]
        elif _is_type(f, "TYPE_ENUM"):
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        name = ENUMS[{f.enum_type.full_name!r}].get(v)",
                "        if name is None:",
                f"            problems.append(f'{{where}}.{n}: {{v}} is not a known value')",
                f"            {put(n, 'v')}",
                "        else:",
                f"            {put(n, 'name')}",
            ]
        elif any(_is_type(f, t) for t in _INT64_TYPES):
            out += [
                f"    v = m.{n}",
                "    if v:",
                f"        if not -{MAX_INT} <= v <= {MAX_INT}:",
                f"            problems.append(f'{{where}}.{n}: {{v}} is out of range')",
                f"        {put(n, 'str(v)')}",
            ]
        elif _is_type(f, "TYPE_DOUBLE") or _is_type(f, "TYPE_FLOAT"):
            call = f"flt(v, where + '.{n}', problems)"
            out += [
                f"    v = m.{n}",
                "    if v or math.copysign(1.0, v) < 0:",
                f"        {put(n, call, True)}",
            ]
        elif _is_type(f, "TYPE_BYTES"):
            raise NotImplementedError(f"bytes field {f.full_name}")
        elif check_only and (full, n) not in PORT_FIELDS:
            continue  # a bool or a 32-bit integer: nothing to check
        else:  # bool and 32-bit integers
            out += [f"    v = m.{n}", "    if v:"]
            if (full, n) in PORT_FIELDS:
                out += [f"        if v > 65535: problems.append(f'{{where}}.{n}: port {{v}} is above 65535')"]
            out += [f"        {put(n, 'v')}"]
    out.append("    return None" if check_only else "    return out")
    return out


# (message, where, problems): a converter returns the message's JSON dict, a checker only checks.
Converter = Callable[[Any, str, list[str]], dict[str, Any]]
Checker = Callable[[Any, str, list[str]], None]


def _compile() -> tuple[dict[str, Converter], dict[str, Checker]]:
    namespace: dict = {
        "ts": timestamp_json,
        "flt": _float_json,
        "math": math,
        "ENUMS": {
            e.full_name: {v.number: v.name for v in e.values}
            for e in pb.DESCRIPTOR.enum_types_by_name.values()
        },
    }
    lines: list[str] = []
    for desc in pb.DESCRIPTOR.message_types_by_name.values():
        lines += _source(desc) + [""] + _source(desc, check_only=True) + [""]
    exec(compile("\n".join(lines), "<ronda wirejson>", "exec"), namespace)  # noqa: S102 (generated from descriptors)
    messages = pb.DESCRIPTOR.message_types_by_name.values()
    return (
        {desc.full_name: namespace[f"conv_{desc.name}"] for desc in messages},
        {desc.full_name: namespace[f"check_{desc.name}"] for desc in messages},
    )


# CONVERTERS[full name](message, where, problems) -> its JSON dict; CHECKERS[...] the same checks, no output.
CONVERTERS, CHECKERS = _compile()


def to_json(message: Message, where: str, problems: list[str]) -> dict:
    """Check `message` (appending to `problems`) and return its JSON mapping as a dict."""
    return CONVERTERS[message.DESCRIPTOR.full_name](message, where, problems)


def app_state_json(state: bytes | None) -> dict:
    """An app's state as the store keeps it (an App message holding only resources and usage, daily entries
    left out) in JSON: {"resources": ..., "usage": ...}; {} for none."""
    if not state:
        return {}
    return CONVERTERS["ronda.v1.App"](pb.App.FromString(state), "state", [])


def app_json(detail: str, state: bytes | None) -> dict:
    """An app as the store keeps it (apps.detail and apps.state) in one piece again: protobuf's JSON mapping,
    without usage.daily. (A row stored before version 41 has its state inside its detail.)"""
    return {**json.loads(detail), **app_state_json(state)}
