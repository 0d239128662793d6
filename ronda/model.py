"""Plain data the agent works with. Field names match ronda.v1 on the wire.

Conversion to and from protobuf lives in `ronda.convert` alone. Enumerations are
lower-case strings here ("agent", "full") and enum values on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ListenAddress:
    address: str = "*"
    port: int = 0
    tls: bool = False
    default_server: bool = False

    def __str__(self) -> str:
        host = (
            f"[{self.address}]" if ":" in self.address and not self.address.startswith("/") else self.address
        )
        text = f"{host}:{self.port}" if self.port else host
        return text + (" ssl" if self.tls else "")


@dataclass
class ConfigLocation:
    file: str = ""
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class LogRef:
    path: str = ""
    format: str = ""


@dataclass
class Framework:
    name: str = ""
    version: str = ""
    evidence_file: str = ""
    language: str = ""
    evidence_kind: str = ""  # package, manifest, file; "" for the generic names (php, static, proxy)
    package: str = ""  # "dpkg:wordpress": the OS package owning the app's files
    package_version: str = ""
    release_cycle: str = ""
    end_of_support: str = ""  # YYYY-MM-DD, "" when none is known
    latest_in_cycle: str = ""
    support_source: str = ""


@dataclass
class ProcessRef:
    pid: int = 0
    name: str = ""
    user: str = ""
    unit: str = ""
    container: str = ""
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    role: str = ""


@dataclass
class Resources:
    processes: list[ProcessRef] = field(default_factory=list)
    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    disk_bytes: int = 0
    file_count: int = 0
    disk_walk_truncated: bool = False
    newest_mtime: datetime | None = None
    newest_file: str = ""


@dataclass
class DailyUsage:
    date: str = ""
    human: int = 0
    bot: int = 0
    monitor: int = 0
    error: int = 0
    scanner: int = 0
    human_clients: int = 0


@dataclass
class LogSource:
    path: str = ""
    format: str = ""
    status: str = ""
    error: str = ""
    oldest_line: datetime | None = None
    newest_line: datetime | None = None
    lines: int = 0
    unparsed_lines: int = 0


@dataclass
class Usage:
    coverage: str = "unspecified"  # none, unreadable, partial, full
    coverage_start: datetime | None = None
    coverage_end: datetime | None = None
    last_request: datetime | None = None
    last_human_request: datetime | None = None
    last_human_success: datetime | None = None
    daily: list[DailyUsage] = field(default_factory=list)
    logs: list[LogSource] = field(default_factory=list)
    unparsed_lines: int = 0


@dataclass
class TlsCertificate:
    file: str = ""
    subject: str = ""
    issuer: str = ""
    dns_names: list[str] = field(default_factory=list)
    not_after: datetime | None = None


@dataclass
class Database:
    engine: str = ""
    name: str = ""
    host: str = ""
    evidence_file: str = ""


@dataclass
class App:
    key: str = ""
    kind: str = ""
    server_names: list[str] = field(default_factory=list)
    listen: list[ListenAddress] = field(default_factory=list)
    path_prefix: str = "/"
    root: str = ""
    upstream: str = ""
    config: ConfigLocation = field(default_factory=ConfigLocation)
    access_logs: list[LogRef] = field(default_factory=list)
    framework: Framework | None = None
    resources: Resources | None = None
    usage: Usage | None = None
    tls: TlsCertificate | None = None
    database: Database | None = None
    parent_key: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def primary_name(self) -> str:
        return self.server_names[0] if self.server_names else ""


@dataclass
class Disk:
    mountpoint: str = ""
    device: str = ""
    fstype: str = ""
    total_bytes: int = 0
    used_bytes: int = 0


@dataclass
class HostFacts:
    machine_id: str = ""
    hostname: str = ""
    fqdn: str = ""
    addresses: list[str] = field(default_factory=list)
    os_name: str = ""
    os_version: str = ""
    kernel: str = ""
    architecture: str = ""
    boot_time: datetime | None = None
    cpu_count: int = 0
    memory_total_bytes: int = 0
    memory_used_bytes: int = 0
    disks: list[Disk] = field(default_factory=list)


@dataclass
class Listener:
    protocol: str = "tcp"
    address: str = ""
    port: int = 0
    pid: int = 0
    process: str = ""
    user: str = ""
    unit: str = ""
    container: str = ""
    app_keys: list[str] = field(default_factory=list)
    public: bool = False


@dataclass
class SourceError:
    source: str = ""
    path: str = ""
    line: int = 0
    message: str = ""


@dataclass
class Snapshot:
    agent_id: str = ""
    sequence: int = 0
    report_id: str = ""
    collected_at: datetime | None = None
    agent_version: str = ""
    source: str = "agent"  # agent, ssh
    host: HostFacts = field(default_factory=HostFacts)
    apps: list[App] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    interval_seconds: int = 0
    coalesced: int = 0  # older snapshots this one replaced in the agent's spool
    # 0: each app's usage holds its whole window of days; else the acknowledged snapshot whose usage the
    # collector holds, and each app's usage holds only the days changed since it
    usage_base: int = 0
