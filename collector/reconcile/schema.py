"""Schema of the declared inventory, reconciliation, findings, verdicts and decisions: the texts of
migrations 10-14 (collector.store.migrations puts them in the one sequence).

History tables (inventory_history, inventory_link_history, decisions) are
append-only: triggers refuse UPDATE and DELETE, so history is never overwritten.
"""

from __future__ import annotations


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is history: add a new row instead of changing one'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is history: rows are never deleted'); END;
"""


# 10: the declared inventory, its import history and operator pins.
INVENTORY = (
    """
CREATE TABLE inventory_imports (
    import_id INTEGER PRIMARY KEY AUTOINCREMENT,
    imported_at TEXT NOT NULL,
    file TEXT NOT NULL, sha256 TEXT NOT NULL, format TEXT NOT NULL,
    records INTEGER NOT NULL, added INTEGER NOT NULL, updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL, withdrawn INTEGER NOT NULL
);
CREATE TABLE inventory (
    app_id TEXT PRIMARY KEY,
    name TEXT NOT NULL, owner TEXT NOT NULL, unit TEXT NOT NULL, contact TEXT NOT NULL,
    urls TEXT NOT NULL,                 -- JSON list, as declared
    host TEXT NOT NULL, root TEXT NOT NULL,
    status TEXT NOT NULL,               -- active, inactive, in-development, retired
    app_class TEXT NOT NULL,            -- common, specific, ''
    superseded_by TEXT NOT NULL, audience TEXT NOT NULL, platform TEXT NOT NULL, framework TEXT NOT NULL,
    database TEXT NOT NULL, year_built INTEGER, build_cost INTEGER, annual_cost INTEGER,
    depends_on TEXT NOT NULL,           -- JSON list of app ids
    last_verified TEXT NOT NULL,
    extra TEXT NOT NULL,                -- JSON: columns ronda does not know, exported back
    source_line INTEGER,
    first_imported TEXT NOT NULL, last_imported TEXT NOT NULL,
    import_id INTEGER NOT NULL REFERENCES inventory_imports (import_id),
    withdrawn_at TEXT                   -- set when an import no longer lists the app
);
CREATE TABLE inventory_history (
    app_id TEXT NOT NULL,
    import_id INTEGER NOT NULL REFERENCES inventory_imports (import_id),
    changed_at TEXT NOT NULL,
    change TEXT NOT NULL,               -- added, updated, withdrawn, restored
    changes TEXT NOT NULL,              -- JSON {field: [before, after]}
    record TEXT NOT NULL                -- JSON of the whole record after the change
);
CREATE INDEX inventory_history_app ON inventory_history (app_id);
CREATE TABLE inventory_links (          -- operator pins: survive re-imports and re-scans
    app_id TEXT NOT NULL, agent_id TEXT NOT NULL, app_key TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('link', 'forbid')),
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (app_id, agent_id, app_key)
);
CREATE TABLE inventory_link_history (
    app_id TEXT NOT NULL, agent_id TEXT NOT NULL, app_key TEXT NOT NULL,
    action TEXT NOT NULL,               -- link, forbid, clear
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, created_at TEXT NOT NULL
);
"""
    + _append_only("inventory_history")
    + _append_only("inventory_link_history")
)

# 11: matches, findings, verdicts, decisions and the views operators query.
RECONCILE = (
    """
CREATE TABLE reconcile_runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, config TEXT NOT NULL,
    declared INTEGER NOT NULL, discovered INTEGER NOT NULL, matched INTEGER NOT NULL,
    findings_open INTEGER NOT NULL, opened INTEGER NOT NULL, resolved INTEGER NOT NULL,
    candidates INTEGER NOT NULL
);
CREATE TABLE matches (
    app_id TEXT NOT NULL, agent_id TEXT NOT NULL, app_key TEXT NOT NULL,
    rule TEXT NOT NULL,                 -- url, address, root, pin
    reason TEXT NOT NULL,
    PRIMARY KEY (app_id, agent_id, app_key)
);
CREATE INDEX matches_discovered ON matches (agent_id, app_key);
CREATE TABLE findings (
    finding_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                 -- hidden, missing, idle, status-mismatch, unowned, drift, exposed-listener
    subject TEXT NOT NULL,              -- declared app id, AGENT/APP_KEY, or AGENT/listener:PROTO:ADDR:PORT
    app_id TEXT, agent_id TEXT, app_key TEXT,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL,               -- JSON: the figures behind it
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    resolved_at TEXT                    -- set when it stops holding; a recurrence is a new row
);
CREATE UNIQUE INDEX findings_one_open ON findings (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX findings_subject ON findings (subject);
CREATE TABLE verdicts (
    subject TEXT PRIMARY KEY,
    app_id TEXT, agent_id TEXT, app_key TEXT,
    name TEXT NOT NULL, owner TEXT NOT NULL, hosts TEXT NOT NULL,
    verdict TEXT NOT NULL,              -- safe-to-take-down, review, keep, insufficient-evidence
    summary TEXT NOT NULL,              -- the deciding reason
    last_human_request TEXT, coverage_start TEXT, human_requests INTEGER, trend TEXT, annual_cost INTEGER,
    reasons TEXT NOT NULL,              -- JSON list of {rule, effect, text}
    figures TEXT NOT NULL,              -- JSON
    computed_at TEXT NOT NULL,
    since TEXT NOT NULL                 -- when the subject got this verdict
);
CREATE INDEX verdicts_verdict ON verdicts (verdict);
CREATE TABLE decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('keep', 'take-down', 'consolidate')),
    into_subject TEXT,                  -- consolidate into this app
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at TEXT NOT NULL,
    verdict TEXT                        -- ronda's verdict when the decision was made
);
CREATE INDEX decisions_subject ON decisions (subject, decision_id);
"""  # noqa: E501 (the text as released: sqlite_master keeps it verbatim)
    + _append_only("decisions")
    + """
