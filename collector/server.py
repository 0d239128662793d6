"""The collector's gRPC server: the Report endpoint over the store.

Requests arrive as raw bytes so that a message which does not decode is
answered INVALID_ARGUMENT (not a generic internal error); messages above the
size limit are refused by gRPC with RESOURCE_EXHAUSTED before any work.
"""
from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from agent.transport import MAX_MESSAGE_BYTES, TlsFiles, join_address, require_loopback_for_insecure, \
    server_credentials, split_address
from agent.wire import snapshot_from_wire
from collector.store import Store
from collector.validate import InvalidSnapshot, validate
from ronda_wire.v1 import ronda_pb2 as pb

log = logging.getLogger("ronda.collector")
SERVICE = "ronda.v1.Collector"


class ReportHandler:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            message = pb.Snapshot.FromString(request)
        except DecodeError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a ronda.v1.Snapshot message")
        try:
            snapshot = snapshot_from_wire(message)
            validate(snapshot)
        except (InvalidSnapshot, ValueError, OverflowError) as e:
            log.warning("refused a snapshot from %s: %s", context.peer(), e)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        result = self.store.ingest(snapshot)
        if result.duplicate:
            text = "already received; nothing changed"
        elif result.stale:
            text = "older than the newest snapshot of this agent; kept as history"
        else:
            text = f"stored {len(snapshot.apps)} apps"
        log.info("snapshot agent=%s seq=%d: %s", snapshot.agent_id, snapshot.sequence, text)
        ack = pb.ReportAck(accepted=True, duplicate=result.duplicate, stale=result.stale,
                           sequence=snapshot.sequence, message=text)
        return ack.SerializeToString()


@dataclass
class ServerConfig:
    listen: str = "127.0.0.1:7470"
    insecure: bool = False
    tls: TlsFiles = TlsFiles()
    max_message_bytes: int = MAX_MESSAGE_BYTES
    workers: int = 8


class ServeError(Exception):
    """The server cannot start (address in use, bad TLS files, insecure off loopback)."""


def make_server(store: Store, config: ServerConfig) -> tuple[grpc.Server, int]:
    """A started server and the port it listens on (useful with port 0)."""
    host, port = split_address(config.listen, allow_zero=True)
    if config.insecure:
        require_loopback_for_insecure(host, "listen address")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="ronda-rpc"),
        options=[("grpc.max_receive_message_length", config.max_message_bytes),
                 ("grpc.max_send_message_length", config.max_message_bytes)],
        maximum_concurrent_rpcs=config.workers * 16,
    )
    handler = grpc.unary_unary_rpc_method_handler(ReportHandler(store))  # raw bytes in and out
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {"Report": handler})])
    address = join_address(host, port)
    try:
        if config.insecure:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, server_credentials(config.tls))
    except RuntimeError as e:
        raise ServeError(f"cannot listen on {address}: {e}") from None
    if bound == 0:
        raise ServeError(f"cannot listen on {address} (in use, or not an address of this machine)")
    server.start()
    return server, bound
