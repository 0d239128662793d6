"""A checksum of everything a subject's verdict and findings depend on.

When it equals the one stored by the previous run, the stored verdict and
findings still hold and the subject is not worked out again: between two
scheduled runs most apps of a fleet have not changed. Time enters only
through what the texts and rules use (whole days since a date, which side of
the window a date falls, a host's staleness), not the clock itself.
"""

from __future__ import annotations

import zlib

from ronda.collector.reconcile.model import Clock, Decision, DiscoveredApp, HostInfo, Reason, Subject


def app_text(a: DiscoveredApp, clock: Clock) -> str:
    last_human = a.last_human_request or ""  # ISO text: "" sorts before every time
    used = bool(last_human) and last_human >= clock.window_start
    covered = a.coverage_start is not None and a.coverage_start <= clock.window_start
    unsupported = bool(a.end_of_support) and a.end_of_support < clock.text[:10]  # changes as days pass
    moving = (
        f"{a.human_window},{a.human_recent},{a.human_previous},{used:d}{covered:d}{unsupported:d},"
        f"{clock.days_since(a.coverage_start) if a.coverage_start else ''},"
        f"{clock.days_since(last_human) if used else ''}"
    )
    if a.fingerprint:
        return a.fingerprint + "\x1e" + moving
    return str(
        (
            a.handle,
            a.kind,
            a.server_names,
            a.listen,
            a.prefix,
            a.root,
            a.upstream,
            a.upstream_servers,
            a.parent_key,
            a.framework,
            a.framework_version,
            a.redirect,
            a.coverage,
            a.coverage_start,
            a.last_request,
            a.last_human_request,
            a.rss_bytes,
            a.disk_bytes,
            a.end_of_support,
            moving,
        )
    )


def host_text(host: HostInfo | None, clock: Clock) -> str:
    if host is None or host.last_seen is None:
        return "never"
    stale = host.last_seen < clock.stale_before
    return f"{host.hostname}\x1f{clock.hours_since(host.last_seen) if stale else 'fresh'}"


def run_key(run_text: str) -> int:
    """The checksum of what is the same for every subject of a run (the config): each subject's key
    goes on from it, as if its own text followed."""
    return zlib.crc32((run_text + "\x1f").encode())


def subject_key(
    subject: Subject,
    hosts: dict[str, HostInfo],
    deps: list[tuple[str, str]],
    notes: list[Reason],
    decision: Decision | None,
    clock: Clock,
    run: int,
    context: str = "",
) -> int:
    """`run`: the run's `run_key`; `context`: what else its findings read (the declared app a hidden
    sub-app's vhost belongs to, the hosts a declared host names)."""
    parts = [subject.handle, context]
    if subject.declared is not None:
        parts.append(str(subject.declared.values()))
    for app in subject.apps:
        parts.append(app_text(app, clock))
        parts.append(host_text(hosts.get(app.agent_id), clock))
    for match in subject.matches:
        parts.append(match.handle)
    parts.extend(f"{a}\x1d{b}" for a, b in deps)
    parts.extend(f"{n.effect}\x1d{n.text}" for n in notes)
    if decision is not None:
        parts.append(str(decision))
    return zlib.crc32("\x1f".join(parts).encode(), run)
