"""Reading and writing scan results in the store: runs, ports seen by sweeps, SSH targets.

Each write is one short transaction taken after the (slow) scan has finished,
so a scan never holds the database while nmap or SSH runs, and `ronda serve`
keeps ingesting meanwhile (WAL, busy timeout).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ronda.collector.scan_config import SshTarget
from ronda.collector.scans.nmap_sweep import SweepResult
from ronda.collector.scans.scope import in_networks
from ronda.collector.store import Store
from ronda.collector.store.store import inserted_id


def now_iso(value: datetime | None = None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def record_run(
    store: Store, kind: str, target: str, started: datetime, status: str, summary: str, detail: dict[str, Any]
) -> int:
    with store.writing() as c:
        cursor = c.execute(
            "INSERT INTO scan_runs (kind, target, started_at, finished_at, status, summary, detail) "
            "VALUES (?,?,?,?,?,?,?)",
            (kind, target, now_iso(started), now_iso(), status, summary, _json(detail)),
        )
        return inserted_id(cursor)


_IDENTITY = ("service", "product", "version", "extrainfo", "tunnel", "http_title", "web")
_KEEP_IF_UNIDENTIFIED = ", ".join(
    f"{c}=CASE WHEN :identified THEN excluded.{c} ELSE network_ports.{c} END" for c in _IDENTITY
)


@dataclass(frozen=True)
class SweepChanges:
    scan_id: int
    new_ports: int
    closed_ports: int


def record_sweep(store: Store, result: SweepResult, summary: str) -> SweepChanges:
    """Store one successful sweep: its run, what it saw, and the ports it no longer finds open."""
    seen = now_iso(result.finished_at)
    found = {(p.address, p.protocol, p.port): p for p in result.open_ports}
    detail = {
        "ports": str(result.ports),
        "exclude": [str(x) for x in result.exclude],
        "nmap_version": result.nmap_version,
        "command": result.command,
        "open_ports": len(result.open_ports),
        "warnings": result.warnings[:20],
    }
    with store.writing() as c:
        scan_id = inserted_id(
            c.execute(
                "INSERT INTO scan_runs (kind, target, started_at, finished_at, status, summary, detail) "
                "VALUES ('network',?,?,?,'ok',?,?)",
                (
                    ",".join(map(str, result.targets)),
                    now_iso(result.started_at),
                    seen,
                    summary,
                    _json(detail),
                ),
            )
        )
        known = {
            (a, pr, po)
            for a, pr, po in c.execute("SELECT address, protocol, port FROM network_ports WHERE open")
        }
        new = 0
        for key, p in found.items():
            new += key not in known
            # a port found open but not identified this time (a sweep without version detection, a
            # slow answer) keeps what an earlier sweep's probes learned of it
            c.execute(
                f"""INSERT INTO network_ports VALUES (:address, :protocol, :port, :service, :product,
                :version, :extrainfo, :tunnel, :http_title, :web, 1, :seen, :seen, :scan_id, NULL)
                ON CONFLICT(address, protocol, port) DO UPDATE SET {_KEEP_IF_UNIDENTIFIED}, open=1,
                last_seen=excluded.last_seen, last_scan_id=excluded.last_scan_id, closed_at=NULL""",
                {**asdict(p), "web": int(p.is_web), "seen": seen, "scan_id": scan_id},
            )
            c.execute(
                "INSERT INTO network_observations VALUES (?,?,?,?,?,?,?,?)",
                (scan_id, p.address, p.protocol, p.port, p.service, p.product, p.version, p.http_title),
            )
        closed = [k for k in known if k not in found and _covered(k[0], k[2], result)]
        c.executemany(
            "UPDATE network_ports SET open=0, closed_at=? WHERE address=? AND protocol=? AND port=?",
            [(seen, *k) for k in closed],
        )
    return SweepChanges(scan_id, new, len(closed))


def _covered(address: str, port: int, result: SweepResult) -> bool:
    """Whether this sweep looked at address:port (so not finding it open means it closed)."""
    return (
        port in result.ports
        and in_networks(address, result.targets)
        and not in_networks(address, result.exclude)
    )


def record_ssh(
    store: Store,
    target: SshTarget,
    started: datetime,
    ok: bool,
    summary: str,
    error: str,
    detail: dict[str, Any],
) -> int:
    """One SSH scan attempt: a run in the history and the target's last state."""
    scan_id = record_run(
        store,
        "ssh",
        target.name,
        started,
        "ok" if ok else "failed",
        summary,
        {
            "address": target.address,
            "port": target.port,
            "agent_id": target.agent_id,
            **({"error": error} if error else {}),
            **detail,
        },
    )
    stamp = now_iso()
    with store.writing() as c:
        c.execute(
            """INSERT INTO ssh_targets VALUES (?,?,?,?,?,?,?,?,?)
            ON CONFLICT(name) DO UPDATE SET address=excluded.address, port=excluded.port,
            agent_id=excluded.agent_id, last_attempt=excluded.last_attempt,
            last_success=coalesce(excluded.last_success, ssh_targets.last_success),
            last_status=excluded.last_status, last_error=excluded.last_error,
            last_scan_id=excluded.last_scan_id""",
            (
                target.name,
                target.address,
                target.port,
                target.agent_id,
                stamp,
                stamp if ok else None,
                "ok" if ok else "failed",
                error or None,
                scan_id,
            ),
        )
    return scan_id


def last_sequence(store: Store, agent_id: str) -> int:
    rows = store.query("SELECT last_sequence FROM agents WHERE agent_id = ?", (agent_id,))
    return int(rows[0]["last_sequence"]) if rows else 0


def runs(store: Store, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    where = "WHERE kind = :kind" if kind else ""
    return store.query(
        f"SELECT scan_id, kind, target, started_at, finished_at, status, summary FROM scan_runs "
        f"{where} ORDER BY scan_id DESC LIMIT :limit",
        {"kind": kind, "limit": limit},
    )


def open_ports(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM network_ports WHERE open ORDER BY address, port")


def ssh_targets(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT * FROM ssh_targets ORDER BY name")
