"""Host facts: identity from the host's own files, live figures from the seam."""

from __future__ import annotations

import shlex

from ronda.agent.host import Host, HostError
from ronda.model import Disk, HostFacts, SourceError


def _first_line(host: Host, *paths: str) -> str:
    for path in paths:
        try:
            text = host.read_text(path, limit=4096).strip()
        except HostError:
            continue
        if text:
            return text.splitlines()[0].strip()
    return ""


def _os_release(host: Host) -> dict[str, str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = host.read_text(path, limit=65536)
        except HostError:
            continue
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip():
                try:
                    parts = shlex.split(value)
                except ValueError:
                    continue
                values[key.strip()] = parts[0] if parts else ""
        return values
    return {}


def collect_facts(host: Host) -> tuple[HostFacts, list[SourceError]]:
    errors: list[SourceError] = []
    release = _os_release(host)
    facts = HostFacts(
        machine_id=_first_line(host, "/etc/machine-id", "/var/lib/dbus/machine-id"),
        hostname=_first_line(host, "/etc/hostname"),
        os_name=release.get("NAME", ""),
        os_version=release.get("VERSION_ID", ""),
    )
    try:
        stats = host.system_stats()
    except HostError as e:
        errors.append(SourceError(source="facts", message=str(e)))
        return facts, errors
    facts.fqdn = stats.fqdn
    facts.hostname = facts.hostname or stats.fqdn.split(".")[0]
    facts.addresses = list(stats.addresses)
    facts.kernel = stats.kernel
    facts.architecture = stats.architecture
    facts.boot_time = stats.boot_time
    facts.cpu_count = stats.cpu_count
    facts.memory_total_bytes = stats.memory_total_bytes
    facts.memory_used_bytes = stats.memory_used_bytes
    facts.disks = [Disk(d.mountpoint, d.device, d.fstype, d.total_bytes, d.used_bytes) for d in stats.disks]
    if not facts.machine_id:
        errors.append(
            SourceError(source="facts", path="/etc/machine-id", message="no machine id on this host")
        )
    return facts, errors
