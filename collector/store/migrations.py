"""Schema migrations: each applied once, in version order, inside the opening transaction.

A database records which versions it has, so a migration is applied even when
a higher-numbered one already is. Never edit a migration that has shipped; add
a new one. Version ranges by concern keep parallel work apart:
1-9 core ingest, 10-19 inventory and reconciliation, 20-29 agent identity and
trust, 30-39 network and SSH scans.
"""
from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "agents, snapshots, hosts, apps, listeners, errors, daily usage", """
CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    last_sequence INTEGER NOT NULL,
    last_report_id TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE snapshots (
    agent_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    report_id TEXT NOT NULL,
    collected_at TEXT,
    received_at TEXT NOT NULL,
    applied INTEGER NOT NULL,          -- 0: older than the newest applied, kept as history only
    app_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    PRIMARY KEY (agent_id, sequence)
);
CREATE TABLE hosts (
    agent_id TEXT PRIMARY KEY,
    machine_id TEXT, hostname TEXT, fqdn TEXT, addresses TEXT,
    os_name TEXT, os_version TEXT, kernel TEXT, architecture TEXT, boot_time TEXT,
    cpu_count INTEGER, memory_total_bytes INTEGER, memory_used_bytes INTEGER, disks TEXT,
    source TEXT, agent_version TEXT, interval_seconds INTEGER,
    sequence INTEGER, collected_at TEXT
);
CREATE TABLE apps (
    agent_id TEXT NOT NULL,
    app_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    server_names TEXT NOT NULL,        -- JSON list
    listen TEXT NOT NULL,              -- JSON list of "addr:port[ ssl]"
    path_prefix TEXT NOT NULL,
    root TEXT, upstream TEXT, config_file TEXT, config_line INTEGER, parent_key TEXT,
    framework TEXT, framework_version TEXT,
    coverage TEXT, coverage_start TEXT, last_request TEXT, last_human_request TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    present INTEGER NOT NULL,          -- in the host's latest snapshot
    detail TEXT NOT NULL,              -- the whole app as JSON (proto field names)
    PRIMARY KEY (agent_id, app_key)
);
CREATE TABLE app_usage_daily (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL, date TEXT NOT NULL,
    human INTEGER NOT NULL, bot INTEGER NOT NULL, monitor INTEGER NOT NULL,
    error INTEGER NOT NULL, scanner INTEGER NOT NULL, human_clients INTEGER NOT NULL,
    PRIMARY KEY (agent_id, app_key, date)
);
CREATE TABLE listeners (
    agent_id TEXT NOT NULL, protocol TEXT NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL,
    pid INTEGER, process TEXT, user TEXT, unit TEXT, container TEXT, app_keys TEXT, public INTEGER,
    PRIMARY KEY (agent_id, protocol, address, port)
);
CREATE TABLE source_errors (
    agent_id TEXT NOT NULL, source TEXT NOT NULL, path TEXT, line INTEGER, message TEXT NOT NULL
);
CREATE INDEX source_errors_agent ON source_errors (agent_id);
"""),
]

from collector.reconcile.schema import MIGRATIONS as _RECONCILE  # noqa: E402  (10-19)

MIGRATIONS += _RECONCILE

from collector.trust.schema import MIGRATIONS as _TRUST_MIGRATIONS  # noqa: E402  (20-29)

MIGRATIONS += _TRUST_MIGRATIONS

from collector.scans.schema import MIGRATIONS as _SCAN_MIGRATIONS  # noqa: E402  (30-39)

MIGRATIONS += _SCAN_MIGRATIONS