CREATE VIEW latest_decisions AS
SELECT d.* FROM decisions d
WHERE d.decision_id = (SELECT max(x.decision_id) FROM decisions x WHERE x.subject = d.subject);
CREATE VIEW findings_open AS
SELECT f.finding_id, f.kind, f.subject, f.app_id, h.hostname, f.agent_id, f.app_key, f.summary,
       f.first_seen, f.last_seen, f.detail
FROM findings f LEFT JOIN hosts h ON h.agent_id = f.agent_id
WHERE f.resolved_at IS NULL;
CREATE VIEW hidden_apps AS
SELECT h.hostname, p.agent_id, p.app_key, p.kind, p.server_names, p.listen, p.path_prefix, p.root, p.upstream,
       p.framework, p.framework_version, p.coverage_start, p.last_human_request, v.verdict,
       f.summary, f.first_seen, f.last_seen
FROM findings f
JOIN apps p ON p.agent_id = f.agent_id AND p.app_key = f.app_key
LEFT JOIN hosts h ON h.agent_id = f.agent_id
LEFT JOIN verdicts v ON v.subject = f.subject
WHERE f.kind = 'hidden' AND f.resolved_at IS NULL;
CREATE VIEW idle_apps AS
SELECT f.subject, f.app_id, v.name, v.owner, v.hosts,
       json_extract(f.detail, '$.last_human_request') AS last_human_request,
       json_extract(f.detail, '$.coverage_start') AS coverage_start,
       json_extract(f.detail, '$.idle_days') AS idle_days,
       v.verdict, f.summary, f.first_seen, f.last_seen
FROM findings f LEFT JOIN verdicts v ON v.subject = f.subject
WHERE f.kind = 'idle' AND f.resolved_at IS NULL;
CREATE VIEW takedown_candidates AS
SELECT v.subject, v.app_id, v.name, v.owner, v.hosts, v.last_human_request, v.coverage_start,
       v.human_requests, v.annual_cost, v.summary, v.reasons, v.since,
       d.decision, d.decided_by, d.decided_at, d.reason AS decision_reason
