"""Admission control: answer UNAVAILABLE with a retry delay instead of letting calls pile up.

gRPC queues calls in the server's thread pool when every worker is busy. The
pool below counts calls from the moment they are queued; a call that finds
more than `limit` ahead of it is refused at once (before it is decoded) with
a delay derived from how long calls take now, so agents come back when
there is room rather than all at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

RETRY_METADATA = "ronda-retry-after-ms"
MIN_DELAY, MAX_DELAY = 0.2, 60.0


class CountingPool(ThreadPoolExecutor):
    """A thread pool that knows how many calls are queued or running."""

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


class Admission:
    def __init__(self, pool: CountingPool, workers: int, backlog: int) -> None:
        self.pool = pool
        self.workers = workers
        self.limit = workers + backlog
        self._service = 0.01  # seconds per call, smoothed
        self._lock = threading.Lock()

    def overloaded(self) -> bool:
        return self.pool.in_flight > self.limit

    def retry_after(self) -> float:
        """Seconds until there is likely room, with jitter so refused agents do not return together."""
        queue = max(self.pool.in_flight - self.workers, 1)
        base = self._service * queue / max(self.workers, 1) * 2
        return min(MAX_DELAY, max(MIN_DELAY, base)) * random.uniform(1.0, 2.0)

    def observe(self, started: float) -> None:
        elapsed = time.monotonic() - started
        with self._lock:
            self._service = 0.9 * self._service + 0.1 * elapsed
