"""Snapshots waiting for the collector, on disk under the state directory.

A snapshot goes into the spool before it is sent and leaves it once the
collector acknowledged it, so a collector that is down, overloaded or
unreachable, or an agent restart, loses nothing. The spool is bounded: since
every snapshot carries the host's full state, the oldest are dropped first
and counted as coalesced; the next snapshot sent says how many it replaced.
What a dropped snapshot holds that the next one may lack (the usage days it
carried) is joined into the next one first (`join`).

A snapshot the collector refuses for good (it claims an agent id this agent
no longer has, it is invalid, it cannot be read) is set aside under
`refused/`: kept for an operator to look at, counted, logged once, and never
again in the way of newer snapshots. Nothing here writes when nothing
changed, so a full state disk still lets spooled snapshots go out.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from ronda.agent.state import StateError

log = logging.getLogger("ronda.agent.spool")
_NAME = re.compile(r"^(\d{20})\.snapshot$")
DEFAULT_MAX_ENTRIES = 16
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
REFUSED = "refused"


class SpoolError(StateError):
    """The spool directory cannot be written."""


class Spool:
    def __init__(
        self,
        directory: str | Path,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        join: Callable[[bytes, bytes], bytes] | None = None,
    ) -> None:
        """`join(older, newer)`: what replaces `newer` when `older` is dropped (None: `newer` as it is)."""
        self.dir = Path(directory)
        self.join = join
        self.max_entries = max(1, max_entries)
        self.max_bytes = max_bytes
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise SpoolError(f"cannot create spool directory {self.dir}: {e.strerror}") from None
        for leftover in self.dir.glob(".*.tmp"):  # a write cut short by a crash
            leftover.unlink(missing_ok=True)

    def sequences(self) -> list[int]:
        """Spooled sequence numbers, oldest first."""
        found = []
        for entry in os.scandir(self.dir):
            m = _NAME.match(entry.name)
            if m:
                found.append(int(m.group(1)))
        return sorted(found)

    def __len__(self) -> int:
        return len(self.sequences())

    def _path(self, sequence: int) -> Path:
        return self.dir / f"{sequence:020d}.snapshot"

    def put(self, sequence: int, data: bytes) -> int:
        """Keep `data` under `sequence` (durably).

        Returns how many older snapshots were dropped to make room."""
        _write_atomic(self._path(sequence), data)
        dropped = 0
        sequences = self.sequences()
        sizes = {s: _size(self._path(s)) for s in sequences}
        while len(sequences) > 1 and (
            len(sequences) > self.max_entries or sum(sizes.values()) > self.max_bytes
        ):
            oldest = sequences.pop(0)
            if self.join is not None:
                successor = self._path(sequences[0])
                _write_atomic(successor, self.join(self.read(oldest), successor.read_bytes()))
                sizes[sequences[0]] = _size(successor)
            self._path(oldest).unlink(missing_ok=True)
            sizes.pop(oldest)
            dropped += 1
        if dropped:
            self.coalesced += dropped
            log.warning(
                "spool full: dropped %d older snapshot(s); the newer ones carry the same, fresher state "
                "and the usage days they held",
                dropped,
            )
        return dropped

    def read(self, sequence: int) -> bytes:
        return self._path(sequence).read_bytes()

    def remove(self, sequence: int) -> None:
        self._path(sequence).unlink(missing_ok=True)

    def set_aside(self, sequence: int, reason: str) -> None:
        """Move a snapshot refused for good out of the way (into refused/, with why), keeping the newest
        `max_entries` of them."""
        aside = self.dir / REFUSED
        try:
            aside.mkdir(exist_ok=True, mode=0o700)
            os.replace(self._path(sequence), aside / self._path(sequence).name)
            _write_atomic(aside / f"{sequence:020d}.reason", (reason + "\n").encode())
        except (OSError, SpoolError) as e:  # no room to keep it: it must still not block the others
            log.warning("could not keep refused snapshot %d (%s); dropped", sequence, e)
            self.remove(sequence)
            return
        kept = sorted(aside.glob("*.snapshot"))
        log.warning("snapshot %d set aside (%d kept in %s): %s", sequence, len(kept), aside, reason)
        for old in kept[: max(0, len(kept) - self.max_entries)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".reason").unlink(missing_ok=True)

    @property
    def coalesced(self) -> int:
        """Snapshots dropped since the collector last acknowledged one."""
        try:
            return int((self.dir / "coalesced").read_text() or 0)
        except (OSError, ValueError):
            return 0

    @coalesced.setter
    def coalesced(self, value: int) -> None:
        if value != self.coalesced:
            _write_atomic(self.dir / "coalesced", str(value).encode())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SpoolError(f"cannot write {path}: {e.strerror}") from None
