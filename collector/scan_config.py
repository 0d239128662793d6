"""The collector's settings: which networks may be swept, which hosts are scanned over SSH, and the
time zone people read dates in.

timezone = "WITA"   # WIB, WITA, WIT or a name such as Asia/Makassar; --tz and $RONDA_TZ come first

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
from dataclasses import dataclass, field, replace
from typing import Any, cast

from ronda.collector.scans.scope import DEFAULT_WEB_PORTS, IPNetwork, PortList, ScopeError, parse_networks
from ronda.errors import ConfigError
from ronda.i18n import LanguageError, choose_timezone
from ronda.ids import valid_agent_id
from ronda.tomlfile import TomlFile, fields_of, find_config

DEFAULT_CONFIG = "/etc/ronda/collector.toml"


class ScanConfigError(ConfigError):
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
    timezone: str = ""  # "": the host's zone


def load_scan_config(path: str | None) -> ScanConfig:
    """Read `path`, else $RONDA_CONFIG, else /etc/ronda/collector.toml if it exists, else an empty
    config (no scopes: nothing may be swept)."""
    path = find_config(path, "RONDA_CONFIG", DEFAULT_CONFIG)
    if path is None:
        return ScanConfig()
    file = TomlFile.read(path, "collector config", ScanConfigError)
    top = file.settings(file.data, {"network": dict, "ssh": dict, "timezone": str})
    config = ScanConfig(path=path, network=_network(file), ssh=_ssh(file), timezone=top.get("timezone", ""))
    if config.timezone:
        try:
            choose_timezone(config.timezone, {})
        except LanguageError as e:
            file.problem(str(e), "timezone")
    file.check()
    return config


def configured_timezone() -> str | None:
    """The `timezone` of the collector config ($RONDA_CONFIG, else /etc/ronda/collector.toml), for
    commands that have no --config: None when there is none, or when the default file is there but
    this user may not read it (an operator outside the collector's group gets the host's zone)."""
    path = find_config(None, "RONDA_CONFIG", DEFAULT_CONFIG)
    if path is None or (path == DEFAULT_CONFIG and not os.access(path, os.R_OK)):
        return None
    return load_scan_config(path).timezone or None


_NETWORK = {
    "scopes": list[str],
    "exclude": list[str],
    "targets": list[str],
    "ports": str | list[int | str],
    "timing": int,
    "host_timeout_seconds": int,
    "version_detection": bool,
}


def _network(file: TomlFile) -> NetworkConfig:
    values = file.settings(file.table("network"), _NETWORK, "network")
    config = NetworkConfig()
    for name, value in values.items():
        try:
            if name in ("scopes", "exclude", "targets"):
                value = parse_networks(value, name)
            elif name == "ports":
                value = PortList.parse(value)
        except ScopeError as e:
            file.problem(str(e), "network", name)
            continue
        setattr(config, name, value)
    if not 0 <= config.timing <= 5:
        file.problem("timing must be 0-5 (nmap -T)", "network", "timing")
    if config.host_timeout_seconds < 1:
        file.problem("host_timeout_seconds must be at least 1", "network", "host_timeout_seconds")
    return config


def _ssh(file: TomlFile) -> SshConfig:
    expected: dict[str, Any] = {**fields_of(SshConfig), "hosts": list[dict]}
    config = SshConfig(**file.settings(file.table("ssh"), expected, "ssh"))
    for name in ("connect_timeout_seconds", "command_timeout_seconds"):
        if getattr(config, name) <= 0:
            file.problem("timeouts must be positive", "ssh", name)
    # read as raw tables: what TomlFile.settings gave for `hosts` is list[dict] until checked here
    entries: list[dict[str, Any]] = cast(list[dict[str, Any]], config.hosts)
    config.hosts = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        values = file.settings(entry, fields_of(SshTarget), "ssh", "hosts", i)
        if not values.get("address"):
            file.problem("address is required", "ssh", "hosts", i)
            continue
        host = SshTarget(**{**values, "name": values.get("name") or values["address"]})
        if not valid_agent_id(host.agent_id):
            file.problem(
                f"name {host.name!r} may hold only letters, digits and . _ - @ :", "ssh", "hosts", i, "name"
            )
        elif host.name in names:
            file.problem(f"the name {host.name!r} is used twice", "ssh", "hosts", i, "name")
        names.add(host.name)
        config.hosts.append(host)
    return config
