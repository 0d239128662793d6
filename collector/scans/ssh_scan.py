"""`ronda scan ssh`: the agent's own scan, run over SSH on hosts without an agent, stored like a report.

Each host's snapshots come from agent id "ssh:<name>" with source "ssh". The
sequence and the usage state (log offsets, daily counts) live on the collector,
in a state directory per host, so repeated scans continue where the last one
stopped, as an agent would. Like an agent's, each snapshot carries only the
usage days changed since the one the store holds the host's usage through;
being both sides, the scan asks the store which that is before it starts, so a
store restored from a backup gets what it lacks with the next scan.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ronda.agent.discovery import DiscoveryOptions
from ronda.agent.host import HostError
from ronda.agent.snapshot import ScanOptions, scan_usage
from ronda.agent.state import AgentState, StateError
from ronda.agent.usage.delta import UsageMark
from ronda.collector.scan_config import SshConfig, SshTarget
from ronda.collector.scans.records import last_sequence, record_ssh
from ronda.collector.scans.ssh_connect import SshError, connect
from ronda.collector.scans.ssh_host import SshHost
from ronda.collector.store import Store


@dataclass(frozen=True)
class SshOutcome:
    target: SshTarget
    ok: bool
    message: str
    apps: int = 0
    errors: int = 0
    sequence: int = 0


@dataclass
class SshScanReport:
    outcomes: list[SshOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[SshOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def line(self) -> str:
        done = len(self.outcomes) - len(self.failed)
        apps = sum(o.apps for o in self.outcomes if o.ok)
        text = f"ssh scan: {done} of {len(self.outcomes)} hosts scanned, {apps} apps stored"
        if self.failed:
            text += "; failed: " + ", ".join(o.target.name for o in self.failed)
        return text


def default_state_root(db_path: str) -> str:
    """Next to the database, so a collector's state moves with it."""
    return os.path.join(os.path.dirname(os.path.abspath(db_path)), "ssh-state")


def _state_dir(root: str, target: SshTarget) -> Path:
    return Path(root) / re.sub(r"[^A-Za-z0-9._@-]", "_", target.name)


def _scan_options(target: SshTarget, state_dir: Path, usage_since: UsageMark | None) -> ScanOptions:
    return ScanOptions(
        discovery=DiscoveryOptions(nginx_conf=target.nginx_conf, apache_conf=target.apache_conf),
        agent_id=target.agent_id,
        source="ssh",
        state_dir=state_dir,
        usage_since=usage_since,
    )


def _usage_through(store: Store, agent_id: str) -> int:
    rows = store.query("SELECT usage_through FROM agents WHERE agent_id = ?", (agent_id,))
    return int(rows[0]["usage_through"]) if rows else 0


def scan_host(store: Store, target: SshTarget, config: SshConfig, state_root: str) -> SshOutcome:
    """Scan one host and store its snapshot; on any failure store nothing but the failed attempt."""
    started = datetime.now(UTC)
    where = f"{target.name} ({target.address}:{target.port})"
    try:
        state = AgentState.load(_state_dir(state_root, target))
        through = _usage_through(store, target.agent_id)
        state.usage_base = through if through in state.marks else 0
        client = connect(target, config.connect_timeout_seconds)
        with SshHost(client, target.name, config.command_timeout_seconds) as host:
            done = scan_usage(
                host, _scan_options(target, _state_dir(state_root, target), state.usage_since())
            )
            snapshot = done.snapshot
            if not host.connected:
                raise SshError(f"{where}: the connection was lost during the scan; nothing stored")
        if not snapshot.host.hostname and not snapshot.host.machine_id and not snapshot.host.kernel:
            raise SshError(f"{where}: nothing could be read on the host; nothing stored")
        state.agent_id = snapshot.agent_id
        state.sequence = max(state.sequence, last_sequence(store, snapshot.agent_id))
        snapshot.usage_base = state.usage_base if done.changed_only else 0
        snapshot.sequence = state.next_sequence(done.usage_mark)
        result = store.ingest(snapshot)
        state.acknowledged(snapshot.sequence, snapshot.usage_base, result.usage_through)
    except (SshError, HostError, StateError) as e:
        message = (
            str(e) if str(e).startswith(target.name) or str(e).startswith(target.address) else f"{where}: {e}"
        )
        record_ssh(store, target, started, False, f"failed: {message}", message, {})
        return SshOutcome(target, False, message)
    except Exception as e:  # a snapshot the store refuses, or a bug: this host fails, the others go on
        message = f"{where}: {type(e).__name__}: {e}"
        record_ssh(store, target, started, False, f"failed: {message}", message, {})
        return SshOutcome(target, False, message)
    text = (
        f"{where}: {len(snapshot.apps)} apps, {len(snapshot.errors)} source errors, "
        f"snapshot {snapshot.sequence}" + (" (already stored)" if result.duplicate else "")
    )
    record_ssh(
        store,
        target,
        started,
        True,
        text,
        "",
        {
            "sequence": snapshot.sequence,
            "apps": len(snapshot.apps),
            "errors": len(snapshot.errors),
            "hostname": snapshot.host.hostname,
        },
    )
    return SshOutcome(target, True, text, len(snapshot.apps), len(snapshot.errors), snapshot.sequence)


def run_ssh_scans(
    store: Store, config: SshConfig, targets: list[SshTarget], state_root: str
) -> SshScanReport:
    report = SshScanReport()
    for target in targets:
        report.outcomes.append(scan_host(store, target, config, state_root))
    return report
