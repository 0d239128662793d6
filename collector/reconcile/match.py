"""Which discovered apps each declared app is, and why.

A declared URL matches the apps serving its host name (exact, without
`www.`, or through a wildcard server name) whose path prefix is the longest
one containing the declared path, and the backend vhosts of that name a front
proxy passes the Host on to; an address or host name matches the
default app for that port on that host; a declared install directory
matches an app served from it. Operators' pins override all of it.
"""

from __future__ import annotations

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.hops import named_behind
from ronda.collector.reconcile.index import Index, build_index, candidates_by_name, narrow_by_endpoint
from ronda.collector.reconcile.model import DiscoveredApp, Match, Pin
from ronda.collector.reconcile.urls import (
    WEB_PORTS,
    WILDCARD_ADDRESSES,
    Endpoint,
    host_key,
    normalize_path,
    parse_endpoint,
    server_name,
)

__all__ = ["Index", "build_index", "candidates_by_name", "match_all", "match_declared", "narrow_by_endpoint"]

# Scores order the reasons of one match; a pin beats every rule.
_SCORE = {"pin": 1000, "url": 300, "address": 200, "root": 100}


def _names_of(app: DiscoveredApp) -> str:
    return " ".join(app.server_names) or "_"


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
