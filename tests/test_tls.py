"""Mutual TLS between agents and a real collector on loopback, with certificates from `ronda ca`."""

import os
import stat

import grpc
import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from trust_fixtures import Collector, make_pki, snapshot

from ronda.agent.sender import Sender, SendError
from ronda.collector.cli import cli
from ronda.collector.server import ServerConfig
from ronda.collector.trust.ca import CaError, init_ca, issue_agent
from ronda.transport import TlsFiles, channel


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


@pytest.fixture
def mtls(tmp_path, pki):
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", tls=pki.collector))
    yield collector
    collector.stop()


def test_an_agent_with_its_certificate_reports_as_itself(pki, mtls):
    with Sender(mtls.address, tls=pki.agent("web01")) as sender:
        ack = sender.send(snapshot("web01"))
    assert ack.accepted and not ack.duplicate
    rows = mtls.store.query("SELECT agent_id, status, method FROM agent_identities")
    assert rows == [{"agent_id": "web01", "status": "approved", "method": "certificate"}]


def test_no_client_certificate_is_refused_in_the_handshake(pki, mtls):
    with Sender(mtls.address, tls=TlsFiles(pki.ca)) as sender, pytest.raises(SendError) as refused:
        sender.send(snapshot("web01"))
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert mtls.count("snapshots") == 0


def test_a_certificate_from_another_ca_is_refused(tmp_path, pki, mtls):
    rogue = tmp_path / "rogue"
    init_ca(rogue / "ca")
    issued = issue_agent(rogue / "ca", "web01", rogue)
    tls = TlsFiles(pki.ca, str(issued.cert), str(issued.key))
    with Sender(mtls.address, tls=tls) as sender, pytest.raises(SendError) as refused:
        sender.send(snapshot("web01"))
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert mtls.count("snapshots") == 0 and mtls.count("agent_identities") == 0


def test_the_agent_refuses_a_collector_signed_by_another_ca(tmp_path, pki, mtls):
    other = tmp_path / "other"
    init_ca(other / "ca")
    mine = pki.agent("web01")
    tls = TlsFiles(str(other / "ca" / "ca.pem"), mine.cert, mine.key)
    with Sender(mtls.address, tls=tls) as sender, pytest.raises(SendError) as refused:
        sender.send(snapshot("web01"))
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert mtls.count("snapshots") == 0


def test_a_collector_certificate_cannot_act_as_an_agent(pki, mtls):
    with Sender(mtls.address, tls=pki.collector) as sender, pytest.raises(SendError) as refused:
        sender.send(snapshot("localhost"))
    assert (
        refused.value.code == grpc.StatusCode.UNAVAILABLE
    )  # its purpose is serverAuth only: handshake fails
    assert mtls.count("snapshots") == 0


def test_keys_are_written_owner_only(tmp_path):
    issued = init_ca(tmp_path / "ca")
    agent = issue_agent(tmp_path / "ca", "web01.example", tmp_path / "out")
    for key in (issued.key, agent.key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(agent.cert).st_mode) == 0o644
    with pytest.raises(CaError, match="already exists"):
        init_ca(tmp_path / "ca")
    with pytest.raises(CaError, match="agent id"):
        issue_agent(tmp_path / "ca", "bad id; rm -rf", tmp_path / "out")


def test_health_service_says_serving(pki, mtls):
    with channel(mtls.address, False, pki.agent("probe")) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="ronda.v1.Collector"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_ronda_ca_commands_make_a_working_setup(tmp_path):
    runner = CliRunner()
    ca_dir = tmp_path / "ca"
    assert runner.invoke(cli, ["ca", "init", "--dir", str(ca_dir)]).exit_code == 0
    result = runner.invoke(
        cli,
        [
            "ca",
            "issue-collector",
            "localhost",
            "--san",
            "127.0.0.1",
            "--dir",
            str(ca_dir),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["ca", "issue-agent", "web07", "--dir", str(ca_dir), "--out", str(tmp_path)])
    assert result.exit_code == 0 and "reports as web07" in result.output
    ca = str(ca_dir / "ca.pem")
    collector = Collector(
        tmp_path / "r.db",
        ServerConfig(
            listen="127.0.0.1:0",
            tls=TlsFiles(ca, str(tmp_path / "localhost.pem"), str(tmp_path / "localhost-key.pem")),
        ),
    )
    try:
        from ronda.agent.config import AgentConfig
        from ronda.agent.runner import Agent
        from ronda.collector.demo import fleet_dir

        agent = Agent(
            AgentConfig(
                collector=collector.address,
                ca=ca,
                cert=str(tmp_path / "web07.pem"),
                key=str(tmp_path / "web07-key.pem"),
                root=str(fleet_dir() / "web-dinkes"),
                state_dir=str(tmp_path / "state"),
            )
        )
        try:
            ack = agent.report_once()
        finally:
            agent.close()
        assert ack.accepted
        assert collector.store.query("SELECT agent_id FROM hosts") == [
            {"agent_id": "web07"}
        ]  # id from the cert
    finally:
        collector.stop()
