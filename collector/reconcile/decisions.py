"""People's decisions on apps: appended with who, when and why; never changed afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ronda.collector.reconcile.lookup import Found
from ronda.collector.reconcile.model import iso
from ronda.collector.store import Store
from ronda.errors import InputError

DECISIONS = ("keep", "take-down", "consolidate")


class DecisionError(InputError, ValueError):
    """The decision is incomplete (no reason, no name) or contradicts itself."""


def record_decision(
    store: Store,
    found: Found,
    decision: str,
    reason: str,
    by: str,
    into: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}")
    if not reason.strip():
        raise DecisionError("a decision needs --reason: the why is what makes it defensible later")
    if not by.strip():
        raise DecisionError("a decision needs --by: who decided")
    if decision == "consolidate" and not into.strip():
        raise DecisionError("consolidate needs --into APP: the app that takes over")
    if decision != "consolidate" and into:
        raise DecisionError("--into only goes with consolidate")
    stamp = iso(now or datetime.now(UTC))
    with store.writing() as c:
        row = c.execute("SELECT verdict FROM verdicts WHERE subject=?", (found.subject,)).fetchone()
        verdict = row[0] if row else None
        decision_id = c.execute(
            "INSERT INTO decisions (subject, decision, into_subject, reason, decided_by, "
            "decided_at, verdict) VALUES (?,?,?,?,?,?,?)",
            (found.subject, decision, into or None, reason.strip(), by.strip(), stamp, verdict),
        ).lastrowid
    return {
        "decision_id": decision_id,
        "subject": found.subject,
        "decision": decision,
        "into": into or None,
        "reason": reason.strip(),
        "decided_by": by.strip(),
        "decided_at": stamp,
        "verdict": verdict,
    }


def decisions(store: Store, subject: str | None = None) -> list[dict[str, Any]]:
    if subject:
        return store.query("SELECT * FROM decisions WHERE subject=? ORDER BY decision_id", (subject,))
    return store.query("SELECT * FROM decisions ORDER BY decision_id")
