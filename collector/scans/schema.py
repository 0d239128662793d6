"""Schema of network sweeps and SSH scans: the text of migration 30 (see collector.store.migrations)."""

from __future__ import annotations

SCANS = """
CREATE TABLE scan_runs (
    scan_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                -- network, ssh
    target TEXT NOT NULL,              -- the swept networks, or the SSH host's name
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,              -- ok, failed, refused
    summary TEXT NOT NULL,             -- the one line the command printed
    detail TEXT NOT NULL               -- JSON: ports and nmap command; or address, agent id, sequence, apps
);
CREATE INDEX scan_runs_kind ON scan_runs (kind, started_at);
CREATE TABLE network_ports (
    address TEXT NOT NULL,
    protocol TEXT NOT NULL,
    port INTEGER NOT NULL,
    service TEXT NOT NULL, product TEXT NOT NULL, version TEXT NOT NULL, extrainfo TEXT NOT NULL,
    tunnel TEXT NOT NULL,              -- ssl when the service speaks through TLS
    http_title TEXT NOT NULL,
    web INTEGER NOT NULL,              -- answers HTTP (or sits on a web port with no other service named)
    open INTEGER NOT NULL,             -- open in the latest sweep that covered it
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,           -- the latest sweep that found it open
    last_scan_id INTEGER NOT NULL,
    closed_at TEXT,                    -- when a sweep covering it found it closed
    PRIMARY KEY (address, protocol, port)
);
CREATE TABLE network_observations (
    scan_id INTEGER NOT NULL,
    address TEXT NOT NULL, protocol TEXT NOT NULL, port INTEGER NOT NULL,
    service TEXT NOT NULL, product TEXT NOT NULL, version TEXT NOT NULL, http_title TEXT NOT NULL,
    PRIMARY KEY (scan_id, address, protocol, port)
);
CREATE TABLE ssh_targets (
    name TEXT PRIMARY KEY,             -- the configured name; its snapshots come from agent "ssh:<name>"
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    last_attempt TEXT NOT NULL,
    last_success TEXT,
    last_status TEXT NOT NULL,         -- ok, failed
    last_error TEXT,
    last_scan_id INTEGER NOT NULL
);
CREATE VIEW network_hosts AS
    SELECT address, count(*) AS open_ports, sum(web) AS web_ports,
           group_concat(port, ',') AS ports, min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM network_ports WHERE open GROUP BY address;
"""
