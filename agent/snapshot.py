"""Build one snapshot: the agent's full current view of its host."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from agent import __version__
from agent.discovery import DiscoveryOptions, discover
from agent.facts import collect_facts
from agent.host import Host
from agent.model import Snapshot
from agent.state import valid_agent_id


@dataclass
class ScanOptions:
    discovery: DiscoveryOptions = field(default_factory=DiscoveryOptions)
    agent_id: str = ""          # empty: machine id, else hostname
    interval_seconds: int = 0
    source: str = "agent"


def scan(host: Host, options: ScanOptions | None = None) -> Snapshot:
    """Everything the agent knows about `host` now. Sequence and ids are set by the caller."""
    options = options or ScanOptions()
    facts, errors = collect_facts(host)
    found = discover(host, options.discovery)
    return Snapshot(
        agent_id=options.agent_id or default_agent_id(facts.machine_id, facts.hostname),
        report_id=str(uuid.uuid4()),
        collected_at=datetime.now(timezone.utc),
        agent_version=__version__,
        source=options.source,
        host=facts,
        apps=found.apps,
        errors=errors + found.errors,
        interval_seconds=options.interval_seconds,
    )


def default_agent_id(machine_id: str, hostname: str) -> str:
    for candidate in (machine_id, hostname):
        if candidate and valid_agent_id(candidate):
            return candidate
    return "unknown-host"
