"""The collector's scan settings: which networks may be swept, which hosts are scanned over SSH.

[network]
scopes = ["10.20.0.0/16", "192.168.5.10"]   # the only addresses ronda ever sweeps
exclude = ["10.20.99.0/24"]                  # never swept, even inside a scope
targets = []                                 # default sweep (empty: all scopes)
ports = "80,443,8000-8090,8443"              # default: common web ports
timing = 3                                   # nmap -T0..-T5
host_timeout_seconds = 300
version_detection = true                     # nmap -sV and the http-title script

[ssh]
user = "ronda"
key = "/etc/ronda/ssh/id_ed25519"
known_hosts = "/etc/ronda/ssh/known_hosts"  # unknown host keys are refused
port = 22
connect_timeout_seconds = 10
command_timeout_seconds = 60
state_dir = "/var/lib/ronda/ssh"            # per-host usage state and sequence

[[ssh.hosts]]
name = "web-dinkes"       # the scanned host's id in the store is "ssh:web-dinkes"
address = "10.20.1.5"
nginx_conf = ""           # optional, as on the agent
apache_conf = ""
# user, key, known_hosts, port may be set per host too
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ronda.collector.scans.scope import DEFAULT_WEB_PORTS, IPNetwork, PortList, ScopeError, parse_networks
from ronda.ids import valid_agent_id

DEFAULT_CONFIG = "/etc/ronda/collector.toml"


class ScanConfigError(Exception):
    """The collector config is missing, unreadable or has bad values."""


@dataclass
class NetworkConfig:
    scopes: list[IPNetwork] = field(default_factory=list)
    exclude: list[IPNetwork] = field(default_factory=list)
    targets: list[IPNetwork] = field(default_factory=list)
    ports: PortList = field(default_factory=lambda: PortList.parse(DEFAULT_WEB_PORTS))
    timing: int = 3
    host_timeout_seconds: int = 300
    version_detection: bool = True


@dataclass
class SshTarget:
    name: str
    address: str
    port: int = 0  # 0: the [ssh] default
    user: str = ""
    key: str = ""
    known_hosts: str = ""
    nginx_conf: str = ""
    apache_conf: str = ""

    @property
    def agent_id(self) -> str:
        return f"ssh:{self.name}"


@dataclass
class SshConfig:
    user: str = "ronda"
    key: str = ""
    known_hosts: str = ""
    port: int = 22
    connect_timeout_seconds: float = 10.0
    command_timeout_seconds: float = 60.0
    state_dir: str = ""
    hosts: list[SshTarget] = field(default_factory=list)

    def target(self, spec: str) -> SshTarget:
        """A configured host by name or address; anything else is an address with the [ssh] defaults."""
        for host in self.hosts:
            if spec in (host.name, host.address):
                return self.complete(host)
        return self.complete(SshTarget(name=spec, address=spec))

    def complete(self, host: SshTarget) -> SshTarget:
        return replace(
            host,
            user=host.user or self.user,
            key=host.key or self.key,
            known_hosts=host.known_hosts or self.known_hosts,
            port=host.port or self.port,
        )


@dataclass
class ScanConfig:
    path: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    ssh: SshConfig = field(default_factory=SshConfig)


def default_config_path() -> str | None:
    if os.environ.get("RONDA_CONFIG"):
        return os.environ["RONDA_CONFIG"]
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None


def load_scan_config(path: str | None) -> ScanConfig:
    """Read `path`; with None, the default file if it exists, else an empty config (no scopes)."""
    path = path or default_config_path()
    if path is None:
        return ScanConfig()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ScanConfigError(f"cannot read config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScanConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        return ScanConfig(
            path=path, network=_network(data.get("network", {}), path), ssh=_ssh(data.get("ssh", {}), path)
        )
    except ScopeError as e:
        raise ScanConfigError(f"{path}: [network] {e}") from None


def _check_keys(table: Any, known: set[str], where: str) -> dict:
    if not isinstance(table, dict):
        raise ScanConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScanConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return table


def _typed(table: dict, name: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    value = table.get(name, default)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise ScanConfigError(f"{where}: {name} has the wrong type ({type(value).__name__})")
    return value


def _network(table: Any, path: str) -> NetworkConfig:
    where = f"{path}: [network]"
    known = {"scopes", "exclude", "targets", "ports", "timing", "host_timeout_seconds", "version_detection"}
    table = _check_keys(table, known, where)
    config = NetworkConfig()
    for name in ("scopes", "exclude", "targets"):
        values = _typed(table, name, list, [], where)
        setattr(config, name, parse_networks(values, name))
    if "ports" in table:
        config.ports = PortList.parse(_typed(table, "ports", (str, list), "", where))
    config.timing = _typed(table, "timing", int, config.timing, where)
    if not 0 <= config.timing <= 5:
        raise ScanConfigError(f"{where}: timing must be 0-5 (nmap -T)")
    config.host_timeout_seconds = _typed(
        table, "host_timeout_seconds", int, config.host_timeout_seconds, where
    )
    if config.host_timeout_seconds < 1:
        raise ScanConfigError(f"{where}: host_timeout_seconds must be at least 1")
    config.version_detection = _typed(table, "version_detection", bool, True, where)
    return config


def _ssh(table: Any, path: str) -> SshConfig:
    where = f"{path}: [ssh]"
    host_keys = {f.name for f in fields(SshTarget)}
    known = {f.name for f in fields(SshConfig)}
    table = _check_keys(table, known, where)
    config = SshConfig()
    for f in fields(SshConfig):
        if f.name == "hosts" or f.name not in table:
            continue
        kind = (int, float) if isinstance(getattr(config, f.name), float) else type(getattr(config, f.name))
        setattr(config, f.name, _typed(table, f.name, kind, None, where))
    if config.connect_timeout_seconds <= 0 or config.command_timeout_seconds <= 0:
        raise ScanConfigError(f"{where}: timeouts must be positive")
    names = set()
    for i, entry in enumerate(_typed(table, "hosts", list, [], where)):
        at = f"{path}: [[ssh.hosts]] #{i + 1}"
        entry = _check_keys(entry, host_keys, at)
        if not entry.get("address"):
            raise ScanConfigError(f"{at}: address is required")
        host = SshTarget(name=str(entry.get("name") or entry["address"]), address=str(entry["address"]))
        for name in host_keys - {"name", "address"}:
            if name in entry:
                setattr(host, name, _typed(entry, name, type(getattr(host, name)), None, at))
        if not valid_agent_id(host.agent_id):
            raise ScanConfigError(f"{at}: name {host.name!r} may hold only letters, digits and . _ - @ :")
        if host.name in names:
            raise ScanConfigError(f"{at}: the name {host.name!r} is used twice")
        names.add(host.name)
        config.hosts.append(host)
    return config
