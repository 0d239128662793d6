"""The collector's SQLite store."""
from collector.store.store import StoreError, Store, default_db_path

__all__ = ["Store", "StoreError", "default_db_path"]
