"""Schema of agent identity and trust: the text of migration 20 (see collector.store.migrations).

It also touches two of the store's own tables: hosts get an index by machine id (clone detection) and
snapshots a count of the older snapshots an agent's spool folded into each (`coalesced`).
"""

from __future__ import annotations

IDENTITY = """
CREATE TABLE agent_identities (
    agent_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,              -- pending, approved, revoked
    method TEXT NOT NULL,              -- certificate, token, none (plain text on loopback)
    credential TEXT,                   -- sha256 of the certificate last seen, or of the token
    machine_id TEXT,
    hostname TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    status_changed_at TEXT,
    reason TEXT
);
CREATE TABLE revoked_credentials (
    fingerprint TEXT PRIMARY KEY,      -- sha256 of a certificate or a token
    agent_id TEXT NOT NULL,
    revoked_at TEXT NOT NULL
);
CREATE TABLE enrolment_secrets (
    secret_hash TEXT PRIMARY KEY,      -- sha256; the secret itself is never stored
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    uses_left INTEGER NOT NULL
);
CREATE TABLE agent_tokens (
    token_hash TEXT PRIMARY KEY,       -- sha256; the token itself is never stored
    agent_id TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
CREATE INDEX agent_tokens_agent ON agent_tokens (agent_id);
CREATE TABLE identity_events (
    agent_id TEXT NOT NULL,
    kind TEXT NOT NULL,                -- refused, clone, sequence-conflict, enrolled, approved, revoked
    detail TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (agent_id, kind, detail)
);
CREATE TABLE clones (
    machine_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    other_agent_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (machine_id, agent_id, other_agent_id)
);
CREATE INDEX hosts_machine_id ON hosts (machine_id);
ALTER TABLE snapshots ADD COLUMN coalesced INTEGER NOT NULL DEFAULT 0;
"""
