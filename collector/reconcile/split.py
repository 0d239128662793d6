"""A second process works out part of a run's subjects, so a large run uses two cores.

Subjects do not depend on one another (engine.Plan). Once the inputs are read
and matched, with no other thread running, the process forks. The child works
out the subjects from `start` on and the findings about no subject, writes the
rows it would insert into a file of its own (SQLite, no journal: nothing else
reads it) and keeps its few other statements (updates, deletes) and its counts
there too, then exits without tidying up. The parent works out the subjects
before `start`, writes them in the run's transaction, then copies the child's
rows with one INSERT ... SELECT per table, in the child's order: the rows and
their ids are those one process would have written.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import sqlite3
import sys
import tempfile
import traceback

from ronda.collector.reconcile.engine import Plan
from ronda.collector.reconcile.model import Outcome
from ronda.collector.reconcile.save import (
    FINDING_COLUMNS,
    NEW_FINDING,
    VERDICT,
    VERDICT_COLUMNS,
    Previous,
    Written,
    write_part,
)
from ronda.collector.store import Store


class SplitFailed(RuntimeError):
    """The second process did not finish its part."""


class Split:
    """Forks at once: from here on the child works out subjects[start:] and the findings about no subject."""

    def __init__(self, store: Store, plan: Plan, start: int, previous: Previous, stamp: str) -> None:
        self.store, self.plan, self.start = store, plan, start
        self.attached = self.finished = False
        self.dir = tempfile.mkdtemp(prefix="ronda-reconcile-")
        self.path = os.path.join(self.dir, "part.db")
        self.done, written = os.pipe()  # the child says when its file is written: its exit takes a while
        parent = os.getpid()
        try:
            self.pid: int | None = os.fork()
        except OSError:
            os.close(written)
            self.pid = None
            self.close()
            raise
        if self.pid == 0:
            os.close(self.done)
            status = 1
            try:
                _work(plan.outcome(start), previous.only(self.theirs), stamp, self.path)
                os.write(written, b"\n")
                status = 0
            except BaseException:  # noqa: BLE001 (the parent reports the failure)
                if os.getppid() == parent:
                    traceback.print_exc()
            finally:
                if os.getppid() != parent:  # the run was stopped: nobody else removes the file
                    shutil.rmtree(self.dir, ignore_errors=True)
                sys.stderr.flush()
                os._exit(status)  # nothing of the parent's to tidy up or flush twice
        os.close(written)

    def theirs(self, subject: str) -> bool:
        return self.plan.owner(subject) >= self.start

    def mine(self, previous: Previous) -> Previous:
        """What the previous run left about the parent's subjects."""
        return previous.only(lambda subject: not self.theirs(subject))

    def outcome(self) -> Outcome:
        """The parent's part."""
        return self.plan.outcome(0, self.start, fleet=False)

    def copy_into(self, conn: sqlite3.Connection) -> Written:
        """Wait for the child's file, then write its rows through `conn` (in the run's transaction)."""
        self.finished = os.read(self.done, 1) == b"\n"  # nothing: it exited without
        if not self.finished:
            raise SplitFailed(
                f"the second reconcile process failed (exit status {self._wait()}); nothing was written"
            )
        conn.execute("ATTACH DATABASE ? AS part", (self.path,))
        self.attached = True  # detached once the transaction is over (SQLite holds it till then)
        conn.execute(
            f"INSERT INTO main.findings ({FINDING_COLUMNS}) SELECT {FINDING_COLUMNS} FROM part.findings "
            "ORDER BY rowid"
        )
        conn.execute("INSERT OR REPLACE INTO main.verdicts SELECT * FROM part.verdicts ORDER BY rowid")
        written, later = pickle.loads(conn.execute("SELECT data FROM part.result").fetchone()[0])
        for sql, rows in later:
            conn.executemany(sql, rows)
        return written

    def _wait(self) -> int:
        if self.pid is None:
            return 0
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Stop the child if it still works (the run failed), detach its file and remove it."""
        if self.pid is not None:
            if not self.finished:
                os.kill(self.pid, signal.SIGKILL)
            self._wait()
        os.close(self.done)
        if self.attached:
            with self.store.reading() as conn:
                conn.execute("DETACH DATABASE part")
            self.attached = False
        shutil.rmtree(self.dir, ignore_errors=True)


def _work(outcome: Outcome, previous: Previous, stamp: str, path: str) -> None:
    """The child's part: the rows to insert into tables of the same shape, the rest kept for the parent."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.execute(f"CREATE TABLE findings ({FINDING_COLUMNS})")
        conn.execute(f"CREATE TABLE verdicts ({', '.join(f'c{i}' for i in range(VERDICT_COLUMNS))})")
        later: list[tuple[str, list[tuple]]] = []

        def put(sql: str, rows: list[tuple]) -> None:
            if sql in (NEW_FINDING, VERDICT):
                conn.executemany(sql, rows)
            elif rows:
                later.append((sql, rows))

        written = write_part(put, outcome, previous, stamp)
        conn.execute("CREATE TABLE result (data BLOB)")
        conn.execute("INSERT INTO result VALUES (?)", (pickle.dumps((written, later)),))
        conn.execute("COMMIT")
    finally:
        conn.close()
