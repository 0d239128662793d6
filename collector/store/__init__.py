"""The collector's SQLite store."""

from ronda.collector.store.store import Store, StoreError

__all__ = ["Store", "StoreError"]
