"""Which discovered apps each declared app is, and why.

A declared URL matches the apps serving its host name (exact, without
`www.`, or through a wildcard server name) whose path prefix is the longest
one containing the declared path, and the backend vhosts of that name a front
proxy passes the Host on to; an address or host name matches the
default app for that port on that host; a declared install directory
matches an app served from it. Operators' pins override all of it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Match, Pin
from ronda.collector.reconcile.urls import (
    WEB_PORTS,
    WILDCARD_ADDRESSES,
    Endpoint,
    ServerName,
    host_key,
    normalize_path,
    parse_endpoint,
    path_within,
    server_name,
)

if TYPE_CHECKING:
    from ronda.collector.reconcile.hops import Hop

_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9\-.]*[a-z0-9]$")  # lower case, no wildcard, no port
# Scores order the reasons of one match; a pin beats every rule.
_SCORE = {"pin": 1000, "url": 300, "address": 200, "root": 100}


@dataclass
class Index:
    by_name: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    patterns: list[tuple[ServerName, DiscoveredApp]] = field(default_factory=list)
    by_agent: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    by_root: dict[str, list[DiscoveredApp]] = field(default_factory=lambda: defaultdict(list))
    host_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # name/address -> agents
    by_handle: dict[str, DiscoveredApp] = field(default_factory=dict)
    hosts: dict[str, HostInfo] = field(default_factory=dict)
    behind: dict[str, list[Hop]] | None = None  # backend handle -> the fronts proxying to it (hops.hops_to)

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


def _names_of(app: DiscoveredApp) -> str:
    return " ".join(app.server_names) or "_"


def candidates_by_name(key: str, index: Index) -> tuple[list[DiscoveredApp], str]:
    found = index.by_name.get(key)
    if found:
        return found, "server name"
    wild = [app for matcher, app in index.patterns if matcher.matches(key)]
    return wild, "wildcard server name"


def _default_apps(endpoint: Endpoint, agents: set[str], index: Index) -> list[DiscoveredApp]:
    """The apps a request to the bare address of these hosts reaches: the default server of the port."""
    found = []
    for agent_id in sorted(agents):
        apps = index.by_agent.get(agent_id, [])
        ports = {endpoint.port} if endpoint.port else set(WEB_PORTS)
        on_port = [
            a
            for a in apps
            if a.ports & ports
            and any(
                lst.address in WILDCARD_ADDRESSES or host_key(lst.address.strip("[]")) == endpoint.key
                for lst in a.listen
            )
        ]
        vhosts = {tuple(a.server_names) for a in on_port}
        for app in on_port:
            catch_all = all(server_name(n).kind == "catch-all" for n in app.server_names)
            flagged = any(lst.default_server and lst.port in ports for lst in app.listen)
            if catch_all or flagged or len(vhosts) == 1:
                found.append(app)
    return found


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


def match_declared(declared: DeclaredApp, index: Index) -> list[Match]:
    found: dict[str, Match] = {}

    def add(app: DiscoveredApp, rule: str, reason: str, bonus: int = 0) -> None:
        score = _SCORE[rule] + bonus
        old = found.get(app.handle)
        if old is None or old.score < score:
            found[app.handle] = Match(declared.app_id, app.agent_id, app.app_key, rule, reason, score)

    for text in declared.urls:
        try:
            endpoint = parse_endpoint(text)
        except ValueError:
            continue
        candidates, how = candidates_by_name(endpoint.key, index)
        rule = "url"
        if not candidates:
            agents = index.agents_called(endpoint.host)
            if not agents:
                continue
            candidates, how, rule = _default_apps(endpoint, agents, index), "default server of", "address"
        chosen, port_note = narrow_by_endpoint(endpoint, candidates)
        for app in chosen:
            prefix = app.prefix
            where = index.hosts.get(app.agent_id)
            host = where.hostname if where and where.hostname else app.agent_id
            if rule == "url":
                reason = f"{text} -> {how} {_names_of(app)}"
            else:
                reason = f"{text} -> {how} {endpoint.host} on {host}"
            if prefix != "/":
                reason += f", path prefix {prefix}"
            if port_note:
                reason += f", {port_note}"
            if app.redirect:
                reason += f" (redirects: {app.redirect})"
            add(app, rule, reason, bonus=len(prefix))
            for hop in named_behind(app, endpoint.key, index):
                backend = hop.backend
                why = f"{text} -> {_names_of(app)} passes Host {hop.host} on to {_names_of(backend)}"
                add(backend, rule, why + (f", path prefix {backend.prefix}" if backend.prefix != "/" else ""))
    if declared.root:
        on_hosts = index.agents_called(declared.host) if declared.host else None
        for app in index.by_root.get(normalize_path(declared.root), []):
            if on_hosts is None or app.agent_id in on_hosts:
                add(
                    app,
                    "root",
                    f"install directory {declared.root}" + (f" on {declared.host}" if declared.host else ""),
                )
    return list(found.values())


def named_behind(front: DiscoveredApp, key: str, index: Index) -> list[Hop]:
    """The backend vhosts that answer Host `key` by their own name behind `front` (and behind them):
    the app a declared URL names, reached through its front proxy, as HTTP reaches it. Backends that
    answer other names, or any name, are the declared app's dependencies, not the app."""
    from ronda.collector.reconcile.hops import hops_from  # hops follows the rules of this module

    found: list[Hop] = []
    fronts = [front]
    for _ in range(3):  # a front, a cache, the backend
        hops = [
            h
            for f in fronts
            if f.upstream
            for h in hops_from(f, index)
            if h.host == key and h.answered == "name"
        ]
        found += hops
        fronts = [h.backend for h in hops]
    return found


def match_all(declared: list[DeclaredApp], index: Index, pins: list[Pin]) -> list[Match]:
    forbidden = {(p.app_id, p.agent_id, p.app_key) for p in pins if p.action == "forbid"}
    matches: dict[tuple[str, str, str], Match] = {}
    for app in declared:
        for m in match_declared(app, index):
            if (m.app_id, m.agent_id, m.app_key) not in forbidden:
                matches[(m.app_id, m.agent_id, m.app_key)] = m
    known = {a.app_id for a in declared}
    for pin in pins:
        if (
            pin.action == "link"
            and pin.app_id in known
            and f"{pin.agent_id}/{pin.app_key}" in index.by_handle
        ):
            why = f"pinned by {pin.by}" + (f": {pin.reason}" if pin.reason else "")
            matches[(pin.app_id, pin.agent_id, pin.app_key)] = Match(
                pin.app_id, pin.agent_id, pin.app_key, "pin", why, _SCORE["pin"]
            )
    return sorted(matches.values(), key=lambda m: (m.app_id, m.agent_id, m.app_key))
