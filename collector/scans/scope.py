"""What a network sweep may touch: scopes, targets and port lists.

A sweep only ever goes to targets inside the scopes an operator configured;
anything else is refused before nmap runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ronda.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where web apps are usually served: the default port list of a sweep.
DEFAULT_WEB_PORTS = "80,81,443,3000,3001,5000,7001,8000-8090,8180,8443,8888,9000,9080,9443,10000"
# A sweep of more addresses than this at once is refused (a typo like /8 instead of /24).
MAX_TARGET_ADDRESSES = 1 << 16


class ScopeError(ConfigError):
    """A target or port list is malformed, or a target lies outside the configured scopes."""


def parse_networks(values: list[str] | tuple[str, ...], what: str) -> list[IPNetwork]:
    networks = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ScopeError(
                f"{what}: {text!r} is not an IP address or CIDR network "
                "(host names are not accepted: give addresses)"
            ) from None
    return networks


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]


def within(net: IPNetwork, outer: IPNetwork) -> bool:
    """Whether `net` lies wholly inside `outer` (never across IP versions)."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False


def check_targets(
    targets: list[IPNetwork], scopes: list[IPNetwork], exclude: Sequence[IPNetwork] = ()
) -> None:
    """Refuse any target that is not wholly inside one scope (or touches an excluded network)."""
    if not scopes:
        raise ScopeError(
            'no network scopes are configured: add `scopes = ["10.0.0.0/24", ...]` under '
            "[network] in the collector config; ronda sweeps only what is declared there"
        )
    if not targets:
        raise ScopeError("no targets to sweep")
    for target in targets:
        inside = any(within(target, s) for s in scopes)
        if not inside:
            raise ScopeError(
                f"target {target} is outside the configured scopes "
                f"({', '.join(map(str, scopes))}); refusing to scan it"
            )
        for ex in exclude:
            if within(target, ex):
                raise ScopeError(f"target {target} lies in the excluded network {ex}; refusing to scan it")
    total = sum(t.num_addresses for t in targets)
    if total > MAX_TARGET_ADDRESSES:
        raise ScopeError(
            f"{total} addresses in one sweep is more than {MAX_TARGET_ADDRESSES}; split the targets"
        )


def exclusions_for(targets: list[IPNetwork], exclude: list[IPNetwork]) -> list[IPNetwork]:
    """The excluded networks a sweep of `targets` must skip (nmap --exclude)."""
    return [ex for ex in exclude if any(t.version == ex.version and t.overlaps(ex) for t in targets)]


def in_networks(address: str, networks: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


@dataclass(frozen=True)
class PortList:
    """A validated nmap port specification ("80,443,8000-8090")."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, spec: str | list[int | str]) -> PortList:
        parts = [str(p) for p in spec] if isinstance(spec, list) else split_list(spec)
        ranges = []
        for part in parts:
            low, sep, high = part.partition("-")
            try:
                lo, hi = int(low), int(high) if sep else int(low)
            except ValueError:
                raise ScopeError(f"ports: {part!r} is not a port or a range like 8000-8090") from None
            if not (1 <= lo <= hi <= 65535):
                raise ScopeError(f"ports: {part!r} is outside 1-65535 or reversed")
            ranges.append((lo, hi))
        if not ranges:
            raise ScopeError("ports: the list is empty")
        return cls(tuple(sorted(set(ranges))))

    def __contains__(self, port: int) -> bool:
        return any(lo <= port <= hi for lo, hi in self.ranges)

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)


WEB_PORTS = PortList.parse(DEFAULT_WEB_PORTS)
