"""People's decisions on apps: appended with who, when and why; never changed afterwards.

A take-down that contradicts what ronda knows (its verdict is keep, or people used the app inside
the idle window, or there is no verdict yet) is refused unless it is forced, with its reason: taking
down a service people still use is the worst mistake this tool can help make.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ronda.collector.reconcile.lookup import Found
from ronda.collector.reconcile.model import iso
from ronda.collector.store import Store
from ronda.errors import InputError

DECISIONS = ("keep", "take-down", "consolidate")


class DecisionError(InputError, ValueError):
    """The decision is incomplete (no reason, no name), contradicts itself, or contradicts the evidence."""


@dataclass(frozen=True)
class Pending:
    """A decision checked and ready to be recorded."""

    subject: str
    decision: str
    reason: str
    by: str
    into: str
    verdict: str | None  # ronda's verdict when it is made
    forced: str = ""  # why ronda's evidence argued against it, when it was forced


def _verdict(conn: sqlite3.Connection, subject: str) -> tuple[str | None, str, bool]:
    """(verdict, its summary, whether people used the app inside the idle window)."""
    row = conn.execute(
        "SELECT verdict, summary, reasons FROM verdicts WHERE subject = ?", (subject,)
    ).fetchone()
    if row is None:
        return None, "", False
    used = any(rule == "human-use" for _, rule, _ in json.loads(row[2] or "[]"))
    return row[0], row[1] or "", used


def contradiction(verdict: str | None, summary: str, used: bool, subject: str) -> str:
    """Why a take-down of `subject` goes against the evidence; "" when it does not."""
    if verdict is None:
        return f"ronda has no verdict on {subject} yet (run `ronda reconcile`)"
    if verdict == "keep" or used:
        return f"ronda's verdict on {subject} is {verdict}: {summary}"
    return ""


def check_decision(
    conn: sqlite3.Connection,
    found: Found,
    decision: str,
    reason: str,
    by: str,
    into: str = "",
    force: bool = False,
) -> Pending:
    """The decision, checked; DecisionError says what is wrong with it."""
    if decision not in DECISIONS:
        raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reason.strip():
        raise DecisionError("a decision needs a reason: the why is what makes it defensible later")
    if not by.strip():
        raise DecisionError("a decision needs the name of who decided")
    if decision == "consolidate" and not into.strip():
        raise DecisionError("consolidate needs the app that takes over (--into APP)")
    if decision != "consolidate" and into:
        raise DecisionError("an app to consolidate into only goes with consolidate")
    verdict, summary, used = _verdict(conn, found.subject)
    against = contradiction(verdict, summary, used, found.subject) if decision == "take-down" else ""
    if against and not force:
        raise DecisionError(
            f"refused: {against}. Taking it down would cut off whoever still uses it; "
            "if that is what was decided, record it with --force (the reason says why)"
        )
    return Pending(found.subject, decision, reason.strip(), by.strip(), into, verdict, against)


def record(conn: sqlite3.Connection, pending: Pending, stamp: str) -> dict[str, Any]:
    decision_id = conn.execute(
        "INSERT INTO decisions (subject, decision, into_subject, reason, decided_by, decided_at, verdict) "
        "VALUES (?,?,?,?,?,?,?)",
        (
            pending.subject,
            pending.decision,
            pending.into or None,
            pending.reason,
            pending.by,
            stamp,
            pending.verdict,
        ),
    ).lastrowid
    return {
        "decision_id": decision_id,
        "subject": pending.subject,
        "decision": pending.decision,
        "into": pending.into or None,
        "reason": pending.reason,
        "decided_by": pending.by,
        "decided_at": stamp,
        "verdict": pending.verdict,
        "forced": pending.forced or None,
    }


def record_decision(
    store: Store,
    found: Found,
    decision: str,
    reason: str,
    by: str,
    into: str = "",
    now: datetime | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Check one decision (see check_decision) and append it."""
    stamp = iso(now or datetime.now(UTC)) or ""
    with store.writing() as conn:
        return record(conn, check_decision(conn, found, decision, reason, by, into, force), stamp)


def decision_rows(
    store: Store,
    subject: str | None = None,
    decision: str | None = None,
    by: str | None = None,
    latest: bool = False,
) -> list[dict[str, Any]]:
    """Decisions, newest first, with the app's name, owner, and ronda's verdict then and now."""
    where, params = [], []
    for clause, value in (
        ("d.subject = ?", subject),
        ("d.decision = ?", decision),
        ("lower(d.decided_by) LIKE '%' || lower(?) || '%'", by),
    ):
        if value:
            where.append(clause)
            params.append(value)
    if latest:
        where.append(
            "d.decision_id = (SELECT max(e.decision_id) FROM decisions e WHERE e.subject = d.subject)"
        )
    return store.query(
        "SELECT d.decision_id, d.decided_at, d.subject, "
        # what `ronda explain` takes: the declared id, else HOST/APP_KEY
        "CASE WHEN i.app_id IS NOT NULL OR instr(d.subject, '/') = 0 THEN d.subject ELSE coalesce("
        " (SELECT h.hostname FROM hosts h WHERE h.agent_id = substr(d.subject, 1, instr(d.subject, '/') - 1))"
        " || substr(d.subject, instr(d.subject, '/')), d.subject) END AS app, "
        "coalesce(v.name, i.name, '') AS name, coalesce(i.owner, v.owner, '') AS owner, d.decision, "
        'd.into_subject AS "into", d.decided_by, d.reason, d.verdict AS verdict_then, '
        "v.verdict AS verdict_now, v.hosts, v.agent_id "
        "FROM decisions d LEFT JOIN verdicts v ON v.subject = d.subject "
        "LEFT JOIN inventory i ON i.app_id = d.subject"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.decision_id DESC",
        tuple(params),
    )
