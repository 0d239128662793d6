"""Whole windows whose apps are taken apart around the stable part remembered from the agent's last
snapshot (collector.store.wirebytes.parts_around), against a store that remembers nothing.

Stands for an agent of a release before usage deltas (or one whose state was wiped) sending its whole
window every 15 minutes while its sites change the way they do: only counts and resources moving (most
snapshots), a vhost renamed to a name of the same length, a label edited in place, a PHP-FPM pool
started or stopped (resources appear or go), an app gone and back. Each time, the store that took the
apps apart around their remembered shapes holds exactly what one reading everything back holds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.fleet import make_snapshot
from ronda import model
from ronda.collector.store import Store, wirebytes
from ronda.convert import snapshot_to_wire
from ronda.wire.v1 import ronda_pb2 as pb

AGENT = "web-dinkes-02"
APPS = 4


def _renamed(snap: model.Snapshot) -> None:  # the same length: the app's bytes keep their size
    snap.apps[1].server_names[0] = snap.apps[1].server_names[0].replace("app1.", "apq1.")


def _relabelled(snap: model.Snapshot) -> None:  # the labels come after resources and usage
    snap.apps[2].labels["opd"] = snap.apps[2].labels["opd"][:-1] + "x"


def _pool_stopped(snap: model.Snapshot) -> None:
    for app in snap.apps:
        app.resources = None


def _app_gone(snap: model.Snapshot) -> None:
    del snap.apps[0]


CHANGES: dict[str, Callable[[model.Snapshot], None]] = {
    "counts and resources only": lambda snap: None,
    "a vhost renamed": _renamed,
    "a label edited": _relabelled,
    "PHP-FPM pools stopped": _pool_stopped,
    "an app gone": _app_gone,
}

TABLES = {
    "apps": "SELECT app_key, present, kind, server_names, coverage, coverage_start, last_request, detail,"
    " state, digest, stable FROM apps",
    "days": "SELECT app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_daily",
    "blocks": "SELECT app_key, block FROM app_daily_wire",
}


def held(store: Store) -> dict[str, list]:
    with store.reading() as c:
        return {name: sorted(c.execute(sql).fetchall()) for name, sql in TABLES.items()}


def window(sequence: int, change: Callable[[model.Snapshot], None] | None = None) -> bytes:
    snap = make_snapshot(AGENT, sequence, apps=APPS, days=10)
    snap.report_id = f"{AGENT}-{sequence}"
    if change is not None:
        change(snap)
    return snapshot_to_wire(snap).SerializeToString()


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_apps_taken_apart_around_their_shapes_are_stored_as_when_read_back(tmp_path, change):
    remembering = Store(tmp_path / "remembering.db")
    path = tmp_path / "forgetting.db"
    sent = [window(1), window(2), window(3, CHANGES[change]), window(4, CHANGES[change]), window(5)]
    for raw in sent:
        remembering.ingest_bytes(raw)
        forgetting = Store(path)  # a process that remembers nothing of the agent: every app walked
        forgetting.ingest_bytes(raw)
        assert held(remembering) == held(forgetting)
        forgetting.close()
    remembering.close()


def test_a_remembered_shape_is_used_for_the_apps_whose_stable_part_did_not_move(tmp_path, monkeypatch):
    """The shortcut is taken, not only harmless: after the first window, every app of the next (its counts
    and resources moved) is found around its shape, and an app renamed is not."""
    store = Store(tmp_path / "a.db")
    store.ingest_bytes(window(1))
    found: list[str | None] = []
    real = wirebytes.parts_around

    def watched(raw: bytes, shape: wirebytes.Shape) -> wirebytes.AppParts | None:
        parts = real(raw, shape)
        found.append(pb.App.FromString(raw).key if parts is not None else None)
        return parts

    monkeypatch.setattr(wirebytes, "parts_around", watched)
    store.ingest_bytes(window(2))
    assert found == [app.key for app in pb.Snapshot.FromString(window(2)).apps]
    found.clear()
    store.ingest_bytes(window(3, _renamed))
    assert found.count(None) == 1 and len(found) == APPS
    store.close()
