"""Admission control: which Report calls may hand over a body now, counted in calls and in bytes.

A call is admitted (or refused UNAVAILABLE with a retry delay) from its
headers alone, before a byte of its body is read: the agent declares the size
of its snapshot in metadata (`ronda-snapshot-bytes`; a call that does not is
charged the largest message the server takes). Four limits hold:

- calls admitted at once (`workers + backlog`): the rest are refused at once
  with a delay derived from how long calls take now, so agents come back when
  there is room rather than all together;
- bytes in flight (`budget_bytes`): bodies admitted, being received or
  waiting to be stored, so memory is bounded by the budget, not by how many
  agents send large snapshots at the same moment;
- bodies being received at once (`receivers`): a slow link, or a client that
  opens a call and never sends, holds one of these until its receive deadline;
- calls per agent (`per_agent`): an agent sends its snapshots one after the
  other, so one identity cannot hold every receiving slot.

Every admitted call holds a `Ticket` until its snapshot is stored or refused;
the ticket gives back what it holds exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from ronda.errors import RondaError

P = ParamSpec("P")
T = TypeVar("T")

RETRY_METADATA = "ronda-retry-after-ms"
SIZE_METADATA = "ronda-snapshot-bytes"  # the agent's snapshot size, declared before its body
MIN_DELAY, MAX_DELAY = 0.2, 60.0


class CountingPool(ThreadPoolExecutor):
    """A thread pool that knows how many calls are queued or running (for tests and figures)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._count

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._count_lock:
            self._count += 1

        def counted() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._count_lock:
                    self._count -= 1

        try:
            return super().submit(counted)
        except BaseException:
            with self._count_lock:
                self._count -= 1
            raise


class Busy(RondaError):
    """No room for this call now; `delay` is when to come back (seconds)."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(f"{reason}; retry in {delay:.1f} s")
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True)
class Limits:
    workers: int = 1  # calls stored at once
    backlog: int = 64  # admitted calls beyond the workers (receiving, or waiting to be stored)
    receivers: int = 4  # bodies being received at once
    budget_bytes: int = 32 * 1024 * 1024  # bodies admitted and not yet stored, in bytes
    per_agent: int = 1  # calls admitted at once for one authenticated identity

    @property
    def admitted(self) -> int:
        return self.workers + self.backlog


class Ticket:
    """What one admitted call holds: a place, its declared bytes, a receiving slot until `received()`."""

    def __init__(self, gate: Gate, key: str | None, size: int) -> None:
        self.gate, self.key, self.size = gate, key, size
        self.receiving = True
        self.released = False

    def received(self) -> None:
        self.gate._received(self)

    def release(self) -> None:
        self.gate._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Gate:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._calls = 0
        self._receiving = 0
        self._bytes = 0
        self._per_key: Counter[str] = Counter()
        self._service = 0.01  # seconds per stored call, smoothed
        self.store_slots = threading.BoundedSemaphore(limits.workers)

    def admit(self, key: str | None, size: int) -> Ticket:
        """A ticket for a call from `key` (None: not known before the body) declaring `size` bytes,
        or Busy."""
        limits = self.limits
        with self._lock:
            if self._calls >= limits.admitted:
                raise Busy("the collector is busy", self._delay_locked())
            if key is not None and self._per_key[key] >= limits.per_agent:
                raise Busy("this agent already has a report in progress", self._delay_locked())
            if self._receiving >= limits.receivers:
                raise Busy("the collector is receiving other reports", self._delay_locked())
            if self._bytes and self._bytes + size > limits.budget_bytes:
                raise Busy("the collector's memory budget for reports is in use", self._delay_locked())
            self._calls += 1
            self._receiving += 1
            self._bytes += size
            if key is not None:
                self._per_key[key] += 1
        return Ticket(self, key, size)

    def _received(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.receiving:
                ticket.receiving = False
                self._receiving -= 1

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            if ticket.receiving:
                ticket.receiving = False
                self._receiving -= 1
            self._calls -= 1
            self._bytes -= ticket.size
            if ticket.key is not None:
                self._per_key[ticket.key] -= 1
                if not self._per_key[ticket.key]:
                    del self._per_key[ticket.key]

    def retry_after(self) -> float:
        with self._lock:
            return self._delay_locked()

    def _delay_locked(self) -> float:
        """Seconds until there is likely room, with jitter so refused agents do not return together."""
        queue = max(self._calls - self.limits.workers, 1)
        base = self._service * queue / max(self.limits.workers, 1) * 2
        return min(MAX_DELAY, max(MIN_DELAY, base)) * random.uniform(1.0, 2.0)

    def observe(self, started: float) -> None:
        elapsed = time.monotonic() - started
        with self._lock:
            self._service = 0.9 * self._service + 0.1 * elapsed

    def in_flight(self) -> dict[str, int]:
        """What is held now: calls, bodies being received, bytes (for logs and tests)."""
        with self._lock:
            return {"calls": self._calls, "receiving": self._receiving, "bytes": self._bytes}
