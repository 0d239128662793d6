"""Plain data that reconciliation works on and produces. No I/O here.

Timestamps are UTC text as the store keeps them (`2026-11-27T23:22:55Z`):
they compare in time order as strings, and a fleet's worth of them need not
be parsed and formatted again on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.urls import normalize_path


class Listen(NamedTuple):
    address: str = "*"
    port: int = 0
    tls: bool = False
    default_server: bool = False


# The ports of each distinct listen, worked out once: most hosts repeat a few (`*:80`, `*:443 ssl`), and
# the rest are at most a fleet's worth, read by a process that reconciles once and ends.
_PORTS: dict[tuple[Listen, ...], frozenset[int]] = {}


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
    upstream_servers: tuple[str, ...] = ()  # the servers of a named upstream block (`127.0.0.1:3001`)
    parent_key: str = ""
    framework: str = ""
    framework_version: str = ""
    redirect: str = ""  # the app only redirects (e.g. http -> https)
    coverage: str = ""  # none, unreadable, partial, full ("" when unknown)
    coverage_start: str | None = None  # the oldest log line the usage figures rest on
    last_request: str | None = None
    last_human_request: str | None = None
    # Counts from the daily usage inside the windows of the config; None when there is no daily data.
    human_window: int | None = None  # human requests inside the idle window
    human_recent: int | None = None  # human requests in the last trend_days
    human_previous: int | None = None  # ... and in the trend_days before those
    rss_bytes: int = 0
    disk_bytes: int = 0
    present: bool = True
    end_of_support: str = ""  # YYYY-MM-DD: when its product release's security support ends or ended
    host_header: str = ""  # a proxy's: the Host its backend is asked for ($host, $proxy_host, a name)
    # Everything stored about the app, as one text (the store builds it); "" when built by hand.
    fingerprint: str = field(default="", repr=False, compare=False)
    # Derived once, used everywhere: the ports it listens on and its path prefix in normal form.
    ports: frozenset[int] = field(init=False, repr=False, compare=False)
    prefix: str = field(init=False, repr=False, compare=False)
    handle: str = field(init=False, repr=False, compare=False)  # AGENT/APP_KEY, unique in a fleet

    def __post_init__(self) -> None:
        ports = _PORTS.get(self.listen)
        if ports is None:
            ports = _PORTS[self.listen] = frozenset([a.port for a in self.listen if a.port])
        self.ports = ports
        self.prefix = "/" if self.path_prefix in ("/", "") else normalize_path(self.path_prefix)
        self.handle = self.agent_id + "/" + self.app_key


@dataclass(slots=True)
class HostInfo:
    agent_id: str
    hostname: str = ""
    fqdn: str = ""
    addresses: tuple[str, ...] = ()
    last_seen: str | None = None  # when its latest snapshot arrived
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
    action: str  # link, forbid
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
    decisions: dict[str, Decision] = field(default_factory=dict)  # subject -> latest
    network_findings: list[Finding] = field(default_factory=list)  # from nmap sweeps (unmanaged-host, ...)


@dataclass(frozen=True, slots=True)
class Match:
    app_id: str
    agent_id: str
    app_key: str
    rule: str  # url, address, root, pin
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


@dataclass(slots=True)
class Reason:
    rule: str
    effect: str  # the verdict it argues for (keep, review, insufficient-evidence,
    # safe-to-take-down), or info
    text: str


@dataclass(slots=True)
class Verdict:
    subject: str
    verdict: str  # safe-to-take-down, review, keep, insufficient-evidence
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
    matches: Sequence[Match] = ()


@dataclass(slots=True)
class SubjectResult:
    """One subject's part of a run: its input checksum and, when it was worked out (its inputs changed
    since the previous run, or there was none), its findings and its verdict (None for a declared app
    that is neither found nor declared active)."""

    handle: str
    key: int
    worked: bool
    findings: list[Finding] = field(default_factory=list)
    verdict: Verdict | None = None


@dataclass(slots=True)
class Outcome:
    matches: list[Match]
    findings: list[Finding]
    verdicts: list[Verdict]
    keys: dict[str, int] = field(default_factory=dict)  # input checksum per subject
    skipped: set[str] = field(default_factory=set)  # subjects whose stored verdict and findings hold


@dataclass(frozen=True, slots=True)
class Clock:
    """`now` and the thresholds derived from it, computed once per run."""

    now: datetime
    text: str  # now, as stored
    window_start: str  # now - idle_days: human use at or after this is "inside the window"
    stale_before: str  # a host whose latest snapshot arrived before this is stale
    # Whole days since each date asked about: a subject's key and its verdict ask about the same dates.
    days: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def at(cls, now: datetime, idle_days: int, stale_after_hours: int) -> Clock:
        return cls(
            now,
            iso(now) or "",
            iso(now - timedelta(days=idle_days)) or "",
            iso(now - timedelta(hours=stale_after_hours)) or "",
        )

    def days_since(self, text: str) -> int:
        days = self.days.get(text)
        if days is None:
            days = self.days[text] = (self.now - _parse(text)).days
        return days

    def hours_since(self, text: str) -> int:
        return int((self.now - _parse(text)).total_seconds() // 3600)


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """UTC timestamps as the store writes them (YYYY-MM-DDTHH:MM:SSZ); formatted by hand, it runs per app."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )
