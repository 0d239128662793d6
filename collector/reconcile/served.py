"""Every app that serves a URL, front and back, read from the store: the apps whose names (or host
address) answer it, as matching finds them, then the backends their proxies reach with that Host,
followed hop by hop (nginx in front of nginx in front of a Node app)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.hops import Hop, hops_from, label
from ronda.collector.reconcile.index import Index, build_index
from ronda.collector.reconcile.match import match_declared
from ronda.collector.reconcile.model import DiscoveredApp, HostInfo, Listen
from ronda.collector.reconcile.queries import like
from ronda.collector.reconcile.urls import host_key, is_loopback, parse_endpoint
from ronda.collector.store import Store

MAX_HOPS = 4  # a front, a cache or balancer, a backend: deeper chains are config loops


@dataclass(frozen=True, slots=True)
class Serving:
    app: DiscoveredApp
    role: str  # what it does for the URL, in a few words


def _hosts(store: Store) -> dict[str, HostInfo]:
    return {
        r["agent_id"]: HostInfo(
            r["agent_id"], r["hostname"] or "", r["fqdn"] or "", tuple(json.loads(r["addresses"] or "[]"))
        )
        for r in store.query("SELECT agent_id, hostname, fqdn, addresses FROM hosts")
    }


def _apps(store: Store, agents: set[str]) -> list[DiscoveredApp]:
    """The present apps of these hosts, with what following a proxy needs (listen flags, labels)."""
    rows = store.query(
        "SELECT agent_id, app_key, kind, server_names, path_prefix, root, upstream, parent_key, framework, "
        "json_extract(detail, '$.listen') AS listen, json_extract(detail, '$.labels') AS labels FROM apps "
        "WHERE present AND agent_id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(agents)),),
    )
    out = []
    for r in rows:
        labels = json.loads(r["labels"] or "{}")
        listen = tuple(
            Listen(
                str(x.get("address", "*")),
                int(x.get("port", 0)),
                bool(x.get("tls")),
                bool(x.get("default_server")),
            )
            for x in json.loads(r["listen"] or "[]")
        )
        servers = labels.get("upstream_servers", "")
        out.append(
            DiscoveredApp(
                r["agent_id"],
                r["app_key"],
                r["kind"],
                tuple(json.loads(r["server_names"])),
                listen,
                r["path_prefix"] or "/",
                r["root"] or "",
                r["upstream"] or "",
                tuple(servers.split(",")) if servers else (),
                r["parent_key"] or "",
                r["framework"] or "",
                redirect=labels.get("redirect", ""),
                host_header=labels.get("host_header", ""),
            )
        )
    return out


def _candidate_agents(store: Store, key: str, hosts: dict[str, HostInfo], index_names: Index) -> set[str]:
    """Hosts with an app that may answer `key`: by name (or a name pattern), or by one of its addresses."""
    rows = store.query(
        "SELECT DISTINCT agent_id FROM apps WHERE present AND "
        "(server_names LIKE ? ESCAPE '\\' OR server_names LIKE '%*%' OR server_names LIKE '%~%')",
        (like(key),),
    )
    return {r["agent_id"] for r in rows} | index_names.agents_called(key)


def _targets(apps: list[DiscoveredApp], index: Index) -> set[str]:
    """Hosts the proxies among `apps` send to."""
    found = set()
    for app in apps:
        for text in (app.upstream, *app.upstream_servers):
            try:
                host = parse_endpoint(text).host if text and not text.startswith(("unix:", "/")) else ""
            except ValueError:
                continue
            if host:
                found |= {app.agent_id} if is_loopback(host) else index.agents_called(host)
    return found


def _around(store: Store, agents: set[str], hosts: dict[str, HostInfo]) -> Index:
    """The apps of these hosts, and of the hosts their proxies reach (and theirs), indexed."""
    names = build_index([], hosts)
    apps = _apps(store, agents)
    for _ in range(MAX_HOPS):
        more = _targets(apps, names) - agents
        if not more:
            break
        agents |= more
        apps += _apps(store, more)
    return build_index(apps, hosts, roots=False)


def serving(store: Store, text: str) -> list[Serving]:
    """The apps serving URL `text`, fronts first, each backend after the front it sits behind."""
    try:
        endpoint = parse_endpoint(text)
    except ValueError:
        return []
    hosts = _hosts(store)
    index = _around(
        store, _candidate_agents(store, host_key(endpoint.host), hosts, build_index([], hosts)), hosts
    )
    matched = [
        index.by_handle[m.handle] for m in match_declared(DeclaredApp("", "", "active", urls=[text]), index)
    ]
    behind: dict[str, Hop] = {}  # backend handle -> the hop that reaches it
    queue = [(app, endpoint.key) for app in matched]
    for _ in range(MAX_HOPS):
        following = []
        for front, host in queue:
            for hop in _for_host(hops_from(front, index), host):
                if hop.backend.handle not in behind and hop.backend.handle != front.handle:
                    behind[hop.backend.handle] = hop
                    following.append((hop.backend, hop.host or host))
        queue = following
    found = [
        Serving(app, f"front, proxies to {app.upstream}" if app.upstream else "serves it")
        for app in matched
        if app.handle not in behind
    ]
    return found + [Serving(hop.backend, f"backend behind {label(hop.front)}") for hop in behind.values()]


def backends(store: Store, apps: list[tuple[str, str, str]]) -> list[Hop]:
    """What the proxies among `apps` ((agent id, app key, upstream): one subject's) reach, apart from
    those apps themselves, each hop with its why."""
    proxies = [(agent, key) for agent, key, upstream in apps if upstream]
    if not proxies:
        return []
    index = _around(store, {agent for agent, _ in proxies}, _hosts(store))
    mine = {f"{agent}/{key}" for agent, key, _ in apps}
    return [
        hop
        for handle in (f"{agent}/{key}" for agent, key in proxies)
        if handle in index.by_handle
        for hop in hops_from(index.by_handle[handle], index)
        if hop.backend.handle not in mine
    ]


def _for_host(hops: list[Hop], host: str) -> list[Hop]:
    """The hops a request for Host `host` takes: those for that name, or for any name; a front that
    sends a Host of its own (a fixed name, its upstream's) takes the same hops whatever the client asks."""
    return [h for h in hops if h.host in (host, "")] or hops
