"""The network findings as reconciliation's own Finding objects, read from the store.

Reconciliation keeps every finding's history (first seen, last seen,
resolved); joining these to its outcome is all it takes:

    findings += [f for f in network_findings_for(store, config) if (f.kind, f.subject) not in seen]
"""

from __future__ import annotations

from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.model import Finding
from ronda.collector.scans.view import load_view
from ronda.collector.store import Store


def network_findings_for(store: Store, config: ReconcileConfig | None = None) -> list[Finding]:
    """unmanaged-host and network-confirmed exposed-listener findings from the latest sweeps."""
    config = config or ReconcileConfig()
    if not store.query("SELECT 1 FROM network_ports WHERE open LIMIT 1"):
        return []  # every network finding is about a port a sweep found open
    found = load_view(store).findings(
        tuple(config.exposed_ignore_ports), tuple(config.exposed_ignore_processes)
    )
    return [Finding(f.kind, f.subject, f.summary, dict(f.detail), agent_id=f.agent_id) for f in found]
