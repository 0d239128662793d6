"""Inbound dependencies: who would break if an app were taken down.

An app depends on another when it proxies to it (its upstream, or the
servers of its named upstream block, reach the other app's name or
listening port), when it lives inside the other's vhost (a sub-app under a
path prefix), or when the inventory declares it does. A declared app also
owns the backends its front ends proxy to.
"""

from __future__ import annotations

from collections import defaultdict

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.match import Index, candidates_by_name, narrow_by_endpoint
from ronda.collector.reconcile.model import DiscoveredApp, Match
from ronda.collector.reconcile.urls import WILDCARD_ADDRESSES, is_address, is_loopback, parse_endpoint

INACTIVE = ("retired", "inactive")


def _targets_of(text: str, app: DiscoveredApp, index: Index) -> list[DiscoveredApp]:
    text = text.strip()
    if not text or text.startswith("unix:") or text.startswith("/"):
        return []
    try:
        endpoint = parse_endpoint(text)
    except ValueError:
        return []
    if is_loopback(endpoint.host) or is_address(endpoint.host):
        agents = {app.agent_id} if is_loopback(endpoint.host) else index.agents_called(endpoint.host)
        port = endpoint.port or 80
        found = [
            other
            for agent_id in agents
            for other in index.by_agent.get(agent_id, [])
            if port in other.ports
            and any(
                lst.port == port
                and (
                    lst.address in WILDCARD_ADDRESSES
                    or is_loopback(lst.address)
                    or lst.address == endpoint.host
                )
                for lst in other.listen
            )
        ]
    else:
        found, _ = candidates_by_name(endpoint.key, index)
    chosen, _ = narrow_by_endpoint(endpoint, found)
    return [a for a in chosen if a.handle != app.handle]


def upstream_targets(app: DiscoveredApp, index: Index) -> list[DiscoveredApp]:
    """The discovered apps `app`'s upstream reaches (none for sockets, pools and unknown names)."""
    if not app.upstream:
        return []
    found = _targets_of(app.upstream, app, index)
    for server in app.upstream_servers:
        found += _targets_of(server, app, index)
    return list({a.handle: a for a in found}.values())


def with_backends(matches: list[Match], index: Index) -> list[Match]:
    """Add, to each declared app, the apps its matched front ends proxy to (unless matched on their own)."""
    direct = {m.handle for m in matches}
    added: dict[tuple[str, str], Match] = {}
    for m in matches:
        front = index.by_handle.get(m.handle)
        if front is None or not front.upstream:
            continue
        for target in upstream_targets(front, index):
            if target.handle not in direct and (m.app_id, target.handle) not in added:
                added[(m.app_id, target.handle)] = Match(
                    m.app_id,
                    target.agent_id,
                    target.app_key,
                    "backend",
                    f"backend of {_label(front)}: it proxies to it ({front.upstream}"
                    + (f" = {','.join(front.upstream_servers)})" if front.upstream_servers else ")"),
                    50,
                )
    return sorted([*matches, *added.values()], key=lambda x: (x.app_id, x.agent_id, x.app_key))


def inbound(
    discovered: list[DiscoveredApp], declared: list[DeclaredApp], index: Index
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """(per app handle, per declared app id): the list of (depending app handle or app id, why)."""
    by_app: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for app in discovered:
        if not app.present:
            continue
        if app.upstream:
            for target in upstream_targets(app, index):
                why = T.PROXIES_TO(app=_label(app), upstream=app.upstream)
                by_app[target.handle].append((app.handle, why))
        if app.parent_key:
            parent = index.by_handle.get(f"{app.agent_id}/{app.parent_key}")
            if parent is not None:
                by_app[parent.handle].append((app.handle, T.SERVED_INSIDE(app=_label(app))))
    by_declared: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in declared:
        if d.status in INACTIVE:
            continue
        for dep in d.depends_on:
            by_declared[dep].append((d.app_id, T.DECLARED_DEPENDENCY(app_id=d.app_id, name=d.name)))
    return by_app, by_declared


def _label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    return f"{name}{'' if app.prefix == '/' else app.prefix}"
