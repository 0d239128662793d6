"""What the network sweeps say about the fleet: pure functions over plain data.

- unmanaged-host: an address answering on web ports that no agent and no SSH
  scan covers.
- exposed-listener: a port the sweep reached on a covered host that its
  snapshot does not explain: either no listener or app of the host accounts
  for it, or the host's own listener for it serves no known app.

A host covers an address when its facts list the address, its apps listen on
it explicitly, one of its app-serving listeners is bound to it, or an SSH scan
reached the host there.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ronda.collector.reconcile import texts as T

WILDCARDS = {"", "*", "0.0.0.0", "::", "[::]"}


def normal(address: str) -> str:
    text = address.strip().strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text.lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


@dataclass(frozen=True)
class NetPort:
    address: str
    port: int
    protocol: str = "tcp"
    service: str = ""
    product: str = ""
    version: str = ""
    http_title: str = ""
    web: bool = True
    first_seen: str = ""
    last_seen: str = ""

    def describe(self) -> str:
        what = " ".join(x for x in (self.service, self.product, self.version) if x)
        return (
            f"{self.port}"
            + (f" ({what})" if what else "")
            + (f" {self.http_title!r}" if self.http_title else "")
        )


@dataclass(frozen=True)
class HostListener:
    protocol: str
    address: str
    port: int
    process: str = ""
    app_keys: tuple[str, ...] = ()


@dataclass
class CoveredHost:
    """A host ronda sees inside: an agent's, or one scanned over SSH."""

    agent_id: str
    hostname: str = ""
    source: str = "agent"
    addresses: set[str] = field(default_factory=set)  # facts, and the SSH address
    app_listens: set[tuple[str, int]] = field(default_factory=set)  # (address or "*", port) from app configs
    listeners: list[HostListener] = field(default_factory=list)

    def claimed_addresses(self) -> set[str]:
        claimed = {normal(a) for a in self.addresses}
        claimed |= {normal(a) for a, _ in self.app_listens if a not in WILDCARDS}
        claimed |= {normal(s.address) for s in self.listeners if s.app_keys and s.address not in WILDCARDS}
        return claimed

    def listener_for(self, address: str, port: int) -> HostListener | None:
        exact = [s for s in self.listeners if s.port == port and normal(s.address) == address]
        wild = [s for s in self.listeners if s.port == port and s.address in WILDCARDS]
        found = exact or wild
        return found[0] if found else None

    def app_listens_on(self, address: str, port: int) -> bool:
        return any(p == port and (a in WILDCARDS or normal(a) == address) for a, p in self.app_listens)


@dataclass(frozen=True)
class NetworkFinding:
    """Field names as collector.reconcile.model.Finding, so reconciliation can take them over as they are."""

    kind: str
    subject: str
    summary: str
    detail: dict[str, Any]
    agent_id: str | None = None


def owners(hosts: list[CoveredHost]) -> dict[str, CoveredHost]:
    """Address -> the covered host that claims it (an agent's claim wins over an SSH scan's)."""
    found: dict[str, CoveredHost] = {}
    for host in sorted(hosts, key=lambda h: (h.source != "agent", h.agent_id)):
        for address in host.claimed_addresses():
            found.setdefault(address, host)
    return found


def network_findings(
    ports: list[NetPort],
    hosts: list[CoveredHost],
    ignore_ports: tuple[int, ...] = (22,),
    ignore_processes: tuple[str, ...] = ("sshd",),
) -> list[NetworkFinding]:
    by_address: dict[str, list[NetPort]] = {}
    for p in ports:
        by_address.setdefault(normal(p.address), []).append(p)
    claimed = owners(hosts)
    findings: list[NetworkFinding] = []
    for address in sorted(by_address, key=_order):
        seen = sorted(by_address[address], key=lambda p: p.port)
        host = claimed.get(address)
        if host is None:
            web = [p for p in seen if p.web]
            if web:
                findings.append(_unmanaged(address, web))
            continue
        for p in seen:
            if p.port in ignore_ports:
                continue
            finding = _exposed(host, address, p, ignore_processes)
            if finding:
                findings.append(finding)
    return findings


def _unmanaged(address: str, web: list[NetPort]) -> NetworkFinding:
    listed = ", ".join(p.describe() for p in web)
    return NetworkFinding(
        "unmanaged-host",
        f"network:{address}",
        T.UNMANAGED(address=address, ports=listed),
        {
            "address": address,
            "ports": [p.port for p in web],
            "titles": {str(p.port): p.http_title for p in web},
            "services": {
                str(p.port): " ".join(x for x in (p.service, p.product, p.version) if x) for p in web
            },
            "first_seen": min(p.first_seen for p in web),
            "last_seen": max(p.last_seen for p in web),
        },
    )


def _exposed(
    host: CoveredHost, address: str, p: NetPort, ignore_processes: tuple[str, ...]
) -> NetworkFinding | None:
    name = host.hostname or host.agent_id
    listener = host.listener_for(address, p.port)
    detail: dict[str, Any] = {
        "host": name,
        "address": address,
        "port": p.port,
        "service": p.service,
        "product": p.product,
        "http_title": p.http_title,
        "last_seen": p.last_seen,
        "reachable_from_network": True,
    }
    if listener is not None:
        if listener.app_keys or listener.process.casefold() in {x.casefold() for x in ignore_processes}:
            return None
        detail.update(
            process=listener.process,
            listener_address=listener.address,
            reason="the host reports this listener, it serves no known app, and the network sweep reached it",
        )
        summary = T.EXPOSED_SERVES_NOTHING(
            address=f"{address}:{p.port}", host=name, process=listener.process or T.UNKNOWN_PROCESS()
        )
        subject = f"{listener.protocol}:{listener.address}"
    elif host.app_listens_on(address, p.port):
        return None
    else:
        detail["reason"] = (
            f"the network sweep reached it but the host's {host.source} snapshot reports no "
            "listener or app on it"
        )
        summary = T.EXPOSED_UNREPORTED(
            address=f"{address}:{p.port}", host=name, service=p.describe(), source=host.source
        )
        subject = f"{p.protocol}:{address}"
    return NetworkFinding(
        "exposed-listener",
        f"{host.agent_id}/listener:{subject}:{p.port}",
        summary,
        detail,
        agent_id=host.agent_id,
    )


def _order(address: str) -> tuple:
    try:
        ip = ipaddress.ip_address(address)
        return (ip.version, int(ip))
    except ValueError:
        return (9, 0)
