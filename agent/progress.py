"""Progress of long log reads on a terminal (stderr), quiet everywhere else."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """A `progress(done, total)` callback that redraws one line at most 5 times a second."""

    def __init__(
        self,
        label: str = "reading access logs",
        stream: TextIO | None = None,
        min_total: int = 32 * 1024 * 1024,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.min_total = min_total  # small reads finish before a bar would help
        self._last = 0.0
        self._shown = False

    @property
    def enabled(self) -> bool:
        return self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total or not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done < total:
            return
        self._last = now
        self._shown = True
        percent = 100 * done // total if total else 100
        self.stream.write(f"\r{self.label}: {percent:3d}% ({done / 2**20:,.0f} of {total / 2**20:,.0f} MiB)")
        self.stream.flush()

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
