"""The narrow seam through which discovery reads a host.

Discovery sources never touch the file system, processes or sockets
directly; they ask a `Host`. `LocalHost` reads this machine (optionally
under a root prefix); other implementations (SSH) read remote machines.
All paths given to and returned by a Host are paths *on that host*.
"""

from __future__ import annotations

import stat as _stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

from ronda.errors import RondaError

# The most a whole-file read (`read_bytes` without a limit) takes: configs, package lists, dumps.
MAX_READ_BYTES = 64 * 1024 * 1024
_KINDS = (
    (_stat.S_ISDIR, "a directory"),
    (_stat.S_ISFIFO, "a named pipe (FIFO)"),
    (_stat.S_ISCHR, "a character device"),
    (_stat.S_ISBLK, "a block device"),
    (_stat.S_ISSOCK, "a socket"),
)


class HostError(RondaError):
    """A host could not answer a request (file missing, unreadable, command failed)."""


class CommandNotAvailable(HostError):
    """The command does not exist on the host, or the host cannot run commands."""


class NotRegularFile(HostError):
    """The path is there, but is no regular file of a size ronda reads: it is not opened."""


def require_regular(path: str, mode: int) -> None:
    """Every file a host reads is a regular file, checked before it is opened: opening a FIFO blocks
    until a writer comes, and a device (/dev/zero) reads forever. Others are refused, naming the path."""
    if _stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise NotRegularFile(f"{path}: {kind}, not a regular file; not read")


def require_size(path: str, size: int, limit: int | None) -> None:
    """A whole-file read refuses files larger than MAX_READ_BYTES (a read with a limit takes its head)."""
    if limit is None and size > MAX_READ_BYTES:
        raise NotRegularFile(
            f"{path}: {size // (1024 * 1024)} MiB, larger than the {MAX_READ_BYTES // (1024 * 1024)} MiB "
            "ronda reads whole; not read"
        )


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
    """What discovery may ask of a host. Every method raises HostError on failure.

    `read_bytes`, `read_text` and `open_binary` open only regular files (require_regular), checked
    before opening; a whole-file read is bounded by MAX_READ_BYTES. Under a root, no path, glob or
    symbolic link leads outside it.
    """

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
