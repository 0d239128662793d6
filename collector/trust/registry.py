"""Agent identities on the collector: who may report, enrolment, revocation, clones.

The registry works inside the store's transactions. Refusals carry a gRPC
status name and a message meant for the operator reading the agent's log;
they never contain a secret (tokens and enrolment secrets are only ever
handled as sha256 hashes after they arrive).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ronda.collector.store import Store
from ronda.collector.store.store import iso
from ronda.errors import EXIT_FAILED, InputError
from ronda.ids import valid_agent_id
from ronda.transport import TransportError

log = logging.getLogger("ronda.collector.trust")
APPROVAL_MODES = ("auto", "manual")
TOKEN_PREFIX = "ronda_at_"
SECRET_PREFIX = "ronda_es_"


class Refused(TransportError):
    """A request the collector will not serve; `code` is a grpc.StatusCode name."""

    exit_code = EXIT_FAILED

    def __init__(self, code: str, message: str, pending: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pending = pending


@dataclass(frozen=True)
class Peer:
    """Who is on the other end of a call, as far as the transport proves it."""

    method: str  # certificate, token, none
    agent_id: str | None = None  # from the certificate; resolved from the token inside the transaction
    credential: str | None = None  # sha256 of the certificate or of the token
    address: str = ""


def fingerprint(secret: str | bytes) -> str:
    data = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class Registry:
    def __init__(self, store: Store, approval: str = "auto") -> None:
        if approval not in APPROVAL_MODES:
            raise ValueError(f"approval must be one of {APPROVAL_MODES}")
        self.store = store
        self.approval = approval
        self._local = threading.local()

    # -- serving: called inside the ingest transaction --------------------------------------------
    def admit(
        self, c: sqlite3.Connection, agent_id: str, machine_id: str, hostname: str, peer: Peer
    ) -> Callable[[], list[str]]:
        """Refuse the call, or return a function that records the agent as seen (run once the snapshot is
        applied) and returns notes for the ack, such as a suspected clone."""
        claimed = self._authenticated_id(c, peer)
        if claimed is not None and claimed != agent_id:
            raise Refused(
                "PERMISSION_DENIED",
                f"the snapshot claims agent id {agent_id!r} but this connection is "
                f"authenticated as {claimed!r}; an agent may only report as itself",
            )
        row = c.execute(
            "SELECT status, status_changed_at, machine_id FROM agent_identities WHERE agent_id=?", (agent_id,)
        ).fetchone()
        if row is None and self.approval == "manual":
            raise Refused(
                "PERMISSION_DENIED",
                f"agent {agent_id!r} is new and waits for approval: "
                f"run `ronda agents approve {agent_id}` on the collector",
                pending=True,
            )
        if row is not None:
            _refuse_status(agent_id, row[0], row[1])

        def record() -> list[str]:
            now = iso(_now())
            if row is None:
                c.execute(
                    "INSERT INTO agent_identities VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        agent_id,
                        "approved",
                        peer.method,
                        peer.credential,
                        machine_id,
                        hostname,
                        now,
                        now,
                        now,
                        "approved on first report",
                    ),
                )
            else:
                c.execute(
                    "UPDATE agent_identities SET method=?, credential=?, machine_id=?, hostname=?, "
                    "last_seen=? WHERE agent_id=?",
                    (peer.method, peer.credential, machine_id, hostname, now, agent_id),
                )
            notes = self._clones(c, agent_id, machine_id, now)
            if row is not None and row[2] and machine_id and row[2] != machine_id:
                note = (
                    f"agent {agent_id} now reports machine id {machine_id} (was {row[2]}): reinstalled, or "
                    "two machines share this identity (a copied certificate or token)?"
                )
                log.warning("%s", note)
                _event(c, agent_id, "machine-id-changed", f"{row[2]} -> {machine_id}", now)
                notes.append(note)
            return notes

        return record

    def screen(self, peer: Peer) -> str | None:
        """Refuse a caller from what the transport proves, before its body is read or decoded.

        A revoked certificate or token, an unknown token, and an agent that is revoked or waits for
        approval are refused here; `admit` checks the same again inside the ingest transaction, with
        the agent id the snapshot claims. Returns the agent id the credential names (None when only
        the body will tell). Reads through a connection of its own, so a long write does not hold it.
        """
        if peer.credential is None:
            return None
        c = self._screen_connection()
        if c is None:
            with self.store.reading() as c:
                return self._screen(c, peer)
        return self._screen(c, peer)

    def _screen(self, c: sqlite3.Connection, peer: Peer) -> str | None:
        agent_id = self._authenticated_id(c, peer)
        if agent_id is None:
            return None
        row = c.execute(
            "SELECT status, status_changed_at FROM agent_identities WHERE agent_id=?", (agent_id,)
        ).fetchone()
        if row is not None:
            _refuse_status(agent_id, row[0], row[1])
        return agent_id

    def _screen_connection(self) -> sqlite3.Connection | None:
        if self.store.path == ":memory:":
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.store.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def _authenticated_id(self, c: sqlite3.Connection, peer: Peer) -> str | None:
        if (
            peer.credential
            and c.execute(
                "SELECT 1 FROM revoked_credentials WHERE fingerprint=?", (peer.credential,)
            ).fetchone()
        ):
            raise Refused("PERMISSION_DENIED", f"this {peer.method} was revoked; the agent needs a new one")
        if peer.method == "token":
            row = c.execute(
                "SELECT agent_id FROM agent_tokens WHERE token_hash=?", (peer.credential,)
            ).fetchone()
            if row is None:
                raise Refused(
                    "UNAUTHENTICATED",
                    "the agent token is not known to this collector: enrol the agent "
                    "again with `ronda-agent enrol`",
                )
            return row[0]
        return peer.agent_id

    def _clones(self, c: sqlite3.Connection, agent_id: str, machine_id: str, now: str) -> list[str]:
        if not machine_id:
            return []
        others = [
            r[0]
            for r in c.execute(
                "SELECT agent_id FROM hosts WHERE machine_id=? AND agent_id<>?", (machine_id, agent_id)
            )
        ]
        for other in others:
            c.execute(
                "INSERT INTO clones VALUES (?,?,?,?,?) "
                "ON CONFLICT DO UPDATE SET last_seen=excluded.last_seen",
                (machine_id, agent_id, other, now, now),
            )
        if not others:
            return []
        note = (
            f"machine id {machine_id} is also reported by agent(s) {', '.join(sorted(others))}: a cloned "
            "machine? Kept apart, not merged; give each clone its own machine id (systemd-machine-id-setup)"
        )
        log.warning("agent %s: %s", agent_id, note)
        return [note]

    # -- serving: enrolment ------------------------------------------------------------------------
    def enrol(
        self,
        agent_id: str,
        secret: str,
        machine_id: str = "",
        hostname: str = "",
        now: datetime | None = None,
    ) -> tuple[str, str]:
        """Exchange an enrolment secret for a new agent token; returns (token, status)."""
        now = now or _now()
        stamp = iso(now)
        if not valid_agent_id(agent_id):
            raise Refused(
                "INVALID_ARGUMENT",
                "agent_id must be 1-128 characters of letters, digits and ._:@- "
                "(starting with a letter or digit)",
            )
        with self.store.writing() as c:
            row = c.execute(
                "SELECT expires_at, uses_left FROM enrolment_secrets WHERE secret_hash=?",
                (fingerprint(secret),),
            ).fetchone()
            if row is None:
                raise Refused("UNAUTHENTICATED", "the enrolment secret is not known to this collector")
            if row[0] <= stamp:
                raise Refused(
                    "UNAUTHENTICATED",
                    f"the enrolment secret expired at {row[0]}; ask the operator for a "
                    "new one (`ronda agents enrolment-secret`)",
                )
            if row[1] <= 0:
                raise Refused(
                    "UNAUTHENTICATED",
                    "the enrolment secret was already used up; ask the operator for a "
                    "new one (`ronda agents enrolment-secret`)",
                )
            ident = c.execute(
                "SELECT status, status_changed_at, method FROM agent_identities WHERE agent_id=?", (agent_id,)
            ).fetchone()
            if ident is not None:
                _refuse_status(agent_id, ident[0], ident[1], allow_pending=True)
            if c.execute("SELECT 1 FROM agent_tokens WHERE agent_id=?", (agent_id,)).fetchone() or (
                ident is not None and ident[2] == "certificate"
            ):
                raise Refused(
                    "ALREADY_EXISTS",
                    f"agent {agent_id!r} is already enrolled; to enrol it again, an "
                    f"operator runs `ronda agents revoke {agent_id}` then "
                    f"`ronda agents approve {agent_id}`",
                )
            c.execute(
                "UPDATE enrolment_secrets SET uses_left=uses_left-1 WHERE secret_hash=?",
                (fingerprint(secret),),
            )
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            c.execute("INSERT INTO agent_tokens VALUES (?,?,?)", (fingerprint(token), agent_id, stamp))
            status = (
                ident[0] if ident is not None else ("pending" if self.approval == "manual" else "approved")
            )
            c.execute(
                """INSERT INTO agent_identities VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(agent_id) DO UPDATE
                         SET method=excluded.method, credential=excluded.credential,
                         last_seen=excluded.last_seen""",
                (
                    agent_id,
                    status,
                    "token",
                    fingerprint(token),
                    machine_id,
                    hostname,
                    stamp,
                    stamp,
                    stamp,
                    "enrolled",
                ),
            )
            _event(c, agent_id, "enrolled", f"token issued ({status})", stamp)
        log.info("agent %s enrolled (%s)", agent_id, status)
        return token, status

    def record_refusal(self, agent_id: str, peer: Peer, refusal: Refused) -> None:
        """Keep a trace of a refusal (and a pending agent's row) after its transaction was rolled back."""
        stamp = iso(_now())
        try:
            with self.store.writing() as c:
                if refusal.pending and valid_agent_id(agent_id):
                    c.execute(
                        "INSERT OR IGNORE INTO agent_identities VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            agent_id,
                            "pending",
                            peer.method,
                            peer.credential,
                            "",
                            "",
                            stamp,
                            stamp,
                            stamp,
                            "waiting for approval",
                        ),
                    )
                if valid_agent_id(agent_id):
                    _event(c, agent_id, "refused", refusal.message[:200], stamp)
        except sqlite3.Error:
            log.exception("could not record a refusal")

    # -- operators -----------------------------------------------------------------------------------
    def agents(self) -> list[dict]:
        return self.store.query("""
            SELECT i.agent_id, i.status, i.method, i.hostname, i.machine_id, i.first_seen, i.last_seen,
                   a.last_sequence,
                   (SELECT group_concat(other_agent_id, ',') FROM clones k WHERE k.agent_id = i.agent_id)
                       AS clone_of
            FROM agent_identities i LEFT JOIN agents a USING (agent_id)
            ORDER BY i.status <> 'pending', i.agent_id""")

    def clones(self) -> list[dict]:
        return self.store.query(
            "SELECT machine_id, agent_id, other_agent_id, first_seen, last_seen FROM clones "
            "ORDER BY machine_id, agent_id"
        )

    def events(self, agent_id: str | None = None) -> list[dict]:
        where, params = ("WHERE agent_id=?", (agent_id,)) if agent_id else ("", ())
        return self.store.query(
            f"SELECT agent_id, kind, detail, count, first_at, last_at FROM identity_events "
            f"{where} ORDER BY last_at DESC",
            params,
        )

    def approve(self, agent_id: str) -> str:
        return self._set_status(agent_id, "approved", "approved by an operator")

    def revoke(self, agent_id: str, reason: str = "") -> str:
        """Refuse the agent from its next call on, and its current credentials for good."""
        return self._set_status(agent_id, "revoked", reason or "revoked by an operator")

    def _set_status(self, agent_id: str, status: str, reason: str) -> str:
        if not valid_agent_id(agent_id):
            raise InputError(f"{agent_id!r} is not a valid agent id")
        stamp = iso(_now())
        with self.store.writing() as c:
            row = c.execute(
                "SELECT status, credential FROM agent_identities WHERE agent_id=?", (agent_id,)
            ).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO agent_identities VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (agent_id, status, "none", None, "", "", stamp, stamp, stamp, reason),
                )
                previous = "unknown"
            else:
                previous = row[0]
                c.execute(
                    "UPDATE agent_identities SET status=?, status_changed_at=?, reason=? WHERE agent_id=?",
                    (status, stamp, reason, agent_id),
                )
            if status == "revoked":
                burned = [
                    r[0]
                    for r in c.execute("SELECT token_hash FROM agent_tokens WHERE agent_id=?", (agent_id,))
                ]
                if row is not None and row[1]:
                    burned.append(row[1])
                c.executemany(
                    "INSERT OR IGNORE INTO revoked_credentials VALUES (?,?,?)",
                    [(f, agent_id, stamp) for f in burned],
                )
                c.execute("DELETE FROM agent_tokens WHERE agent_id=?", (agent_id,))
            _event(c, agent_id, status, reason[:200], stamp)
        return previous

    def create_secret(
        self, ttl: timedelta, uses: int = 1, label: str = "", now: datetime | None = None
    ) -> str:
        """A new enrolment secret, shown once; only its hash is stored."""
        if uses < 1:
            raise InputError("uses must be at least 1")
        if ttl <= timedelta(0):
            raise InputError("the secret must live for a positive time")
        now = now or _now()
        secret = SECRET_PREFIX + secrets.token_urlsafe(24)
        with self.store.writing() as c:
            c.execute(
                "INSERT INTO enrolment_secrets VALUES (?,?,?,?,?)",
                (fingerprint(secret), label, iso(now), iso(now + ttl), uses),
            )
        return secret

    def secrets(self) -> list[dict]:
        return self.store.query(
            "SELECT label, created_at, expires_at, uses_left FROM enrolment_secrets ORDER BY created_at DESC"
        )


def _refuse_status(agent_id: str, status: str, since: str | None, allow_pending: bool = False) -> None:
    if status == "revoked":
        raise Refused(
            "PERMISSION_DENIED",
            f"agent {agent_id!r} was revoked on the collector ({since}); "
            f"an operator can re-admit it with `ronda agents approve {agent_id}`",
        )
    if status == "pending" and not allow_pending:
        raise Refused(
            "PERMISSION_DENIED",
            f"agent {agent_id!r} waits for approval: run `ronda agents approve {agent_id}` on the collector",
            pending=True,
        )


def _event(c: sqlite3.Connection, agent_id: str, kind: str, detail: str, stamp: str) -> None:
    c.execute(
        """INSERT INTO identity_events VALUES (?,?,?,?,?,1) ON CONFLICT DO UPDATE
                 SET last_at=excluded.last_at, count=count+1""",
        (agent_id, kind, detail, stamp, stamp),
    )
