"""Agent identity on a real collector: each refusal, enrolment, approval, revocation and clones."""

import os
import stat
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from click.testing import CliRunner
from trust_fixtures import Collector, make_pki, snapshot

from ronda.agent.cli import cli as agent_cli
from ronda.agent.config import AgentConfig
from ronda.agent.enrol import EnrolError, enrol, load_token
from ronda.agent.runner import Agent
from ronda.agent.sender import Sender, SendError
from ronda.collector.cli import cli
from ronda.collector.demo import fleet_dir
from ronda.collector.server import ServerConfig
from ronda.collector.store import Store
from ronda.collector.trust.registry import Registry
from ronda.convert import snapshot_to_wire
from ronda.transport import TlsFiles


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


@pytest.fixture
def mtls(tmp_path, pki):
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", tls=pki.collector))
    yield collector
    collector.stop()


@pytest.fixture
def token_collector(tmp_path, pki):
    tls = TlsFiles("", pki.collector.cert, pki.collector.key)  # TLS without client certificates: tokens
    collector = Collector(tmp_path / "ronda.db", ServerConfig(listen="127.0.0.1:0", tls=tls))
    yield collector
    collector.stop()


def _refused(address: str, tls: TlsFiles, snap, token: str | None = None) -> SendError:
    with Sender(address, tls=tls, token=token) as sender, pytest.raises(SendError) as refused:
        sender.send(snap)
    return refused.value


def test_a_snapshot_claiming_another_agents_id_is_refused(pki, mtls):
    error = _refused(mtls.address, pki.agent("web01"), snapshot("web02"))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert "claims agent id 'web02'" in error.details and "authenticated as 'web01'" in error.details
    assert mtls.count("snapshots") == 0 and mtls.count("hosts") == 0
    assert mtls.store.query("SELECT agent_id, kind FROM identity_events") == [
        {"agent_id": "web02", "kind": "refused"}
    ]


def test_a_revoked_agent_is_refused_at_once_and_can_be_readmitted(tmp_path, pki, mtls):
    db = str(tmp_path / "ronda.db")
    with Sender(mtls.address, tls=pki.agent("web01")) as sender:
        assert sender.send(snapshot("web01", 1)).accepted
        result = CliRunner().invoke(cli, ["agents", "revoke", "web01", "--db", db, "--reason", "disk stolen"])
        assert result.exit_code == 0 and "approved -> revoked" in result.output
        with pytest.raises(SendError) as refused:  # same open connection, next call
            sender.send(snapshot("web01", 2))
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "revoked" in refused.value.details
        assert mtls.store.query("SELECT max(sequence) AS s FROM snapshots") == [{"s": 1}]
        # Its certificate stays burnt even after the id is re-admitted ...
        assert CliRunner().invoke(cli, ["agents", "approve", "web01", "--db", db]).exit_code == 0
        with pytest.raises(SendError) as burnt:
            sender.send(snapshot("web01", 2))
        assert (
            burnt.value.code == grpc.StatusCode.PERMISSION_DENIED
            and "certificate was revoked" in burnt.value.details
        )
    # ... and a newly issued one works.
    with Sender(mtls.address, tls=pki.agent("web01")) as sender:
        assert sender.send(snapshot("web01", 2)).accepted
    listed = CliRunner().invoke(cli, ["agents", "list", "--db", db, "--format", "json"])
    assert '"status": "approved"' in listed.output


def test_pending_mode_holds_new_agents_until_approved(tmp_path, pki):
    collector = Collector(
        tmp_path / "r.db", ServerConfig(listen="127.0.0.1:0", tls=pki.collector, approval="manual")
    )
    try:
        error = _refused(collector.address, pki.agent("web01"), snapshot("web01"))
        assert (
            error.code == grpc.StatusCode.PERMISSION_DENIED and "ronda agents approve web01" in error.details
        )
        assert collector.count("snapshots") == 0
        assert Registry(collector.store).agents()[0]["status"] == "pending"
        Registry(Store(tmp_path / "r.db")).approve("web01")
        with Sender(collector.address, tls=pki.agent("web01")) as sender:
            assert sender.send(snapshot("web01")).accepted
    finally:
        collector.stop()


def test_replayed_and_reused_sequence_numbers(pki, mtls):
    tls = pki.agent("web01")
    with Sender(mtls.address, tls=tls) as sender:
        sender.send(snapshot("web01", 1, apps=1))
        sender.send(snapshot("web01", 2, apps=3))
        state = mtls.store.dump()
        replay = sender.send(snapshot("web01", 1, apps=1))  # byte-for-byte the old one: changes nothing
        assert replay.duplicate and mtls.store.dump() == state
        snapshots = mtls.store.query("SELECT * FROM snapshots")
        with pytest.raises(SendError) as reused:  # an old number with other content: refused
            sender.send(snapshot("web01", 1, apps=1, report_id="forged"))
    assert reused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert reused.value.last_sequence == 2 and "already used" in reused.value.details
    assert mtls.store.query("SELECT * FROM snapshots") == snapshots
    assert len(mtls.store.apps()) == 3


def test_an_agent_whose_state_was_lost_continues_above_the_collectors_sequence(tmp_path, pki, mtls):
    tls = pki.agent("web01")
    root = str(fleet_dir() / "web-dinkes")
    for run in range(2):  # the second agent starts from an empty state dir, at sequence 1 again
        config = AgentConfig(
            collector=mtls.address,
            ca=tls.ca,
            cert=tls.cert,
            key=tls.key,
            root=root,
            state_dir=str(tmp_path / f"state{run}"),
        )
        agent = Agent(config)
        try:
            agent.report_once()
            agent.report_once()
        finally:
            agent.close()
    rows = mtls.store.query("SELECT sequence, applied FROM snapshots ORDER BY sequence")
    assert [r["sequence"] for r in rows] == [1, 2, 3, 4]
    assert all(r["applied"] for r in rows)


