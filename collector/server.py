"""The collector's gRPC server: the Report and Enrol endpoints over the store.

Requests arrive as raw bytes so that a message which does not decode is
answered INVALID_ARGUMENT (not a generic internal error); messages above the
size limit are refused by gRPC with RESOURCE_EXHAUSTED before any work.

What keeps the collector answering whatever callers do:

- Health and admission never wait behind a Report body. grpcio's sync server
  reads a unary body inside a worker thread for as long as the client takes,
  so Report and Enrol are stream-unary handlers that decide from the headers
  (the TLS peer, the token, revocation, the agent's status, the declared size,
  room in ronda.collector.admission) and only then read the one message, with
  a deadline (ronda.collector.receiving). The thread pool holds more threads
  than calls can be admitted, so a health check always finds one. This keeps
  grpcio's sync server and its one-call-at-a-time ingest (grpc.aio would move
  every handler onto an event loop for the same result).
- Memory is bounded by bytes in flight, not by callers: a body is read only
  once admitted under the byte budget, and decoded only after that.
- Every call is authenticated (client certificate or agent token) and held
  against the agent's identity and status, then stored in one transaction.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ronda.collector.admission import RETRY_METADATA, SIZE_METADATA, Busy, CountingPool, Gate, Limits
from ronda.collector.receiving import NoBody, declared_size, receive_one
from ronda.collector.store import Store
from ronda.collector.store.apply import AdmitHook, SequenceConflict
from ronda.collector.store.skim import claimed_agent_id
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
SLOWEST_LINK = 64 * 1024  # bytes/s: a declared body gets this much longer to arrive than receive_timeout
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
    """Report: checked from its headers, its body received with a deadline, then stored.

    Registered stream-unary (see ronda.collector.receiving) so that the order is: who is calling
    (certificate or token, revocation, the agent's status), is there room (ronda.collector.admission:
    calls, bytes in flight, bodies being received, one call per agent), then the body, read with a
    deadline and held to the size declared, decoded only now, and stored one call at a time per
    worker. A health check never waits behind any of it: the pool keeps threads beyond every
    admitted call.
    """

    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        auth: str = "open",
        gate: Gate | None = None,
        store_wait: float | None = None,
        receive_timeout: float = 60.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.store = store
        self.store_wait = store_wait
        self.registry = registry or Registry(store)
        self.auth = auth
        self.gate = gate or Gate(Limits())
        self.receive_timeout = receive_timeout
        self.max_message_bytes = max_message_bytes

    def __call__(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        started = time.monotonic()
        caller = context.peer()
        peer = Peer("none")
        try:
            peer = peer_of(context, self.auth)
            known_as = self.registry.screen(peer)
        except Refused as e:
            log.warning("refused a report from %s before reading it: %s", caller, e.message)
            self.registry.record_refusal(peer.agent_id or "", peer, e)
            _abort(context, getattr(grpc.StatusCode, e.code), e.message)
        declared = declared_size(context, SIZE_METADATA)
        if declared == -1:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{SIZE_METADATA} must be a byte count")
        if declared is not None and declared > self.max_message_bytes:
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the snapshot declares {declared} bytes; this collector takes at most "
                f"{self.max_message_bytes}",
            )
        try:
            ticket = self.gate.admit(known_as or peer.credential, declared or self.max_message_bytes)
        except Busy as e:
            _busy(context, str(e), e.delay)
        with ticket:
            try:
                # a slow link may take longer for a large body it declared; an undeclared one has the base
                deadline = self.receive_timeout + (declared or 0) / SLOWEST_LINK
                request = receive_one(requests, context, deadline)
            except NoBody as e:
                log.warning("no report from %s: %s", caller, e)
                return b""  # the call is over; nobody reads an answer
            if declared is not None and len(request) > declared:
                _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the snapshot is {len(request)} bytes but declared {declared}",
                )
            ticket.received()
            with self.gate.store_slots:
                try:
                    return self._store(request, context, peer)
                finally:
                    self.gate.observe(started)

    def _store(self, request: bytes, context: grpc.ServicerContext, peer: Peer) -> bytes:
        try:
            result, message = self.store.ingest_bytes(request, admit=self._admit(peer), wait=self.store_wait)
        except DecodeError:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "the request is not a ronda.v1.Snapshot message"
            )
        except Refused as e:
            agent_id = claimed_agent_id(request)
            log.warning(
                "refused a snapshot claiming agent %r from %s: %s", agent_id[:128], context.peer(), e.message
            )
            self.registry.record_refusal(agent_id, peer, e)
            _abort(context, getattr(grpc.StatusCode, e.code), e.message)
        except InvalidSnapshot as e:
            log.warning("refused a snapshot from %s: %s", context.peer(), e)
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except SequenceConflict as e:
            log.warning("refused a snapshot from %s: %s", context.peer(), e)
            self.registry.record_refusal(claimed_agent_id(request), peer, Refused("ALREADY_EXISTS", str(e)))
            _abort(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                str(e),
                ((LAST_SEQUENCE_METADATA, str(e.last_sequence)),),
            )
        except (StoreBusy, sqlite3.OperationalError) as e:  # a long write ahead, or a locked database
            log.warning("store busy: %s", e)
            delay = self.gate.retry_after()
            _busy(context, f"the collector's store is busy; retry in {delay:.1f} s", delay)
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
            usage_through=result.usage_through,
        )
        return ack.SerializeToString()

    def _admit(self, peer: Peer) -> AdmitHook:
        registry = self.registry

        def admit(c: sqlite3.Connection, message: pb.Snapshot) -> Callable[[], list[str]]:
            h = message.host
            return registry.admit(c, message.agent_id, h.machine_id, h.hostname, peer)

        return admit


class EnrolHandler:
    """Enrol, registered stream-unary like Report: a few at a time, each body received with a deadline."""

    def __init__(self, registry: Registry, auth: str, slots: int = 2, receive_timeout: float = 10.0) -> None:
        self.registry = registry
        self.auth = auth
        self.slots = threading.BoundedSemaphore(slots)
        self.receive_timeout = receive_timeout

    def __call__(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        if self.auth == "certificate":
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "this collector authenticates agents by client certificate; enrolment is not used",
            )
        caller = context.peer()
        if not self.slots.acquire(blocking=False):
            _busy(context, "the collector is enrolling other agents", 1.0)
        try:
            request = receive_one(requests, context, self.receive_timeout)
        except NoBody as e:
            log.warning("no enrolment request from %s: %s", caller, e)
            return b""
        finally:
            self.slots.release()
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


def _busy(context: grpc.ServicerContext, message: str, delay: float) -> NoReturn:
    _abort(context, grpc.StatusCode.UNAVAILABLE, message, ((RETRY_METADATA, str(int(delay * 1000))),))


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
    backlog: int = 64  # calls admitted beyond the workers before new ones get UNAVAILABLE
    store_wait: float = 5.0  # seconds a call waits for the store before it gets UNAVAILABLE
    receivers: int = 4  # report bodies received at once
    budget_bytes: int = 32 * 1024 * 1024  # report bodies admitted and not yet stored, in bytes
    receive_timeout: float = 60.0  # seconds a call has to hand over its body once admitted (+ SLOWEST_LINK)
    reuse_port: bool = False  # let several processes listen on one port (ronda serve --processes)
    # Seconds after which a connection is closed between calls (0: never), so that agents connect again and
    # the kernel spreads them over the processes of --processes: those that connected while only one
    # process listened (a restart) would otherwise stay with it for as long as they keep their connection.
    max_connection_age: float = 600.0

    def auth_mode(self) -> str:
        if self.auth != "auto":
            return self.auth
        if self.insecure:
            return "open"
        return "certificate" if self.tls.ca else "token"


class ServeError(TransportError):
    """The server cannot start (address in use, bad TLS files, insecure off loopback)."""

    exit_code = EXIT_FAILED


def _few_malloc_arenas() -> None:
    """glibc gives each busy thread an arena of its own and rarely returns their memory: with a thread
    per admitted call, RSS grew to twice what the calls held. Two arenas keep it near what is in use."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX


