"""Where an app listens and where it forwards to, and which sockets those are."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ronda.agent.host import ListenSocket
from ronda.model import App

_WILDCARDS = {"", "*", "0.0.0.0", "::", "[::]", "::0"}
_SCHEME_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "grpc": 80,
    "grpcs": 443,
    "fcgi": 9000,
    "ajp": 8009,
    "uwsgi": 0,
    "scgi": 0,
}


def is_wildcard(address: str) -> bool:
    return address.strip("[]") in _WILDCARDS or address in _WILDCARDS


def is_loopback(address: str) -> bool:
    a = address.strip("[]").lower()
    return a.startswith("127.") or a in ("::1", "localhost", "ip6-localhost") or a.startswith("::ffff:127.")


def same_address(wanted: str, bound: str) -> bool:
    """Does a socket bound to `bound` accept connections addressed to `wanted`?"""
    w, b = wanted.strip("[]").lower(), bound.strip("[]").lower()
    if is_wildcard(w) or is_wildcard(b) or w == b:
        return True
    return w == "localhost" and is_loopback(b)


def serves(app: App, sock: ListenSocket) -> bool:
    """`sock` is one of the sockets `app` is reached through."""
    return any(a.port == sock.port and same_address(a.address, sock.address) for a in app.listen if a.port)


@dataclass(frozen=True)
class Target:
    """An upstream: a TCP host:port, a unix socket path, or an unresolved name (an nginx upstream block)."""

    host: str = ""
    port: int = 0
    socket: str = ""
    name: str = ""


def upstream_target(upstream: str) -> Target | None:
    """proxy_pass / fastcgi_pass / ProxyPass targets in the spellings nginx and Apache use."""
    text = upstream.strip()
    if not text:
        return None
    if "unix:" in text:  # unix:/run/php.sock, http://unix:/x.sock:/, unix:/run/php.sock|fcgi://localhost
        path = text.split("unix:", 1)[1].split("|", 1)[0]
        path = re.split(r":(?=/|$)", path, maxsplit=1)[0] if path.count(":") else path
        return Target(socket=path)
    scheme = ""
    if "://" in text:
        scheme, _, text = text.partition("://")
    hostport = re.split(r"[/?#]", text, maxsplit=1)[0]
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?", hostport)
    if not m:
        return None
    host = m.group(1) or m.group(3) or ""
    port = int(m.group(2) or m.group(4) or 0) or _SCHEME_PORTS.get(scheme.lower(), 0)
    if not port and not scheme:
        return Target(name=host)  # a bare name: an upstream block
    if "$" in host:
        return None
    return Target(host=host, port=port)


def targets(app: App) -> list[Target]:
    """Where `app` forwards to: its upstream (resolved through the upstream block's servers when
    the source listed them in the `upstream_servers` label) and its PHP `handler` label."""
    found: list[Target] = []
    direct = upstream_target(app.upstream)
    servers = [s for s in app.labels.get("upstream_servers", "").split(",") if s.strip()]
    if direct is not None and not (direct.name or servers):
        found.append(direct)
    for server in servers:
        t = upstream_target(server)
        if t is not None and t.name:  # an upstream server written without a port
            t = Target(host=t.name, port=80)
        if t is not None:
            found.append(t)
    handler = upstream_target(app.labels.get("handler", ""))
    if handler is not None and not handler.name:
        found.append(handler)
    return [t for i, t in enumerate(found) if t not in found[:i]]


def backs(app: App, sock: ListenSocket, own_addresses: frozenset[str] = frozenset()) -> bool:
    """`sock` is a backend `app` forwards to (Apache behind nginx, Node behind a proxy)."""
    return any(target_is(t, sock, own_addresses) for t in targets(app))


def target_is(target: Target, sock: ListenSocket, own_addresses: frozenset[str]) -> bool:
    if not target.port or target.port != sock.port:
        return False
    host = target.host.lower()
    if is_loopback(host) or host in own_addresses:
        return is_wildcard(sock.address) or same_address(host, sock.address)
    return not is_wildcard(host) and host == sock.address.lower()
