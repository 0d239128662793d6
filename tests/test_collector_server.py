"""The Report endpoint on a real gRPC server over loopback, with a real SQLite store."""

import copy
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from ronda import model
from ronda.agent.sender import Sender, SendError
from ronda.collector.server import ServerConfig, make_server
from ronda.collector.store import Store
from ronda.convert import snapshot_to_wire


@pytest.fixture
def collector(tmp_path):
    store = Store(tmp_path / "ronda.db")
    server, port = make_server(
        store, ServerConfig(listen="127.0.0.1:0", insecure=True, max_message_bytes=256 * 1024)
    )
    yield store, f"127.0.0.1:{port}"
    server.stop(grace=1).wait()
    store.close()


def snapshot(sequence=1, agent_id="web01", apps=2) -> model.Snapshot:
    return model.Snapshot(
        agent_id=agent_id,
        sequence=sequence,
        report_id=f"r-{sequence}",
        collected_at=datetime.now(UTC),
        host=model.HostFacts(hostname=agent_id, machine_id="m-" + agent_id),
        apps=[
            model.App(
                key=f"nginx:site{i}.test:80/",
                kind="nginx",
                server_names=[f"site{i}.test"],
                listen=[model.ListenAddress("*", 80)],
                root=f"/var/www/{i}",
                usage=model.Usage("full", daily=[model.DailyUsage("2026-11-01", human=i)]),
            )
            for i in range(apps)
        ],
    )


def raw_report(address: str, payload: bytes):
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary("/ronda.v1.Collector/Report")
        return call(payload, timeout=10)


def test_resending_a_snapshot_changes_nothing(collector):
    store, address = collector
    with Sender(address, insecure=True) as sender:
        first = sender.send(snapshot())
        before = store.dump()
        again = sender.send(snapshot())
    assert first.accepted and not first.duplicate
    assert again.accepted and again.duplicate
    assert store.dump() == before
    assert len(store.apps()) == 2


def test_an_older_snapshot_is_history_not_state(collector):
    store, address = collector
    with Sender(address, insecure=True) as sender:
        sender.send(snapshot(sequence=5, apps=1))
        ack = sender.send(snapshot(sequence=4, apps=3))
    assert ack.stale
    assert [a["app_key"] for a in store.apps()] == ["nginx:site0.test:80/"]
    assert store.query("SELECT sequence, applied FROM snapshots ORDER BY sequence") == [
        {"sequence": 4, "applied": 0},
        {"sequence": 5, "applied": 1},
    ]


def test_apps_gone_from_the_latest_snapshot_are_kept_as_not_present(collector):
    store, address = collector
    with Sender(address, insecure=True) as sender:
        sender.send(snapshot(sequence=1, apps=3))
        sender.send(snapshot(sequence=2, apps=1))
    assert len(store.apps()) == 1
    everything = store.apps(include_gone=True)
    assert sorted((a["app_key"], a["present"]) for a in everything) == [
        ("nginx:site0.test:80/", 1),
        ("nginx:site1.test:80/", 0),
        ("nginx:site2.test:80/", 0),
    ]


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x12\x80"])
def test_undecodable_bytes_get_invalid_argument_and_the_server_keeps_serving(collector, payload):
    store, address = collector
    with pytest.raises(grpc.RpcError) as refused:
        raw_report(address, payload)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with Sender(address, insecure=True) as sender:
        assert sender.send(snapshot()).accepted


def test_oversized_message_gets_resource_exhausted_and_the_server_keeps_serving(collector):
    store, address = collector
    big = snapshot(apps=1)
    big.apps[0].labels = {f"k{i}": "x" * 1000 for i in range(400)}  # ~400 KB, limit is 256 KB here
    with pytest.raises(grpc.RpcError) as refused:
        raw_report(address, snapshot_to_wire(big).SerializeToString())
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with Sender(address, insecure=True) as sender:
        assert sender.send(snapshot()).accepted
    assert store.query("SELECT count(*) AS n FROM snapshots") == [{"n": 1}]


def _bad(**changes):
    snap = snapshot()
    for name, value in changes.items():
        setattr(snap, name, value)
    return snap


def _bad_app(**changes):
    snap = snapshot()
    for name, value in changes.items():
        setattr(snap.apps[0], name, value)
    return snap


def _duplicate_keys():
    snap = snapshot()
    snap.apps.append(copy.deepcopy(snap.apps[0]))
    return snap


@pytest.mark.parametrize(
    "bad,reason",
    [
        (_bad(agent_id=""), "agent_id"),
        (_bad(agent_id="web 01; DROP TABLE"), "agent_id"),
        (_bad(sequence=0), "sequence"),
        (_bad(report_id=""), "report_id"),
        (_bad(collected_at=None), "collected_at"),
        (_bad(collected_at=datetime.now(UTC) + timedelta(days=30)), "future"),
        (_bad_app(key=""), "key is empty"),
        (_duplicate_keys(), "appears twice"),
        (_bad_app(key="nginx:a.test:80/\x00"), "NUL"),
        (_bad_app(kind=""), "kind"),
        (_bad_app(root="/" + "a" * 5000), "longer than"),
        (_bad_app(usage=model.Usage("full", daily=[model.DailyUsage("yesterday", 1)])), "YYYY-MM-DD"),
    ],
)
def test_invalid_snapshots_are_refused_whole(collector, bad, reason):
    store, address = collector
    before = store.dump()
    with Sender(address, insecure=True) as sender, pytest.raises(SendError) as refused:
        sender.send(bad)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in refused.value.details
    assert store.dump() == before


def test_a_bad_listen_port_on_the_wire_is_refused(collector):
    store, address = collector
    message = snapshot_to_wire(snapshot())
    message.apps[0].listen[0].port = 70000
    with pytest.raises(grpc.RpcError) as refused:
        raw_report(address, message.SerializeToString())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "65535" in refused.value.details()