def _connection_age(config: ServerConfig) -> list[tuple[str, int]]:
    if config.max_connection_age <= 0:
        return []
    # gRPC sends GOAWAY at the age (give or take a tenth), then lets calls in flight end within the grace:
    # as long as the largest report is given to arrive, and its wait for the store
    longest_call = config.receive_timeout + config.max_message_bytes / SLOWEST_LINK + config.store_wait
    return [
        ("grpc.max_connection_age_ms", int(config.max_connection_age * 1000)),
        ("grpc.max_connection_age_grace_ms", int(longest_call * 1000)),
    ]


def make_server(store: Store, config: ServerConfig) -> tuple[grpc.Server, int]:
    """A started server and the port it listens on (useful with port 0)."""
    _few_malloc_arenas()
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
    limits = Limits(config.workers, config.backlog, config.receivers, config.budget_bytes)
    enrol_slots = 2
    # Threads beyond every call that can be admitted: a health check always finds one free.
    pool = CountingPool(max_workers=limits.admitted + enrol_slots + 8, thread_name_prefix="ronda-rpc")
    server = grpc.server(
        pool,
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", int(config.reuse_port)),
            # No window beyond the initial one for a body nobody asked for yet: with BDP probing, gRPC
            # let every caller push megabytes before its handler could refuse it.
            ("grpc.http2.bdp_probe", 0),
            *_connection_age(config),
        ],
        maximum_concurrent_rpcs=limits.admitted * 4 + 32,  # beyond: RESOURCE_EXHAUSTED, no thread used
    )
    registry = Registry(store, config.approval)
    # raw bytes in and out: the handlers decode and encode themselves
    report: grpc.RpcMethodHandler[bytes, bytes] = grpc.stream_unary_rpc_method_handler(
        ReportHandler(
            store,
            registry,
            mode,
            Gate(limits),
            config.store_wait,
            config.receive_timeout,
            config.max_message_bytes,
        )
    )
    enrol: grpc.RpcMethodHandler[bytes, bytes] = grpc.stream_unary_rpc_method_handler(
        EnrolHandler(registry, mode, enrol_slots)
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
