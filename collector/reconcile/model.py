"""Plain data that reconciliation works on and produces. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.inventory.model import DeclaredApp


@dataclass(frozen=True, slots=True)
class Listen:
    address: str = "*"
    port: int = 0
    tls: bool = False
    default_server: bool = False


@dataclass(slots=True)
class DiscoveredApp:
    agent_id: str
    app_key: str
    kind: str = ""
    server_names: tuple[str, ...] = ()
    listen: tuple[Listen, ...] = ()
    path_prefix: str = "/"
    root: str = ""
    upstream: str = ""
    parent_key: str = ""
    framework: str = ""
    framework_version: str = ""
    redirect: str = ""                      # the app only redirects (e.g. http -> https)
    coverage: str = ""                      # none, unreadable, partial, full ("" when unknown)
    coverage_start: datetime | None = None  # the oldest log line the usage figures rest on
    last_request: datetime | None = None
    last_human_request: datetime | None = None
    # Counts from the daily usage inside the windows of the config; None when there is no daily data.
    human_window: int | None = None         # human requests inside the idle window
    human_recent: int | None = None         # human requests in the last trend_days
    human_previous: int | None = None       # ... and in the trend_days before those
    requests_window: int | None = None      # human and bot requests inside the idle window
    rss_bytes: int = 0
    disk_bytes: int = 0
    present: bool = True

    @property
    def handle(self) -> str:
        return f"{self.agent_id}/{self.app_key}"

    @property
    def ports(self) -> frozenset[int]:
        return frozenset(a.port for a in self.listen if a.port)


@dataclass(slots=True)
class HostInfo:
    agent_id: str
    hostname: str = ""
    fqdn: str = ""
    addresses: tuple[str, ...] = ()
    last_seen: datetime | None = None       # when its latest snapshot arrived
    interval_seconds: int = 0


@dataclass(slots=True)
class ListenerInfo:
    agent_id: str
    protocol: str
    address: str
    port: int
    process: str = ""
    app_keys: tuple[str, ...] = ()
    public: bool = False


@dataclass(frozen=True, slots=True)
class Pin:
    app_id: str
    agent_id: str
    app_key: str
    action: str          # link, forbid
    reason: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    decision: str
    reason: str
    by: str
    decided_at: str
    into: str = ""


@dataclass(slots=True)
class Inputs:
    declared: list[DeclaredApp] = field(default_factory=list)
    discovered: list[DiscoveredApp] = field(default_factory=list)
    hosts: dict[str, HostInfo] = field(default_factory=dict)
    listeners: list[ListenerInfo] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)   # subject -> latest


@dataclass(frozen=True, slots=True)
class Match:
    app_id: str
    agent_id: str
    app_key: str
    rule: str            # url, address, root, pin
    reason: str
    score: int = 0

    @property
    def handle(self) -> str:
        return f"{self.agent_id}/{self.app_key}"


@dataclass(slots=True)
class Finding:
    kind: str
    subject: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    app_id: str | None = None
    agent_id: str | None = None
    app_key: str | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    effect: str          # the verdict it argues for (keep, review, insufficient-evidence,
                         # safe-to-take-down), or info
    text: str


@dataclass(slots=True)
class Verdict:
    subject: str
    verdict: str         # safe-to-take-down, review, keep, insufficient-evidence
    summary: str
    reasons: list[Reason]
    figures: dict[str, Any]
    name: str = ""
    owner: str = ""
    hosts: list[str] = field(default_factory=list)
    app_id: str | None = None
    agent_id: str | None = None
    app_key: str | None = None


@dataclass(slots=True)
class Subject:
    """What a verdict is about: a declared app with the apps it matched, or one undeclared app."""

    handle: str
    declared: DeclaredApp | None
    apps: list[DiscoveredApp]
    matches: list[Match] = field(default_factory=list)


@dataclass(slots=True)
class Outcome:
    matches: list[Match]
    findings: list[Finding]
    verdicts: list[Verdict]
    subjects: list[Subject]


def iso(value: datetime | None) -> str | None:
    """UTC timestamps as the store writes them."""
    if value is None:
        return None
    from datetime import timezone
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
