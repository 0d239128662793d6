"""Check a ronda.v1 message and turn it into protobuf's JSON mapping (proto field names), fast.

One plain Python function per message type is generated from the .proto's descriptors when this
module is imported, so a field added to the .proto is checked and converted with no change here.
The generated code reads each field directly, which is several times faster than a generic walk
(ListFields plus dispatch), and the collector converts every changed app of every snapshot.

Output equals `json_format.MessageToDict(message, preserving_proto_field_name=True)` (a property
test holds it to that), except that `Usage.daily` is left out: daily rows are stored on their own.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache

from ronda_wire.v1 import ronda_pb2 as pb

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


def timestamp_json(ts, where: str, problems: list[str], field: str = "") -> str:
    """`field` (".name") is appended to `where` only in a problem: valid timestamps build no strings."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (MIN_SECONDS <= seconds <= MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        problems.append(f"{where}{field}: timestamp out of range")
        return ""
    text = iso_seconds(seconds)
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return text + ".%03dZ" % (nanos // 1_000_000)
    if nanos % 1_000 == 0:
        return text + ".%06dZ" % (nanos // 1_000)
    return text + ".%09dZ" % nanos


def _float_json(v: float, where: str, problems: list[str]):
    if math.isnan(v) or math.isinf(v):
        problems.append(f"{where}: not a finite number")
        return str(v)
    return v


def _is_type(field, name: str) -> bool:
    return field.type == getattr(field, name)


def _source(desc) -> list[str]:
    full = desc.full_name
    out = [f"def conv_{desc.name}(m, where, problems):", "    out = {}"]
    for f in desc.fields:
        n = f.name
        if (full, n) in SKIPPED:
            continue
        sub = f.message_type
        if sub is not None and sub.GetOptions().map_entry:
            out += [f"    v = m.{n}", "    if v:",
                    f"        if len(v) > {MAX_LIST}: problems.append(f'{{where}}.{n}: more than {MAX_LIST} entries')",
                    f"        if any(len(k) > {MAX_STRING} or len(x) > {MAX_STRING} for k, x in v.items()):",
                    f"            problems.append(f'{{where}}.{n}: a string is longer than {MAX_STRING}')",
                    f"        out[{n!r}] = dict(v)"]
        elif sub is not None and sub.full_name == "google.protobuf.Timestamp":
            if f.is_repeated:
                raise NotImplementedError(f"repeated Timestamp {f.full_name}")
            out += [f"    if m.HasField({n!r}):", f"        out[{n!r}] = ts(m.{n}, where, problems, '.{n}')"]
        elif sub is not None and f.is_repeated:
            limit = LIMITS.get(n, MAX_LIST)
            out += [f"    v = m.{n}", "    if v:",
                    f"        if len(v) > {limit}:",
                    f"            problems.append(f'{{where}}.{n}: {{len(v)}} entries is more than the limit of {limit}')",
                    f"            v = v[:{limit}]",
                    f"        out[{n!r}] = [conv_{sub.name}(x, f'{{where}}.{n}[{{i}}]', problems) "
                    "for i, x in enumerate(v)]"]
        elif sub is not None:
            out += [f"    if m.HasField({n!r}):", f"        out[{n!r}] = conv_{sub.name}(m.{n}, where + '.{n}', problems)"]
        elif f.is_repeated:
            if not _is_type(f, "TYPE_STRING"):
                raise NotImplementedError(f"repeated non-string scalar {f.full_name}")
            out += [f"    v = m.{n}", "    if v:",
                    f"        if len(v) > {MAX_LIST}: problems.append(f'{{where}}.{n}: {{len(v)}} entries is more than "
                    f"the limit of {MAX_LIST}')",
                    f"        if any(len(x) > {MAX_STRING} for x in v):",
                    f"            problems.append(f'{{where}}.{n}: a string is longer than {MAX_STRING}')",
                    f"        out[{n!r}] = list(v)"]
        elif _is_type(f, "TYPE_STRING"):
            out += [f"    v = m.{n}", "    if v:",
                    f"        if len(v) > {MAX_STRING}: problems.append(f'{{where}}.{n}: string of {{len(v)}} characters "
                    f"is longer than {MAX_STRING}')",
                    f"        out[{n!r}] = v"]
        elif _is_type(f, "TYPE_ENUM"):
            out += [f"    v = m.{n}", "    if v:",
                    f"        name = ENUMS[{f.enum_type.full_name!r}].get(v)",
                    "        if name is None:",
                    f"            problems.append(f'{{where}}.{n}: {{v}} is not a known value')",
                    f"            out[{n!r}] = v",
                    "        else:",
                    f"            out[{n!r}] = name"]
        elif any(_is_type(f, t) for t in _INT64_TYPES):
            out += [f"    v = m.{n}", "    if v:",
                    f"        if not -{MAX_INT} <= v <= {MAX_INT}: problems.append(f'{{where}}.{n}: {{v}} is out of range')",
                    f"        out[{n!r}] = str(v)"]
        elif _is_type(f, "TYPE_DOUBLE") or _is_type(f, "TYPE_FLOAT"):
            out += [f"    v = m.{n}", "    if v or math.copysign(1.0, v) < 0:",
                    f"        out[{n!r}] = flt(v, where + '.{n}', problems)"]
        elif _is_type(f, "TYPE_BYTES"):
            raise NotImplementedError(f"bytes field {f.full_name}")
        else:  # bool and 32-bit integers
            out += [f"    v = m.{n}", "    if v:"]
            if (full, n) in PORT_FIELDS:
                out += [f"        if v > 65535: problems.append(f'{{where}}.{n}: port {{v}} is above 65535')"]
            out += [f"        out[{n!r}] = v"]
    out.append("    return out")
    return out


def _compile() -> dict[str, object]:
    namespace: dict = {"ts": timestamp_json, "flt": _float_json, "math": math,
                       "ENUMS": {e.full_name: {v.number: v.name for v in e.values}
                                 for e in pb.DESCRIPTOR.enum_types_by_name.values()}}
    lines: list[str] = []
    for desc in pb.DESCRIPTOR.message_types_by_name.values():
        lines += _source(desc) + [""]
    exec(compile("\n".join(lines), "<ronda wirejson>", "exec"), namespace)  # noqa: S102 (generated from descriptors)
    return {desc.full_name: namespace[f"conv_{desc.name}"] for desc in pb.DESCRIPTOR.message_types_by_name.values()}


CONVERTERS = _compile()


def to_json(message, where: str, problems: list[str]) -> dict:
    """Check `message` (appending to `problems`) and return its JSON mapping as a dict."""
    return CONVERTERS[message.DESCRIPTOR.full_name](message, where, problems)  # type: ignore[operator]
