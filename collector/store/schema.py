"""SQL of the tables the store itself owns: what agents report and what ingestion keeps to go fast.

Each constant is the text of one migration; `collector.store.migrations` puts them in the one sequence.
Never edit a text that has shipped (a test holds each to its checksum): add a migration instead.
"""

from __future__ import annotations

# 1: what one snapshot holds, as the first release stored it.
CORE = """
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
"""

# 15: a rowid table, its key and the covering index were three B-trees, each touched in another page per app
# by every snapshot; keyed by (agent, app, date) the rows are their own covering index.
DAILY_KEYED = """
CREATE TABLE app_usage_daily_keyed (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL, date TEXT NOT NULL,
    human INTEGER NOT NULL, bot INTEGER NOT NULL, monitor INTEGER NOT NULL,
    error INTEGER NOT NULL, scanner INTEGER NOT NULL, human_clients INTEGER NOT NULL,
    PRIMARY KEY (agent_id, app_key, date)
) WITHOUT ROWID;
INSERT INTO app_usage_daily_keyed SELECT agent_id, app_key, date, human, bot, monitor, error, scanner, human_clients
    FROM app_usage_daily;
DROP TABLE app_usage_daily;
ALTER TABLE app_usage_daily_keyed RENAME TO app_usage_daily;
"""  # noqa: E501 (the text as released: sqlite_master keeps it verbatim)

# 21: so unchanged apps and days are not rewritten on every snapshot.
APP_DIGESTS = """
ALTER TABLE apps ADD COLUMN digest BLOB;       -- hash of the app's wire form as last applied
ALTER TABLE apps ADD COLUMN daily_wire BLOB;   -- its daily usage entries in wire form, to find changed days
"""

# 22: the digests and daily wire blocks of 21 in tables of their own, so app rows stay small.
DIGEST_TABLES = """
CREATE TABLE app_digests (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL,
    digest BLOB NOT NULL,              -- hash of the app's wire form as last applied
    PRIMARY KEY (agent_id, app_key)
) WITHOUT ROWID;
CREATE TABLE app_daily_wire (
    agent_id TEXT NOT NULL, app_key TEXT NOT NULL,
    block BLOB NOT NULL,               -- its daily usage entries in wire form, to find the days that changed
    PRIMARY KEY (agent_id, app_key)
);
ALTER TABLE apps DROP COLUMN digest;
ALTER TABLE apps DROP COLUMN daily_wire;
"""

# 23: the digest of the part of an app that rarely changes (all but resources and usage).
STABLE_DIGEST = """
ALTER TABLE app_digests ADD COLUMN stable BLOB;
"""

# 40: every snapshot moves each app's newest day. Kept beside the app's other days, that entry was in another
# page per app (a hundred pages written per snapshot); kept in a table of its own keyed by (agent, app),
# an agent's newest days share a few pages. When an app's newest day changes date, the trigger moves the
# finished day to app_usage_days. No row of app_usage_days has the date of the app's newest day, so
# the view app_usage_daily (what readers use) holds every (agent, app, date) once.
LATEST_DAY = """
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
"""  # noqa: E501 (the text as released: sqlite_master keeps it verbatim)

# 41: rewriting the resources and usage inside the detail took SQLite a JSON parse and print of the whole
# app, and the collector a conversion to JSON of what changes with every snapshot. An app's state is now
# kept apart, in wire form (collector.wirejson.app_state_json reads it). The digests are forgotten, so
# each app is stored whole, state apart, with its agent's next snapshot; until then its state is NULL
# and its detail still holds its resources and usage.
STATE_IN_WIRE_FORM = """
ALTER TABLE apps ADD COLUMN state BLOB;  -- an App message holding only resources and usage (without daily)
DELETE FROM app_digests;
"""

# 42: migration 41 was first released (commit dbfd8ca) in another form: the state as JSON text cut out of
# the detail, in a column `state TEXT NOT NULL DEFAULT '{}'`. A store that took that form gets its state
# back inside its detail and the column of today's 41, and its digests are forgotten: each app is then
# stored whole, state apart, with its agent's next snapshot, as after today's 41. Run only on such a
# store (STATE_AS_TEXT finds it); on any other, 42 changes nothing.
STATE_AS_TEXT = "SELECT 1 FROM pragma_table_info('apps') WHERE name = 'state' AND type <> 'BLOB'"
STATE_FROM_TEXT = """
UPDATE apps SET detail = json_patch(detail, state);
ALTER TABLE apps DROP COLUMN state;
ALTER TABLE apps ADD COLUMN state BLOB;
DELETE FROM app_digests;
"""

# 44: agents send only the usage days changed since a snapshot whose usage the collector holds; it keeps,
# per agent, the newest such snapshot (0: none, as for an agent known only before this migration).
USAGE_THROUGH = """
ALTER TABLE agents ADD COLUMN usage_through INTEGER NOT NULL DEFAULT 0;
"""

# 45: a daily block holds an app's settled days, its entries but the newest, which the store holds exactly as
# the block says (collector.store.usage_days). A block stored before held the newest entry too, perhaps
# older than the store's; such blocks are forgotten, and each app's next whole window is written whole.
SETTLED_BLOCKS = """
DELETE FROM app_daily_wire;
"""

# 47: an app's digests in its own row: a changed app's row is rewritten anyway, and the upsert of its digests
# in app_digests was a second B-tree written per changed app (a quarter of a millisecond of a 100-app
# whole window). The digests are forgotten (digests of another kind came with this release: SHA-256 then,
# xxh3 now), so each app is stored whole with its agent's next snapshot.
DIGESTS_IN_APPS = """
ALTER TABLE apps ADD COLUMN digest BLOB;  -- of the app's wire form as last applied (NULL: store it whole)
ALTER TABLE apps ADD COLUMN stable BLOB;  -- of its stable part: all but its resources and usage
DROP TABLE app_digests;
"""
