"""Hypothesis strategies that build any ronda.v1 message from its descriptor, edge cases included."""

from __future__ import annotations

from hypothesis import strategies as st

from ronda.wire.v1 import ronda_pb2 as pb

INT_EDGES = {
    "int32": [0, 1, -1, 2**31 - 1, -(2**31)],
    "uint32": [0, 1, 65535, 65536, 2**32 - 1],
    "int64": [0, -1, 2**63 - 1, -(2**63)],
    "uint64": [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1],
}
_TYPES = {}
for _name in ("INT32", "SINT32", "SFIXED32"):
    _TYPES[_name] = "int32"
for _name in ("UINT32", "FIXED32"):
    _TYPES[_name] = "uint32"
for _name in ("INT64", "SINT64", "SFIXED64"):
    _TYPES[_name] = "int64"
for _name in ("UINT64", "FIXED64"):
    _TYPES[_name] = "uint64"
_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}

texts = st.one_of(
    st.sampled_from(
        [
            "",
            "web01",
            "2026-11-20",
            "2026-02-30",
            "/var/www",
            "*",
            "::",
            "nginx",
            "a" * 4097,
            "x" * 5000,
            "é漢字",
            "nul\x00byte",
            "../../etc/passwd",
            "2026-1-1",
            "1e309",
        ]
    ),
    st.text(max_size=40),
)


def _int(kind: str):
    lo, hi = _RANGES[kind]
    return st.one_of(st.sampled_from(INT_EDGES[kind]), st.integers(lo, hi), st.integers(0, 100))


def _scalar(field):
    t = field.type
    if t == field.TYPE_STRING:
        return texts
    if t == field.TYPE_BOOL:
        return st.booleans()
    if t in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e6))
    if t == field.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.sampled_from([-1, 99, 2**31 - 1]))
    if t == field.TYPE_BYTES:
        return st.binary(max_size=20)
    return _int(_TYPES[_type_name(field)])


def _type_name(field) -> str:
    for name in (
        "INT32",
        "SINT32",
        "SFIXED32",
        "UINT32",
        "FIXED32",
        "INT64",
        "SINT64",
        "SFIXED64",
        "UINT64",
        "FIXED64",
    ):
        if field.type == getattr(field, f"TYPE_{name}"):
            return name
    raise TypeError(field.full_name)


@st.composite
def timestamps(draw):
    seconds = draw(
        st.one_of(
            st.integers(1_600_000_000, 1_900_000_000),
            st.sampled_from([0, -62135596801, 253402300800, 2**62, -(2**62)]),
        )
    )
    nanos = draw(st.one_of(st.just(0), st.integers(0, 999_999_999), st.sampled_from([-1, 1_000_000_000])))
    return seconds, nanos


_CACHE: dict = {}


def messages(descriptor, max_repeat: int = 3):
    """Dicts of field name -> value for `descriptor`, every field optional (apply with fill())."""
    key = (descriptor.full_name, max_repeat)
    if key in _CACHE:
        return _CACHE[key]
    optional = {}
    for field in descriptor.fields:
        message_type = field.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            strategy = st.dictionaries(texts, texts, max_size=3)
        elif message_type is not None and message_type.full_name == "google.protobuf.Timestamp":
            strategy = timestamps()
        elif message_type is not None:
            one = messages(message_type, max_repeat)
            strategy = st.lists(one, max_size=max_repeat) if field.is_repeated else one
        elif field.is_repeated:
            strategy = st.lists(_scalar(field), max_size=max_repeat)
        else:
            strategy = _scalar(field)
        optional[field.name] = strategy
    _CACHE[key] = st.fixed_dictionaries({}, optional=optional)
    return _CACHE[key]


def fill(message, values: dict):
    """Set `values` (from `messages`) on `message`; returns it."""
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if isinstance(value, tuple):  # a timestamp
            target.seconds, target.nanos = value
        elif (
            isinstance(value, dict)
            and field.message_type is not None
            and field.message_type.GetOptions().map_entry
        ):
            target.update(value)
        elif isinstance(value, dict):
            fill(target, value)
        elif isinstance(value, list) and field.message_type is not None:
            for item in value:
                if isinstance(item, tuple):
                    ts = target.add()
                    ts.seconds, ts.nanos = item
                else:
                    fill(target.add(), item)
        elif isinstance(value, list):
            target.extend(value)
        else:
            setattr(message, name, value)
    return message


def snapshots(max_repeat: int = 3):
    return messages(pb.Snapshot.DESCRIPTOR, max_repeat=max_repeat).map(lambda v: fill(pb.Snapshot(), v))
