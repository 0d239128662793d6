"""Receiving a request body with a deadline, in grpcio's sync server.

grpcio reads a unary request's body inside the worker thread, before the
handler runs, and waits for it as long as the client likes. Report and Enrol
are therefore registered stream-unary (the wire is the same for a unary
client): the handler runs as soon as the headers arrive, checks the caller,
and only then asks for the one message, with a timer that cancels the call
when the body has not arrived in time. Until the handler asks, gRPC grants
the client no more than its initial flow-control window, so a caller refused
from its headers costs no memory for the body it meant to send.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import grpc

from ronda.errors import RondaError

log = logging.getLogger("ronda.collector")


class NoBody(RondaError):
    """The call ended without a message: cancelled on its deadline, or closed by the client."""


def receive_one(requests: Iterator[bytes], context: grpc.ServicerContext, timeout: float) -> bytes:
    """The call's one message, or NoBody once `timeout` seconds pass without it (the call is cancelled)."""
    fired = threading.Event()

    def cancel() -> None:
        fired.set()
        context.cancel()

    timer = threading.Timer(timeout, cancel)
    timer.daemon = True
    timer.start()
    try:
        return next(requests)
    except (StopIteration, grpc.RpcError):  # closed by the client, cancelled by the timer or by shutdown
        if fired.is_set():
            raise NoBody(f"no complete message within {timeout:g} s; the call was cancelled") from None
        raise NoBody("the call ended without a message") from None
    finally:
        timer.cancel()


def declared_size(context: grpc.ServicerContext, key: str) -> int | None:
    """The size the client declares in metadata `key`; None when it declares none; -1 when unreadable."""
    for name, value in context.invocation_metadata() or ():
        if name == key:
            text = value if isinstance(value, str) else ""
            return int(text) if text.isdigit() and len(text) < 16 else -1
    return None
