"""`ronda scan network`: check the targets against the scopes, sweep, store, summarise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ronda.collector.scan_config import NetworkConfig
from ronda.collector.scans.nmap_sweep import NmapFailed, NmapMissing, SweepOptions, find_nmap, sweep
from ronda.collector.scans.records import record_run, record_sweep
from ronda.collector.scans.scope import (
    PortList,
    ScopeError,
    check_targets,
    exclusions_for,
    parse_networks,
    split_list,
)
from ronda.collector.scans.view import load_view
from ronda.collector.store import Store


@dataclass(frozen=True)
class NetworkScanSummary:
    scan_id: int
    targets: str
    ports: str
    hosts: int
    open_ports: int
    web_ports: int
    new_ports: int
    closed_ports: int
    unmanaged_hosts: int

    @property
    def line(self) -> str:
        return (
            f"network sweep #{self.scan_id} of {self.targets}: {self.hosts} hosts with open ports, "
            f"{self.open_ports} open ports ({self.web_ports} web), {self.new_ports} new, {self.closed_ports} "
            f"closed; {self.unmanaged_hosts} unmanaged hosts"
        )


def run_network_scan(
    store: Store,
    config: NetworkConfig,
    targets: str | None = None,
    ports: str | None = None,
    path: str | None = None,
) -> NetworkScanSummary:
    """Sweep `targets` (default: the configured targets, else every scope) on `ports`.

    Raises ScopeError (nothing is scanned), NmapMissing or NmapFailed (nothing is
    changed but a failed run in the history). `path` is the PATH to find nmap on.
    """
    started = datetime.now(UTC)
    target_text = targets or ",".join(map(str, config.targets or config.scopes)) or "(none)"
    try:
        networks = (
            parse_networks(split_list(targets), "targets") if targets else (config.targets or config.scopes)
        )
        port_list = PortList.parse(ports) if ports else config.ports
        check_targets(networks, config.scopes, config.exclude)
    except ScopeError as e:
        record_run(store, "network", target_text, started, "refused", f"refused: {e}", {"error": str(e)})
        raise
    options = SweepOptions(config.timing, config.host_timeout_seconds, config.version_detection)
    try:
        result = sweep(
            networks,
            port_list,
            options,
            nmap_path=find_nmap(path),
            exclude=exclusions_for(networks, config.exclude),
        )
    except (NmapMissing, NmapFailed) as e:
        record_run(
            store,
            "network",
            target_text,
            started,
            "failed",
            f"failed: {e}",
            {"error": str(e), "ports": str(port_list)},
        )
        raise
    web = [p for p in result.open_ports if p.is_web]
    text = ",".join(map(str, networks))
    # the run's summary line is final only once the store knows what is new
    changes = record_sweep(store, result, summary="")
    unmanaged = sum(f.kind == "unmanaged-host" for f in load_view(store).findings())
    summary = NetworkScanSummary(
        changes.scan_id,
        text,
        str(port_list),
        len(result.addresses),
        len(result.open_ports),
        len(web),
        changes.new_ports,
        changes.closed_ports,
        unmanaged,
    )
    with store.writing() as c:
        c.execute("UPDATE scan_runs SET summary=? WHERE scan_id=?", (summary.line, summary.scan_id))
    return summary
