"""A run split over two processes writes exactly what one process writes: the
same findings (ids included), verdicts, matches and run record, on a fleet's
first run and on a later one where findings resolve, open and change and
most subjects are skipped."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

import pytest

from bench.reconcile import NOW, build
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import run_reconcile
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # reconciles in spawned interpreters


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A small benchmark fleet: vhosts, sub-apps, proxies, idle and used apps, gaps in the inventory."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.db"
    build(path, hosts=40, apps=800, declared=150)
    return path


def tables(db) -> dict:
    conn = sqlite3.connect(db)
    try:
        out = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in ("findings", "verdicts")
        }
        # matches go in in set order, which differs between interpreters (string hashes are salted)
        out["matches"] = sorted(conn.execute("SELECT * FROM matches").fetchall())
        out["runs"] = conn.execute(
            "SELECT started_at, config, declared, discovered, matched, findings_open, opened, "
            "resolved, candidates FROM reconcile_runs ORDER BY run_id"
        ).fetchall()
        return out
    finally:
        conn.close()


def change(db, now: datetime) -> None:
    """Between runs: some apps are gone, some owners cleared, some apps used again."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE apps SET present = 0 WHERE rowid % 37 = 0")
        conn.execute("UPDATE inventory SET owner = '' WHERE rowid % 11 = 0")
        conn.execute(
            "UPDATE apps SET last_human_request = ? WHERE rowid % 29 = 0",
            ((now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        )
    conn.close()


def three_runs(db: str, processes: int, now: datetime) -> list:
    """A first run, the same again five minutes later, and a run a day later after changes (`now`: the fleet's
    clock, passed on because another interpreter's import of bench.reconcile would read a later one)."""
    store = Store(db)
    first = run_reconcile(store, ReconcileConfig(), now, processes=processes)
    assert first.processes == processes and first.opened > 0 and first.unchanged == 0
    again = run_reconcile(store, ReconcileConfig(), now + timedelta(minutes=5), processes=processes)
    assert again.opened == again.resolved == 0 and again.unchanged == sum(again.verdicts.values())
    change(db, now)
    later = run_reconcile(store, ReconcileConfig(), now + timedelta(days=1), processes=processes)
    assert later.opened and later.resolved and later.unchanged
    store.close()
    return [
        (s.opened, s.resolved, s.unchanged, s.counts, s.verdicts, s.findings_open)
        for s in (first, again, later)
    ]


def split_runs(db: str, temp: str, now: datetime) -> list:
    """three_runs in two processes, their temporary files under `temp`.

    Runs in a spawned interpreter of its own."""
    tempfile.tempdir = temp
    return three_runs(db, 2, now)


def test_two_processes_write_what_one_writes(fleet, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    for processes in (1, 2):
        shutil.copy(fleet, tmp_path / f"{processes}.db")
    one = three_runs(str(tmp_path / "1.db"), 1, NOW)
    # A run forks only when no other thread runs: the split runs go in a fresh interpreter, whatever
    # threads earlier tests left in this one.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        two = pool.submit(split_runs, str(tmp_path / "2.db"), str(temp), NOW).result(timeout=300)
    assert one == two
    assert tables(tmp_path / "1.db") == tables(tmp_path / "2.db")
    assert list(temp.iterdir()) == []  # the second process's file is gone


def test_a_run_stays_in_one_process_when_threads_run(fleet, tmp_path):
    """Forking with another thread running could copy a lock it holds: such a run is not split."""
    db = tmp_path / "t.db"
    shutil.copy(fleet, db)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        summary = run_reconcile(Store(db), ReconcileConfig(), NOW, processes=2)
    finally:
        stop.set()
        other.join()
    assert summary.processes == 1 and summary.opened > 0
