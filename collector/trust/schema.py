"""Schema of agent identity and trust (migration versions 20-29)."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        20,
        "agent identities, enrolment secrets, tokens, revoked credentials, identity events",
        """
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
""",
    ),
]

MIGRATIONS.append(
    (
        21,
        "app digests, so unchanged apps and days are not rewritten on every snapshot",
        """
ALTER TABLE apps ADD COLUMN digest BLOB;       -- hash of the app's wire form as last applied
ALTER TABLE apps ADD COLUMN daily_wire BLOB;   -- its daily usage entries in wire form, to find changed days
""",
    )
)

MIGRATIONS.append(
    (
        22,
        "app digests and daily wire blocks in tables of their own, so app rows stay small",
        """
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
""",
    )
)

MIGRATIONS.append(
    (
        23,
        "digest of the part of an app that rarely changes (all but resources and usage)",
        """
ALTER TABLE app_digests ADD COLUMN stable BLOB;
""",
    )
)
