"""The demo's sample fleet (three servers of a provincial government, real agents reporting over
real gRPC into a real store, the SPBE inventory imported and reconciled) as a fixture for the
tests of what decision makers read: the report, the approval sheet, the exports and the lists.

Screenshots and PDFs the tests make are kept in build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ronda.collector.demo import run_demo
from ronda.collector.reconcile.decisions import record_decision
from ronda.collector.reconcile.lookup import find_subject
from ronda.collector.store import Store

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.fixture(scope="session")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("decide-fleet")
    db = run_demo(str(work), echo=lambda _line: None)
    store = Store(db)
    # One decision already taken, as a Kepala Dinas records it after a meeting.
    record_decision(
        store, find_subject(store, "APP-004"), "take-down", "diganti e-Office <2021>", "Kadis Kominfo"
    )
    store.close()
    return db


def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def fleet_copy(fleet_db: Path, tmp_path: Path) -> Path:
    """A copy of the fleet's store for a test that records decisions or changes it."""
    copy = tmp_path / "ronda.db"
    with sqlite3.connect(fleet_db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy
