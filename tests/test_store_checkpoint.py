"""A collector's store copies its write-ahead log into the database once per interval
(Store(checkpoint_every)), not whenever the log passes 1,000 pages."""

import os
import threading
import time

import pytest

from ronda.collector.store import Store

ROW = "x" * 30_000  # a few pages a transaction


def _write(store: Store, transactions: int, pause: float = 0.0) -> None:
    for n in range(transactions):
        with store.writing() as c:
            c.execute("INSERT INTO source_errors VALUES ('a1', 'bench', ?, ?, ?)", (str(n), n, ROW))
        time.sleep(pause)


def _wal_bytes(store: Store) -> int:
    return os.path.getsize(f"{store.path}-wal")


def test_within_an_interval_the_log_grows_past_sqlites_own_limit(tmp_path):
    store = Store(tmp_path / "r.db", checkpoint_every=3600)
    _write(store, 300)
    assert _wal_bytes(store) > 300 * len(ROW)  # 1,000 pages would have been checkpointed by SQLite
    store.close()


@pytest.mark.parametrize("writers", [1, 3])
def test_a_checkpoint_each_interval_keeps_the_log_small(tmp_path, writers):
    store = Store(tmp_path / "r.db", checkpoint_every=0.02)
    threads = [threading.Thread(target=_write, args=(store, 300, 0.001)) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.query("SELECT count(*) AS n FROM source_errors") == [{"n": 300 * writers}]
    # the log restarted from its beginning again and again: far smaller than all that was written
    assert _wal_bytes(store) < 300 * writers * len(ROW) / 4
    store.close()


def test_the_first_write_after_the_interval_checkpoints(tmp_path):
    store = Store(tmp_path / "r.db", checkpoint_every=0.3)
    _write(store, 1)  # the first write of all checkpoints: no interval has begun
    size = os.path.getsize(store.path)
    _write(store, 5)
    assert os.path.getsize(store.path) == size  # the new pages are only in the log
    time.sleep(0.35)
    _write(store, 1)
    assert os.path.getsize(store.path) > size + 5 * len(ROW)  # copied into the database
    store.close()
