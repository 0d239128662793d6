"""Send snapshots to the collector over gRPC.

Snapshots above COMPRESS_ABOVE bytes go gzip-compressed (gRPC message
compression, which every grpcio server takes). A collector that refuses it
answers UNIMPLEMENTED; the snapshot is then sent again uncompressed, and so is
every later one of this sender.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc

from ronda.convert import snapshot_to_wire
from ronda.errors import EXIT_FAILED
from ronda.model import Snapshot
from ronda.transport import TlsFiles, TransportError, channel
from ronda.wire.v1 import ronda_pb2 as pb
from ronda.wire.v1 import ronda_pb2_grpc

RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,  # the collector gave up waiting for the body (a slow link), or is stopping
}
RETRY_METADATA = "ronda-retry-after-ms"  # the collector's hint: come back after this long
LAST_SEQUENCE_METADATA = "ronda-last-sequence"  # the newest sequence the collector holds for this agent
SIZE_METADATA = "ronda-snapshot-bytes"  # the body's size, so the collector admits it before reading it
SLOWEST_LINK = 64 * 1024  # bytes/s: a large snapshot gets this much more time, as the collector gives it
# Smaller snapshots gain less from gzip than its header and the CPU cost: a snapshot's days are usually
# few, but every app's state is there, and that text compresses about tenfold.
COMPRESS_ABOVE = 1024
log = logging.getLogger("ronda.agent.sender")


def _trailing(call_or_error: Any) -> dict[str, str]:  # a grpc.Call, or the RpcError that is one
    try:
        return {k: v for k, v in (call_or_error.trailing_metadata() or ()) if isinstance(v, str)}
    except Exception:  # an error raised before any call existed has no metadata
        return {}


def _compression_refused(error: grpc.RpcError) -> bool:
    """What gRPC answers a compressed call whose algorithm the server does not take."""
    return error.code() == grpc.StatusCode.UNIMPLEMENTED and "ompression" in (error.details() or "")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class SendError(TransportError):
    exit_code = EXIT_FAILED

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        retry_after: float | None = None,
        last_sequence: int | None = None,
    ) -> None:
        super().__init__(f"collector answered {code.name}: {details}")
        self.code = code
        self.details = details
        self.retry_after = retry_after  # seconds, from the collector's hint
        self.last_sequence = last_sequence

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
    last_sequence: int | None = None
    usage_through: int = 0  # the snapshot through which the collector holds the agent's usage (0: none)


class Sender:
    def __init__(
        self,
        address: str,
        insecure: bool = False,
        tls: TlsFiles = TlsFiles(),
        timeout: float = 30.0,
        token: str | None = None,
        compress: bool = True,
    ):
        self.address = address
        self.timeout = timeout
        self.compress = compress  # turned off for good when the collector refuses gzip
        self._channel = channel(address, insecure, tls)
        self._stub = ronda_pb2_grpc.CollectorStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()

    def send(self, snapshot: Snapshot) -> Ack:
        return self.send_message(snapshot_to_wire(snapshot))

    def send_message(self, message: pb.Snapshot) -> Ack:
        size = message.ByteSize()  # uncompressed: what the collector holds once it has the body
        metadata = (*self._metadata, (SIZE_METADATA, str(size)))
        compression = grpc.Compression.Gzip if self.compress and size > COMPRESS_ABOVE else None
        try:
            ack, call = self._stub.Report.with_call(
                message,
                timeout=self.timeout + size / SLOWEST_LINK,
                wait_for_ready=False,
                metadata=metadata,
                compression=compression,
            )
        except grpc.RpcError as e:
            if compression is not None and _compression_refused(e):
                log.info("the collector at %s does not take gzip; sending uncompressed", self.address)
                self.compress = False
                return self.send_message(message)
            hints = _trailing(e)
            retry_ms = _int(hints.get(RETRY_METADATA))
            raise SendError(
                e.code(),
                e.details() or "",
                retry_ms / 1000 if retry_ms is not None else None,
                _int(hints.get(LAST_SEQUENCE_METADATA)),
            ) from None
        last = _int(_trailing(call).get(LAST_SEQUENCE_METADATA))
        return Ack(ack.accepted, ack.duplicate, ack.stale, ack.sequence, ack.message, last, ack.usage_through)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
