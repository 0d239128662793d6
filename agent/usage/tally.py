"""What a parse adds up before it is written to the state, and what a group of rows means."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from ronda.agent.usage.classify import HUMAN

# Kinds of "last time" tracked per app.
LAST_ANY, LAST_HUMAN, LAST_SUCCESS = range(3)


@dataclass
class Tally:
    """Counts not yet written to the state. Clients are raw addresses here; the state stores ids."""

    daily: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # human, bot, monitor, error
    # (group, addr): 403/404 answers per client, and the clients of human requests
    rejects: Counter = field(default_factory=Counter)
    clients: set[tuple] = field(default_factory=set)
    last: dict[tuple[int, int], int] = field(default_factory=dict)  # (app, LAST_*) -> epoch seconds
    app_lines: Counter = field(default_factory=Counter)
    lines: int = 0
    lean_lines: int = 0  # lines read by the lean path
    unparsed: int = 0
    oldest: int | None = None
    newest: int | None = None

    def see_time(self, when: int) -> None:
        if self.oldest is None or when < self.oldest:
            self.oldest = when
        if self.newest is None or when > self.newest:
            self.newest = when

    def size(self) -> int:
        return len(self.daily) + len(self.rejects) + len(self.clients)


_CLIENT_HASH = hashlib.blake2b(digest_size=8, person=b"ronda-client")


def client_id(addr: bytes) -> int:
    """A stable, non-reversible id for a client address: the state never holds addresses."""
    h = _CLIENT_HASH.copy()  # cheaper than setting the parameters up again
    h.update(addr)
    return int.from_bytes(h.digest(), "big", signed=True)


class GroupInfo:
    """What rows of one kind mean: the apps they count for, their day and class.

    Hashed by identity (fast), so per-buffer tallies can be keyed by it.
    """

    __slots__ = ("apps", "cls", "day", "lasts", "needs")

    def __init__(
        self,
        apps: tuple[int, ...],
        day: str,
        cls: int,
        lasts: tuple[int, ...],
        needs: tuple[tuple[int, int], ...] | None = None,
    ) -> None:
        self.apps, self.day, self.cls, self.lasts = apps, day, cls, lasts
        self.needs = tuple((app, last) for app in apps for last in lasts) if needs is None else needs

    def on(self, day: str) -> GroupInfo:
        """The same kind of rows on another day."""
        return GroupInfo(self.apps, day, self.cls, self.lasts, self.needs)


INVALID = GroupInfo((), "", HUMAN, ())  # rows whose date is no date
