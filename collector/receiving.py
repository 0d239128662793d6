"""Receiving a request body with a deadline, in grpcio's sync server.

grpcio reads a unary request's body inside the worker thread, before the
handler runs, and waits for it as long as the client likes. Report and Enrol
are therefore registered stream-unary (the wire is the same for a unary
client): the handler runs as soon as the headers arrive, checks the caller,
and only then asks for the one message, with a deadline after which the call
is cancelled. Until the handler asks, gRPC grants the client no more than its
initial flow-control window, so a caller refused from its headers costs no
memory for the body it meant to send.

The deadlines of every call are kept by one thread (`Deadlines`): a timer
thread started for each call cost 0.1 ms of CPU, a tenth of what the handler
costs beyond a bare gRPC server.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import grpc

from ronda.errors import RondaError

log = logging.getLogger("ronda.collector")


class NoBody(RondaError):
    """The call ended without a message: cancelled on its deadline, or closed by the client."""


class Deadline:
    """One pending action of `Deadlines`; `cancel()` before it is due and it never runs."""

    __slots__ = ("action", "fired")

    def __init__(self, action: Callable[[], object]) -> None:
        self.action: Callable[[], object] | None = action
        self.fired = False

    def cancel(self) -> None:
        self.action = None


class Deadlines:
    """Actions to run at given times, all run by one daemon thread (started with the first)."""

    def __init__(self, name: str = "ronda-deadlines") -> None:
        self.name = name
        self._order = itertools.count()  # ties run in the order they were added; entries never compare
        self._reset()

    def _reset(self) -> None:
        """No deadline and no thread yet (also in a forked child, where the parent's thread does not run)."""
        self._due: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def after(self, seconds: float, action: Callable[[], object]) -> Deadline:
        """Run `action` in `seconds` (on the deadline thread: it must be quick) unless cancelled first."""
        entry = Deadline(action)
        when = time.monotonic() + seconds
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            earliest = not self._due or when < self._due[0][0]
            heapq.heappush(self._due, (when, next(self._order), entry))
            if len(self._due) > 1024 and len(self._due) % 1024 == 0:
                self._drop_cancelled()
            if earliest:
                self._wake.notify()
        return entry

    def pending(self) -> int:
        """Actions still to run (for tests)."""
        with self._wake:
            return sum(1 for _, _, entry in self._due if entry.action is not None)

    def _drop_cancelled(self) -> None:
        """Forget cancelled entries (most are: calls hand over their bodies long before the deadline)."""
        self._due = [item for item in self._due if item[2].action is not None]
        heapq.heapify(self._due)

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    while self._due and self._due[0][2].action is None:
                        heapq.heappop(self._due)
                    if not self._due:
                        self._wake.wait()
                        continue
                    delay = self._due[0][0] - time.monotonic()
                    if delay <= 0:
                        entry = heapq.heappop(self._due)[2]
                        break
                    self._wake.wait(delay)
            action = entry.action
            if action is None:  # cancelled between the pop and now
                continue
            entry.fired = True
            try:
                action()
            except Exception:  # one failed action must not stop every later deadline
                log.exception("a receive deadline's action failed")


DEADLINES = Deadlines()
os.register_at_fork(after_in_child=DEADLINES._reset)


def receive_one(
    requests: Iterator[bytes], context: grpc.ServicerContext, timeout: float, deadlines: Deadlines = DEADLINES
) -> bytes:
    """The call's one message, or NoBody once `timeout` seconds pass without it (the call is cancelled)."""
    deadline = deadlines.after(timeout, context.cancel)
    try:
        return next(requests)
    except (StopIteration, grpc.RpcError):  # closed by the client, cancelled on the deadline or by shutdown
        if deadline.fired:
            raise NoBody(f"no complete message within {timeout:g} s; the call was cancelled") from None
        raise NoBody("the call ended without a message") from None
    finally:
        deadline.cancel()


def declared_size(context: grpc.ServicerContext, key: str) -> int | None:
    """The size the client declares in metadata `key`; None when it declares none; -1 when unreadable."""
    for name, value in context.invocation_metadata() or ():
        if name == key:
            text = value if isinstance(value, str) else ""
            return int(text) if text.isdigit() and len(text) < 16 else -1
    return None
