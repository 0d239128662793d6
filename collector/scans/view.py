"""The fleet as the sweeps and scans see it, read from the store: the inputs of the network findings,
and when each host was last seen by which source."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ronda.collector.scans.findings import (
    CoveredHost,
    HostListener,
    NetPort,
    NetworkFinding,
    network_findings,
    normal,
    owners,
)
from ronda.collector.store import Store


@dataclass
class NetworkView:
    ports: list[NetPort]
    hosts: list[CoveredHost]
    last_seen: dict[str, dict[str, str | None]]  # agent id -> {"agent": ..., "ssh": ...}

    def findings(
        self, ignore_ports: tuple[int, ...] = (22,), ignore_processes: tuple[str, ...] = ("sshd",)
    ) -> list[NetworkFinding]:
        return network_findings(self.ports, self.hosts, ignore_ports, ignore_processes)


def load_view(store: Store) -> NetworkView:
    hosts: dict[str, CoveredHost] = {}
    last_seen: dict[str, dict[str, str | None]] = {}
    for r in store.query(
        "SELECT h.agent_id, h.hostname, h.addresses, a.source, a.last_seen "
        "FROM hosts h JOIN agents a USING (agent_id)"
    ):
        source = "ssh" if r["source"] == "ssh" else "agent"
        hosts[r["agent_id"]] = CoveredHost(
            r["agent_id"], r["hostname"] or "", source, set(json.loads(r["addresses"] or "[]"))
        )
        last_seen[r["agent_id"]] = {"agent": r["last_seen"] if source == "agent" else None, "ssh": None}
    for r in store.query(
        "SELECT agent_id, address, last_success FROM ssh_targets WHERE last_success IS NOT NULL"
    ):
        if r["agent_id"] in hosts:
            hosts[r["agent_id"]].addresses.add(r["address"])
            last_seen[r["agent_id"]]["ssh"] = r["last_success"]
    for r in store.query(
        "SELECT agent_id, json_extract(detail, '$.listen') AS listen FROM apps WHERE present"
    ):
        host = hosts.get(r["agent_id"])
        if host is None:
            continue
        for item in json.loads(r["listen"] or "[]"):
            if isinstance(item, dict) and item.get("port"):
                host.app_listens.add((str(item.get("address") or "*"), int(item["port"])))
    for r in store.query("SELECT agent_id, protocol, address, port, process, app_keys FROM listeners"):
        if r["agent_id"] in hosts:
            hosts[r["agent_id"]].listeners.append(
                HostListener(
                    r["protocol"],
                    r["address"],
                    int(r["port"]),
                    r["process"] or "",
                    tuple(json.loads(r["app_keys"] or "[]")),
                )
            )
    ports = [
        NetPort(
            r["address"],
            int(r["port"]),
            r["protocol"],
            r["service"],
            r["product"],
            r["version"],
            r["http_title"],
            bool(r["web"]),
            r["first_seen"],
            r["last_seen"],
        )
        for r in store.query("SELECT * FROM network_ports WHERE open")
    ]
    return NetworkView(ports, list(hosts.values()), last_seen)


def sightings(view: NetworkView) -> list[dict[str, Any]]:
    """One row per covered host and per uncovered address the sweeps found: who saw it last, and when."""
    claimed = owners(view.hosts)
    network_seen: dict[str, str] = {}
    web: dict[str, list[int]] = {}
    for p in view.ports:
        address = normal(p.address)
        network_seen[address] = max(network_seen.get(address, ""), p.last_seen)
        if p.web:
            web.setdefault(address, []).append(p.port)
    rows = []
    for host in sorted(view.hosts, key=lambda h: (h.hostname, h.agent_id)):
        mine = sorted(a for a, h in claimed.items() if h is host)
        seen = [network_seen[a] for a in mine if a in network_seen]
        rows.append(
            {
                "host": host.hostname or host.agent_id,
                "agent_id": host.agent_id,
                "covered_by": host.source,
                "addresses": mine,
                "agent_last_seen": view.last_seen[host.agent_id]["agent"],
                "ssh_last_seen": view.last_seen[host.agent_id]["ssh"],
                "network_last_seen": max(seen) if seen else None,
                "web_ports": sorted({p for a in mine for p in web.get(a, [])}),
            }
        )
    for address in sorted(set(network_seen) - set(claimed)):
        rows.append(
            {
                "host": address,
                "agent_id": None,
                "covered_by": "none",
                "addresses": [address],
                "agent_last_seen": None,
                "ssh_last_seen": None,
                "network_last_seen": network_seen[address],
                "web_ports": sorted(web.get(address, [])),
            }
        )
    return rows
