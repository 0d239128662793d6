"""Enrolment: trade an operator's one-time or expiring secret for this agent's own token.

For collectors that do not use client certificates. The token is kept in the
state directory (0600) and sent on every report; the collector keeps only
its hash. With a client certificate, the agent id comes from the certificate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from ronda.errors import EXIT_FAILED
from ronda.transport import TlsFiles, TransportError, channel
from ronda.wire.v1 import ronda_pb2 as pb
from ronda.wire.v1 import ronda_pb2_grpc

TOKEN_FILE = "token.json"


class EnrolError(TransportError):
    """Enrolment was refused or could not be done."""

    exit_code = EXIT_FAILED


@dataclass(frozen=True)
class Token:
    agent_id: str
    token: str
    status: str = ""


def load_token(state_dir: str | Path) -> Token | None:
    path = Path(state_dir) / TOKEN_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Token(str(data["agent_id"]), str(data["token"]), str(data.get("status", "")))
    except (OSError, ValueError, KeyError) as e:
        raise EnrolError(f"{path} is damaged ({type(e).__name__}); enrol again") from None


def save_token(state_dir: str | Path, token: Token) -> Path:
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / TOKEN_FILE
    tmp = directory / f".{TOKEN_FILE}.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"agent_id": token.agent_id, "token": token.token, "status": token.status}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_secret(path: str) -> str:
    try:
        text = (os.fdopen(os.dup(0)).read() if path == "-" else Path(path).read_text()).strip()
    except OSError as e:
        raise EnrolError(f"cannot read the enrolment secret from {path}: {e.strerror}") from None
    if not text:
        raise EnrolError(f"{path} holds no enrolment secret")
    return text


def enrol(
    address: str,
    insecure: bool,
    tls: TlsFiles,
    secret: str,
    agent_id: str,
    machine_id: str = "",
    hostname: str = "",
    timeout: float = 30.0,
) -> Token:
    try:
        with channel(address, insecure, TlsFiles(tls.ca)) as ch:
            reply = ronda_pb2_grpc.CollectorStub(ch).Enrol(
                pb.EnrolRequest(agent_id=agent_id, secret=secret, machine_id=machine_id, hostname=hostname),
                timeout=timeout,
            )
    except grpc.RpcError as e:
        raise EnrolError(f"enrolment refused: collector answered {e.code().name}: {e.details()}") from None
    except TransportError:
        raise
    return Token(reply.agent_id, reply.token, reply.status)


def agent_id_from_certificate(path: str) -> str:
    """The agent id a certificate from `ronda ca issue-agent` names (its subject CN)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise TransportError(f"cannot read certificate {path}: {e}") from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise TransportError(
            f"certificate {path} has no subject CN to take the agent id from; give --agent-id"
        )
    return str(names[0].value)
