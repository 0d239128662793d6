"""Every listening TCP socket, with the process, unit or container behind it and the apps it serves.

A socket serves an app when the app listens on its port and address, or when
the app forwards to it (Apache behind nginx, Node behind a proxy). A socket
that serves no known app keeps empty app_keys: the collector reports the
public ones as exposed listeners.

A socket is matched by the IPv4 address users reach it on: Java listens on
IPv6 sockets, and its `127.0.0.33:8080` shows as `::ffff:127.0.0.33:8080`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from ronda.agent.host import Host, HostError, ListenSocket, ProcessInfo
from ronda.agent.inspect.endpoints import backs, is_loopback, serves
from ronda.model import App, Listener, SourceError

SOURCE = "listeners"


def map_listeners(
    host: Host, apps: list[App], processes: list[ProcessInfo] | None = None
) -> tuple[list[Listener], list[SourceError]]:
    errors: list[SourceError] = []
    try:
        sockets = host.listeners()
    except HostError as e:
        return [], [SourceError(source=SOURCE, message=f"cannot list listening sockets: {e}")]
    if processes is None:
        try:
            processes = host.processes()
        except HostError as e:
            errors.append(SourceError(source=SOURCE, message=f"cannot list processes: {e}"))
            processes = []
    try:
        own = frozenset(a.lower() for a in host.system_stats().addresses)
    except HostError:
        own = frozenset()
    by_pid = {p.pid: p for p in processes}
    listeners = []
    for sock in sockets:
        proc = by_pid.get(sock.pid)
        listeners.append(
            Listener(
                protocol=sock.protocol,
                address=sock.address,
                port=sock.port,
                pid=sock.pid,
                process=proc.name if proc else "",
                user=proc.user if proc else "",
                unit=proc.unit if proc else "",
                container=proc.container if proc else "",
                app_keys=_app_keys(sock, apps, own),
                public=not is_loopback(sock.address),
            )
        )
    return listeners, errors


def ipv4_unmapped(address: str) -> str:
    """::ffff:127.0.0.33 -> 127.0.0.33; any other address as it is."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped) if mapped else address


def _app_keys(sock: ListenSocket, apps: list[App], own: frozenset[str]) -> list[str]:
    sock = replace(sock, address=ipv4_unmapped(sock.address))
    keys = [a.key for a in apps if serves(a, sock)]
    keys += [a.key for a in apps if a.key not in keys and backs(a, sock, own)]
    return keys
