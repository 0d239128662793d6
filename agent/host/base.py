"""The narrow seam through which discovery reads a host.

Discovery sources never touch the file system, processes or sockets
directly; they ask a `Host`. `LocalHost` reads this machine (optionally
under a root prefix); other implementations (SSH) read remote machines.
All paths given to and returned by a Host are paths *on that host*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from ronda.errors import RondaError


class HostError(RondaError):
    """A host could not answer a request (file missing, unreadable, command failed)."""


class CommandNotAvailable(HostError):
    """The command does not exist on the host, or the host cannot run commands."""


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime: float
    mode: int
    dev: int
    ino: int
    is_dir: bool
    is_file: bool
    is_link: bool
    allocated_bytes: int = -1  # blocks on disk (st_blocks * 512); -1 when the host cannot tell


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    name: str
    exe: str
    user: str
    cwd: str
    cpu_seconds: float
    rss_bytes: int
    unit: str = ""
    container: str = ""
    # argv with secrets possible: only argv[0] and flags are kept by callers that report it
    cmdline: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListenSocket:
    protocol: str  # tcp or tcp6
    address: str
    port: int
    pid: int  # 0 when unknown


@dataclass(frozen=True)
class DiskUsage:
    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int


@dataclass(frozen=True)
class SystemStats:
    """Live figures of the machine; empty for hosts that are only a file tree."""

    kernel: str = ""
    architecture: str = ""
    fqdn: str = ""
    addresses: tuple[str, ...] = ()
    boot_time: datetime | None = None
    cpu_count: int = 0
    memory_total_bytes: int = 0
    memory_used_bytes: int = 0
    disks: tuple[DiskUsage, ...] = field(default_factory=tuple)


class Host(Protocol):
    """What discovery may ask of a host. Every method raises HostError on failure."""

    name: str  # for messages: "local", "local:/srv/fixture", "ssh:web01"

    def read_bytes(self, path: str, limit: int | None = None) -> bytes: ...

    def read_text(self, path: str, limit: int | None = None) -> str: ...

    def open_binary(self, path: str) -> BinaryIO: ...

    def listdir(self, path: str) -> list[str]: ...

    def stat(self, path: str) -> FileStat: ...

    def lstat(self, path: str) -> FileStat: ...

    def exists(self, path: str) -> bool: ...

    def glob(self, pattern: str) -> list[str]: ...

    def realpath(self, path: str) -> str: ...

    def which(self, command: str) -> str | None: ...

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> CommandResult: ...

    def http_unix(
        self, socket_path: str, path: str, timeout: float = 5.0, limit: int = 16 * 1024 * 1024
    ) -> bytes:
        """Body of a GET `path` over the HTTP server on unix socket `socket_path` (e.g. the Docker API)."""
        ...

    def processes(self) -> list[ProcessInfo]: ...

    def listeners(self) -> list[ListenSocket]: ...

    def system_stats(self) -> SystemStats: ...
