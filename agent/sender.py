"""Send snapshots to the collector over gRPC."""
from __future__ import annotations

from dataclasses import dataclass

import grpc

from agent.model import Snapshot
from agent.transport import TlsFiles, channel
from agent.wire import snapshot_to_wire
from ronda_wire.v1 import ronda_pb2_grpc

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.ABORTED}


class SendError(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"collector answered {code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


@dataclass(frozen=True)
class Ack:
    accepted: bool
    duplicate: bool
    stale: bool
    sequence: int
    message: str


class Sender:
    def __init__(self, address: str, insecure: bool = False, tls: TlsFiles = TlsFiles(), timeout: float = 30.0):
        self.address = address
        self.timeout = timeout
        self._channel = channel(address, insecure, tls)
        self._stub = ronda_pb2_grpc.CollectorStub(self._channel)

    def send(self, snapshot: Snapshot) -> Ack:
        try:
            ack = self._stub.Report(snapshot_to_wire(snapshot), timeout=self.timeout, wait_for_ready=False)
        except grpc.RpcError as e:
            raise SendError(e.code(), e.details() or "") from None
        return Ack(ack.accepted, ack.duplicate, ack.stale, ack.sequence, ack.message)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
