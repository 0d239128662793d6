"""The store's schema migrations: one append-only sequence, applied in the order of the list.

A migration's number names it; its place in MIGRATIONS orders it. The first numbers were handed out in
blocks by concern (10-19 reconciliation, 20-29 trust, 30-39 scans, 40-41 the store), so the released
migrations stand here in the order they were released, not in number order. A store created by any
earlier release has applied a prefix of this list, and `Store` applies what it lacks in list order, so a
fresh store and an upgraded one end with the same schema (tests/test_migrations.py builds a store as each
earlier release left it and compares).

Adding one: write its SQL beside the module that owns the table (`collector/<concern>/schema.py`, or
`collector/store/schema.py` for what agents report), append a Migration below with the next number
(`NEXT_VERSION`), and never edit, renumber or reorder one that has shipped: add another that changes what
it did (tests/test_migrations.py holds each released text to its checksum). A migration runs inside the
transaction that opens the store: if any statement fails, the store is left as it was.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from ronda.collector.reconcile import schema as reconcile
from ronda.collector.scans import schema as scans
from ronda.collector.store import schema as store
from ronda.collector.trust import schema as trust


class Migration(NamedTuple):
    version: int
    description: str  # recorded in the store's schema_migrations
    sql: str  # statements separated by `;`
    only_if: str | None = None  # a query: the SQL runs only where it returns a row (the version is recorded)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "agents, snapshots, hosts, apps, listeners, errors, daily usage", store.CORE),
    Migration(10, "declared inventory, its import history and operator pins", reconcile.INVENTORY),
    Migration(
        11,
        "reconciliation: matches, findings, verdicts, decisions and the operator views",
        reconcile.RECONCILE,
    ),
    Migration(
        20,
        "agent identities, enrolment secrets, tokens, revoked credentials, identity events",
        trust.IDENTITY,
    ),
    Migration(
        21, "app digests, so unchanged apps and days are not rewritten on every snapshot", store.APP_DIGESTS
    ),
    Migration(30, "scan runs, network ports seen by sweeps, SSH scan targets", scans.SCANS),
    Migration(
        22,
        "app digests and daily wire blocks in tables of their own, so app rows stay small",
        store.DIGEST_TABLES,
    ),
    Migration(
        12,
        "findings and verdicts reshaped for large fleets; a covering index for usage windows",
        reconcile.RESHAPE,
    ),
    Migration(
        23,
        "digest of the part of an app that rarely changes (all but resources and usage)",
        store.STABLE_DIGEST,
    ),
    Migration(
        13,
        "the input checksum of each verdict, so unchanged apps are not worked out again",
        reconcile.VERDICT_INPUT_DIGEST,
    ),
    Migration(14, "findings without a second index on subject", reconcile.FINDINGS_ONE_INDEX),
    Migration(15, "daily usage in one B-tree keyed by agent, app and date", store.DAILY_KEYED),
    Migration(
        40,
        "each app's newest day of usage in a table of its own; app_usage_daily a view over both",
        store.LATEST_DAY,
    ),
    Migration(
        41,
        "an app's resources and usage (its state) in wire form, apart from the rest of its JSON detail",
        store.STATE_IN_WIRE_FORM,
    ),
    # The first migration numbered in the one sequence: from here on, each is the previous number plus one.
    Migration(
        42,
        "where 41 ran in its first form: apps' state back from JSON text, and the state column of today's 41",
        store.STATE_FROM_TEXT,
        only_if=store.STATE_AS_TEXT,
    ),
    Migration(43, "which column of each inventory import went to which field", reconcile.IMPORT_COLUMNS),
    Migration(
        44,
        "per agent, the snapshot through which the store holds its daily usage whole",
        store.USAGE_THROUGH,
    ),
    Migration(
        45,
        "daily blocks hold the settled days alone: those that held the newest day too are forgotten",
        store.SETTLED_BLOCKS,
    ),
    Migration(
        46,
        "indexes of the apps that are default servers or have an end of support, and of app keys",
        reconcile.FLAGGED_APPS,
    ),
    Migration(
        47,
        "each app's digests in its own row instead of a table of their own",
        store.DIGESTS_IN_APPS,
    ),
)

KNOWN_VERSIONS = frozenset(m.version for m in MIGRATIONS)
NEXT_VERSION = max(KNOWN_VERSIONS) + 1


def apply_migration(conn: sqlite3.Connection, migration: Migration) -> None:
    """Run one migration's statements on `conn`, inside the caller's transaction."""
    if migration.only_if is not None and conn.execute(migration.only_if).fetchone() is None:
        return
    for statement in statements(migration.sql):
        conn.execute(statement)


def statements(sql: str) -> list[str]:
    """Split a migration into statements; a trigger body's own `;` do not end its CREATE TRIGGER."""
    found, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                found.append(pending.strip())
            pending = ""
    return found
