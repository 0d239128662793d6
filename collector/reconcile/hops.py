"""Which backend app a front proxy reaches, followed as HTTP does.

A proxy connects to its upstream's address and port and asks for a Host; the
web server there answers with the virtual host whose name matches that Host,
else with its default one for the address and port. So a front reaches the
backend vhost named by:

- the client's Host, passed on (`$host`, `$http_host`, Apache's
  `ProxyPreserveHost On`, Caddy and lighttpd by default): one per name the
  front serves, or every vhost there when the front takes any name;
- a fixed name (`proxy_set_header Host intranet.local`);
- the upstream's own name or address (nginx's and Apache's default).

Never every vhost on the address because one shares it. The agent reports the
Host rule in each proxying app's `host_header` label; for snapshots without it,
each server's own default is assumed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.index import Index, candidates_by_name, narrow_by_endpoint
from ronda.collector.reconcile.model import DiscoveredApp
from ronda.collector.reconcile.urls import (
    WILDCARD_ADDRESSES,
    ServerName,
    host_key,
    is_address,
    is_loopback,
    parse_endpoint,
    server_name,
)

CLIENT_HOST, UPSTREAM_HOST = "$host", "$proxy_host"
_DEFAULT_HEADER = {"nginx": UPSTREAM_HOST, "apache": UPSTREAM_HOST}  # the others pass the client's on
_LOOPBACK = {"localhost": "127.0.0.1", "[::1]": "::1"}


@dataclass(frozen=True, slots=True)
class Hop:
    """`front` proxies to `backend`, asking for `host` ("" when any name the front receives)."""

    front: DiscoveredApp
    backend: DiscoveredApp
    host: str
    answered: str  # by its "name", as the "default" of several vhosts, as the "only" app there, or "any"

    def why(self) -> str:
        servers = f" = {','.join(self.front.upstream_servers)}" if self.front.upstream_servers else ""
        said = {"app": label(self.front), "upstream": f"{self.front.upstream}{servers}"}
        if self.answered == "any":
            return T.PROXIES_TO_ANY(**said)
        if self.answered == "name":
            return T.PROXIES_TO_HOST(**said, name=self.host)
        if self.answered == "default":
            return T.PROXIES_TO_DEFAULT(**said, name=self.host)
        return T.PROXIES_TO(**said)


def label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    return f"{name}{'' if app.prefix == '/' else app.prefix}"


def has_own_name(app: DiscoveredApp) -> bool:
    """A name a client could reach the app by, bypassing any front: a DNS name, not a catch-all, an
    address, or a process name (a PM2 app, a container)."""
    return any(
        "." in name and not is_address(name.strip("[]")) and server_name(name).kind != "catch-all"
        for name in app.server_names
    )


def sent_hosts(front: DiscoveredApp, upstream_host: str) -> tuple[list[str], list[ServerName]] | None:
    """The Host names `front` asks its upstream (named `upstream_host`) for, and the name patterns it
    passes on; None for any name."""
    header = front.host_header or _DEFAULT_HEADER.get(front.kind, CLIENT_HOST)
    if header.startswith(UPSTREAM_HOST):
        return [upstream_host], []
    if header.startswith("$server_name"):
        return [front.server_names[0]] if front.server_names else [upstream_host], []
    if "$" not in header:  # a fixed name (with a port, perhaps)
        return [host_key(header.rsplit(":", 1)[0] if header.count(":") == 1 else header)], []
    # The client's Host ($host, $http_host), or a variable ronda cannot resolve (a map): as if the
    # client's were passed on.
    matchers = [server_name(n) for n in front.server_names]
    if not matchers or any(m.kind == "catch-all" for m in matchers):
        return None
    return [m.value for m in matchers if m.kind == "exact"], [m for m in matchers if m.kind != "exact"]


def _same_address(listen: str, target: str | None) -> bool:
    listen = _LOOPBACK.get(listen, listen).strip("[]")
    return target is None or listen == target or listen in WILDCARD_ADDRESSES


def _on_socket(index: Index, agents: set[str], address: str | None, port: int) -> list[DiscoveredApp]:
    """The apps a connection to address:port on these hosts may reach (any of their addresses when
    `address` is None: a host name). As nginx and Apache do, the vhosts bound to that very address
    come before those on every address."""
    exact: list[DiscoveredApp] = []
    wild: list[DiscoveredApp] = []
    for agent_id in sorted(agents):
        for app in index.by_agent.get(agent_id, ()):
            on = [lst for lst in app.listen if lst.port == port and _same_address(lst.address, address)]
            if on:
                (wild if all(lst.address in WILDCARD_ADDRESSES for lst in on) else exact).append(app)
    return exact or wild


def _vhost_of(apps: list[DiscoveredApp], port: int) -> list[DiscoveredApp]:
    """The default virtual host among `apps` (and the apps under its prefixes)."""
    flagged = [a for a in apps if any(lst.default_server and lst.port == port for lst in a.listen)]
    if not flagged:
        flagged = [a for a in apps if all(server_name(n).kind == "catch-all" for n in a.server_names)]
    if not flagged and len({a.server_names for a in apps}) == 1:
        flagged = apps
    return flagged


def _answering(apps: list[DiscoveredApp], port: int, host: str) -> tuple[list[DiscoveredApp], str]:
    """The apps of the vhost that answers Host `host` among `apps`, and how it answers (see Hop)."""
    key = host_key(host)
    named = [a for a in apps if any(host_key(n) == key for n in a.server_names)]
    if not named:
        named = [a for a in apps if any(server_name(n).matches(key) for n in a.server_names)]
    if named:
        return named, "name"
    return _vhost_of(apps, port), "only" if len({a.server_names for a in apps}) == 1 else "default"


def _hops_to(front: DiscoveredApp, text: str, index: Index, proxy_host: str = "") -> list[Hop]:
    """The hops to upstream `text`; `proxy_host`: the name nginx asks for by default, when it is not
    `text`'s (a server of an upstream block is asked for the block's name)."""
    text = text.strip()
    if not text or text.startswith(("unix:", "/")):
        return []
    try:
        endpoint = parse_endpoint(text)
    except ValueError:
        return []
    port = endpoint.port or 80
    address = _LOOPBACK.get(endpoint.host, endpoint.host)
    if is_loopback(address):
        apps = _on_socket(index, {front.agent_id}, address, port)
    elif is_address(address):
        apps = _on_socket(index, index.agents_called(address), address, port)
    elif index.agents_called(address):
        apps = _on_socket(index, index.agents_called(address), None, port)
    else:  # a name no host answers to: the apps serving it, wherever they run
        apps, _ = candidates_by_name(endpoint.key, index)
    apps = [a for a in apps if a.handle != front.handle]
    sent = sent_hosts(front, proxy_host or endpoint.host)
    found: list[Hop] = []
    if sent is None:
        chosen, _ = narrow_by_endpoint(endpoint, apps)
        return [Hop(front, a, "", "any") for a in chosen]
    names, patterns = sent
    for host in names:
        answering, how = _answering(apps, port, host)
        chosen, _ = narrow_by_endpoint(endpoint, answering)
        found += [Hop(front, a, host, how) for a in chosen]
    if patterns:
        passed = [a for a in apps if any(p.matches(host_key(n)) for p in patterns for n in a.server_names)]
        chosen, _ = narrow_by_endpoint(endpoint, passed)
        found += [Hop(front, a, "", "any") for a in chosen]
    return found


def hops_from(front: DiscoveredApp, index: Index) -> list[Hop]:
    """The backend apps `front` proxies to (none for sockets, PHP pools and names nothing serves)."""
    if not front.upstream:
        return []
    found = _hops_to(front, front.upstream, index)
    if front.upstream_servers:
        try:
            block = parse_endpoint(front.upstream).host
        except ValueError:
            block = ""
        for server in front.upstream_servers:
            found += _hops_to(front, server, index, block)
    return list({h.backend.handle: h for h in found}.values())


def hops_to(index: Index) -> dict[str, list[Hop]]:
    """Per backend app handle, the fronts that proxy to it; worked out once per index."""
    if index.behind is None:
        behind: dict[str, list[Hop]] = defaultdict(list)
        for apps in index.by_agent.values():
            for app in apps:
                for hop in hops_from(app, index):
                    behind[hop.backend.handle].append(hop)
        index.behind = dict(behind)
    return index.behind


def named_behind(front: DiscoveredApp, key: str, index: Index) -> list[Hop]:
    """The backend vhosts that answer Host `key` by their own name behind `front` (and behind them):
    the app a declared URL names, reached through its front proxy, as HTTP reaches it. Backends that
    answer other names, or any name, are the declared app's dependencies, not the app."""
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
