"""What a scan reads, guarded in one place: its deadline, and the files the seam refused.

Every read, listing and command of a scan goes through its Host, wrapped in
`ScanHost`:

- Once the scan's time is up, reads fail with `ScanDeadline` (a HostError, so
  each source records it as it records any unreadable file and goes on),
  questions callers treat as answers (`exists`, `glob`, `which`) answer "no",
  and a command never runs past the deadline. The scan ends with what it
  found, each unfinished source reported once, and the snapshot still goes
  out: a host that makes a scan slow (a hung mount, a huge tree, a command
  that never ends) cannot stop an agent from reporting. A log being read when
  the time is up is read to its end first.
- A file the seam refused (a FIFO, a device, one too large: NotRegularFile)
  is reported as an error naming its path even when the source that asked
  treats a failed read as "not there".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

from ronda.agent.host.base import (
    CommandResult,
    FileStat,
    Host,
    HostError,
    ListenSocket,
    NotRegularFile,
    ProcessInfo,
    SystemStats,
)
from ronda.model import SourceError

T = TypeVar("T")


class ScanDeadline(HostError):
    """The scan's time is up; nothing more is read."""


class ScanHost:
    """`host` for one scan: refuses reads once `seconds` have passed, and keeps what the seam refused."""

    def __init__(self, host: Host, seconds: float | None) -> None:
        self.host = host
        self.name = host.name
        self.seconds = seconds
        self.ends = time.monotonic() + seconds if seconds is not None else float("inf")
        self.skipped = 0  # questions answered "no" because the time was up
        self.refused: dict[str, str] = {}  # path -> why the seam would not read it

    @property
    def marker(self) -> str:
        return f"the scan's {self.seconds:g} s were up"

    def _left(self, what: str) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise ScanDeadline(f"{what}: not read, {self.marker}")
        return left

    def _read(self, path: str, read: Callable[[], T]) -> T:
        self._left(path)
        try:
            return read()
        except NotRegularFile as e:
            self.refused.setdefault(path, str(e))
            raise

    def _answer(self, what: str, ask: Callable[[], T], otherwise: T) -> T:
        if time.monotonic() >= self.ends:
            self.skipped += 1
            return otherwise
        return ask()

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        return self._read(path, lambda: self.host.read_bytes(path, limit))

    def read_text(self, path: str, limit: int | None = None) -> str:
        return self._read(path, lambda: self.host.read_text(path, limit))

    def open_binary(self, path: str) -> BinaryIO:
        return self._read(path, lambda: self.host.open_binary(path))

    def listdir(self, path: str) -> list[str]:
        self._left(path)
        return self.host.listdir(path)

    def stat(self, path: str) -> FileStat:
        self._left(path)
        return self.host.stat(path)

    def lstat(self, path: str) -> FileStat:
        self._left(path)
        return self.host.lstat(path)

    def realpath(self, path: str) -> str:
        self._left(path)
        return self.host.realpath(path)

    def exists(self, path: str) -> bool:
        return self._answer(path, lambda: self.host.exists(path), False)

    def glob(self, pattern: str) -> list[str]:
        return self._answer(pattern, lambda: self.host.glob(pattern), [])

    def which(self, command: str) -> str | None:
        return self._answer(command, lambda: self.host.which(command), None)

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> CommandResult:
        return self.host.run(argv, timeout=min(timeout, self._left(argv[0] if argv else "command")))

    def http_unix(
        self, socket_path: str, path: str, timeout: float = 5.0, limit: int = 16 * 1024 * 1024
    ) -> bytes:
        return self.host.http_unix(socket_path, path, min(timeout, self._left(socket_path)), limit)

    def processes(self) -> list[ProcessInfo]:
        return self.host.processes()

    def listeners(self) -> list[ListenSocket]:
        return self.host.listeners()

    def system_stats(self) -> SystemStats:
        return self.host.system_stats()

    def __getattr__(self, name: str) -> Any:  # what a particular host offers beyond the seam (SSH's readlink)
        return getattr(self.host, name)

    def settle(self, errors: list[SourceError]) -> list[SourceError]:
        """The scan's errors with each refused file named once, and one error per source the deadline
        cut short (how many reads it skipped) in place of one per read."""
        kept: list[SourceError] = []
        skipped: dict[str, int] = {}
        for error in errors:
            if self.seconds is not None and self.marker in error.message:
                skipped[error.source] = skipped.get(error.source, 0) + 1
            else:
                kept.append(error)
        named = " ".join(f"{e.path} {e.message}" for e in kept)
        for path, why in self.refused.items():
            if path not in named:
                kept.append(SourceError(source="files", path=path, message=why))
        if self.skipped and not skipped:
            skipped["scan"] = 0
        for source, count in skipped.items():
            reads = count + (self.skipped if source == "scan" else 0)
            kept.append(
                SourceError(
                    source=source,
                    message=f"unfinished: the scan's deadline ({self.seconds:g} s) passed; "
                    f"{reads} read(s) skipped, the rest of this snapshot is complete",
                )
            )
        return kept
