"""One nmap sweep through python-nmap: open TCP ports, what answers on them, and their HTTP titles.

Always `-n` (no DNS lookups leave the collector), `-Pn` (no ping: many
servers drop it) and a TCP connect scan, so root is not needed.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nmap

from ronda.collector.scans.scope import WEB_PORTS, IPNetwork, PortList
from ronda.errors import EXIT_REFUSED, ScanError

HTTP_SERVICES = ("http", "https", "http-proxy", "http-alt", "https-alt", "http-mgmt", "ssl/http")


class NmapMissing(ScanError):
    """nmap is not installed or not on PATH."""

    exit_code = EXIT_REFUSED  # install nmap: retrying changes nothing


class NmapFailed(ScanError):
    """nmap ran but the sweep did not complete."""


@dataclass(frozen=True)
class PortObservation:
    address: str
    port: int
    protocol: str = "tcp"
    service: str = ""
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when the service speaks through TLS
    http_title: str = ""
    # named by a probe's answer, not only from nmap's table of port numbers (a sweep without
    # version detection, or a probe that got no answer in time)
    identified: bool = True

    @property
    def is_web(self) -> bool:
        # without version detection nmap names services by port number only ("unknown" off the list)
        return (
            bool(self.http_title)
            or self.service in HTTP_SERVICES
            or "http" in self.service
            or (self.service in ("", "unknown") and self.port in WEB_PORTS)
        )

    @property
    def scheme(self) -> str:
        if not self.is_web:
            return ""
        return "https" if self.tunnel == "ssl" or self.service in ("https", "https-alt") else "http"


@dataclass
class SweepResult:
    targets: list[IPNetwork]
    ports: PortList
    started_at: datetime
    finished_at: datetime
    nmap_version: str = ""
    command: str = ""
    open_ports: list[PortObservation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exclude: list[IPNetwork] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return sorted({p.address for p in self.open_ports})


@dataclass(frozen=True)
class SweepOptions:
    timing: int = 3
    host_timeout_seconds: int = 300
    version_detection: bool = True


def find_nmap(path: str | None = None) -> str:
    """The nmap on PATH (or on `path`); python-nmap's own search of fixed places is not used."""
    found = shutil.which("nmap", path=path if path is not None else os.environ.get("PATH", ""))
    if not found:
        raise NmapMissing(
            "nmap is not installed or not on PATH; install it (Debian/Ubuntu: apt-get install "
            "nmap, RHEL: dnf install nmap) and run the sweep again"
        )
    return found


def nmap_arguments(options: SweepOptions, exclude: Sequence[IPNetwork] = ()) -> str:
    args = [
        "-n",
        "-Pn",
        "-sT",
        f"-T{options.timing}",
        "--max-retries",
        "1",
        "--host-timeout",
        f"{options.host_timeout_seconds}s",
    ]
    if exclude:
        args += ["--exclude", ",".join(map(str, exclude))]
    if options.version_detection:
        args += ["-sV", "--version-light", "--script", "http-title", "--script-timeout", "30s"]
    return " ".join(args)


def sweep(
    targets: list[IPNetwork],
    ports: PortList,
    options: SweepOptions = SweepOptions(),
    nmap_path: str | None = None,
    exclude: Sequence[IPNetwork] = (),
) -> SweepResult:
    """Run nmap over `targets` (already checked against the scopes), skipping `exclude`.

    Returns the open ports."""
    binary = nmap_path or find_nmap()
    try:
        scanner = nmap.PortScanner(nmap_search_path=(binary,))
    except nmap.PortScannerError as e:
        raise NmapMissing(f"{binary} does not run as nmap: {str(e).strip()}") from None
    arguments = nmap_arguments(options, exclude)
    hosts = " ".join(str(t) for t in targets)
    started = datetime.now(UTC)
    try:
        data = scanner.scan(hosts=hosts, ports=str(ports), arguments=arguments)
    except nmap.PortScannerError as e:
        raise NmapFailed(f"nmap failed: {_first_line(str(e))}") from None
    finished = datetime.now(UTC)
    info = data.get("nmap", {}).get("scaninfo", {})
    errors = [line for chunk in info.get("error", []) for line in str(chunk).splitlines() if line.strip()]
    if errors and not data.get("scan"):
        raise NmapFailed(f"nmap failed: {errors[0].strip()}")
    version = "{}.{}".format(*scanner.nmap_version())
    result = SweepResult(
        targets=targets,
        ports=ports,
        started_at=started,
        finished_at=finished,
        nmap_version=version,
        command=data.get("nmap", {}).get("command_line", ""),
        warnings=[w.strip() for w in info.get("warning", [])] + [e.strip() for e in errors],
        exclude=list(exclude),
    )
    tunnels = _tunnels(scanner.get_nmap_last_output())
    for address, host in data.get("scan", {}).items():
        for port, entry in host.get("tcp", {}).items():
            if entry.get("state") != "open":
                continue
            scripts = entry.get("script") or {}
            result.open_ports.append(
                PortObservation(
                    address=address,
                    port=int(port),
                    service=entry.get("name", ""),
                    product=entry.get("product", ""),
                    version=entry.get("version", ""),
                    extrainfo=entry.get("extrainfo", ""),
                    tunnel=tunnels.get((address, int(port)), ""),
                    http_title=_title(scripts.get("http-title", "")),
                    identified=_probed(entry.get("conf", "")),
                )
            )
    result.open_ports.sort(key=lambda p: (_sort_key(p.address), p.port))
    return result


def _tunnels(xml_output: bytes | str) -> dict[tuple[str, int], str]:
    """The service's tunnel attribute (https shows as http over ssl), read from nmap's XML.

    python-nmap drops it."""
    found: dict[tuple[str, int], str] = {}
    try:
        root = ET.fromstring(xml_output)
    except ET.ParseError:
        return found
    for host in root.iter("host"):
        addr = next(
            (a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")), None
        )
        for port in host.iter("port"):
            service = port.find("service")
            if addr and service is not None and service.get("tunnel"):
                found[(addr, int(port.get("portid", 0)))] = service.get("tunnel", "")
    return found


def _probed(conf: str) -> bool:
    """Whether nmap named the service from a probe: confidence 10, where a port-table guess is 3."""
    return conf.isdigit() and int(conf) > 3


def _title(text: str) -> str:
    """nmap's http-title output, without its notes ("Site doesn't have a title", redirects)."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if first.startswith("Site doesn't have a title") or first.startswith("Did not follow redirect"):
        return ""
    return first[:300]


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def _sort_key(address: str) -> tuple:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
        return (ip.version, int(ip))
    except ValueError:
        return (9, address)
