"""The collector's gRPC server: the Report and Enrol endpoints over the store.

Requests arrive as raw bytes so that a message which does not decode is
answered INVALID_ARGUMENT (not a generic internal error); messages above the
size limit are refused by gRPC with RESOURCE_EXHAUSTED before any work.
Every call is admitted (or refused UNAVAILABLE with a retry delay when the
server is overloaded), authenticated (client certificate or agent token),
held against the agent's identity and status, then stored in one transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ronda.collector.admission import RETRY_METADATA, Admission, CountingPool
from ronda.collector.store import Store
from ronda.collector.store.apply import AdmitHook, SequenceConflict
from ronda.collector.store.store import StoreBusy
from ronda.collector.trust.identity import AUTH_MODES, peer_of
from ronda.collector.trust.registry import Peer, Refused, Registry
from ronda.collector.validate import InvalidSnapshot
from ronda.errors import EXIT_FAILED
from ronda.transport import (
    MAX_MESSAGE_BYTES,
    TlsFiles,
    TransportError,
    join_address,
    require_loopback_for_insecure,
    server_credentials,
    split_address,
)
from ronda.wire.v1 import ronda_pb2 as pb

log = logging.getLogger("ronda.collector")
SERVICE = "ronda.v1.Collector"
LAST_SEQUENCE_METADATA = "ronda-last-sequence"
CHECKPOINT_EVERY = (
    0.25  # seconds: how often a serving store copies its write-ahead log (Store(checkpoint_every))
)
_HEALTH: weakref.WeakKeyDictionary[grpc.Server, health.HealthServicer] = weakref.WeakKeyDictionary()


def _abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    metadata: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    if metadata:
        context.set_trailing_metadata(metadata)
    context.abort(code, message)


class ReportHandler:
    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        auth: str = "open",
        admission: Admission | None = None,
        store_wait: float | None = None,
    ) -> None:
        self.store = store
        self.store_wait = store_wait
        self.registry = registry or Registry(store)
        self.auth = auth
        self.admission = admission

    def __call__(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        started = time.monotonic()
        if self.admission is not None and self.admission.overloaded():
            delay = self.admission.retry_after()
            _abort(
                context,
                grpc.StatusCode.UNAVAILABLE,
                f"the collector is busy; retry in {delay:.1f} s",
                ((RETRY_METADATA, str(int(delay * 1000))),),
            )
        try:
            message = pb.Snapshot.FromString(request)
        except DecodeError:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "the request is not a ronda.v1.Snapshot message"
            )
        peer = Peer("none")
        try:
            peer = peer_of(context, self.auth)
            result = self.store.ingest_message(
                message, admit=self._admit(peer), wait=self.store_wait, raw=request
            )
        except Refused as e:
            log.warning(
                "refused a snapshot claiming agent %r from %s: %s",
                message.agent_id[:128],
                context.peer(),
                e.message,
            )
            self.registry.record_refusal(message.agent_id, peer, e)
            _abort(context, getattr(grpc.StatusCode, e.code), e.message)
        except InvalidSnapshot as e:
            log.warning("refused a snapshot from %s: %s", context.peer(), e)
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except SequenceConflict as e:
            log.warning("refused a snapshot from %s: %s", context.peer(), e)
            self.registry.record_refusal(message.agent_id, peer, Refused("ALREADY_EXISTS", str(e)))
            _abort(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                str(e),
                ((LAST_SEQUENCE_METADATA, str(e.last_sequence)),),
            )
        except (StoreBusy, sqlite3.OperationalError) as e:  # a long write ahead, or a locked database
            log.warning("store busy: %s", e)
            delay = self.admission.retry_after() if self.admission else 1.0
            _abort(
                context,
                grpc.StatusCode.UNAVAILABLE,
                f"the collector's store is busy; retry in {delay:.1f} s",
                ((RETRY_METADATA, str(int(delay * 1000))),),
            )
        finally:
            if self.admission is not None:
                self.admission.observe(started)
        if result.duplicate:
            text = "already received; nothing changed"
        elif result.stale:
            text = (
                f"older than the newest snapshot of this agent ({result.last_sequence}); kept as history; "
                "continue above it"
            )
        else:
            text = f"stored {len(message.apps)} apps"
        if result.notes:
            text += "; " + "; ".join(result.notes)
        # one line per snapshot is for debugging (ronda -vv serve): a fleet reports hundreds a second
        log.debug("snapshot agent=%s seq=%d: %s", message.agent_id, message.sequence, text)
        context.set_trailing_metadata(((LAST_SEQUENCE_METADATA, str(result.last_sequence)),))
        ack = pb.ReportAck(
            accepted=True,
            duplicate=result.duplicate,
            stale=result.stale,
            sequence=message.sequence,
            message=text,
        )
        return ack.SerializeToString()

    def _admit(self, peer: Peer) -> AdmitHook:
        registry = self.registry

        def admit(c: sqlite3.Connection, message: pb.Snapshot) -> Callable[[], list[str]]:
            h = message.host
            return registry.admit(c, message.agent_id, h.machine_id, h.hostname, peer)

        return admit


class EnrolHandler:
    def __init__(self, registry: Registry, auth: str) -> None:
        self.registry = registry
        self.auth = auth

    def __call__(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        if self.auth == "certificate":
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "this collector authenticates agents by client certificate; enrolment is not used",
            )
        try:
            message = pb.EnrolRequest.FromString(request)
        except DecodeError:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the request is not a ronda.v1.EnrolRequest message",
            )
        if len(message.machine_id) > 128 or len(message.hostname) > 255 or len(message.secret) > 256:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "machine_id, hostname or secret is too long")
        try:
            token, status = self.registry.enrol(
                message.agent_id, message.secret, message.machine_id, message.hostname
            )
        except Refused as e:
            log.warning(
                "refused enrolment of %r from %s: %s", message.agent_id[:128], context.peer(), e.message
            )
            self.registry.record_refusal(message.agent_id, Peer("none"), e)
            _abort(context, getattr(grpc.StatusCode, e.code), e.message)
        text = "enrolled" + ("; waiting for an operator to approve it" if status == "pending" else "")
        return pb.EnrolReply(
            agent_id=message.agent_id, token=token, status=status, message=text
        ).SerializeToString()


@dataclass
class ServerConfig:
    listen: str = "127.0.0.1:7470"
    insecure: bool = False
    tls: TlsFiles = TlsFiles()
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # Calls a process handles at once. Checking and storing a snapshot is Python work, and Python runs one
    # thread of a process at a time: a second thread only takes turns with the first, and one that holds
    # the store's write lock waits its turn while the other process's writers wait for it. More cores are
    # used with more processes (--processes), not threads.
    workers: int = 1
    auth: str = "auto"  # certificate (mutual TLS), token (enrolment), open (plain text); auto picks
    approval: str = "auto"  # auto: new agents are admitted; manual: they wait for `ronda agents approve`
    backlog: int = 64  # calls queued beyond the workers before new ones get UNAVAILABLE
    store_wait: float = 5.0  # seconds a call waits for the store before it gets UNAVAILABLE
    reuse_port: bool = False  # let several processes listen on one port (ronda serve --processes)

    def auth_mode(self) -> str:
        if self.auth != "auto":
            return self.auth
        if self.insecure:
            return "open"
        return "certificate" if self.tls.ca else "token"


class ServeError(TransportError):
    """The server cannot start (address in use, bad TLS files, insecure off loopback)."""

    exit_code = EXIT_FAILED


def make_server(store: Store, config: ServerConfig) -> tuple[grpc.Server, int]:
    """A started server and the port it listens on (useful with port 0)."""
    host, port = split_address(config.listen, allow_zero=True)
    if config.insecure:
        require_loopback_for_insecure(host, "listen address")
    mode = config.auth_mode()
    if mode not in AUTH_MODES:
        raise ServeError(f"auth must be one of {', '.join(AUTH_MODES)}")
    if mode == "open" and not config.insecure:
        raise ServeError("auth 'open' (no agent identity) is only for plain text on loopback (--insecure)")
    if mode == "certificate" and not config.tls.ca:
        raise ServeError("certificate auth needs --ca: the CA whose agent certificates are accepted")
    pool = CountingPool(max_workers=config.workers, thread_name_prefix="ronda-rpc")
    server = grpc.server(
        pool,
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", int(config.reuse_port)),
        ],
        maximum_concurrent_rpcs=config.workers + config.backlog * 4 + 32,  # beyond: RESOURCE_EXHAUSTED
    )
    registry = Registry(store, config.approval)
    admission = Admission(pool, config.workers, config.backlog)
    # raw bytes in and out: the handlers decode and encode themselves
    report: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
        ReportHandler(store, registry, mode, admission, config.store_wait)
    )
    enrol: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
        EnrolHandler(registry, mode)
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SERVICE, {"Report": report, "Enrol": enrol})]
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
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
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _HEALTH[server] = health_servicer
    return server, bound


def stop_gracefully(server: grpc.Server, grace: float = 10.0) -> None:
    """Say NOT_SERVING, refuse new calls, let the calls in flight finish (up to `grace` seconds)."""
    servicer = _HEALTH.get(server)
    if servicer is not None:
        servicer.enter_graceful_shutdown()
    server.stop(grace).wait()
