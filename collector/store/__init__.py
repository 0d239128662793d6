"""The collector's SQLite store."""

from ronda.collector.store.store import Store, StoreError, default_db_path

__all__ = ["Store", "StoreError", "default_db_path"]
