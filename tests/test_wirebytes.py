"""The collector's own walk of protobuf bytes (collector.store.wirebytes) against protobuf itself, and the
check, run when wirebytes is imported, that the layout it reads is still the .proto's.

The real-world shapes: snapshots as any agent's protobuf writes them (hypothesis builds every field,
edge values included, and protobuf serializes them both ways it can), and the .proto edits a developer
of ronda makes when the contract grows (a field added, moved, retyped, renamed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grpc_tools
import pytest
from fuzz_wire import fill, messages, snapshots
from google.protobuf import descriptor_pb2, descriptor_pool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ronda.collector.store import wirelayout
from ronda.collector.store.wirebytes import (
    app_parts,
    daily_record,
    daily_span,
    dates_once,
    digest,
    parts_around,
    raw_apps,
    settled_then_newest,
    shape_of,
)
from ronda.wire.v1 import ronda_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _wire(message, deterministic: bool) -> bytes:
    return message.SerializeToString(deterministic=deterministic)


@PROPERTY
@given(snapshots(max_repeat=3), st.booleans())
def test_the_apps_cut_from_a_snapshots_bytes_are_protobufs_own(snapshot, deterministic):
    raw = _wire(snapshot, deterministic)
    apps = raw_apps(raw)
    assert apps is not None
    assert [pb.App.FromString(app) for app in apps] == list(pb.Snapshot.FromString(raw).apps)


@PROPERTY
@given(messages(pb.App.DESCRIPTOR, max_repeat=3), st.booleans())
def test_an_app_taken_apart_parses_to_protobufs_parts(values, deterministic):
    """The stable part is the app without resources and usage; the usage span is the usage message; its
    daily span holds exactly the daily entries, found alike in the app's bytes and in the usage's own."""
    app = fill(pb.App(), values)
    wire = _wire(app, deterministic)
    parts = app_parts(wire)
    assert parts is not None
    stable = pb.App()
    stable.CopyFrom(app)
    stable.ClearField("resources")
    stable.ClearField("usage")
    assert pb.App.FromString(parts.stable) == stable
    resources = pb.App()
    if app.HasField("resources"):
        resources.resources.CopyFrom(app.resources)
    assert pb.App.FromString(parts.resources) == resources
    if not app.HasField("usage"):
        assert parts.usage_start == parts.usage_end == -1
        return
    usage_wire = wire[parts.usage_start : parts.usage_end]
    assert pb.Usage.FromString(usage_wire) == app.usage
    head, tail = daily_span(app.usage, usage_wire)
    assert list(pb.Usage.FromString(usage_wire[head:tail]).daily) == list(app.usage.daily)
    rest = pb.Usage()
    rest.CopyFrom(app.usage)
    rest.ClearField("daily")
    assert pb.Usage.FromString(usage_wire[:head] + usage_wire[tail:]) == rest
    settled = b"".join(daily_record(d) for d in list(app.usage.daily)[:-1])
    span = settled_then_newest(wire, parts.usage_start, parts.usage_end, len(settled), digest(settled))
    if span is not None:
        assert span == (parts.usage_start + head, parts.usage_start + tail)


@PROPERTY
@given(
    messages(pb.App.DESCRIPTOR, max_repeat=3),
    messages(pb.Resources.DESCRIPTOR, max_repeat=2),
    messages(pb.Usage.DESCRIPTOR, max_repeat=3),
    st.one_of(st.none(), messages(pb.App.DESCRIPTOR, max_repeat=3)),
    st.sampled_from(["as protobuf writes it", "usage twice", "resources after usage", "another field"]),
)
def test_an_app_taken_apart_around_its_earlier_shape_is_as_app_parts_takes_it(
    earlier, resources, usage, other, extra
):
    """An agent's next snapshot of an app: its resources and usage moved, or (`other`) anything did, and
    perhaps another protobuf library wrote more inside its resources and usage (`extra`). Taken apart around
    the shape of its earlier bytes, it is as app_parts takes it, or not at all (None: the caller walks it),
    and it is found whenever only resources and usage moved, written as protobuf writes them."""
    before = fill(pb.App(), earlier)
    before.usage.SetInParent()
    if other is None:
        after = pb.App()
        after.CopyFrom(before)
        fill(after.resources, resources)
        after.usage.CopyFrom(fill(pb.Usage(), usage))
    else:
        after = fill(pb.App(), other)
    # Deterministic: a map's entries (labels) otherwise come in an order of the process's hash seed and of
    # how the map was filled, so the same labels may be other bytes (then nothing is found, rightly).
    shape = shape_of(app_parts(before.SerializeToString(deterministic=True)))
    assert shape is not None
    wire = after.SerializeToString(deterministic=True)
    parts = app_parts(wire)
    assert parts is not None
    if extra != "as protobuf writes it" and parts.cut >= 0:
        field = {
            "usage twice": b"\x62\x00",
            "resources after usage": b"\x5a\x00",
            "another field": b"\xf8\x07\x01",
        }
        end = len(wire) - len(parts.stable) + parts.cut  # where the app's resources and usage end
        wire = wire[:end] + field[extra] + wire[end:]
        assert parts_around(wire, shape) in (None, app_parts(wire))  # None where app_parts refuses them
    else:
        around = parts_around(wire, shape)
        assert around == parts if other is None else around in (None, parts)


@PROPERTY
@given(messages(pb.Usage.DESCRIPTOR, max_repeat=6))
def test_a_date_counted_once_in_a_daily_block_is_named_by_one_entry(values):
    usage = fill(pb.Usage(), values)
    wire = usage.SerializeToString(deterministic=True)
    head, tail = daily_span(usage, wire)
    days = list(usage.daily)[-3:]
    if dates_once(wire[head:tail], days):
        named = [d.date for d in usage.daily]
        assert all(named.count(d.date) == 1 for d in days)


@PROPERTY
@given(
    messages(pb.Usage.DESCRIPTOR, max_repeat=6),
    st.integers(0, 2),
    st.lists(st.sampled_from(["entry", "settled-entry", "unknown", "log"]), max_size=2),
)
def test_settled_then_newest_answers_only_for_the_settled_entries_then_one(values, drop, after):
    """Whatever follows a usage's bytes (an entry, one naming a settled date, a newer release's field, a
    log) and whatever block was stored (the settled entries, or fewer), a span is found only where
    protobuf parses the settled entries, then one newest entry of its own date, and the span holds them."""
    usage = fill(pb.Usage(), values)
    if not usage.daily:
        return
    settled = b"".join(daily_record(d) for d in list(usage.daily)[: max(0, len(usage.daily) - 1 - drop)])
    extra = {
        "entry": daily_record(pb.DailyUsage(date="2031-01-01", human=3)),
        "settled-entry": daily_record(usage.daily[0]),
        "unknown": bytes([0xF8, 0x07, 0x2A]),
        "log": bytes([wirelayout.key(pb.Usage.DESCRIPTOR.fields_by_name["logs"]), 0]),
    }
    raw = usage.SerializeToString(deterministic=True) + b"".join(extra[name] for name in after)
    parsed = pb.Usage.FromString(raw)
    span = settled_then_newest(raw, 0, len(raw), len(settled), digest(settled))
    if span is None:
        assert (
            drop
            or after
            or len(parsed.daily[-1].date.encode()) != 10  # bytes: the wire's, not characters
            or parsed.daily[-1].date in {d.date for d in parsed.daily[:-1]}
        )
        return
    entries = list(parsed.daily)
    assert b"".join(daily_record(d) for d in entries[:-1]) == settled
    assert list(pb.Usage.FromString(raw[span[0] : span[1]]).daily) == entries
    assert [d.date for d in entries].count(entries[-1].date) == 1


# -- the layout check ------------------------------------------------------------------------------------


def descriptor_of(tmp_path: Path, edit=None):
    """The FileDescriptor protoc builds from ronda.proto, after `edit(text)` in a copy."""
    proto = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", proto)
    source = proto / "ronda/v1/ronda.proto"
    if edit is not None:
        text = source.read_text()
        edited = edit(text)
        assert edited != text
        source.write_text(edited)
    out = tmp_path / "ronda.desc"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto}",
            f"-I{well_known}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            "ronda/v1/ronda.proto",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(file)
    return pool.FindFileByName("ronda/v1/ronda.proto")


def _sub(old: str, new: str):
    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return edit


@pytest.mark.servers
def test_the_proto_as_it_is_has_the_layout_of_the_generated_code(tmp_path):
    file = descriptor_of(tmp_path)
    assert wirelayout.problems(file) == []
    assert wirelayout.layout(file) == wirelayout.layout(pb.DESCRIPTOR)


@pytest.mark.parametrize(
    "edit,expected",
    [
        pytest.param(
            _sub("uint64 unparsed_lines = 9;", "uint64 unparsed_lines = 9;\n  string top_referrer = 10;"),
            ["Usage.top_referrer (10) follows daily", "daily_span and settled_then_newest", "teach them"],
            id="a field added to Usage",
        ),
        pytest.param(
            _sub("uint64 unparsed_lines = 9;", "optional uint64 unparsed_lines = 9;"),
            ["Usage.unparsed_lines has presence"],
            id="unparsed_lines made optional",
        ),
        pytest.param(
            _sub("uint64 unparsed_lines = 9;", "string unparsed_lines = 9;"),
            ["Usage.unparsed_lines is no longer uint64"],
            id="unparsed_lines retyped",
        ),
        pytest.param(
            _sub("google.protobuf.Timestamp last_human_success = 6;", "double last_human_success_ratio = 6;"),
            ["Usage.last_human_success_ratio (6, before daily) has wire type 1", "daily_span skips"],
            id="a field before daily replaced by a double",
        ),
        pytest.param(
            _sub("repeated DailyUsage daily = 7;", "reserved 7;\n  repeated DailyUsage daily = 20;"),
            ["Usage.daily is field 20, whose key is not one byte", "no longer in this order"],
            id="daily moved past 15",
        ),
        pytest.param(
            _sub("repeated LogSource logs = 8;", "repeated LogSource log_sources = 8;"),
            ["Usage.logs is gone"],
            id="logs renamed",
        ),
        pytest.param(
            _sub("Usage usage = 12;", "reserved 12;\n  Usage usage = 17;"),
            ["App.usage (17) no longer follows App.resources (11)", "app_parts"],
            id="App.usage moved",
        ),
        pytest.param(
            _sub("repeated App apps = 8;", "App apps = 8;"),
            ["Snapshot.apps is no longer repeated App", "raw_apps"],
            id="apps made singular",
        ),
        pytest.param(
            _sub("string date = 1;            // YYYY-MM-DD (UTC)", "google.protobuf.Timestamp date = 1;"),
            ["DailyUsage.date is no longer string", "dates_once"],
            id="date made a timestamp",
        ),
    ],
)
@pytest.mark.servers
def test_a_changed_layout_fails_the_check_saying_what_to_change(tmp_path, edit, expected):
    file = descriptor_of(tmp_path, edit)
    with pytest.raises(wirelayout.LayoutChanged) as changed:
        wirelayout.checked_layout(file)
    message = str(changed.value)
    assert "When a field is added" in message and "proto/ronda/v1/ronda.proto" in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    "edit,apps_key",
    [
        pytest.param(
            _sub(
                "map<string, string> labels = 16;", "map<string, string> labels = 16;\n  string owner = 17;"
            ),
            8 << 3 | 2,
            id="a field added to App",
        ),
        pytest.param(
            _sub("repeated App apps = 8;", "reserved 8;\n  repeated App apps = 14;"),
            14 << 3 | 2,
            id="Snapshot.apps renumbered",
        ),
    ],
)
@pytest.mark.servers
def test_a_change_the_walker_follows_passes_the_check_with_keys_from_the_descriptors(
    tmp_path, edit, apps_key
):
    file = descriptor_of(tmp_path, edit)
    assert wirelayout.problems(file) == []
    assert wirelayout.checked_layout(file).apps_key == apps_key


def test_keys_follow_protobufs_wire_types():
    """Each field's key as protobuf writes it (packed repeated scalars are length-delimited)."""
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        for field in message.fields:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                continue
            instance = getattr(pb, message.name)()
            if field.message_type is not None:
                target = getattr(instance, field.name)
                (target.add() if field.is_repeated else target).SetInParent()
            elif field.is_repeated:
                getattr(instance, field.name).append(_one(field))
            else:
                setattr(instance, field.name, _one(field))
            wire = instance.SerializeToString()
            assert wire.startswith(wirelayout.varint(wirelayout.key(field))), field.full_name


def _one(field):
    if field.type == field.TYPE_STRING:
        return "x"
    if field.type == field.TYPE_BOOL:
        return True
    if field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return 1.5
    return 1
