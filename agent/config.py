"""The agent's TOML config file. Command-line flags override it.

collector = "collector.example.go.id:7470"
interval_seconds = 900      # how often to scan and report
jitter_seconds = 60         # random delay added to spread the fleet's load
state_dir = "/var/lib/ronda-agent"
root = "/"                  # read the host under this prefix
agent_id = ""               # default: the machine id
insecure = false            # plain text, loopback only
ca = "/etc/ronda/ca.pem"
cert = "/etc/ronda/agent.pem"
key = "/etc/ronda/agent-key.pem"
nginx_conf = ""             # default: the usual places
spool_max_entries = 16      # snapshots kept on disk while the collector is unreachable
scan_timeout_seconds = 600  # a scan reads nothing more after this; the snapshot still goes out
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_CONFIG = "/etc/ronda/agent.toml"


class ConfigError(Exception):
    """The config file is missing, unreadable or has bad values."""


@dataclass
class AgentConfig:
    collector: str = ""
    interval_seconds: int = 900
    jitter_seconds: int = 60
    state_dir: str = ""
    root: str = ""
    agent_id: str = ""
    insecure: bool = False
    ca: str = ""
    cert: str = ""
    key: str = ""
    nginx_conf: str = ""
    apache_conf: str = ""
    sources: list = field(default_factory=list)
    spool_max_entries: int = 16  # snapshots kept while the collector is unreachable (oldest dropped first)
    scan_timeout_seconds: int = 600  # a scan's deadline (ronda.agent.host.deadline)
    allow_readable_key: bool = False  # use a key file other users can read (refused otherwise)


def load_config(path: str | None) -> AgentConfig:
    """Read `path`; with None, read the default file if it exists, else use defaults."""
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            return AgentConfig()
        path = DEFAULT_CONFIG
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    known = {f.name: f for f in fields(AgentConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    config = AgentConfig()
    for name, value in data.items():
        expected = type(getattr(config, name))
        if expected is int and isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{path}: {name} must be {expected.__name__}, not {type(value).__name__}")
        setattr(config, name, value)
    check_sources(config.sources, path)
    if config.interval_seconds < 10:
        raise ConfigError(f"{path}: interval_seconds must be at least 10")
    if config.spool_max_entries < 1:
        raise ConfigError(f"{path}: spool_max_entries must be at least 1")
    if config.scan_timeout_seconds < 1:
        raise ConfigError(f"{path}: scan_timeout_seconds must be at least 1")
    if config.jitter_seconds < 0:
        raise ConfigError(f"{path}: jitter_seconds must not be negative")
    return config


def check_sources(names: list[str], where: str = "--sources") -> None:
    from ronda.agent.discovery import SOURCES

    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ConfigError(
            f"{where}: unknown discovery source(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(SOURCES)}"
        )
