"""The fleet's apps indexed for matching: by server name (and name pattern), host, root and handle.

Matching (match.py) and following proxies to their backends (hops.py) both look apps up here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from ronda.collector.reconcile.model import DiscoveredApp, HostInfo
from ronda.collector.reconcile.urls import (
    WEB_PORTS,
    Endpoint,
    ServerName,
    host_key,
    normalize_path,
    path_within,
    server_name,
)

_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9\-.]*[a-z0-9]$")  # lower case, no wildcard, no port


@dataclass
class Index:
    by_name: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    patterns: list[tuple[ServerName, DiscoveredApp]] = field(default_factory=list)
    by_agent: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    by_root: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    host_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name/address -> agents
    by_handle: dict[str, DiscoveredApp] = field(default_factory=dict)
    hosts: dict[str, HostInfo] = field(default_factory=dict)
    # backend handle -> the hops.Hop of each front proxying to it, worked out once by hops.hops_to
    behind: dict[str, list] | None = None

    def agents_called(self, name: str) -> set[str]:
        return self.host_ids.get(host_key(name), set())


def build_index(apps: list[DiscoveredApp], hosts: dict[str, HostInfo], roots: bool = True) -> Index:
    """Lookups by server name, host and (when `roots`: some declared app names a directory) by root."""
    index = Index(hosts=hosts)
    by_name, by_agent, by_root, by_handle = index.by_name, index.by_agent, index.by_root, index.by_handle
    for app in apps:
        if not app.present:
            continue
        by_handle[app.handle] = app
        by_agent[app.agent_id].append(app)
        if roots and app.root:
            by_root[normalize_path(app.root)].append(app)
        for name in app.server_names:
            if _PLAIN_NAME.match(name):
                by_name[host_key(name)].append(app)
                continue
            matcher = server_name(name)
            if matcher.kind == "exact":
                by_name[matcher.value].append(app)
            elif matcher.kind != "catch-all":
                index.patterns.append((matcher, app))
    for agent_id, host in hosts.items():
        for name in (agent_id, host.hostname, host.fqdn, *host.addresses):
            if name:
                index.host_ids[host_key(name.split("/")[0])].add(agent_id)
    return index


def candidates_by_name(key: str, index: Index) -> tuple[list[DiscoveredApp], str]:
    found = index.by_name.get(key)
    if found:
        return found, "server name"
    wild = [app for matcher, app in index.patterns if matcher.matches(key)]
    return wild, "wildcard server name"


def narrow_by_endpoint(
    endpoint: Endpoint, candidates: list[DiscoveredApp]
) -> tuple[list[DiscoveredApp], str]:
    """Longest path prefix containing the declared path, then the declared port when something serves it."""
    within = [a for a in candidates if path_within(endpoint.path, a.prefix)]
    if not within:
        return [], ""
    longest = max(len(a.prefix) for a in within)
    best = [a for a in within if len(a.prefix) == longest]
    if endpoint.explicit_port:
        on_port = [a for a in best if endpoint.port in a.ports]
        return (
            (on_port, f"port {endpoint.port}")
            if on_port
            else (best, f"declared port {endpoint.port} not served")
        )
    on_web = [a for a in best if a.ports & WEB_PORTS or a.redirect]
    return (on_web, "") if on_web else (best, "")
