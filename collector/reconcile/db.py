"""A reconcile run against the store: read the inputs, work out the subjects whose inputs changed since
the previous run, write the outcome. Running twice on the same data writes nothing but the run record."""

from __future__ import annotations

import gc
import json
import sqlite3
from datetime import UTC, datetime

from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import plan
from ronda.collector.reconcile.inputs import load_inputs, usage_windows
from ronda.collector.reconcile.save import RunSummary, drop_staging, latest_run, stage, write
from ronda.collector.store import Store, StoreError
from ronda.errors import operational_message


class ReconcileError(StoreError):
    """A run could not read or write its store (locked, full, read-only, damaged); nothing of it was
    written."""


def run_reconcile(store: Store, config: ReconcileConfig, now: datetime | None = None) -> RunSummary:
    """Read, reconcile, write: what `ronda reconcile` and a schedule run. Idempotent.

    Subjects whose inputs have not changed since the previous run keep their stored findings and verdict.
    Should another run finish in between, this one is done again with every subject worked out.
    Raises ReconcileError (one line) when the store cannot be read or written."""
    now = now or datetime.now(UTC)
    # A run makes millions of small objects that live until it ends, and frees what each subject makes
    # by reference counting: the cyclic collector would walk them all again and again to find no garbage
    # (a quarter of a steady run at fleet scale; peak memory is the same without it).
    collecting = gc.isenabled()
    gc.disable()
    try:
        summary = _run(store, config, now, skip_unchanged=True)
        if summary is None:  # another run finished meanwhile: what this one skipped may have changed since
            summary = _run(store, config, now, skip_unchanged=False)
        assert summary is not None, "a run that skips no subject never gives way to another"
        return summary
    except sqlite3.Error as e:
        raise ReconcileError(
            f"reconcile failed, nothing written: {operational_message(e, store.path)}"
        ) from e
    except json.JSONDecodeError as e:
        raise ReconcileError(
            f"reconcile failed, nothing written: database {store.path} holds a value that is not JSON ({e})"
        ) from e
    finally:
        if collecting:
            gc.enable()


def _run(store: Store, config: ReconcileConfig, now: datetime, skip_unchanged: bool) -> RunSummary | None:
    """One run; None when it skipped subjects and another run finished meanwhile (what it skipped may
    have changed)."""
    known: dict[str, int] = {}
    with store.reading() as conn:
        previous, _ = latest_run(conn)  # read first: a run that ends later makes this one stale
        if skip_unchanged:
            known = dict(
                conn.execute("SELECT subject, input_digest FROM verdicts WHERE input_digest IS NOT NULL")
            )
    inputs = load_inputs(store, config, now)
    work = plan(inputs, config, now, known)
    with store.reading() as conn:
        try:
            unchanged = stage(conn, work.results(), work.fleet_findings())
            with store.writing() as c:
                if unchanged and latest_run(c)[0] != previous:
                    return None
                return write(
                    c, work.matches, now, config, len(inputs.declared), len(inputs.discovered), unchanged
                )
        finally:
            drop_staging(conn)


__all__ = ["ReconcileError", "RunSummary", "load_inputs", "run_reconcile", "usage_windows"]
