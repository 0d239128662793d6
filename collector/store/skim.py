"""A whole-window snapshot parsed without the daily entries the store already holds.

A whole window carries 90 days of every app, and usually all but the newest are the app's settled days,
byte for byte the block the store holds (collector.store.usage_days). Protobuf parsed those 9,000
entries of a 100-app snapshot for nothing: 0.6 ms of a snapshot. Here each app's bytes are walked
first, against what the store holds of the agent (its Known); where an app's daily entries are its
stored block and then the newest, the block's bytes are left out before parsing, and the app parses with
its newest day alone, which is all the store then writes of it.

What each app was found to be is kept (Walked), so that storing the snapshot uses these findings instead
of walking the bytes again, and only while the agent's row says the base they were made against; a
snapshot stored otherwise (a base moved by another process, an older or repeated sequence) is parsed
whole again (collector.store.apply.ingest_message).
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf.message import DecodeError

from ronda.collector.store.known import Known
from ronda.collector.store.usage_days import settled_span
from ronda.collector.store.wirebytes import (
    AppParts,
    Shape,
    app_key,
    digest,
    join_apps,
    split_apps,
    taken_apart,
    without_settled,
)
from ronda.wire.v1 import ronda_pb2 as pb


class Walked(NamedTuple):
    """One app's received bytes, as the walk found them."""

    key: str | None  # its key as read from its bytes (None: not read)
    wire: bytes  # the app as received
    digest: bytes  # of `wire`
    parts: AppParts | None  # `wire` taken apart (None: unchanged since stored, or not walked)
    span: tuple[int, int] | None  # its daily entries, if the stored block's then the newest (settled_span)
    shape: Shape | None = None  # of `parts`, to remember


class Skimmed(NamedTuple):
    message: pb.Snapshot  # the snapshot, daily entries of the stored blocks left out
    walked: list[Walked]  # each app, in the order of message.apps


def walk(apps: list[bytes], known: Known) -> list[Walked]:
    """What each app of `apps` (split_apps; of a snapshot of whole windows) is, against what the store holds
    of the agent: changed apps taken apart, with the daily span of those whose stored block holds."""
    digests, blocks, shapes, found = known.digests, known.blocks, known.shapes, []
    for wire in apps:
        key, sum_ = app_key(wire), digest(wire)
        found_key = key or ""  # no app is stored without a key
        old = digests.get(found_key)
        if old is not None and old[0] == sum_:
            found.append(Walked(key, wire, sum_, None, None))
            continue
        parts, shape = taken_apart(wire, shapes.get(found_key))
        found.append(Walked(key, wire, sum_, parts, settled_span(wire, parts, blocks.get(found_key)), shape))
    return found


def skim(rest: bytes, walked: list[Walked], known: Known) -> Skimmed | None:
    """The snapshot of the fields `rest` and the apps `walked`, parsed with each settled block left out.

    None where the walk read an app's key other than protobuf did (a key written twice): the caller then
    parses the bytes whole. DecodeError where they are not a Snapshot."""
    apps = []
    for w in walked:
        app = w.wire
        if w.span is not None and w.parts is not None and w.key is not None:
            start = w.span[0]
            app = without_settled(app, w.parts, (start, start + known.blocks[w.key].length)) or app
        apps.append(app)
    message = pb.Snapshot.FromString(join_apps(rest, apps))
    if any(app.key != w.key for app, w in zip(message.apps, walked, strict=True) if w.key is not None):
        return None
    return Skimmed(message, walked)


def claimed_agent_id(raw: bytes) -> str:
    """The agent id a serialized Snapshot names, read without parsing its apps ("" where it cannot be)."""
    split = split_apps(raw)
    try:
        return pb.Snapshot.FromString(split[0] if split is not None else raw).agent_id
    except DecodeError:
        return ""
