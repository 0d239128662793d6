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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ronda.errors import ConfigError
from ronda.tomlfile import TomlFile, fields_of

DEFAULT_CONFIG = "/etc/ronda/agent.toml"


class AgentConfigError(ConfigError):
    """The agent's config file or options are unreadable or have bad values."""


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
    sources: list[str] = field(default_factory=list)
    spool_max_entries: int = 16  # snapshots kept while the collector is unreachable (oldest dropped first)
    scan_timeout_seconds: int = 600  # a scan's deadline (ronda.agent.host.deadline)
    allow_readable_key: bool = False  # use a key file other users can read (refused otherwise)


_LIMITS = {"interval_seconds": 10, "spool_max_entries": 1, "jitter_seconds": 0, "scan_timeout_seconds": 1}


def load_config(path: str | None, **overrides: Any) -> AgentConfig:
    """Read `path` (with None, the default file if it exists, else the defaults); then each override
    that is not None (a command-line flag) replaces the file's value."""
    return replace(_read(path), **{name: value for name, value in overrides.items() if value is not None})


def _read(path: str | None) -> AgentConfig:
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            return AgentConfig()
        path = DEFAULT_CONFIG
    file = TomlFile.read(path, "agent config", AgentConfigError)
    values = file.settings(file.data, fields_of(AgentConfig))
    for name, least in _LIMITS.items():
        if values.get(name, least) < least:
            file.problem(f"{name} must be at least {least}", name)
    unknown = unknown_sources(values.get("sources", []))
    if unknown:
        file.problem(unknown, "sources")
    file.check()
    return AgentConfig(**values)


def unknown_sources(names: list[str]) -> str | None:
    """What is wrong with a list of discovery source names, or None when every one is known."""
    from ronda.agent.discovery import SOURCES

    unknown = [n for n in names if n not in SOURCES]
    if not unknown:
        return None
    return f"unknown discovery source(s) {', '.join(map(str, unknown))}; known: {', '.join(SOURCES)}"
