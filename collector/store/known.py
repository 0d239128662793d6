"""What the store holds of an agent's apps, remembered between its snapshots.

To store a snapshot, ingestion needs, for every app the agent ever reported, the digests of its last
applied wire form, whether it is present and when it was last seen, and the length and digest of its
stored daily block, if any (a whole window whose bytes show the block then needs none of it read).
Reading that back for each snapshot was three queries over a hundred rows each (two since the digests
are in the apps' rows), a tenth of a steady snapshot's cost. A process remembers it instead, for the
agents it served last (an agent keeps its connection, so its snapshots reach the same process of
`ronda serve --processes`). It also remembers what no table holds: each app's shape, the bytes around its
resources and usage when it was last taken apart (wirebytes.parts_around).

What is remembered holds as of the agent's row in `agents` (its base: newest sequence, its report and
the snapshot through which its usage is whole), which every applied snapshot changes and nothing else
does; only ingestion writes these tables. So a memory is used only while the agent's row still says
that base, and read again otherwise: after another process stored a snapshot of the agent, after a
restore, or when it was forgotten for room.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from ronda.collector.store.wirebytes import Shape, digest

REMEMBERED_AGENTS = 512  # agents a process remembers (about 105 KiB each for 100 apps: 52 MiB)


@dataclass(frozen=True)
class Known:
    """What the store holds of one agent's apps, as of `base` (collector.store.apply.read_base)."""

    base: tuple | None
    digests: dict[str, tuple[bytes, bytes | None]]  # app key -> (digest of its wire form, of its stable part)
    presence: dict[str, tuple[int, str]]  # app key -> (present, last_seen)
    blocks: dict[str, Block]  # app key -> its stored daily block (app_daily_wire), as its length and digest
    # app key -> its stable part as this process took it apart (wirebytes.parts_around): not in the store
    shapes: dict[str, Shape | None] = field(default_factory=dict)


class Block(NamedTuple):
    """A stored daily block, as its length and digest: a whole window whose received bytes hold the same
    digest at that length holds the block, which is then not read from the store."""

    length: int
    digest: bytes


def block_of(data: bytes) -> Block:
    return Block(len(data), digest(data))


def read_known(c: sqlite3.Connection, agent_id: str, base: tuple | None) -> Known:
    """What the store holds of `agent_id`'s apps, read inside the transaction that read `base`."""
    digests, presence = {}, {}
    for key, present, seen, digest_, stable in c.execute(
        "SELECT app_key, present, last_seen, digest, stable FROM apps WHERE agent_id=?", (agent_id,)
    ):
        presence[key] = (present, seen)
        if digest_ is not None:  # NULL: its next snapshot stores it whole
            digests[key] = (digest_, stable)
    blocks = {
        key: block_of(block)
        for key, block in c.execute("SELECT app_key, block FROM app_daily_wire WHERE agent_id=?", (agent_id,))
    }
    return Known(base, digests, presence, blocks)


class Memory:
    """The `Known` of the agents served last, at most `size` of them (the least recently used go first)."""

    def __init__(self, size: int = REMEMBERED_AGENTS) -> None:
        self.size = size
        self._known: OrderedDict[str, Known] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, agent_id: str, base: tuple | None) -> Known | None:
        """What is remembered of `agent_id`, if it holds as of `base` (what its agents row says now)."""
        with self._lock:
            known = self._known.get(agent_id)
            if known is None or known.base != base:
                return None
            self._known.move_to_end(agent_id)
            return known

    def put(self, agent_id: str, known: Known) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._known[agent_id] = known
            self._known.move_to_end(agent_id)
            while len(self._known) > self.size:
                self._known.popitem(last=False)

    def __len__(self) -> int:
        return len(self._known)
