import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ronda import convert as wire
from ronda import model
from ronda.wire.v1 import ronda_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.servers
def test_generated_code_matches_the_proto():
    done = subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
def test_drift_is_detected(tmp_path):
    """The check fails when the committed code differs from what the .proto generates."""
    copy = tmp_path / "repo"
    for part in ("scripts", "proto", "ronda/wire"):
        shutil.copytree(ROOT / part, copy / part)
    proto = copy / "proto/ronda/v1/ronda.proto"
    proto.write_text(
        proto.read_text().replace("string message = 5;", "string message = 5;\n  string extra = 99;")
    )
    done = subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--check"], cwd=copy, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "ronda_pb2.py" in done.stdout


def test_every_model_field_exists_on_the_wire():
    for cls, message in [
        (model.Snapshot, pb.Snapshot),
        (model.App, pb.App),
        (model.HostFacts, pb.HostFacts),
        (model.Usage, pb.Usage),
        (model.Resources, pb.Resources),
        (model.Listener, pb.Listener),
    ]:
        assert set(cls.__dataclass_fields__) == set(message.DESCRIPTOR.fields_by_name), cls.__name__


def full_snapshot() -> model.Snapshot:
    when = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    app = model.App(
        key="nginx:a.example:443/",
        kind="nginx",
        server_names=["a.example", "www.a.example"],
        listen=[model.ListenAddress("0.0.0.0", 443, True, True)],
        path_prefix="/",
        root="/var/www/a",
        config=model.ConfigLocation("/etc/nginx/sites-enabled/a", 3),
        access_logs=[model.LogRef("/var/log/a", "main")],
        framework=model.Framework("wordpress", "6.4.3", "/var/www/a/wp-includes/version.php", "php"),
        resources=model.Resources(
            [model.ProcessRef(12, "nginx", "www-data", "nginx.service", "", 1.5, 1024)],
            1.5,
            1024,
            4096,
            3,
            False,
            when,
            "/var/www/a/index.php",
        ),
        usage=model.Usage(
            "full",
            when,
            when,
            when,
            when,
            when,
            [model.DailyUsage("2026-11-01", 5, 2, 1, 0, 3, 4)],
            [model.LogSource("/var/log/a", "main", "ok", "", when, when, 11, 1)],
            1,
        ),
        tls=model.TlsCertificate("/etc/ssl/a.pem", "CN=a.example", "CN=ca", ["a.example"], when),
        database=model.Database("mysql", "wp", "localhost", "/var/www/a/wp-config.php"),
        labels={"compose_project": "x"},
    )
    return model.Snapshot(
        agent_id="web01",
        sequence=7,
        report_id="r-1",
        collected_at=when,
        agent_version="0.1.0",
        source="ssh",
        host=model.HostFacts(
            "mid",
            "web01",
            "web01.example",
            ["192.0.2.1"],
            "Debian GNU/Linux",
            "12",
            "6.1",
            "x86_64",
            when,
            2,
            100,
            50,
            [model.Disk("/", "/dev/sda1", "ext4", 10, 5)],
        ),
        apps=[app],
        listeners=[
            model.Listener("tcp", "0.0.0.0", 443, 12, "nginx", "root", "nginx.service", "", [app.key], True)
        ],
        errors=[model.SourceError("nginx", "/etc/nginx/x.conf", 4, "broken")],
        interval_seconds=900,
    )


def test_round_trip_keeps_every_field():
    snap = full_snapshot()
    assert (
        wire.snapshot_from_wire(pb.Snapshot.FromString(wire.snapshot_to_wire(snap).SerializeToString()))
        == snap
    )


@pytest.mark.parametrize("field,value", [("source", "SOURCE_SSH"), ("sequence", "7")])
def test_json_uses_proto_field_names(field, value):
    import json

    data = json.loads(wire.message_to_json(wire.snapshot_to_wire(full_snapshot())))
    assert data[field] == value
    assert data["apps"][0]["server_names"] == ["a.example", "www.a.example"]
    assert data["apps"][0]["usage"]["daily"][0]["human_clients"] == "4"


def test_absent_optional_messages_stay_absent():
    snap = model.Snapshot(agent_id="a", sequence=1, report_id="r", apps=[model.App(key="k", kind="nginx")])
    back = wire.snapshot_from_wire(wire.snapshot_to_wire(snap))
    assert back.apps[0].usage is None and back.apps[0].framework is None and back.collected_at is None
