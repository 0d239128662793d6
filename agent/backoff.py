"""Jittered exponential backoff that defers to the collector's own retry hint."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 1.0
    cap: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self, hint: float | None = None) -> float:
        """Seconds to wait before the next try.

        Without a hint: a random delay in [d/2, d] with d doubling from `base` up to `cap`, so a fleet
        that lost its collector together does not come back together. With the collector's hint: at
        least the hint, plus up to a quarter more.
        """
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 32))
        self.attempt += 1
        if hint is not None and hint > 0:
            return min(hint, 3600.0) * self.rng.uniform(1.0, 1.25)
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
