"""Which Datasette instances are ronda's consoles, and what the plugin's hooks know of each."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ronda.collector.store import Store
from ronda.collector.web.auth import Throttle
from ronda.collector.web.config import WebConfig
from ronda.i18n import Lang


@dataclass
class Console:
    """What ronda's plugin hooks need to know about one Datasette instance."""

    db: str
    config: WebConfig
    lang: Lang
    throttle: Throttle = field(default_factory=Throttle)
    _store: Store | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Store:
        """The store for ronda's own reads (explain, the report) and for recording decisions."""
        with self._lock:
            if self._store is None:
                self._store = Store(self.db)
            return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


_consoles: weakref.WeakKeyDictionary[Any, Console] = weakref.WeakKeyDictionary()


def console_of(datasette: Any) -> Console | None:
    """ronda's console behind `datasette`, or None for another Datasette (the hooks then stay out)."""
    return _consoles.get(datasette)


def register(datasette: Any, console: Console) -> None:
    _consoles[datasette] = console
