"""The host seam: everything discovery knows about a machine comes through a `Host`."""

from ronda.agent.host.base import (
    CommandNotAvailable,
    CommandResult,
    DiskUsage,
    FileStat,
    Host,
    HostError,
    ListenSocket,
    ProcessInfo,
    SystemStats,
)
from ronda.agent.host.local import LocalHost

__all__ = [
    "CommandNotAvailable",
    "CommandResult",
    "DiskUsage",
    "FileStat",
    "Host",
    "HostError",
    "ListenSocket",
    "LocalHost",
    "ProcessInfo",
    "SystemStats",
]
