"""What the operator commands and the report read: findings, verdicts, candidates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ronda.collector.store import Store
from ronda.safetext import needs_escaping, terminal_text

FIGURES = (
    "apps",
    "coverage",
    "coverage_start",
    "last_human_request",
    "last_request",
    "human_requests",
    "human_recent",
    "human_previous",
    "trend",
    "oldest_snapshot",
    "inbound",
    "annual_cost",
    "rss_bytes",
    "disk_bytes",
)
KINDS = (
    "hidden",
    "missing",
    "idle",
    "status-mismatch",
    "unowned",
    "drift",
    "unsupported-version",
    "exposed-listener",
    "unmanaged-host",
)


def like(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') for `text` anywhere in a value."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# App keys more than one host has: a bare key names one app only when it is not among them.
SHARED_KEYS = "SELECT app_key FROM apps GROUP BY app_key HAVING count(*) > 1"


@dataclass(frozen=True)
class AppNames:
    """How a list names an app so that `ronda explain` takes it: its declared id, else its app key when
    no other host has that key, else HOST/APP_KEY."""

    shared: frozenset[str]  # app keys more than one host has
    hostnames: dict[str, str]  # agent id -> host name

    @classmethod
    def of(cls, store: Store) -> AppNames:
        with store.reading() as conn:
            shared = frozenset(row[0] for row in conn.execute(SHARED_KEYS))
            hostnames = dict(
                conn.execute("SELECT agent_id, hostname FROM hosts WHERE hostname != ''").fetchall()
            )
        return cls(shared, hostnames)

    def name(self, row: dict[str, Any]) -> str:
        """`row`: a finding or a verdict (app_id, agent_id, app_key, subject)."""
        if row.get("app_id"):
            return str(row["app_id"])
        key = row.get("app_key")
        if not key:
            return str(row["subject"]).split("/", 1)[-1]  # a host or a listener: what lists always showed
        return self.key(row["agent_id"], key)

    def key(self, agent_id: str, app_key: str) -> str:
        """A discovered app by its key: the bare key when no other host has it, else HOST/APP_KEY."""
        if app_key not in self.shared:
            return app_key
        return f"{self.hostnames.get(agent_id) or agent_id}/{app_key}"


def finding_rows(
    store: Store, kinds: Sequence[str] = (), include_resolved: bool = False
) -> list[dict[str, Any]]:
    where = [] if include_resolved else ["f.resolved_at IS NULL"]
    params: list[Any] = []
    if kinds:
        where.append(f"f.kind IN ({', '.join('?' * len(kinds))})")
        params += list(kinds)
    # An open finding held at the latest reconcile: that is its last_seen.
    sql = (
        "SELECT f.finding_id, f.kind, f.subject, f.app_id, h.hostname, f.agent_id, f.app_key, f.summary, "
        "f.detail, f.first_seen, coalesce(f.last_seen, (SELECT at FROM reconciled)) AS last_seen, "
        "f.resolved_at FROM findings f "
        "LEFT JOIN hosts h ON h.agent_id = f.agent_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY f.kind, f.subject, f.finding_id"
    )
    return store.query(sql, tuple(params))


def candidate_rows(
    store: Store, verdicts: Sequence[str] = ("safe-to-take-down",), limit: int | None = None
) -> list[dict[str, Any]]:
    """Verdict rows with the latest decision, largest declared cost first, then by subject."""
    marks = ", ".join("?" * len(verdicts))
    sql = f"""
        SELECT v.*, d.decision, d.decided_by, d.decided_at, d.reason AS decision_reason
        FROM verdicts v LEFT JOIN latest_decisions d ON d.subject = v.subject
        WHERE v.verdict IN ({marks})
        ORDER BY v.verdict, v.annual_cost IS NULL, v.annual_cost DESC, v.subject
        {"LIMIT " + str(int(limit)) if limit else ""}"""
    return store.query(sql, tuple(verdicts))


def expand(row: dict[str, Any]) -> dict[str, Any]:
    """A verdicts row for output: reasons as objects, the figures gathered in one mapping."""
    row = dict(row)
    row["reasons"] = [{"effect": e, "rule": r, "text": t} for e, r, t in json.loads(row["reasons"])]
    row["inbound"] = json.loads(row["inbound"]) if row.get("inbound") else []
    row["figures"] = {k: row.pop(k) for k in FIGURES if k in row}
    row.pop("digest", None)
    return row


def verdict_counts(store: Store) -> dict[str, int]:
    return {
        r["verdict"]: r["n"]
        for r in store.query("SELECT verdict, count(*) AS n FROM verdicts GROUP BY verdict")
    }


def finding_counts(store: Store) -> dict[str, int]:
    return {
        r["kind"]: r["n"]
        for r in store.query(
            "SELECT kind, count(*) AS n FROM findings WHERE resolved_at IS NULL GROUP BY kind"
        )
    }


CANDIDATE_COLUMNS = ("app", "name", "owner", "hosts", "last_human", "logs_since", "decision", "summary")


def candidate_table(store: Store, verdicts: Sequence[str]) -> list[tuple[str, ...]]:
    """The candidates as table cells, straight from SQL (this is what `ronda candidates` prints;
    a fleet can have tens of thousands)."""
    marks = ", ".join("?" * len(verdicts))
    with store.reading() as conn:
        decided = conn.execute("SELECT 1 FROM decisions LIMIT 1").fetchone() is not None
        decision = (
            (
                "(SELECT d.decision || ' by ' || d.decided_by FROM decisions d WHERE d.subject = v.subject "
                "ORDER BY d.decision_id DESC LIMIT 1)"
            )
            if decided
            else "''"
        )
        return conn.execute(
            f"""
            SELECT CASE WHEN v.app_id IS NOT NULL THEN v.app_id
                        WHEN v.app_key IS NULL THEN v.subject
                        WHEN v.app_key IN ({SHARED_KEYS})
                        THEN coalesce((SELECT h.hostname FROM hosts h WHERE h.agent_id = v.agent_id),
                                      v.agent_id) || '/' || v.app_key
                        ELSE v.app_key END,
                   v.name, v.owner, v.hosts,
                   coalesce(substr(v.last_human_request, 1, 10), 'never'),
                   coalesce(substr(v.coverage_start, 1, 10), '-'),
                   coalesce({decision}, ''), v.summary
            FROM verdicts v WHERE v.verdict IN ({marks})
            ORDER BY v.verdict, v.annual_cost IS NULL, v.annual_cost DESC, v.subject""",
            tuple(verdicts),
        ).fetchall()


def text_table(headers: Sequence[str], rows: list[tuple[str, ...]]) -> str:
    """A plain aligned table, like collector.output's, built column-wise for many rows."""
    if not rows:
        return ""
    # shown, not obeyed (ronda.safetext); one search per column keeps 100,000 clean rows fast
    columns = list(zip(*rows, strict=True))
    escaped = [needs_escaping("".join(col)) for col in columns]
    if any(escaped):
        columns = [tuple(map(terminal_text, c)) if e else c for c, e in zip(columns, escaped, strict=True)]
        rows = list(zip(*columns, strict=True))
    widths = [max(len(h), max(map(len, col))) for h, col in zip(headers, columns, strict=True)]
    # one C-level formatting per row (the cells are arguments, never part of the format)
    line = "  ".join([*(f"%-{w}s" for w in widths[:-1]), "%s"])
    lines = [
        "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [line % row for row in rows]
    return "\n".join(lines)
