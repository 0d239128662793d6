"""Build one snapshot: the agent's full current view of its host.

discover (which apps) -> inspect (what each is and costs) -> usage (who still
uses it, from access logs) -> listeners (which socket serves which app).
Every app's usage holds its whole window of days, or with `usage_since`, only
the days changed since an earlier snapshot (ronda.agent.usage.delta).
"""

from __future__ import annotations

import tempfile
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ronda import __version__
from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.facts import collect_facts
from ronda.agent.host import Host
from ronda.agent.host.deadline import ScanHost
from ronda.agent.inspect import inspect_apps
from ronda.agent.listeners import map_listeners
from ronda.agent.usage import UsageCollector, UsageOptions
from ronda.agent.usage.collect import Progress
from ronda.agent.usage.delta import UsageMark
from ronda.ids import valid_agent_id
from ronda.model import Snapshot
from ronda.scrub import scrub_snapshot


@dataclass
class ScanOptions:
    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)
    usage: UsageOptions = field(default_factory=UsageOptions)
    agent_id: str = ""  # empty: machine id, else hostname
    interval_seconds: int = 0
    source: str = "agent"
    # Where log offsets and daily counts persist between scans; None reads every log
    # from the start into a throw-away state (a one-off `ronda-agent scan`).
    state_dir: Path | None = None
    progress: Progress | None = None
    # After this many seconds nothing more is read: unfinished sources are reported and the snapshot
    # goes out (ronda.agent.host.deadline). None: no deadline.
    deadline_seconds: float | None = 600.0
    # The mark of a snapshot the collector holds: daily usage holds only the days changed since it, where
    # the mark applies to the state in state_dir (else every day, as with None).
    usage_since: UsageMark | None = None


@dataclass
class Scan:
    snapshot: Snapshot
    # Where the usage state stood when the days were read (None: a throw-away state); usage_base is set
    # by the caller, who knows which snapshot `usage_since` belongs to.
    usage_mark: UsageMark | None
    changed_only: bool  # the apps' daily usage holds only the days changed since usage_since


def scan(host: Host, options: ScanOptions | None = None) -> Snapshot:
    """Everything the agent knows about `host` now, every day of usage included. Sequence and ids are set
    by the caller."""
    return scan_usage(host, options).snapshot


def scan_usage(host: Host, options: ScanOptions | None = None) -> Scan:
    """`scan`, with where the usage state stood: what a reporting agent sends and remembers."""
    options = options or ScanOptions()
    host = guarded = ScanHost(host, options.deadline_seconds)
    facts, errors = collect_facts(host)
    found = discover(host, options.discovery)
    inspect_apps(host, found)
    with ExitStack() as scratch:
        # without a state directory, a throw-away state: every log is read from its start
        state = options.state_dir or Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="ronda-")))
        usage = UsageCollector(
            host,
            found.apps,
            found.log_formats,
            state,
            options.usage,
            options.progress,
            options.usage_since,
        )
        usage_errors = usage.run()
    listeners, listener_errors = map_listeners(host, found.apps)
    all_errors = guarded.settle(errors + found.errors + usage_errors + listener_errors)
    snapshot = Snapshot(
        agent_id=options.agent_id or default_agent_id(facts.machine_id, facts.hostname),
        report_id=str(uuid.uuid4()),
        collected_at=datetime.now(UTC),
        agent_version=__version__,
        source=options.source,
        host=facts,
        apps=found.apps,
        listeners=listeners,
        errors=all_errors,
        interval_seconds=options.interval_seconds,
    )
    scrub_snapshot(snapshot)  # every text that leaves the host passes the one scrubber
    return Scan(snapshot, usage.mark if options.state_dir else None, usage.changed_only)


def default_agent_id(machine_id: str, hostname: str) -> str:
    for candidate in (machine_id, hostname):
        if candidate and valid_agent_id(candidate):
            return candidate
    return "unknown-host"