def test_clones_are_detected_and_kept_apart(tmp_path, pki, mtls):
    with Sender(mtls.address, tls=pki.agent("web01")) as one:
        one.send(snapshot("web01", machine_id="same-machine-id"))
    with Sender(mtls.address, tls=pki.agent("web01-clone")) as two:
        ack = two.send(snapshot("web01-clone", machine_id="same-machine-id"))
    assert "cloned machine?" in ack.message and "web01" in ack.message
    assert {h["agent_id"] for h in mtls.store.hosts()} == {"web01", "web01-clone"}  # not merged
    result = CliRunner().invoke(
        cli, ["agents", "clones", "--db", str(tmp_path / "ronda.db"), "--format", "csv"]
    )
    assert "same-machine-id,web01-clone,web01" in result.output


def test_token_mode_refuses_agents_without_a_token(pki, token_collector):
    error = _refused(token_collector.address, TlsFiles(pki.ca), snapshot("web01"))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and "ronda-agent enrol" in error.details
    error = _refused(token_collector.address, TlsFiles(pki.ca), snapshot("web01"), token="ronda_at_made-up")
    assert error.code == grpc.StatusCode.UNAUTHENTICATED and "not known" in error.details
    assert token_collector.count("snapshots") == 0


def test_enrolment_gives_a_token_that_reports_only_as_its_agent(tmp_path, pki, token_collector):
    secret = Registry(token_collector.store).create_secret(timedelta(hours=1), uses=1, label="batch 1")
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n")
    state = tmp_path / "state"
    result = CliRunner().invoke(
        agent_cli,
        [
            "enrol",
            "--collector",
            token_collector.address,
            "--ca",
            pki.ca,
            "--secret-file",
            str(secret_file),
            "--state-dir",
            str(state),
            "--agent-id",
            "web01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    token = load_token(state)
    assert token.agent_id == "web01"
    assert stat.S_IMODE(os.stat(state / "token.json").st_mode) == 0o600
    stored = token_collector.store.dump()
    assert token.token not in stored and secret not in stored  # only hashes are kept
    with Sender(token_collector.address, tls=TlsFiles(pki.ca), token=token.token) as sender:
        assert sender.send(snapshot("web01")).accepted
    error = _refused(token_collector.address, TlsFiles(pki.ca), snapshot("web02"), token=token.token)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    # The secret was for one use only.
    with pytest.raises(EnrolError, match="UNAUTHENTICATED.*used up"):
        enrol(token_collector.address, False, TlsFiles(pki.ca), secret, "web03")
    # A revoked token is refused at once.
    Registry(Store(tmp_path / "ronda.db")).revoke("web01")
    error = _refused(token_collector.address, TlsFiles(pki.ca), snapshot("web01", 2), token=token.token)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and "revoked" in error.details


def test_an_expired_enrolment_secret_is_refused(pki, token_collector):
    registry = Registry(token_collector.store)
    secret = registry.create_secret(timedelta(minutes=10), now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(EnrolError) as refused:
        enrol(token_collector.address, False, TlsFiles(pki.ca), secret, "web01")
    assert "UNAUTHENTICATED" in str(refused.value) and "expired" in str(refused.value)
    assert token_collector.count("agent_tokens") == 0
    with pytest.raises(EnrolError, match="not known"):
        enrol(token_collector.address, False, TlsFiles(pki.ca), "ronda_es_guessed", "web01")


def test_enrolling_an_id_that_is_already_enrolled_is_refused(pki, token_collector):
    secret = Registry(token_collector.store).create_secret(timedelta(hours=1), uses=5)
    enrol(token_collector.address, False, TlsFiles(pki.ca), secret, "web01")
    with pytest.raises(EnrolError, match="ALREADY_EXISTS"):
        enrol(token_collector.address, False, TlsFiles(pki.ca), secret, "web01")


def test_an_agent_runs_with_its_enrolment_token(tmp_path, pki, token_collector):
    secret = Registry(token_collector.store).create_secret(timedelta(hours=1))
    token = enrol(token_collector.address, False, TlsFiles(pki.ca), secret, "dinkes-01")
    from ronda.agent.enrol import save_token

    save_token(tmp_path / "state", token)
    agent = Agent(
        AgentConfig(
            collector=token_collector.address,
            ca=pki.ca,
            root=str(fleet_dir() / "web-dinkes"),
            state_dir=str(tmp_path / "state"),
        )
    )
    try:
        assert agent.report_once().accepted
    finally:
        agent.close()
    assert token_collector.store.query("SELECT agent_id, method FROM agent_identities") == [
        {"agent_id": "dinkes-01", "method": "token"}
    ]


def test_wire_level_forgery_of_the_agent_id_is_refused(pki, mtls):
    message = snapshot_to_wire(snapshot("web01"))
    message.agent_id = "web02"
    with Sender(mtls.address, tls=pki.agent("web01")) as sender, pytest.raises(SendError) as refused:
        sender.send_message(message)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_one_identity_on_two_machines_is_reported(pki, mtls):
    tls = pki.agent("web01")
    with Sender(mtls.address, tls=tls) as sender:
        sender.send(snapshot("web01", 1, machine_id="machine-a"))
        ack = sender.send(snapshot("web01", 2, machine_id="machine-b"))
    assert "two machines share this identity" in ack.message
    events = mtls.store.query("SELECT kind, detail FROM identity_events WHERE kind='machine-id-changed'")
    assert events == [{"kind": "machine-id-changed", "detail": "machine-a -> machine-b"}]
