"""Schema migrations: each applied once, in version order, inside the opening transaction.

A database records which versions it has, so a migration is applied even when
a higher-numbered one already is. Never edit a migration that has shipped; add
a new one. Version ranges by concern keep parallel work apart:
1-9 core ingest, 10-19 inventory and reconciliation, 20-29 agent identity and
trust, 30-39 network and SSH scans, 40-49 core ingest again (after 15, which reshaped the daily usage).
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "agents, snapshots, hosts, apps, listeners, errors, daily usage",
        """
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
""",
    ),
]

LATER: list[tuple[int, str, str]] = [
    # Every snapshot moves each app's newest day. Kept beside the app's other days, that entry was in another
    # page per app (a hundred pages written per snapshot); kept in a table of its own keyed by (agent, app),
    # an agent's newest days share a few pages. When an app's newest day changes date, the trigger moves the
    # finished day to app_usage_days. No row of app_usage_days has the date of the app's newest day, so
    # the view app_usage_daily (what readers use) holds every (agent, app, date) once.
    (
        40,
        "each app's newest day of usage in a table of its own; app_usage_daily a view over both",
        """
ALTER TABLE app_usage_daily RENAME TO app_usage_days;
CREATE TABLE app_usage_latest (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL, date TEXT NOT NULL,
    human INTEGER NOT NULL, bot INTEGER NOT NULL, monitor INTEGER NOT NULL,
    error INTEGER NOT NULL, scanner INTEGER NOT NULL, human_clients INTEGER NOT NULL,
    PRIMARY KEY (agent_id, app_key)
) WITHOUT ROWID;
CREATE TRIGGER app_usage_latest_inserted AFTER INSERT ON app_usage_latest BEGIN
    DELETE FROM app_usage_days WHERE agent_id = new.agent_id AND app_key = new.app_key AND date = new.date;
END;
CREATE TRIGGER app_usage_latest_next_day AFTER UPDATE OF date ON app_usage_latest WHEN old.date <> new.date BEGIN
    INSERT INTO app_usage_days VALUES (old.agent_id, old.app_key, old.date, old.human, old.bot, old.monitor,
                                       old.error, old.scanner, old.human_clients)
        ON CONFLICT (agent_id, app_key, date) DO UPDATE SET human = excluded.human, bot = excluded.bot,
        monitor = excluded.monitor, error = excluded.error, scanner = excluded.scanner,
        human_clients = excluded.human_clients;
    DELETE FROM app_usage_days WHERE agent_id = new.agent_id AND app_key = new.app_key AND date = new.date;
END;
CREATE VIEW app_usage_daily AS
    SELECT agent_id, app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_days
    UNION ALL
    SELECT agent_id, app_key, date, human, bot, monitor, error, scanner, human_clients FROM app_usage_latest;
""",
    ),
    # Rewriting the resources and usage inside the detail took SQLite a JSON parse and print of the whole app,
    # and the collector a conversion to JSON of what changes with every snapshot. An app's state is now
    # kept apart, in wire form (collector.wirejson.app_state_json reads it). The digests are forgotten, so
    # each app is stored whole, state apart, with its agent's next snapshot; until then its state is NULL
    # and its detail still holds its resources and usage.
    (
        41,
        "an app's resources and usage (its state) in wire form, apart from the rest of its JSON detail",
        """
ALTER TABLE apps ADD COLUMN state BLOB;  -- an App message holding only resources and usage (without daily)
DELETE FROM app_digests;
""",
    ),
]

from ronda.collector.reconcile.schema import MIGRATIONS as _RECONCILE  # noqa: E402  (10-19)

MIGRATIONS += _RECONCILE

from ronda.collector.trust.schema import MIGRATIONS as _TRUST_MIGRATIONS  # noqa: E402  (20-29)

MIGRATIONS += _TRUST_MIGRATIONS

from ronda.collector.scans.schema import MIGRATIONS as _SCAN_MIGRATIONS  # noqa: E402  (30-39)

MIGRATIONS += _SCAN_MIGRATIONS

MIGRATIONS += LATER
