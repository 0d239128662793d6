"""Build one snapshot: the agent's full current view of its host.

discover (which apps) -> inspect (what each is and costs) -> usage (who still
uses it, from access logs) -> listeners (which socket serves which app).
"""

from __future__ import annotations

import tempfile
import uuid
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
from ronda.agent.usage import UsageOptions, collect_usage
from ronda.agent.usage.collect import Progress
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


def scan(host: Host, options: ScanOptions | None = None) -> Snapshot:
    """Everything the agent knows about `host` now. Sequence and ids are set by the caller."""
    options = options or ScanOptions()
    host = guarded = ScanHost(host, options.deadline_seconds)
    facts, errors = collect_facts(host)
    found = discover(host, options.discovery)
    inspect_apps(host, found)
    if options.state_dir is None:
        with tempfile.TemporaryDirectory(prefix="ronda-scan-") as scratch:
            usage_errors = collect_usage(
                host, found.apps, found.log_formats, Path(scratch), options.usage, options.progress
            )
    else:
        usage_errors = collect_usage(
            host, found.apps, found.log_formats, options.state_dir, options.usage, options.progress
        )
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
    return scrub_snapshot(snapshot)  # every text that leaves the host passes the one scrubber


def default_agent_id(machine_id: str, hostname: str) -> str:
    for candidate in (machine_id, hostname):
        if candidate and valid_agent_id(candidate):
            return candidate
    return "unknown-host"