FROM verdicts v LEFT JOIN latest_decisions d ON d.subject = v.subject
WHERE v.verdict = 'safe-to-take-down';
"""
)

# 12: findings and verdicts in a form a 200,000-app reconcile writes fast: figures as columns (no JSON per
# row), a digest per row so an unchanged row is not rewritten, and no per-run stamp on every open
# finding (an open finding held at the latest reconcile; last_seen is set when it resolves).
# Both tables are derived by reconcile; the first run after this migration recreates them.
RESHAPE = """
DROP VIEW takedown_candidates;
DROP VIEW idle_apps;
DROP VIEW hidden_apps;
DROP VIEW findings_open;
DROP TABLE findings;
DROP TABLE verdicts;
CREATE TABLE findings (
    finding_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                 -- hidden, missing, idle, status-mismatch, unowned, drift, exposed-listener
    subject TEXT NOT NULL,              -- declared app id, AGENT/APP_KEY, or AGENT/listener:PROTO:ADDR:PORT
    app_id TEXT, agent_id TEXT, app_key TEXT,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL,               -- JSON: the figures behind it
    digest INTEGER NOT NULL,            -- of summary and detail
    first_seen TEXT NOT NULL,
    last_seen TEXT,                     -- NULL while open (it held at the latest reconcile)
    resolved_at TEXT                    -- set when it stops holding; a recurrence is a new row
);
CREATE UNIQUE INDEX findings_one_open ON findings (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX findings_subject ON findings (subject);
CREATE TABLE verdicts (
    subject TEXT PRIMARY KEY,
    app_id TEXT, agent_id TEXT, app_key TEXT,
    name TEXT NOT NULL, owner TEXT NOT NULL, hosts TEXT NOT NULL,
    verdict TEXT NOT NULL,              -- safe-to-take-down, review, keep, insufficient-evidence
    summary TEXT NOT NULL,              -- the deciding reasons
    apps INTEGER NOT NULL,              -- discovered apps it rests on
    coverage TEXT, coverage_start TEXT, last_human_request TEXT, last_request TEXT,
    human_requests INTEGER,             -- inside the idle window
    human_recent INTEGER, human_previous INTEGER, trend TEXT,
    oldest_snapshot TEXT,               -- the least recent snapshot of its hosts
    inbound TEXT,                       -- JSON [{"from", "why"}] of what depends on it, or NULL
    annual_cost INTEGER, rss_bytes INTEGER, disk_bytes INTEGER,
    reasons TEXT NOT NULL,              -- JSON [[effect, rule, text], ...]
    digest INTEGER NOT NULL,
    since TEXT NOT NULL                 -- when the subject got this verdict
);
CREATE INDEX verdicts_verdict ON verdicts (verdict);
CREATE INDEX app_usage_daily_counts ON app_usage_daily (agent_id, app_key, date, human, bot);
CREATE VIEW reconciled AS SELECT max(started_at) AS at FROM reconcile_runs;
CREATE VIEW findings_open AS
SELECT f.finding_id, f.kind, f.subject, f.app_id, h.hostname, f.agent_id, f.app_key, f.summary,
       f.first_seen, (SELECT at FROM reconciled) AS last_seen, f.detail
FROM findings f LEFT JOIN hosts h ON h.agent_id = f.agent_id
WHERE f.resolved_at IS NULL;
CREATE VIEW hidden_apps AS
SELECT h.hostname, p.agent_id, p.app_key, p.kind, p.server_names, p.listen, p.path_prefix, p.root, p.upstream,
       p.framework, p.framework_version, p.coverage_start, p.last_human_request, v.verdict,
       f.summary, f.first_seen
FROM findings f
JOIN apps p ON p.agent_id = f.agent_id AND p.app_key = f.app_key
LEFT JOIN hosts h ON h.agent_id = f.agent_id
LEFT JOIN verdicts v ON v.subject = f.subject
WHERE f.kind = 'hidden' AND f.resolved_at IS NULL;
CREATE VIEW idle_apps AS
SELECT f.subject, f.app_id, v.name, v.owner, v.hosts,
       json_extract(f.detail, '$.last_human_request') AS last_human_request,
       json_extract(f.detail, '$.coverage_start') AS coverage_start,
       json_extract(f.detail, '$.idle_days') AS idle_days,
       v.verdict, f.summary, f.first_seen
FROM findings f LEFT JOIN verdicts v ON v.subject = f.subject
WHERE f.kind = 'idle' AND f.resolved_at IS NULL;
CREATE VIEW takedown_candidates AS
SELECT v.subject, v.app_id, v.name, v.owner, v.hosts, v.last_human_request, v.coverage_start,
       v.human_requests, v.annual_cost, v.summary, v.reasons, v.since,
       d.decision, d.decided_by, d.decided_at, d.reason AS decision_reason
FROM verdicts v LEFT JOIN latest_decisions d ON d.subject = v.subject
WHERE v.verdict = 'safe-to-take-down';
"""  # noqa: E501 (the text as released: sqlite_master keeps it verbatim)

# 13: the input checksum of each verdict, so unchanged apps are not worked out again.
VERDICT_INPUT_DIGEST = "ALTER TABLE verdicts ADD COLUMN input_digest INTEGER"

# 14: looking up one app's findings (ronda explain) scans; writing a fleet's findings is what must be fast.
FINDINGS_ONE_INDEX = "DROP INDEX findings_subject"

# 43: which of an inventory file's columns went to which field: the import summary, and whether the
# file had a contact column at all (without one, an empty contact says nothing: no `unowned`).
IMPORT_COLUMNS = "ALTER TABLE inventory_imports ADD COLUMN columns TEXT"

# 46: the two facts a run reads from every app's JSON detail, found without parsing ~200,000 of them.
# Few apps are default servers or have an end of support; each index lists only those, kept up to date
# as an app's detail is written. A query uses one only when its WHERE has the index's term verbatim, so
# the reconcile reads these texts from here. And the app keys, in order: lists find the keys that more
# than one host has (queries.SHARED_KEYS) without sorting every app's.
IS_DEFAULT_SERVER = """instr(json_extract(detail, '$.listen'), '"default_server":true')"""
HAS_END_OF_SUPPORT = "json_extract(detail, '$.framework.end_of_support') IS NOT NULL"
FLAGGED_APPS = f"""
CREATE INDEX apps_default_servers ON apps (agent_id, app_key) WHERE {IS_DEFAULT_SERVER};
CREATE INDEX apps_end_of_support ON apps (agent_id, app_key) WHERE {HAS_END_OF_SUPPORT};
CREATE INDEX apps_by_key ON apps (app_key);
"""
