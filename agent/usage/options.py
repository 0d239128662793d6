"""What the usage collector treats as a monitor, a scanner, and how much it keeps."""

from __future__ import annotations

from dataclasses import dataclass

# Health checkers and uptime services, matched case-insensitively as substrings of the user agent.
DEFAULT_MONITOR_AGENTS = (
    "UptimeRobot",
    "Pingdom",
    "StatusCake",
    "Site24x7",
    "Uptime-Kuma",
    "Better Uptime",
    "Better Stack",
    "kube-probe",
    "ELB-HealthChecker",
    "GoogleHC",
    "HealthCheck",
    "Health-Check",
    "Zabbix",
    "Nagios",
    "check_http",
    "monitoring-plugins",
    "Icinga",
    "Prometheus",
    "blackbox-exporter",
    "Consul Health",
    "Datadog",
    "NewRelicPinger",
    "Checkly",
    "Monit/",
    "Munin",
    "Catchpoint",
    "Freshping",
    "HetrixTools",
)
# Request paths that only machines ask for (exact path, any query string).
DEFAULT_MONITOR_PATHS = (
    "/health",
    "/healthz",
    "/healthcheck",
    "/livez",
    "/readyz",
    "/ping",
    "/server-status",
    "/nginx_status",
    "/status.php",
    "/fpm-status",
    "/actuator/health",
)


@dataclass
class UsageOptions:
    monitor_agents: tuple[str, ...] = DEFAULT_MONITOR_AGENTS
    # Source addresses or networks ("10.0.0.5", "10.1.0.0/16") whose requests are monitoring.
    monitor_addresses: tuple[str, ...] = ()
    monitor_paths: tuple[str, ...] = DEFAULT_MONITOR_PATHS
    # A client that gets this many 403/404 answers from one app in one day is a scanner that day.
    scanner_threshold: int = 20
    # Daily counts older than this are dropped from the state and the reports (0 keeps everything).
    retention_days: int = 400
    # Bytes handed to the regex at once; memory use grows with it.
    chunk_bytes: int = 1 << 20
    # Counts are written to the state (with the offsets they belong to) at least this often.
    flush_bytes: int = 32 << 20
    # More than this share of unparsed lines makes coverage "partial".
    max_unparsed_share: float = 0.05
    # Read buffers whose every line parses with the format's lean regex that way (same counts, less work);
    # False reads everything through the general path (for comparisons).
    lean_regex: bool = True
